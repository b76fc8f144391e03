"""Billing over the knowledge store (SQLite and PostgreSQL): usage building, calendars, prepaid replay,
balance, stop-work and change requests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from kb.models import AuditEvent, Client, Contract, Ticket, TimeEntry
from service.billing import BillingInputError, compute_invoice
from service.billing import service as billing_service
from service.sla.calendar import BusinessCalendar
from tests.service.billing.store import EXPECTED_TOTAL, MSK, msk, seed_month


@pytest.mark.parametrize(("instant", "calendar", "outside"), [
    (msk(11, 3, 10), "10x5", False),       # Tuesday 10:00
    (msk(11, 3, 8, 59), "10x5", True),     # before 09:00
    (msk(11, 3, 19), "10x5", True),        # 19:00 is the end of the day
    (msk(11, 3, 18, 30), "10x5", False),
    (msk(11, 3, 18, 30), "8x5", True),     # 8x5 ends at 18:00
    (msk(11, 7, 12), "10x5", True),        # Saturday
    (msk(11, 4, 12), "10x5", True),        # 4 November, Unity Day (public holiday in RU)
    (msk(11, 7, 3), "24x7", False),        # round the clock
    (datetime(2026, 11, 3, 7, 0, tzinfo=UTC), "10x5", False),  # 07:00 UTC is 10:00 in Moscow
])
def test_outside_calendar(instant, calendar, outside):
    support = billing_service.support_calendar(calendar, "Europe/Moscow", "RU")
    assert billing_service.outside_calendar(instant, calendar=support) is outside


def test_month_invoice_from_the_store(db_session):
    ids = seed_month(db_session)
    invoice, usage = billing_service.client_invoice(db_session, client_id=ids["client"], month="2026-11")
    kinds = {line.kind: line.amount for line in invoice.lines}
    assert kinds["package"] == Decimal("25000.00")
    assert kinds["overage"] == Decimal("6333.33")
    assert kinds["off_hours_work"] == Decimal("3000.00")
    assert kinds["hourly_work"] == Decimal("4000.00")
    assert kinds["fixed_price"] == Decimal("45000.00")
    assert kinds["sla_penalty"] == Decimal("-700.00")
    assert invoice.total == EXPECTED_TOTAL
    assert (usage.workstations, usage.servers) == (3, 2)
    # Neither October's ticket nor the other client's work is in November's usage.
    assert {e.ticket_id for e in usage.entries} == {ids["a"], ids["b"], ids["c"]}
    fixed = usage.ticket(ids["c"])
    assert fixed.fixed_price == Decimal("40000") and fixed.final_price == Decimal("45000")


def test_month_without_work_bills_the_fee(db_session):
    ids = seed_month(db_session)
    invoice, usage = billing_service.client_invoice(db_session, client_id=ids["client"], month="2026-12")
    assert usage.entries == () and invoice.total == Decimal("25000.00")


def test_unknown_client_and_missing_contract(db_session):
    ids = seed_month(db_session)
    with pytest.raises(billing_service.NotFound) as error:
        billing_service.client_invoice(db_session, client_id=9999, month="2026-11")
    assert error.value.field == "client"
    with pytest.raises(billing_service.NotFound) as error:
        billing_service.client_invoice(db_session, client_id=ids["other"], month="2026-11")
    assert error.value.field == "month"
    # Before the contract started there is no invoice either.
    with pytest.raises(billing_service.NotFound):
        billing_service.client_invoice(db_session, client_id=ids["client"], month="2026-09")


def test_prepaid_balance_is_carried_over_month_to_month(db_session):
    # Prepaid contract from September: 10 h bought in September, 4 h used (6 h left);
    # October: 7 h used -> 6 h from the balance, 1 h over x 2000 = 2000; November opens at 0.
    client = Client(name="Предоплата", timezone="Europe/Moscow", calendar="24x7")
    db_session.add(client)
    db_session.flush()
    db_session.add(Contract(client_id=client.id, plan_kind="prepaid", tier="bronze", valid_from=msk(9, 1, 0),
                            terms={"hourly_rate": "2000", "prepaid": {
                                "hour_price": "1800", "purchases": [{"month": "2026-09", "hours": 10}]}}))
    ticket = Ticket(client_id=client.id, subject="Поддержка 1С")
    db_session.add(ticket)
    db_session.flush()
    db_session.add_all([TimeEntry(ticket_id=ticket.id, started_at=msk(9, 10, 10), minutes=240),
                        TimeEntry(ticket_id=ticket.id, started_at=msk(10, 10, 10), minutes=420)])
    db_session.commit()
    september, _ = billing_service.client_invoice(db_session, client_id=client.id, month="2026-09")
    assert september.total == Decimal("18000.00") and september.prepaid.closing_hours == 6
    october, _ = billing_service.client_invoice(db_session, client_id=client.id, month="2026-10")
    assert october.prepaid.opening_hours == 6
    assert october.total == Decimal("2000.00")
    november, _ = billing_service.client_invoice(db_session, client_id=client.id, month="2026-11")
    assert november.prepaid.opening_hours == 0 and november.total == 0


def _committed(session, action: str) -> int:
    """How many audit events ``action`` another session sees: what the use case committed."""
    with Session(session.get_bind()) as other:
        return other.query(AuditEvent).filter_by(action=action).count()


def test_a_refused_use_case_stores_nothing_and_leaves_the_session_usable(db_session):
    ids = seed_month(db_session)
    client = db_session.get(Client, ids["client"])
    with pytest.raises(BillingInputError) as refused:
        billing_service.create_contract(db_session, client=client, plan_kind="package", tier="bronze",
                                        valid_from=msk(12, 1, 0), valid_to=None, terms={"hourly_rate": "1"})
    assert refused.value.field == "terms.package"
    with pytest.raises(BillingInputError) as refused:
        billing_service.create_contract(db_session, client=client, plan_kind="hourly", tier="bronze",
                                        valid_from=msk(12, 1, 0), valid_to=msk(11, 1, 0), terms={"hourly_rate": "1"})
    assert refused.value.field == "valid_to"
    row = billing_service.create_contract(db_session, client=client, plan_kind="hourly", tier="bronze",
                                          valid_from=msk(12, 1, 0), valid_to=None, terms={"hourly_rate": "1"})
    with Session(db_session.get_bind()) as other:
        assert other.query(Contract).filter_by(client_id=client.id).count() == 2  # October's and this one
        assert other.get(Contract, row.id).plan_kind == "hourly"


def test_balance_and_stop_work(db_session):
    ids = seed_month(db_session)
    ticket = db_session.get(Ticket, ids["b"])
    now = msk(11, 10, 15)
    balance = billing_service.ticket_balance(db_session, ticket=ticket, now=now)
    # 2 h of 3 spent at 2000 per hour: 4000 of 6000, 1 h / 2000 left.
    assert balance["spent_hours"] == "2.00" and balance["remaining_hours"] == "1.00"
    assert balance["spent_amount"] == "4000.00" and balance["remaining_amount"] == "2000.00"
    assert balance["stopped"] is False
    stopped = billing_service.stop_work(db_session, ticket=ticket, actor="client", now=now)
    assert stopped["stopped"] is True
    assert _committed(db_session, billing_service.STOP_WORK_ACTION) == 1  # the use case committed once
    # Work logged after the stop is reported but not billed.
    db_session.add(TimeEntry(ticket_id=ticket.id, started_at=msk(11, 11, 10), minutes=60, work_kind="hourly"))
    db_session.commit()
    invoice, _ = billing_service.client_invoice(db_session, client_id=ids["client"], month="2026-11")
    assert invoice.total == EXPECTED_TOTAL
    assert invoice.hours.not_billed_after_stop == Decimal("1.00")
    with pytest.raises(billing_service.Conflict):
        billing_service.stop_work(db_session, ticket=ticket, actor="client", now=now)
    with pytest.raises(billing_service.Conflict):
        billing_service.stop_work(db_session, ticket=db_session.get(Ticket, ids["a"]), actor="client", now=now)


def test_change_request_changes_the_price_and_is_audited(db_session):
    ids = seed_month(db_session)
    ticket = db_session.get(Ticket, ids["c"])
    change = billing_service.add_change_request(db_session, ticket=ticket, new_price=Decimal("47000"),
                                                agreed_by="Петров", actor="manager", scope="ещё стойка",
                                                now=msk(11, 19, 10))
    assert _committed(db_session, billing_service.CHANGE_REQUEST_ACTION) == 1
    assert change.old_price == Decimal("45000") and ticket.fixed_price == Decimal("47000")
    invoice, usage = billing_service.client_invoice(db_session, client_id=ids["client"], month="2026-11")
    assert [line.amount for line in invoice.lines if line.kind == "fixed_price"] == [Decimal("47000.00")]
    assert usage.ticket(ids["c"]).fixed_price == Decimal("40000")  # the originally agreed price
    assert db_session.query(AuditEvent).filter_by(action=billing_service.CHANGE_REQUEST_ACTION).count() == 1
    with pytest.raises(billing_service.Conflict):
        billing_service.add_change_request(db_session, ticket=db_session.get(Ticket, ids["b"]),
                                           new_price=Decimal("1"), agreed_by="x", actor="y")


def test_recorded_operations_are_priced(db_session):
    ids = seed_month(db_session)
    contract = db_session.query(Contract).filter_by(client_id=ids["client"]).one()
    contract.terms = {**contract.terms, "free_operations": [
        {"kind": "workplace_commissioning", "free_per_visit": 3, "unit_price": "1500"}]}
    db_session.commit()
    ticket = db_session.get(Ticket, ids["a"])
    billing_service.record_operation(db_session, ticket=ticket, kind="workplace_commissioning", quantity=5,
                                     actor="eng", now=msk(11, 25, 12))
    assert _committed(db_session, billing_service.OPERATION_ACTION) == 1
    # 5 workplaces on one visit: 3 free, 2 x 1500 = 3000 on top.
    invoice, _ = billing_service.client_invoice(db_session, client_id=ids["client"], month="2026-11")
    assert invoice.total == EXPECTED_TOTAL + Decimal("3000.00")
    with pytest.raises(billing_service.Conflict):
        billing_service.record_operation(db_session, ticket=ticket, kind="teleportation", quantity=1, actor="eng",
                                         now=msk(11, 25, 12))


def test_usage_document_round_trips_through_the_pure_engine(db_session):
    ids = seed_month(db_session)
    client, _, contract, usage = billing_service.client_usage(db_session, client_id=ids["client"], month="2026-11")
    from service.billing import parse_usage

    document = billing_service.build_usage_document(db_session, client=client, month="2026-11")
    assert compute_invoice(contract, parse_usage(document)).total == EXPECTED_TOTAL
    assert document["entries"][0]["started_at"].startswith("2026-11-01T00:30:00+03:00")


def test_demo_contracts_cover_every_plan_and_bill(db_session):
    from data.demo.contracts import PLAN_CYCLE, build_contracts

    ids = seed_month(db_session)
    for name in ["Астра", "Вереск", "Гвоздика"]:
        extra = Client(name=name, timezone="Asia/Yekaterinburg", sla_policy="gold")
        db_session.add(extra)
        db_session.flush()
        ticket = Ticket(client_id=extra.id, subject="Заявка", type="service_request")
        db_session.add(ticket)
        db_session.flush()
        db_session.add_all([TimeEntry(ticket_id=ticket.id, started_at=msk(11, d, 10), minutes=90, on_site=True)
                            for d in (3, 10, 17)])
    db_session.commit()
    summary = build_contracts(db_session, seed=1)
    db_session.commit()
    assert {plan.split("/")[0] for plan in summary["contracts"].values()} == set(PLAN_CYCLE)
    for client_id in summary["contracts"]:
        invoice, _ = billing_service.client_invoice(db_session, client_id=client_id, month="2026-11")
        assert invoice.total >= 0
    # The busiest client (the seeded one: 25 h in November) gets the unlimited plan.
    assert summary["contracts"][ids["client"]] == "unlimited/bronze"


def test_work_on_project_tickets_is_billed_by_the_ticket_mode(db_session):
    # An entry logged with the default work kind "included" on the hourly ticket B is still hourly work:
    # 60 min x 2000 = 2000 more; a fixed-price ticket closed without a resolution instant is still billed.
    ids = seed_month(db_session)
    db_session.add(TimeEntry(ticket_id=ids["b"], started_at=msk(11, 11, 10), minutes=60, work_kind="included"))
    closed = Ticket(client_id=ids["client"], subject="Монтаж СКС", billing_mode="fixed",
                    fixed_price=Decimal("10000"), status="closed", closed_at=msk(11, 27, 10))
    db_session.add(closed)
    db_session.commit()
    invoice, _ = billing_service.client_invoice(db_session, client_id=ids["client"], month="2026-11")
    assert invoice.total == EXPECTED_TOTAL + Decimal("2000.00") + Decimal("10000.00")
    assert billing_service.ticket_balance(db_session, ticket=db_session.get(Ticket, ids["b"]),
                                          now=msk(11, 12, 10))["spent_hours"] == "3.00"


@pytest.mark.parametrize(("start", "minutes", "calendar", "outside"), [
    (msk(11, 3, 18), 180, "10x5", 120),            # 18:00-21:00: 1 h inside, 2 h after 19:00
    (msk(11, 3, 8), 120, "10x5", 60),              # 08:00-10:00: 1 h before 09:00
    (msk(11, 3, 17), 60, "8x5", 0),                # 17:00-18:00 inside 8x5
    (msk(11, 3, 17, 30), 60, "8x5", 30),           # 17:30-18:30: half an hour after 18:00
    (msk(11, 7, 10), 60, "10x5", 60),              # Saturday
    (msk(11, 3, 18), 960, "10x5", 900),            # 18:00 to 10:00 next day, 4 Nov a holiday: 1 h inside
    (msk(11, 3, 10), 60, "24x7", 0),
    (datetime(2026, 11, 3, 15, 59, 40, tzinfo=UTC), 2, "10x5", 2),  # 18:59:40-19:01:40 MSK: 20 s inside -> 0 min
])
def test_minutes_outside_calendar(start, minutes, calendar, outside):
    support = billing_service.support_calendar(calendar, "Europe/Moscow", "RU")
    assert billing_service.minutes_outside_calendar(start, minutes, calendar=support) == outside


def test_billing_uses_the_sla_calendar():
    """Off-hours work is measured in the SLA clocks' calendar: a transferred working Saturday (RU, 20 Feb 2027)
    is a working day, the transferred day off (Monday 22 Feb) is not."""
    support = billing_service.support_calendar("10x5", "Europe/Moscow", "RU")
    assert support == BusinessCalendar("10x5", "Europe/Moscow", "RU")
    saturday = datetime(2027, 2, 20, 10, tzinfo=MSK)
    monday = datetime(2027, 2, 22, 10, tzinfo=MSK)
    assert not billing_service.outside_calendar(saturday, calendar=support)
    assert billing_service.outside_calendar(monday, calendar=support)
    assert billing_service.minutes_outside_calendar(saturday, 60, calendar=support) == 0
    assert billing_service.minutes_outside_calendar(monday, 60, calendar=support) == 60


def test_support_calendar_degrades_like_before():
    """A calendar name it does not know is round the clock; a country without holidays has none."""
    assert billing_service.support_calendar("9x6", "Europe/Moscow", "RU").always_open
    unknown_country = billing_service.support_calendar("10x5", "Europe/Moscow", "XX")
    assert unknown_country.country is None
    assert not billing_service.outside_calendar(msk(11, 4, 12), calendar=unknown_country)  # no Unity Day in XX


def test_entry_running_past_the_working_day_is_split(db_session):
    # Ticket A, Nov 3 18:00-21:00 Moscow, not agreed: 2 h off-hours x 2000 x 1.5 = 6000. The hour before
    # 19:00 is ordinary included work: it takes 60 min of the package, so the Nov 5 entry overflows 60 min
    # more: overage 190 + 60 = 250 min x 2000 / 60 = 8333.33 (was 6333.33), i.e. +2000.
    ids = seed_month(db_session)
    db_session.add(TimeEntry(ticket_id=ids["a"], started_at=msk(11, 3, 18), minutes=180))
    db_session.commit()
    invoice, _ = billing_service.client_invoice(db_session, client_id=ids["client"], month="2026-11")
    lines = {line.kind: line.amount for line in invoice.lines}
    assert lines["overage"] == Decimal("8333.33")
    assert invoice.total == EXPECTED_TOTAL + Decimal("6000.00") + Decimal("2000.00")


@pytest.mark.parametrize("earlier_action, at, billed", [
    # ticket C (fixed 45000, resolved Nov 20) was already resolved or closed in October, then reopened:
    # the November completion is rework under the agreed price -> 82633.33 - 45000 = 37633.33
    ("resolve", msk(10, 15, 12), Decimal("37633.33")),
    ("close", msk(10, 31, 23, 59), Decimal("37633.33")),
    # an earlier completion inside November itself does not stop the one November bill
    ("resolve", msk(11, 2, 12), EXPECTED_TOTAL),
    # other audited actions in October are not completions
    ("take", msk(10, 15, 12), EXPECTED_TOTAL),
])
def test_fixed_price_work_is_billed_once_at_its_first_completion(db_session, earlier_action, at, billed):
    ids = seed_month(db_session)
    db_session.add(AuditEvent(entity="ticket", entity_id=ids["c"], action=earlier_action, actor="eng", at=at,
                              data={}))
    db_session.commit()
    invoice, _ = billing_service.client_invoice(db_session, client_id=ids["client"], month="2026-11")
    assert invoice.total == billed
