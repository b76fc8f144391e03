"""Periodic checks of the workflow: the first-line time box and the auto-close of resolved tickets (run from
``precedent tickets timebox`` / ``autoclose``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import AuditEvent, Client, Ticket
from service.config import Settings, current_settings
from service.platform import outbox
from service.platform.unit_of_work import UnitOfWork, unit_of_work
from service.sla.service import staff_recipients
from service.tickets.actions import stage_action
from service.tickets.staging import (
    audit_event,
    calendar_of,
    notify_changed,
    utc_now,
)


def working_days_between(start: datetime, end: datetime, calendar) -> int:
    """Working days of ``calendar`` strictly after ``start``'s local date up to and including ``end``'s."""
    zone = calendar.zone
    first = start.astimezone(zone).date() + timedelta(days=1)
    last = end.astimezone(zone).date()
    count = 0
    day: date = first
    while day <= last:
        if calendar.is_working_day(day):
            count += 1
        day += timedelta(days=1)
    return count


def autoclose_candidates(session: Session, *, now: datetime | None = None,
                         settings: Settings | None = None) -> list[Ticket]:
    """Resolved tickets whose requester has not confirmed within the configured working days."""
    now, settings = utc_now(now), current_settings(settings)
    days = settings.workflow_autoclose_working_days
    rows = session.scalars(select(Ticket).where(Ticket.status == "resolved", Ticket.resolved_at.is_not(None))
                           .order_by(Ticket.id))
    return [t for t in rows if working_days_between(t.resolved_at, now, calendar_of(t.client)) >= days]


def autoclose_resolved(session: Session, *, now: datetime | None = None,
                       settings: Settings | None = None) -> list[int]:
    """Close every auto-close candidate (actor ``system:autoclose``) in one commit; their ids."""
    now, settings = utc_now(now), current_settings(settings)
    reason = f"no confirmation within {settings.workflow_autoclose_working_days} working days"
    with unit_of_work(session) as uow:
        tickets = autoclose_candidates(session, now=now, settings=settings)
        for ticket in tickets:
            stage_action(uow, ticket, action="close", actor="system:autoclose", now=now, settings=settings,
                         params={"reason": reason})
    return [t.id for t in tickets]


def _last_event(session: Session, ticket_id: int, actions: Iterable[str]) -> AuditEvent | None:
    return session.scalar(
        select(AuditEvent).where(AuditEvent.entity == "ticket", AuditEvent.entity_id == ticket_id,
                                 AuditEvent.action.in_(tuple(actions)))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(1))


def first_line_time_used(session: Session, ticket: Ticket, *, now: datetime) -> timedelta | None:
    """Working time the first line has spent since it took the ticket (pauses excluded); None if not at line 1."""
    if ticket.status != "in_progress":
        return None
    taken = _last_event(session, ticket.id, ("take",))
    if taken is None:
        return None
    pauses = [(p.started_at, p.ended_at or now) for p in ticket.pauses]
    return calendar_of(ticket.client).working_time_between(taken.at, now, pauses)


def time_box_expired(session: Session, *, now: datetime | None = None,
                     settings: Settings | None = None) -> list[tuple[Ticket, timedelta]]:
    """First-line tickets past the time box that are not yet flagged since they were last taken."""
    now, settings = utc_now(now), current_settings(settings)
    limit = timedelta(minutes=settings.workflow_first_line_minutes)
    found = []
    for ticket in session.scalars(select(Ticket).where(Ticket.status == "in_progress").order_by(Ticket.id)):
        used = first_line_time_used(session, ticket, now=now)
        if used is None or used < limit:
            continue
        last = _last_event(session, ticket.id, ("take", "time_box_expired"))
        if last is not None and last.action == "time_box_expired":
            continue
        found.append((ticket, used))
    return found


def flag_time_box_expired(session: Session, *, now: datetime | None = None,
                          settings: Settings | None = None) -> list[int]:
    """Flag tickets whose first-line time box ran out (audit event ``time_box_expired``); their ids."""
    now, settings = utc_now(now), current_settings(settings)
    with unit_of_work(session) as uow:
        expired = time_box_expired(session, now=now, settings=settings)
        for ticket, used in expired:
            used_minutes = int(used.total_seconds() // 60)
            audit_event(session, ticket, "time_box_expired", "system:timebox", now,
                        **{"from": ticket.status, "to": ticket.status},
                        reason="first-line time box ran out: escalate to the second line",
                        used_minutes=used_minutes, limit_minutes=settings.workflow_first_line_minutes)
            notify_changed(uow, ticket, "time_box_expired")
            client = session.get(Client, ticket.client_id)
            _mail_time_box_expired(uow, settings, ticket, client, staff_recipients(session, ticket, client),
                                   used_minutes=used_minutes)
    return [t.id for t, _ in expired]


def _mail_time_box_expired(uow: UnitOfWork, settings: Settings, ticket: Ticket, client: Client,
                           recipients: list[str], *, used_minutes: int) -> None:
    """Tell the first-line assignee and the client's manager (through the outbox, in this transaction) that
    the ticket should go to the second line."""
    if not recipients:
        return
    subject = f"Время первой линии истекло: заявка #{ticket.id} — {client.name}"
    body = (f"Заявка #{ticket.id}: {ticket.subject}\n"
            f"Клиент: {client.name}, приоритет: {ticket.priority}, статус: {ticket.status}\n"
            f"Первая линия работает {used_minutes} мин рабочего времени при лимите "
            f"{settings.workflow_first_line_minutes} мин: передайте заявку второй линии (escalate).\n")
    outbox.enqueue(uow.session, kind="time_box", recipients=recipients, subject=subject, body=body,
                   ticket_id=ticket.id)


def flagged_for_escalation(session: Session, *, ticket: Ticket) -> bool:
    """True when the ticket is at line 1 and its time box was flagged since it was last taken."""
    if ticket.status != "in_progress":
        return False
    last = _last_event(session, ticket.id, ("take", "time_box_expired"))
    return last is not None and last.action == "time_box_expired"
