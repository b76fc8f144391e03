"""Contract and usage documents: valid ones parse to Decimals, invalid ones name the offending field."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from service.billing import BillingInputError, parse_contract, parse_usage
from tests.service.billing.helpers import contract, entry, usage

EXAMPLES = Path(__file__).resolve().parents[3] / "data" / "examples" / "billing"


@pytest.mark.parametrize("name", ["subscription", "package", "prepaid", "unlimited", "hourly"])
def test_example_contracts_parse(name):
    data = json.loads((EXAMPLES / f"contract_{name}.json").read_text(encoding="utf-8"))
    parsed = parse_contract(data)
    assert parsed.plan_kind == name
    assert isinstance(parsed.hourly_rate, Decimal)


def test_example_usage_parses():
    parsed = parse_usage(json.loads((EXAMPLES / "usage.json").read_text(encoding="utf-8")))
    assert parsed.month == "2026-11" and parsed.workstations == 12 and len(parsed.entries) == 7


def test_tier_defaults_and_coefficients():
    assert parse_contract(contract("package", "gold")).tier_coefficient == Decimal("1.5")
    assert parse_contract({"plan_kind": "hourly", "terms": {"hourly_rate": "100"}}).tier == "bronze"


CONTRACT_ERRORS = [
    # (document changes, field named in the error)
    pytest.param({"plan_kind": "weekly"}, "plan_kind", id="bad-plan"),
    pytest.param({"tier": "diamond"}, "tier", id="bad-tier"),
    pytest.param({"terms": "cheap"}, "terms", id="terms-not-object"),
    pytest.param({"terms": {"package": {"hours": 10, "monthly_fee": "1"}}}, "terms.hourly_rate", id="no-rate"),
    pytest.param({"terms": {"hourly_rate": 2000.5, "package": {"hours": 10, "monthly_fee": "1"}}},
                 "terms.hourly_rate", id="float-money"),
    pytest.param({"terms": {"hourly_rate": "abc", "package": {"hours": 10, "monthly_fee": "1"}}},
                 "terms.hourly_rate", id="not-a-number"),
    pytest.param({"terms": {"hourly_rate": "-1", "package": {"hours": 10, "monthly_fee": "1"}}},
                 "terms.hourly_rate", id="negative"),
    pytest.param({"terms": {"hourly_rate": "1", "package": {"hours": 10, "monthly_fee": "1"},
                            "hourly_discount_percent": "20"}}, "terms.hourly_discount_percent",
                 id="discount-over-15-on-package"),
    pytest.param({"plan_kind": "unlimited", "terms": {"hourly_rate": "1", "unlimited": {"monthly_fee": "1"},
                                                      "hourly_discount_percent": "51"}},
                 "terms.hourly_discount_percent", id="discount-over-50-on-unlimited"),
    pytest.param({"terms": {"hourly_rate": "1", "package": {"hours": 10, "monthly_fee": "1"},
                            "off_hours_coefficient": "2.5"}}, "terms.off_hours_coefficient", id="off-hours-too-high"),
    pytest.param({"terms": {"hourly_rate": "1", "package": {"hours": 10, "monthly_fee": "1"},
                            "off_hours_coefficient": "1.2"}}, "terms.off_hours_coefficient", id="off-hours-too-low"),
    pytest.param({"plan_kind": "subscription",
                  "terms": {"hourly_rate": "1", "subscription": {"workstation_rate": "1", "server_rate": "1",
                                                                 "on_site_surcharge_percent": "25"}}},
                 "terms.subscription.on_site_surcharge_percent", id="on-site-surcharge-range"),
    pytest.param({"terms": {"hourly_rate": "1"}}, "terms.package", id="package-section-missing"),
    pytest.param({"terms": {"hourly_rate": "1", "package": {"hours": 0, "monthly_fee": "1"}}},
                 "terms.package.hours", id="package-zero-hours"),
    pytest.param({"terms": {"hourly_rate": "1", "package": {"hours": 10, "monthly_fee": "1"},
                            "unlimited": {"monthly_fee": "1"}}}, "terms.unlimited", id="foreign-section"),
    pytest.param({"terms": {"hourly_rte": "1", "package": {"hours": 10, "monthly_fee": "1"}}},
                 "terms.hourly_rte", id="misspelt-field"),
    pytest.param({"plan_kind": "prepaid",
                  "terms": {"hourly_rate": "1", "prepaid": {"hour_price": "1",
                                                            "purchases": [{"month": "2026-13", "hours": 10}]}}},
                 "terms.prepaid.purchases[0].month", id="bad-purchase-month"),
    pytest.param({"terms": {"hourly_rate": "1", "package": {"hours": 10, "monthly_fee": "1"},
                            "free_operations": [{"kind": "x", "free_per_visit": 3, "unit_price": "1"},
                                                {"kind": "x", "free_per_visit": 1, "unit_price": "1"}]}},
                 "terms.free_operations[1].kind", id="duplicate-operation"),
    pytest.param({"terms": {"hourly_rate": "1", "package": {"hours": 10, "monthly_fee": "1"},
                            "penalties": {"allow_negative_invoice": "yes"}}},
                 "terms.penalties.allow_negative_invoice", id="penalty-flag-not-bool"),
    pytest.param({"terms": {"hourly_rate": "1", "package": {"hours": 10, "monthly_fee": "1"},
                            "prepayment_months": 0}}, "terms.prepayment_months", id="prepayment-months"),
    pytest.param({"terms": {"hourly_rate": "1", "package": {"hours": 10, "monthly_fee": "1"}, "vat_percent": "120"}},
                 "terms.vat_percent", id="vat-over-100"),
]


@pytest.mark.parametrize(("changes", "field"), CONTRACT_ERRORS)
def test_contract_errors_name_the_field(changes, field):
    doc = {"plan_kind": "package", "tier": "bronze",
           "terms": {"hourly_rate": "1", "package": {"hours": 10, "monthly_fee": "1"}}, **changes}
    with pytest.raises(BillingInputError) as error:
        parse_contract(doc)
    assert error.value.field == field
    assert str(error.value).startswith(field)


USAGE_ERRORS = [
    pytest.param({"month": "2026-1"}, "month", id="bad-month"),
    pytest.param({"entries": [entry(day=3) | {"ticket_id": 9}]}, "entries[0].ticket_id", id="unknown-ticket"),
    pytest.param({"entries": [{"ticket_id": 1, "started_at": "2026-12-01T10:00:00+03:00", "minutes": 5}]},
                 "entries[0].started_at", id="entry-outside-month"),
    pytest.param({"entries": [{"ticket_id": 1, "started_at": "2026-11-01T10:00:00", "minutes": 5}]},
                 "entries[0].started_at", id="naive-instant"),
    pytest.param({"entries": [entry(minutes=0)]}, "entries[0].minutes", id="zero-minutes"),
    pytest.param({"entries": [entry(work_kind="free")]}, "entries[0].work_kind", id="bad-work-kind"),
    pytest.param({"entries": [entry(on_site="yes")]}, "entries[0].on_site", id="flag-not-bool"),
    pytest.param({"entries": [entry(minutes=60, off_hours_minutes=61)]}, "entries[0].off_hours_minutes",
                 id="more-off-hours-than-minutes"),
    pytest.param({"tickets": [{"id": 1, "billing_mode": "fixed"}]}, "tickets[0].fixed_price", id="fixed-no-price"),
    pytest.param({"tickets": [{"id": 1}, {"id": 1}]}, "tickets[1].id", id="duplicate-ticket"),
    pytest.param({"seats": {"workstations": -1}}, "seats.workstations", id="negative-seats"),
    pytest.param({"sla_breaches": [{"ticket_id": 1, "penalty": 10.5}]}, "sla_breaches[0].penalty", id="float-penalty"),
    pytest.param({"operations": [{"kind": "x", "visit": "2026-11-05", "quantity": 0}]}, "operations[0].quantity",
                 id="zero-operations"),
    pytest.param({"prepaid_opening_hours": "-2"}, "prepaid_opening_hours", id="negative-balance"),
    pytest.param({"surprise": 1}, "surprise", id="unknown-field"),
]


@pytest.mark.parametrize(("changes", "field"), USAGE_ERRORS)
def test_usage_errors_name_the_field(changes, field):
    doc = usage(entry()) | changes
    with pytest.raises(BillingInputError) as error:
        parse_usage(doc)
    assert error.value.field == field
