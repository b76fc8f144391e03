"""Every billing rule with a worked example; the numbers in the comments are computed by hand."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from service.billing import BillingInputError
from service.billing.contract import prepayment_discount_percent
from tests.service.billing.helpers import D, amounts, bill, contract, entry, usage

# --- plan fees -------------------------------------------------------------------------------------

FEE_CASES = [
    # id, contract, seats, expected fee lines (kind, amount)
    pytest.param(
        # 12 workstations x 1500 = 18000; 2 servers x 5000 = 10000; Bronze x1.
        contract("subscription"), {"workstations": 12, "servers": 2},
        [("subscription", "18000.00"), ("subscription", "10000.00")], id="subscription-bronze"),
    pytest.param(
        # Silver x1.25: 1500 x 1.25 = 1875 per workstation; 12 x 1875 = 22500.
        contract("subscription", "silver"), {"workstations": 12},
        [("subscription", "22500.00")], id="subscription-silver"),
    pytest.param(
        # Gold x1.5 and regular visits +10 %: 1000 x 1.5 x 1.10 = 1650 per workstation.
        contract("subscription", "gold", subscription={"workstation_rate": "1000", "on_site_surcharge_percent": "10"}),
        {"workstations": 1}, [("subscription", "1650.00")], id="subscription-gold-on-site"),
    pytest.param(
        # Platinum x2 and visits +20 %: servers 5000 x 2 x 1.2 = 12000 each; 3 servers = 36000.
        contract("subscription", "platinum", subscription={"on_site_surcharge_percent": "20"}),
        {"servers": 3}, [("subscription", "36000.00")], id="subscription-platinum-servers"),
    pytest.param(
        # Package of 15 h for 30000, Platinum x2 = 60000.
        contract("package", "platinum", package={"hours": 15, "monthly_fee": "30000"}), {},
        [("package", "60000.00")], id="package-platinum"),
    pytest.param(
        # Unlimited 90000 at Silver: 90000 x 1.25 = 112500.
        contract("unlimited", "silver"), {}, [("unlimited", "112500.00")], id="unlimited-silver"),
    pytest.param(
        # Explicit coefficient 1.1 overrides Bronze's 1: 20000 x 1.1 = 22000.
        contract("package", tier_coefficient="1.1"), {}, [("package", "22000.00")], id="custom-coefficient"),
    pytest.param(
        # Hourly plan: no fee at all.
        contract("hourly"), {"workstations": 5}, [], id="hourly-no-fee"),
]


@pytest.mark.parametrize(("contract_doc", "seats", "expected"), FEE_CASES)
def test_plan_fees(contract_doc, seats, expected):
    invoice = bill(contract_doc, usage(seats=seats))
    fees = [(line.kind, line.amount) for line in invoice.lines if line.kind in ("subscription", "package", "unlimited")]
    assert fees == [(kind, D(amount)) for kind, amount in expected]
    assert invoice.total == sum((D(a) for _, a in expected), Decimal("0"))


# --- prepayment discount ---------------------------------------------------------------------------

@pytest.mark.parametrize(("plan", "months", "percent"), [
    # Seed 002, variant 1: "more than 6 months - 5 %, more than 12 months - 10 %".
    ("package", 1, "0"), ("package", 6, "0"), ("package", 7, "5"), ("package", 12, "5"), ("package", 13, "10"),
    ("subscription", 13, "10"),
    # Variant 2 (unlimited): "3 months or more - 10 %".
    ("unlimited", 2, "0"), ("unlimited", 3, "10"), ("unlimited", 24, "10"),
    # Prepaid hours are already paid ahead; the hourly plan has no fee to discount.
    ("prepaid", 24, "0"), ("hourly", 24, "0"),
])
def test_prepayment_discount_table(plan, months, percent):
    assert prepayment_discount_percent(plan, months) == D(percent)


@pytest.mark.parametrize(("contract_doc", "discount", "total"), [
    # Package 20000, 7 months ahead: 5 % of 20000 = 1000 -> total 19000.
    (contract("package", prepayment_months=7), "-1000.00", "19000.00"),
    # Unlimited 90000 x Gold 1.5 = 135000; 3 months: 10 % = 13500 -> 121500.
    (contract("unlimited", "gold", prepayment_months=3), "-13500.00", "121500.00"),
    # Subscription 3 workstations x 1500 = 4500; 13 months: 10 % = 450 -> 4050.
    (contract("subscription", prepayment_months=13), "-450.00", "4050.00"),
])
def test_prepayment_discount_line(contract_doc, discount, total):
    invoice = bill(contract_doc, usage(seats={"workstations": 3}))
    assert amounts(invoice, "prepayment_discount") == [D(discount)]
    assert invoice.total == D(total)


# --- included work: package, prepaid, covered --------------------------------------------------------

def test_month_with_no_work_bills_only_the_fee():
    # Package 10 h for 20000, no work: the 10 h burn, the invoice is the fee.
    invoice = bill(contract("package"), usage())
    assert invoice.total == D("20000.00")
    assert invoice.hours.package_burned == D("10.00")
    assert amounts(invoice, "overage") == []


def test_month_with_no_work_on_subscription_without_seats_is_empty():
    invoice = bill(contract("subscription"), usage())
    assert invoice.lines == () and invoice.total == D("0.00")


PACKAGE_CASES = [
    # minutes of included work, package used (h), overage (h), overage amount, burned (h)
    # 4 h used of 10: 6 h burn, no overage.
    pytest.param([240], "4.00", "0.00", None, "6.00", id="partly-used"),
    # Exactly 10 h (6 x 100 min): nothing burns, nothing over.
    pytest.param([100] * 6, "10.00", "0.00", None, "0.00", id="exactly-used-up"),
    # 11.5 h: 1.5 h over x 2000 = 3000.
    pytest.param([600, 90], "10.00", "1.50", "3000.00", "0.00", id="overage"),
    # 10 h 20 min: 20 min over = 2000 x 20 / 60 = 666.666... -> 666.67 (rounded once).
    pytest.param([620], "10.00", "0.33", "666.67", "0.00", id="overage-rounded"),
]


@pytest.mark.parametrize(("minutes", "used", "over", "over_amount", "burned"), PACKAGE_CASES)
def test_package_hours(minutes, used, over, over_amount, burned):
    entries = [entry(day=3 + i, minutes=m) for i, m in enumerate(minutes)]
    invoice = bill(contract("package"), usage(*entries))
    assert invoice.hours.package == D(used)
    assert invoice.hours.overage == D(over)
    assert invoice.hours.package_burned == D(burned)
    assert amounts(invoice, "overage") == ([D(over_amount)] if over_amount else [])
    assert invoice.total == D("20000.00") + (D(over_amount) if over_amount else 0)


def test_prepaid_balance_runs_out_mid_month():
    # Opening balance 2 h, nothing bought. Nov 3: 90 min (balance 120 -> 30 min);
    # Nov 10: 210 min, of which 30 min from the balance and 180 min = 3 h over x 2400 = 7200.
    doc = contract("prepaid", hourly_rate="2400")
    invoice = bill(doc, usage(entry(day=3, minutes=90), entry(day=10, minutes=210), prepaid_opening_hours="2"))
    assert amounts(invoice, "overage") == [D("7200.00")]
    assert invoice.prepaid.consumed_hours == D("2.00")
    assert invoice.prepaid.closing_hours == 0
    assert invoice.prepaid.exhausted_at == datetime.fromisoformat("2026-11-10T10:00:00+03:00")
    assert invoice.total == D("7200.00")


def test_prepaid_purchase_and_carry_over():
    # 10 h bought this month at 2000 x Silver 1.25 = 2500 per hour -> 25000; 4 h used; closing 0 + 10 - 4 = 6 h.
    doc = contract("prepaid", "silver", prepaid={"purchases": [{"month": "2026-11", "hours": 10},
                                                               {"month": "2026-12", "hours": 30}]})
    invoice = bill(doc, usage(entry(minutes=240)))
    assert amounts(invoice, "prepaid_purchase") == [D("25000.00")]
    assert invoice.prepaid.closing_hours == 6
    assert invoice.total == D("25000.00")
    # Next month's carried balance (6 h) covers 5 h of work with nothing to pay and 1 h left; December's
    # purchase of 30 h is billed in December only.
    december = usage(prepaid_opening_hours="6")
    december["month"] = "2026-12"
    invoice = bill(doc, december)
    assert amounts(invoice, "prepaid_purchase") == [D("75000.00")]  # 30 h x 2500
    assert invoice.prepaid.closing_hours == 36


def test_prepaid_opening_balance_defaults_to_the_contracts():
    # No carried balance given: the contract's opening balance (5 h) is used; 3 h of work leaves 2 h.
    invoice = bill(contract("prepaid", prepaid={"opening_balance_hours": "5"}), usage(entry(minutes=180)))
    assert invoice.prepaid.closing_hours == 2 and invoice.total == 0


@pytest.mark.parametrize("plan", ["subscription", "unlimited"])
def test_included_work_is_covered_by_subscription_and_unlimited(plan):
    # 25 h of included work on top of the fee: nothing extra (fee only: 0 seats, or 90000 unlimited).
    invoice = bill(contract(plan), usage(*[entry(day=d, minutes=300) for d in range(2, 7)]))
    assert invoice.hours.covered_by_plan == D("25.00")
    assert invoice.total == (D("90000.00") if plan == "unlimited" else 0)


def test_hourly_plan_bills_all_work_by_the_hour():
    # Hourly plan, rate 3000: 90 min included work = 4500.
    invoice = bill(contract("hourly", hourly_rate="3000"), usage(entry(minutes=90)))
    assert amounts(invoice, "hourly_work") == [D("4500.00")]


# --- hourly work and its discount; stop ------------------------------------------------------------------

def test_hourly_work_with_plan_discount():
    # Package plan with a 15 % hourly discount; hourly ticket 150 min x 2000 = 5000; discount 15 % = -750.
    tickets = [{"id": 7, "billing_mode": "hourly", "estimate_hours": "4"}]
    invoice = bill(contract("package", hourly_discount_percent="15"),
                   usage(entry(ticket_id=7, minutes=150, work_kind="hourly"), tickets=tickets))
    assert amounts(invoice, "hourly_work") == [D("5000.00")]
    assert amounts(invoice, "hourly_discount") == [D("-750.00")]
    assert invoice.total == D("24250.00")  # 20000 + 5000 - 750
    # Hourly work does not consume the package.
    assert invoice.hours.package == 0


def test_unlimited_plan_discount_up_to_half():
    # Unlimited, 50 % off the hour: 120 min hourly x 2500 = 5000, discount -2500; total 90000 + 2500.
    tickets = [{"id": 1, "billing_mode": "hourly"}]
    invoice = bill(contract("unlimited", hourly_rate="2500", hourly_discount_percent="50"),
                   usage(entry(minutes=120, work_kind="hourly"), tickets=tickets))
    assert amounts(invoice, "hourly_discount") == [D("-2500.00")]
    assert invoice.total == D("92500.00")


def test_stopping_hourly_work_bills_what_was_spent():
    # Estimate 4 h; 60 min before the stop at Nov 5 12:00, 60 min after: only 1 h x 2000 = 2000 is billed.
    tickets = [{"id": 1, "billing_mode": "hourly", "estimate_hours": "4", "stopped_at": "2026-11-05T12:00:00+03:00"}]
    invoice = bill(contract("hourly"), usage(entry(day=5, hour=10, work_kind="hourly"),
                                             entry(day=5, hour=13, work_kind="hourly"), tickets=tickets))
    assert amounts(invoice, "hourly_work") == [D("2000.00")]
    assert invoice.hours.not_billed_after_stop == D("1.00")


def test_hourly_work_over_the_estimate_is_billed_in_full():
    # Seed 000: the final hours "may grow or shrink"; 5 h spent on a 4 h estimate = 5 x 2000 = 10000.
    tickets = [{"id": 1, "billing_mode": "hourly", "estimate_hours": "4"}]
    invoice = bill(contract("hourly"), usage(entry(minutes=300, work_kind="hourly"), tickets=tickets))
    assert amounts(invoice, "hourly_work") == [D("10000.00")]


# --- off-hours -----------------------------------------------------------------------------------------

OFF_HOURS_CASES = [
    # plan, coefficient, work kind, agreed?, expected off-hours amount, expected total
    # Not agreed, included work on a subscription: project work 2 h x 2000 x 1.5 = 6000.
    pytest.param("subscription", "1.5", "included", False, "6000.00", "6000.00", id="included-not-agreed-1.5"),
    # Coefficient 2: 2 h x 4000 = 8000.
    pytest.param("subscription", "2", "included", False, "8000.00", "8000.00", id="included-not-agreed-2"),
    # Agreed in advance: ordinary included work, covered by the subscription: 0.
    pytest.param("subscription", "2", "included", True, None, "0.00", id="included-agreed"),
    # Agreed hourly work: ordinary rate 2 h x 2000 = 4000.
    pytest.param("subscription", "2", "hourly", True, None, "4000.00", id="hourly-agreed"),
    # Not agreed hourly work: 2 h x 2000 x 1.5 = 6000.
    pytest.param("subscription", "1.5", "hourly", False, "6000.00", "6000.00", id="hourly-not-agreed"),
    # Package: not agreed off-hours work does not consume the package: 20000 + 6000.
    pytest.param("package", "1.5", "included", False, "6000.00", "26000.00", id="package-not-agreed"),
    # Fixed-price work keeps its price: no off-hours charge (the ticket is not completed: 0).
    pytest.param("subscription", "2", "fixed", False, None, "0.00", id="fixed-no-surcharge"),
]


@pytest.mark.parametrize(("plan", "coefficient", "kind", "agreed", "off_amount", "total"), OFF_HOURS_CASES)
def test_off_hours(plan, coefficient, kind, agreed, off_amount, total):
    mode = {"included": "included", "hourly": "hourly", "fixed": "fixed"}[kind]
    ticket = {"id": 1, "billing_mode": mode, **({"fixed_price": "1000"} if mode == "fixed" else {})}
    doc = usage(entry(day=7, hour=22, minutes=120, work_kind=kind, off_hours=True, off_hours_agreed=agreed),
                tickets=[ticket])
    invoice = bill(contract(plan, off_hours_coefficient=coefficient), doc)
    assert amounts(invoice, "off_hours_work") == ([D(off_amount)] if off_amount else [])
    assert invoice.total == D(total)


@pytest.mark.parametrize(("plan", "total"), [
    # 180 min, of which 120 outside the calendar, not agreed: 2 h x 2000 x 1.5 = 6000; the other hour is
    # covered by the subscription (no seats: fee 0) -> 6000.
    ("subscription", "6000.00"),
    # Package: the hour inside the calendar takes 1 h of the package: 20000 + 6000.
    ("package", "26000.00"),
    # Hourly plan: 1 h x 2000 + 6000 = 8000.
    ("hourly", "8000.00"),
])
def test_entry_partly_outside_the_calendar(plan, total):
    invoice = bill(contract(plan), usage(entry(hour=17, minutes=180, off_hours_minutes=120)))
    assert amounts(invoice, "off_hours_work") == [D("6000.00")]
    assert invoice.total == D(total)


def test_off_hours_work_gets_the_plan_discount():
    # 2 h x 2000 x 1.5 = 6000 off-hours; 10 % plan discount = -600; total 5400 (subscription, no seats).
    invoice = bill(contract("subscription", hourly_discount_percent="10"),
                   usage(entry(minutes=120, off_hours=True)))
    assert amounts(invoice, "hourly_discount") == [D("-600.00")]
    assert invoice.total == D("5400.00")


# --- fixed price and change requests ---------------------------------------------------------------------

FIXED_CASES = [
    # Agreed 40000, completed this month, no change: 40000.
    pytest.param({"fixed_price": "40000", "completed": True}, "40000.00", id="agreed-price"),
    # A change request raised the price 40000 -> 52000: 52000 is billed.
    pytest.param({"fixed_price": "40000", "completed": True,
                  "change_requests": [{"old_price": "40000", "new_price": "52000"}]}, "52000.00", id="one-change"),
    # Two changes: the last one wins (40000 -> 52000 -> 47500).
    pytest.param({"fixed_price": "40000", "completed": True,
                  "change_requests": [{"old_price": "40000", "new_price": "52000"},
                                      {"old_price": "52000", "new_price": "47500"}]}, "47500.00", id="two-changes"),
    # Not completed this month: nothing billed yet.
    pytest.param({"fixed_price": "40000", "completed": False}, None, id="not-completed"),
]


@pytest.mark.parametrize(("ticket", "expected"), FIXED_CASES)
def test_fixed_price(ticket, expected):
    doc = usage(entry(minutes=480, work_kind="fixed"), tickets=[{"id": 1, "billing_mode": "fixed", **ticket}])
    invoice = bill(contract("subscription"), doc)
    assert amounts(invoice, "fixed_price") == ([D(expected)] if expected else [])
    assert invoice.hours.fixed == D("8.00")  # the hours are reported, not billed


# --- free operations -------------------------------------------------------------------------------------

OPERATION_CASES = [
    # (visit, quantity) list, free per visit, unit price, charged quantity, amount
    # 3 new workplaces on one visit: all free (seed 001: "up to 3 per visit").
    pytest.param([("2026-11-05", 3)], 3, "1500", 0, "0.00", id="three-free"),
    # 5 on one visit: 3 free, 2 x 1500 = 3000.
    pytest.param([("2026-11-05", 5)], 3, "1500", 2, "3000.00", id="five-on-one-visit"),
    # 5 on one visit + 2 on another: free 3 + 2, charged 2 x 1500 = 3000.
    pytest.param([("2026-11-05", 5), ("2026-11-12", 2)], 3, "1500", 2, "3000.00", id="two-visits"),
    # Two records of the same visit add up: 2 + 2 = 4 -> 1 charged.
    pytest.param([("2026-11-05", 2), ("2026-11-05", 2)], 3, "1500", 1, "1500.00", id="same-visit-summed"),
]


@pytest.mark.parametrize(("ops", "free", "price", "charged", "amount"), OPERATION_CASES)
def test_free_operations(ops, free, price, charged, amount):
    terms = [{"kind": "workplace_commissioning", "title": "Ввод рабочих мест", "free_per_visit": free,
              "unit_price": price}]
    doc = usage(operations=[{"kind": "workplace_commissioning", "visit": v, "quantity": q} for v, q in ops])
    invoice = bill(contract("subscription", free_operations=terms), doc)
    line = next(line for line in invoice.lines if line.kind == "operation")
    assert line.quantity == charged and line.amount == D(amount)


def test_operation_not_in_contract_names_the_field():
    doc = usage(operations=[{"kind": "server_move", "visit": "2026-11-05", "quantity": 1}])
    with pytest.raises(BillingInputError) as error:
        bill(contract("subscription"), doc)
    assert error.value.field == "operations[0].kind"


# --- SLA penalties -----------------------------------------------------------------------------------------

def test_recorded_penalty_is_a_negative_line():
    # Package 20000 with one breach recorded at 1500: 20000 - 1500 = 18500.
    invoice = bill(contract("package"), usage(sla_breaches=[{"ticket_id": 1, "overdue_minutes": 90,
                                                             "penalty": "1500"}]))
    assert amounts(invoice, "sla_penalty") == [D("-1500.00")]
    assert invoice.total == D("18500.00")


def test_penalty_per_breach_once_per_ticket():
    # per breach 1000 once per ticket, 250 per overdue hour on each breach:
    # ticket 1 reaction 60 min: 1000 + 250 = 1250; ticket 1 resolution 120 min: 500; ticket 2 30 min: 1000 + 125.
    doc = contract("package", penalties={"per_breach": "1000", "per_overdue_hour": "250"})
    breaches = [{"ticket_id": 1, "target": "reaction", "overdue_minutes": 60},
                {"ticket_id": 1, "target": "resolution", "overdue_minutes": 120},
                {"ticket_id": 2, "target": "resolution", "overdue_minutes": 30}]
    invoice = bill(doc, usage(sla_breaches=breaches))
    assert amounts(invoice, "sla_penalty") == [D("-1250.00"), D("-500.00"), D("-1125.00")]


def test_penalty_from_contract_terms_when_none_recorded():
    # per breach 1000 + 250 per overdue hour x 45 min (0.75 h) = 1000 + 187.50 = 1187.50.
    doc = contract("package", penalties={"per_breach": "1000", "per_overdue_hour": "250"})
    invoice = bill(doc, usage(sla_breaches=[{"ticket_id": 1, "target": "reaction", "overdue_minutes": 45}]))
    assert amounts(invoice, "sla_penalty") == [D("-1187.50")]


@pytest.mark.parametrize(("allow_negative", "expected_total", "cap"), [
    # Fee 20000, penalties 15000 + 10000 = 25000 > fee. Default: a +5000 cap line brings the total to 0.
    (False, "0.00", ["5000.00"]),
    # Contract allows a negative invoice (a credit): 20000 - 25000 = -5000.
    (True, "-5000.00", []),
])
def test_penalty_larger_than_the_fee(allow_negative, expected_total, cap):
    doc = contract("package", penalties={"allow_negative_invoice": allow_negative})
    breaches = [{"ticket_id": 1, "penalty": "15000"}, {"ticket_id": 2, "penalty": "10000"}]
    invoice = bill(doc, usage(sla_breaches=breaches))
    assert invoice.total == D(expected_total)
    assert amounts(invoice, "penalty_cap") == [D(c) for c in cap]
    assert invoice.penalties_capped is (not allow_negative)


@pytest.mark.parametrize(("penalties", "cap_percent", "expected_total", "cap"), [
    # Fee 20000, cap 10 %: at most 2000 deducted; penalties 1500 -> under the cap, total 18500.
    (["1500"], "10", "18500.00", []),
    # Penalties 1500 + 1500 = 3000 > 2000: 1000 added back, total 18000.
    (["1500", "1500"], "10", "18000.00", ["1000.00"]),
    # Cap 100 %: penalties 25000 > 20000 -> 5000 back, total 0 (same as the non-negative rule).
    (["25000"], "100", "0.00", ["5000.00"]),
    # Cap 0 %: no penalty is ever deducted.
    (["700"], "0", "20000.00", ["700.00"]),
])
def test_penalty_cap_percent(penalties, cap_percent, expected_total, cap):
    doc = contract("package", penalties={"cap_percent": cap_percent})
    invoice = bill(doc, usage(sla_breaches=[{"ticket_id": i + 1, "penalty": p} for i, p in enumerate(penalties)]))
    assert invoice.total == D(expected_total)
    assert amounts(invoice, "penalty_cap") == [D(c) for c in cap]


# --- VAT and rounding ---------------------------------------------------------------------------------------

def test_vat_on_the_subtotal_rounded_half_up():
    # 1 workstation at 1234.57; VAT 20 % = 246.914 -> 246.91; total 1481.48.
    doc = contract("subscription", subscription={"workstation_rate": "1234.57"}, vat_percent="20")
    invoice = bill(doc, usage(seats={"workstations": 1}))
    assert invoice.subtotal == D("1234.57") and invoice.vat == D("246.91") and invoice.total == D("1481.48")


def test_vat_zero_by_default_adds_no_line():
    invoice = bill(contract("package"), usage())
    assert invoice.vat == 0 and amounts(invoice, "vat") == []


@pytest.mark.parametrize(("rate", "minutes", "amount"), [
    # 2000 x 20 / 60 = 666.666... -> 666.67
    ("2000", 20, "666.67"),
    # 0.05 x 30 / 60 = 0.025 -> 0.03 half-up (banker's rounding would give 0.02)
    ("0.05", 30, "0.03"),
    # 1830 x 1 / 60 = 30.50 exactly
    ("1830", 1, "30.50"),
])
def test_each_line_rounded_half_up_once(rate, minutes, amount):
    invoice = bill(contract("hourly", hourly_rate=rate), usage(entry(minutes=minutes)))
    assert amounts(invoice, "hourly_work") == [D(amount)]


def test_line_amounts_are_kopecks_and_totals_add_up():
    invoice = bill(contract("package", hourly_discount_percent="15", vat_percent="20"),
                   usage(entry(minutes=700), entry(day=4, minutes=77, off_hours=True)))
    assert all(line.amount == line.amount.quantize(D("0.01")) for line in invoice.lines)
    assert invoice.total == sum(line.amount for line in invoice.lines)
    assert invoice.subtotal + invoice.vat == invoice.total
