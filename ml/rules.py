"""Deterministic priority rules that may override the priority model.

Seed 000 defines the priorities: "highest" is for incidents that stop several users or the whole
company, "high" for an incident that stops one user.  A model can miss such wording, so these
rules are applied after it; each rule has a name, and the triage response says which one fired.

Everything here is a pure function of plain values, so it is table-tested without a database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kb.vocab import PRIORITIES

#: Rank of each priority, low (0) .. highest (3).
PRIORITY_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}


@dataclass(frozen=True)
class PriorityRule:
    """A fired rule: ``floor`` is the least priority it allows, ``name`` what the response shows."""

    name: str
    floor: str
    reason: str


@dataclass(frozen=True)
class NodeSignal:
    """What a rule needs to know about an affected infrastructure node."""

    kind: str
    criticality: str
    monitored: bool = False


# "The company stopped" — seed 000 puts these at "highest" ("инциденты, остановившие работу компании").
_COMPANY_STOPPED = [
    r"\bcompany (?:has )?(?:stopped|is down|cannot work|can ?not work|can't work)",
    r"\b(?:whole|entire) company\b",
    r"\bnobody (?:can|is able to) work\b",
    r"\bno ?one (?:can|is able to) work\b",
    r"\bwork of the company\b",
    r"\bкомпани[яи] (?:полностью )?(?:встала|стоит|остановил)",
    r"\bостановил[аио]?\w* работ\w* компании",
    r"\bработа компании (?:полностью )?(?:встала|остановлена|стоит|парализована)",
    r"\bникто не может работать\b",
    r"\bвся компания\b",
    r"\bвсё встало\b|\bвсе встало\b",
]

# Several users or a whole office — at least "high" (the rule; seed 000 lists several users
# under "highest", the model or an engineer may raise it further).
_SEVERAL_USERS = [
    r"\b(?:several|multiple|many|all) (?:users|people|employees|colleagues|staff|workstations|computers)\b",
    r"\b(?:whole|entire) (?:office|department|floor|branch|team)\b",
    r"\beveryone\b|\beverybody\b",
    r"\bне работает у (?:всех|нескольких|многих)\b",
    r"\bу (?:всех|нескольких|многих) (?:пользователей|сотрудников|коллег)\b",
    r"\b(?:нескольк\w+|многи\w+|все\w*) (?:пользовател\w+|сотрудник\w+|компьютер\w+|рабоч\w+ мест\w*)\b",
    r"\bвесь офис\b|\bвсего офиса\b|\bвсем офисом\b|\bцелый офис\b",
    r"\bвесь отдел\b|\bвсего отдела\b|\bвесь филиал\b|\bвсего филиала\b|\bвся бухгалтерия\b",
    r"\bу всех\b|\bникто не может\b",
]

_COMPANY_STOPPED_RE = re.compile("|".join(_COMPANY_STOPPED), re.IGNORECASE)
_SEVERAL_USERS_RE = re.compile("|".join(_SEVERAL_USERS), re.IGNORECASE)


def priority_rules(
    *,
    text: str,
    channel: str | None = None,
    alert_severity: str | None = None,
    nodes: Iterable[NodeSignal] = (),
) -> list[PriorityRule]:
    """Every rule that fires for a request, strongest first (empty when none does)."""
    fired: list[PriorityRule] = []
    nodes = list(nodes)
    severity = (alert_severity or "").strip().lower()
    critical_nodes = [n for n in nodes if n.criticality == "critical"]
    if severity == "critical" and critical_nodes:
        fired.append(PriorityRule(
            "critical_alert_on_critical_node", "highest",
            f"monitoring severity critical on a critical {critical_nodes[0].kind}",
        ))
    elif severity == "critical":
        fired.append(PriorityRule("critical_alert", "high", "monitoring severity critical"))
    match = _COMPANY_STOPPED_RE.search(text or "")
    if match:
        fired.append(PriorityRule("company_stopped", "highest", f"text says {match.group(0)!r}"))
    match = _SEVERAL_USERS_RE.search(text or "")
    if match:
        fired.append(PriorityRule("several_users", "high", f"text says {match.group(0)!r}"))
    fired.sort(key=lambda rule: -PRIORITY_RANK[rule.floor])
    return fired


def apply_priority_rules(predicted: str | None, rules: Sequence[PriorityRule]) -> tuple[str | None, PriorityRule | None]:
    """Raise ``predicted`` to the strongest rule's floor; returns (priority, the rule that decided or None).

    A rule only ever raises a priority: a model that already says "highest" keeps it and no rule is
    reported as deciding.  With no prediction (no model) the strongest rule's floor is the priority.
    """
    if not rules:
        return predicted, None
    strongest = max(rules, key=lambda rule: PRIORITY_RANK[rule.floor])
    if predicted is None or PRIORITY_RANK[strongest.floor] > PRIORITY_RANK.get(predicted, -1):
        return strongest.floor, strongest
    return predicted, None
