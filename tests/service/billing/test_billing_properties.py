"""Invariants of the billing engine over generated contracts and months (hypothesis)."""

from __future__ import annotations

import copy
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from service.billing import compute_invoice, parse_contract, parse_usage

KOPECK = Decimal("0.01")


def _money(low: int = 0, high: int = 10_000_000) -> st.SearchStrategy[str]:
    # Amounts in kopecks written as decimal strings, as a contract file would hold them.
    return st.integers(low, high).map(lambda k: format(Decimal(k) / 100, "f"))


@st.composite
def contracts(draw) -> dict:
    plan = draw(st.sampled_from(["subscription", "package", "prepaid", "unlimited", "hourly"]))
    terms: dict = {
        "hourly_rate": draw(_money(1, 1_000_000)),
        "hourly_discount_percent": str(draw(st.integers(0, 50 if plan == "unlimited" else 15))) if plan != "hourly"
        else "0",
        "off_hours_coefficient": draw(st.sampled_from(["1.5", "1.75", "2"])),
        "prepayment_months": draw(st.integers(1, 24)),
        "vat_percent": draw(st.sampled_from(["0", "10", "20"])),
        "penalties": {"per_breach": draw(_money(0, 500_000)), "per_overdue_hour": draw(_money(0, 100_000)),
                      "allow_negative_invoice": draw(st.booleans()),
                      "cap_percent": draw(st.sampled_from([None, "0", "10", "20", "100"]))},
        "free_operations": [{"kind": "commissioning", "free_per_visit": draw(st.integers(0, 3)),
                             "unit_price": draw(_money(0, 300_000))}],
    }
    if plan == "subscription":
        terms["subscription"] = {"workstation_rate": draw(_money()), "server_rate": draw(_money()),
                                 "on_site_surcharge_percent": draw(st.sampled_from(["0", "10", "15", "20"]))}
    elif plan == "package":
        terms["package"] = {"hours": draw(st.sampled_from([10, 15, 25, 40])), "monthly_fee": draw(_money())}
    elif plan == "prepaid":
        purchases = [{"month": "2026-11", "hours": draw(st.sampled_from([10, 15, 30, 50]))}] \
            if draw(st.booleans()) else []
        terms["prepaid"] = {"hour_price": draw(_money(1, 500_000)), "purchases": purchases}
    elif plan == "unlimited":
        terms["unlimited"] = {"monthly_fee": draw(_money())}
    tier = draw(st.sampled_from(["bronze", "silver", "gold", "platinum"]))
    return {"plan_kind": plan, "tier": tier, "terms": terms}


entries_strategy = st.lists(
    st.fixed_dictionaries({
        "ticket_id": st.integers(1, 4),
        "day": st.integers(1, 30),
        "hour": st.integers(0, 23),
        "minutes": st.integers(1, 600),
        "work_kind": st.sampled_from(["included", "hourly", "fixed"]),
        "off_hours": st.booleans(),
        "off_hours_agreed": st.booleans(),
        "on_site": st.booleans(),
        # None: the flag decides for the whole entry; k: k quarters of the entry lie outside the calendar.
        "off_quarters": st.one_of(st.none(), st.integers(0, 4)),
    }),
    max_size=12,
)


def _entry(e: dict) -> dict:
    entry = {"ticket_id": e["ticket_id"], "started_at": f"2026-11-{e['day']:02d}T{e['hour']:02d}:00:00+03:00",
             "minutes": e["minutes"], "work_kind": e["work_kind"], "off_hours": e["off_hours"],
             "off_hours_agreed": e["off_hours_agreed"], "on_site": e["on_site"]}
    if e.get("off_quarters") is not None:
        entry["off_hours_minutes"] = e["minutes"] * e["off_quarters"] // 4
    return entry


@st.composite
def usages(draw) -> dict:
    tickets = [
        {"id": 1, "billing_mode": "included"},
        {"id": 2, "billing_mode": "hourly", "estimate_hours": "4",
         **({"stopped_at": "2026-11-15T12:00:00+03:00"} if draw(st.booleans()) else {})},
        {"id": 3, "billing_mode": "fixed", "fixed_price": draw(_money()), "completed": draw(st.booleans()),
         "change_requests": [{"new_price": draw(_money())}] if draw(st.booleans()) else []},
        {"id": 4, "billing_mode": "included"},
    ]
    breaches = draw(st.lists(st.fixed_dictionaries({
        "ticket_id": st.integers(1, 4),
        "overdue_minutes": st.integers(0, 3000),
        "penalty": st.one_of(st.none(), _money(0, 5_000_000)),
    }), max_size=3))
    operations = draw(st.lists(st.fixed_dictionaries({
        "kind": st.just("commissioning"), "quantity": st.integers(1, 8),
        "visit": st.sampled_from(["2026-11-03", "2026-11-10"]),
    }), max_size=3))
    return {
        "month": "2026-11",
        "seats": {"workstations": draw(st.integers(0, 60)), "servers": draw(st.integers(0, 6))},
        "tickets": tickets,
        "entries": [_entry(e) for e in draw(entries_strategy)],
        "sla_breaches": [{k: v for k, v in b.items() if v is not None} for b in breaches],
        "operations": operations,
        "prepaid_opening_hours": format(Decimal(draw(st.integers(0, 4000))) / 100, "f"),
    }


def _without_unset_penalties(contract_doc: dict) -> dict:
    contract_doc["terms"]["penalties"] = {k: v for k, v in contract_doc["terms"]["penalties"].items()
                                          if v is not None}
    return contract_doc


@settings(max_examples=150, deadline=None)
@given(contracts(), usages())
def test_the_prepayment_discount_never_raises_a_total(contract_doc, usage_doc):
    """Rule 2: paying ahead lowers the recurring fee or leaves it; through penalty caps and VAT the total
    never ends up higher than the same month paid one month ahead."""
    contract_doc = _without_unset_penalties(contract_doc)
    monthly = copy.deepcopy(contract_doc)
    monthly["terms"]["prepayment_months"] = 1
    usage = parse_usage(usage_doc)
    ahead = compute_invoice(parse_contract(contract_doc), usage)
    assert ahead.total <= compute_invoice(parse_contract(monthly), usage).total
    if not contract_doc["terms"]["penalties"]["allow_negative_invoice"]:
        assert ahead.total >= 0  # rule 10: never negative unless the contract says so


@settings(max_examples=150, deadline=None)
@given(contracts(), usages(), st.integers(1, 600))
def test_off_hours_work_costs_one_and_a_half_to_two_times_the_same_work_in_hours(contract_doc, usage_doc, minutes):
    """Rule 5: unagreed work outside the calendar costs the hourly rate x 1.5-2; the same entry inside the
    calendar costs the hourly rate. The whole invoice is never cheaper for it."""
    contract = parse_contract(_without_unset_penalties(contract_doc))
    extra_ticket = {"id": 5, "billing_mode": "hourly"}
    entry = {"ticket_id": 5, "started_at": "2026-11-12T20:00:00+03:00", "minutes": minutes,
             "work_kind": "hourly", "off_hours_agreed": False}

    def invoice(off_hours: bool):
        document = {**usage_doc, "tickets": [*usage_doc["tickets"], extra_ticket],
                    "entries": [*usage_doc["entries"], {**entry, "off_hours": off_hours}]}
        return compute_invoice(contract, parse_usage(document))

    inside, outside = invoice(False), invoice(True)
    in_hours = [line.amount for line in inside.lines if line.ticket_id == 5]
    off_hours = [line.amount for line in outside.lines if line.ticket_id == 5]
    assert [line.kind for line in inside.lines if line.ticket_id == 5] == ["hourly_work"]
    assert [line.kind for line in outside.lines if line.ticket_id == 5] == ["off_hours_work"]
    # Each amount is rounded to kopecks (and the off-hours rate once more per hour): allow for that.
    slack = KOPECK * (2 + Decimal(minutes) / 60)
    assert Decimal("1.5") * in_hours[0] - slack <= off_hours[0] <= 2 * in_hours[0] + slack
    assert outside.total >= inside.total


@settings(max_examples=150, deadline=None)
@given(contracts(), usages(), st.fixed_dictionaries({
    "ticket_id": st.integers(1, 4), "day": st.integers(1, 30), "hour": st.integers(0, 23),
    "minutes": st.just(60), "work_kind": st.sampled_from(["included", "hourly", "fixed"]),
    "off_hours": st.booleans(), "off_hours_agreed": st.booleans(), "on_site": st.booleans(),
    "off_quarters": st.one_of(st.none(), st.integers(0, 4)),
}))
def test_adding_an_hour_of_work_never_lowers_the_total(contract_doc, usage_doc, extra):
    contract = parse_contract(_without_unset_penalties(contract_doc))
    before = compute_invoice(contract, parse_usage(usage_doc)).total
    usage_doc = {**usage_doc, "entries": [*usage_doc["entries"], _entry(extra)]}
    after = compute_invoice(contract, parse_usage(usage_doc)).total
    assert after >= before
