"""Deterministic priority rules (table-driven)."""

from __future__ import annotations

import pytest

from ml.rules import NodeSignal, apply_priority_rules, priority_rules

CRITICAL_SERVER = NodeSignal("server", "critical", monitored=True)
MEDIUM_PRINTER = NodeSignal("printer", "medium")


@pytest.mark.parametrize(
    ("text", "severity", "nodes", "expected_rule", "floor"),
    [
        ("Disk full", "critical", [CRITICAL_SERVER], "critical_alert_on_critical_node", "highest"),
        ("Disk full", "critical", [MEDIUM_PRINTER], "critical_alert", "high"),
        ("Disk full", "warning", [CRITICAL_SERVER], None, None),
        ("Не работает интернет у всех", None, [], "several_users", "high"),
        ("не работает у всех в бухгалтерии", None, [], "several_users", "high"),
        ("Весь офис без сети с утра", None, [], "several_users", "high"),
        ("Несколько пользователей не могут войти", None, [], "several_users", "high"),
        ("The whole office cannot print", None, [], "several_users", "high"),
        ("several users report outlook crashes", None, [], "several_users", "high"),
        ("Работа компании остановлена: сервер 1С недоступен", None, [], "company_stopped", "highest"),
        ("Компания встала, никто не может работать", None, [], "company_stopped", "highest"),
        ("The company stopped: nobody can work", None, [], "company_stopped", "highest"),
        ("Принтер не печатает у меня", None, [], None, None),
        ("please add a user to the mailing list", None, [], None, None),
    ],
)
def test_strongest_rule(text, severity, nodes, expected_rule, floor):
    fired = priority_rules(text=text, alert_severity=severity, nodes=nodes)
    if expected_rule is None:
        assert fired == []
    else:
        assert fired[0].name == expected_rule and fired[0].floor == floor
        assert fired[0].reason


@pytest.mark.parametrize(
    ("predicted", "text", "expected", "rule"),
    [
        ("low", "Весь офис без интернета", "high", "several_users"),
        ("standard", "Весь офис без интернета", "high", "several_users"),
        ("high", "Весь офис без интернета", "high", None),  # already there: the model decided
        ("highest", "Весь офис без интернета", "highest", None),  # rules never lower a priority
        ("high", "Работа компании остановлена", "highest", "company_stopped"),
        (None, "Весь офис без интернета", "high", "several_users"),  # no model: the rule's floor
        ("low", "Картридж закончился", "low", None),
    ],
)
def test_rules_only_raise(predicted, text, expected, rule):
    value, deciding = apply_priority_rules(predicted, priority_rules(text=text))
    assert value == expected
    assert (deciding.name if deciding else None) == rule
