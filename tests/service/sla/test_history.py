"""The analysts' history frames agree with the SLA clocks the service runs (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from kb.models import Assignment, Client, SlaEvent, Specialist, Ticket, TimeEntry
from service.sla import service as sla_service
from service.sla.history import TICKET_COLUMNS, breach_history, specialist_load, ticket_history

MSK = timezone(timedelta(hours=3))


def msk(day, hour, month=11):
    return datetime(2026, month, day, hour, tzinfo=MSK)


def seed(session):
    client = Client(name="ООО Ромашка", sla_policy="gold", calendar="10x5", timezone="Europe/Moscow", country="RU")
    busy = Specialist(name="Иванов", line=2, capacity=4)
    idle = Specialist(name="Петров", line=1, capacity=10)
    session.add_all([client, busy, idle])
    session.flush()
    late = Ticket(client_id=client.id, subject="Не печатает", priority="high", status="in_progress",
                  created_at=msk(23, 9))
    quick = Ticket(client_id=client.id, subject="Пароль", priority="standard", status="resolved",
                   created_at=msk(2, 10), reacted_at=msk(2, 10) + timedelta(minutes=20), resolved_at=msk(2, 15))
    closed_month_before = Ticket(client_id=client.id, subject="VPN", priority="low", status="closed",
                                 created_at=msk(31, 23, month=10), resolved_at=msk(3, 12))
    session.add_all([late, quick, closed_month_before])
    session.flush()
    session.add_all([Assignment(ticket_id=late.id, specialist_id=busy.id),
                     Assignment(ticket_id=quick.id, specialist_id=busy.id, released_at=msk(2, 15)),
                     TimeEntry(ticket_id=quick.id, specialist_id=busy.id, started_at=msk(2, 11), minutes=90),
                     SlaEvent(ticket_id=late.id, target="reaction", state="breached", due_at=msk(23, 10),
                              overdue_minutes=180, penalty=Decimal("500.00"))])
    session.commit()
    return client, late, quick, closed_month_before


def test_ticket_history_reads_the_service_clocks(db_session):
    _, late, quick, before = seed(db_session)
    now = msk(23, 13)
    frame = ticket_history(db_session, now=now)
    assert tuple(frame.columns) == TICKET_COLUMNS
    assert list(frame["ticket_id"]) == [before.id, quick.id, late.id]  # oldest first
    rows = frame.set_index("ticket_id")
    for ticket in (late, quick, before):
        clock = sla_service.evaluate_ticket(db_session, ticket=ticket, now=now)
        assert rows.loc[ticket.id, "sla_state"] == clock.state
        assert rows.loc[ticket.id, "reaction_due"].to_pydatetime() == clock.due("reaction")
    assert rows.loc[late.id, "reaction_state"] == "breached" and rows.loc[quick.id, "reaction_state"] == "met"
    assert rows.loc[quick.id, "reaction_hours"] == round(20 / 60, 3)
    assert rows.loc[quick.id, "resolution_hours"] == 5.0
    assert rows.loc[before.id, "created_month"] == "2026-10"  # 23:00 in Moscow is still October there
    assert rows.loc[late.id, "resolved_at"] is None or str(rows.loc[late.id, "resolved_at"]) == "NaT"


def test_ticket_history_since_and_limit(db_session):
    _, late, quick, _ = seed(db_session)
    assert list(ticket_history(db_session, now=msk(23, 13), since=msk(1, 0))["ticket_id"]) == [quick.id, late.id]
    assert list(ticket_history(db_session, now=msk(23, 13), limit=1)["ticket_id"]) == [late.id]
    assert ticket_history(db_session, now=msk(23, 13), since=msk(24, 0)).empty


def test_breaches_and_load(db_session):
    client, late, _, _ = seed(db_session)
    breaches = breach_history(db_session)
    assert breaches.to_dict("records")[0] | {"due_at": None} == {
        "ticket_id": late.id, "client_id": client.id, "client": "ООО Ромашка", "priority": "high",
        "target": "reaction", "due_at": None, "overdue_minutes": 180, "penalty_rub": 500.0}
    load = specialist_load(db_session).set_index("specialist")
    assert load.loc["Иванов", "open_tickets"] == 1 and load.loc["Иванов", "tickets_taken"] == 2
    assert load.loc["Иванов", "hours_logged"] == 1.5 and load.loc["Иванов", "utilisation"] == 0.25
    assert load.loc["Петров", "open_tickets"] == 0 and load.loc["Петров", "hours_logged"] == 0
    assert specialist_load(db_session, since=msk(10, 0)).set_index("specialist").loc["Иванов", "hours_logged"] == 0
