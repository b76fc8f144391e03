"""SLA over the knowledge store (SQLite and PostgreSQL): refresh, periodic check with events, penalties and
e-mail notifications written to the outbox with the events and delivered to a real SMTP server on loopback,
monthly reports."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.models import (
    Assignment,
    AuditEvent,
    Client,
    Contract,
    OutboxMessage,
    SlaEvent,
    SlaPause,
    Specialist,
    Ticket,
)
from service.config import load_settings
from service.sla import service as sla_service
from tests.smtp_server import deliver_outbox, free_port, smtp_server

MSK = timezone(timedelta(hours=3))


def msk(day, hour, minute=0, month=11):
    return datetime(2026, month, day, hour, minute, tzinfo=MSK)


def seed(session, *, policy="gold"):
    client = Client(name="ООО Ромашка", sla_policy=policy, calendar="10x5", timezone="Europe/Moscow", country="RU",
                    manager="Петров", manager_email="manager@example.org", email="it@romashka.example")
    engineer = Specialist(name="Иванов И. И.", email="ivanov@example.org", line=2)
    session.add_all([client, engineer])
    session.flush()
    session.add(Contract(client_id=client.id, plan_kind="subscription", tier=policy, valid_from=msk(1, 0, month=1),
                         terms={"penalties": {"per_breach": "500.00", "per_overdue_hour": "1000"}}))
    ticket = Ticket(client_id=client.id, subject="Не печатает принтер", priority="standard", status="in_progress",
                    created_at=msk(23, 9))
    session.add(ticket)
    session.flush()
    session.add(Assignment(ticket_id=ticket.id, specialist_id=engineer.id))
    session.commit()
    return client, ticket


def test_refresh_ticket_sla_and_priority_change(db_session):
    _, ticket = seed(db_session)
    db_session.add(SlaPause(ticket_id=ticket.id, started_at=msk(23, 10), ended_at=msk(23, 12)))
    db_session.commit()
    db_session.refresh(ticket)
    sla_service.refresh_ticket_sla(db_session, ticket=ticket, now=msk(23, 13))
    assert ticket.reaction_due == msk(23, 15) and ticket.resolution_due == msk(24, 17)
    assert ticket.work_start_due is None and ticket.sla_state == "on_track"
    ticket.priority = "high"
    sla_service.refresh_ticket_sla(db_session, ticket=ticket, now=msk(23, 13))
    assert ticket.reaction_due == msk(23, 10) and ticket.resolution_due == msk(23, 19)
    assert ticket.sla_state == "breached"


def test_check_records_each_state_once_notifies_and_charges(db_session):
    _, ticket = seed(db_session)
    with smtp_server() as (inbox, port):
        settings = load_settings({}, smtp_host="127.0.0.1", smtp_port=port)
        first = sla_service.sla_check(db_session, now=msk(23, 12), settings=settings)
        assert first["events_created"] == 1 and first["notified"] == 1 and first["states"] == {"at_risk": 1}
        assert inbox.messages == [] and deliver_outbox(db_session, settings)["sent"] == 1
        assert len(inbox.messages) == 1
        recipients, message = inbox.messages[0]
        assert sorted(recipients) == ["ivanov@example.org", "manager@example.org"]
        assert "под угрозой" in message["Subject"] and f"#{ticket.id}" in message["Subject"]
        again = sla_service.sla_check(db_session, now=msk(23, 12, 30), settings=settings)
        deliver_outbox(db_session, settings)
        assert again["events_created"] == 0 and len(inbox.messages) == 1
        breached = sla_service.sla_check(db_session, now=msk(23, 14), settings=settings)
        deliver_outbox(db_session, settings)
        assert breached["events_created"] == 1 and len(inbox.messages) == 2
        assert "нарушен" in inbox.messages[1][1]["Subject"]
        sla_service.sla_check(db_session, now=msk(23, 15), settings=settings)
        deliver_outbox(db_session, settings)
        assert len(inbox.messages) == 2  # a growing breach is not a new state
    event = db_session.scalar(select(SlaEvent).where(SlaEvent.state == "breached"))
    assert (event.target, event.overdue_minutes, event.penalty) == ("reaction", 120, Decimal("2500.00"))
    # The engineer reacts at 15:30: the breach stops growing at 150 minutes.
    ticket.reacted_at = msk(23, 15, 30)
    db_session.commit()
    sla_service.sla_check(db_session, now=msk(24, 12), settings=load_settings({}))
    db_session.refresh(event)
    assert (event.overdue_minutes, event.penalty) == (150, Decimal("3000.00"))
    states = {(e.target, e.state): e.notified for e in db_session.scalars(select(SlaEvent))}
    # Every event is queued once, SMTP configured or not: the resolution's at-risk mail waits in the outbox.
    assert states == {("reaction", "at_risk"): True, ("reaction", "breached"): True, ("resolution", "at_risk"): True}
    waiting = db_session.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending")).all()
    assert [m.kind for m in waiting] == ["sla_event"] and "решение" in waiting[0].subject


def test_second_breach_of_a_ticket_pays_only_the_hourly_part(db_session):
    _, ticket = seed(db_session)
    sla_service.sla_check(db_session, now=msk(25, 10), settings=load_settings({}))
    events = {e.target: e for e in db_session.scalars(select(SlaEvent).where(SlaEvent.state == "breached"))}
    # reaction due Mon 13:00, resolution (16 h) due Tue 15:00; now Wed 10:00.
    assert events["reaction"].overdue_minutes == (6 + 10 + 1) * 60
    assert events["reaction"].penalty == Decimal("500.00") + 17 * 1000
    assert events["resolution"].overdue_minutes == (4 + 1) * 60 and events["resolution"].penalty == Decimal("5000.00")
    # Found late, each breach is filed at the instant it began (billing counts breaches by that month).
    assert (events["reaction"].recorded_at, events["resolution"].recorded_at) == (msk(23, 13), msk(24, 15))
    # no SMTP host configured: each event's mail waits in the outbox (queued with the event, never twice)
    assert all(e.notified for e in events.values())
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
    assert ticket.sla_state == "breached"


def test_resolved_tickets_settle_and_leave_the_check(db_session):
    _, ticket = seed(db_session)
    ticket.reacted_at, ticket.resolved_at, ticket.status = msk(23, 9, 30), msk(23, 16), "resolved"
    db_session.commit()
    assert sla_service.sla_check(db_session, now=msk(24, 9), settings=load_settings({}))["states"] == {"met": 1}
    assert sla_service.sla_check(db_session, now=msk(24, 10), settings=load_settings({}))["checked"] == 0


def test_monthly_report_document(db_session):
    client, ticket = seed(db_session)
    high = Ticket(client_id=client.id, subject="Упал сервер 1С", priority="high", status="resolved",
                  created_at=msk(24, 9), reacted_at=msk(24, 9, 30), resolved_at=msk(24, 16))
    october = Ticket(client_id=client.id, subject="Старая", priority="low", created_at=msk(30, 9, month=10))
    db_session.add_all([high, october])
    db_session.commit()
    sla_service.sla_check(db_session, now=msk(30, 12), settings=load_settings({}))
    report = sla_service.client_report(db_session, client_id=client.id, month="2026-11", now=msk(30, 12))
    assert report["tickets"] == 2 and report["month"] == "2026-11" and report["policy"]["key"] == "gold"
    assert report["by_priority"]["standard"] == {"tickets": 1, "resolved": 0}
    assert report["by_priority"]["high"] == {"tickets": 1, "resolved": 1}
    assert report["targets"]["reaction"]["met"] == 1 and report["targets"]["reaction"]["missed"] == 1
    # the high one: 8 h resolution due Tue 17:00, resolved 16:00 -> met
    assert report["targets"]["resolution"]["met"] == 1 and report["targets"]["resolution"]["missed"] == 1
    assert {b["ticket_id"] for b in report["breaches"]} == {ticket.id}
    assert Decimal(report["penalties"]) > 0 and report["overdue_minutes"] > 0
    assert report["longest_outages"][0]["ticket_id"] == ticket.id and report["complete"] is False
    assert report["longest_outages"][1]["minutes"] == 7 * 60
    html = sla_service.render_report_html(report)
    assert "Отчёт о выполнении SLA за 2026-11" in html and "Упал сервер 1С" in html
    with pytest.raises(sla_service.SlaReportError) as error:
        sla_service.client_report(db_session, client_id=client.id, month="2026-13")
    assert error.value.field == "month"


def test_month_end_reports_go_out_once_from_gold_up(db_session):
    gold, _ = seed(db_session, policy="gold")
    bronze, _ = seed(db_session, policy="bronze")
    with smtp_server() as (inbox, port):
        settings = load_settings({}, smtp_host="127.0.0.1", smtp_port=port)
        results = sla_service.send_monthly_reports(db_session, now=msk(1, 0, 5, month=12), settings=settings)
        assert results == [{"client_id": gold.id, "month": "2026-11", "sent": True}]
        assert sla_service.send_monthly_reports(db_session, now=msk(1, 1, month=12), settings=settings) == []
        assert deliver_outbox(db_session, settings, now=msk(1, 1, month=12))["sent"] == 1
    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert sorted(recipients) == ["it@romashka.example", "manager@example.org"]
    assert message["Subject"] == "Отчёт SLA за 2026-11: ООО Ромашка"
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Отчёт о выполнении SLA за 2026-11" in html
    assert db_session.scalar(select(AuditEvent.data).where(AuditEvent.action == "sla.report_sent"))["month"] == \
        "2026-11"
    assert bronze.id != gold.id


def test_event_mail_is_written_with_the_events_and_a_dead_server_loses_nothing(db_session):
    """The check commits its events and their outbox messages together; SMTP down only delays the mail."""
    seed(db_session)
    settings = load_settings({}, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout_seconds=2.0)
    result = sla_service.sla_check(db_session, now=msk(23, 12), settings=settings)
    assert result["events_created"] == 1 and result["notified"] == 1
    with Session(db_session.get_bind()) as other:
        assert [e.notified for e in other.scalars(select(SlaEvent))] == [True]
        assert [m.kind for m in other.scalars(select(OutboxMessage))] == ["sla_event"]
    assert deliver_outbox(db_session, settings)["retry"] == 1  # nobody listens on that port
    message = db_session.scalar(select(OutboxMessage))
    assert (message.status, message.attempts) == ("pending", 1) and "127.0.0.1" in message.last_error
