"""SLA over the knowledge store: load a ticket, its client and pauses, run the pure engine (service/sla),
store the results; record at-risk / breached events with penalties and notify once per state change;
build and send monthly SLA reports.

The use cases that write (:func:`sla_check`, :func:`notify_events`, :func:`send_client_report`) each
commit once through ``unit_of_work``; :func:`refresh_ticket_sla` is a helper of the workflow's own use
cases and never commits. The CLI and the scheduler call :func:`periodic_check`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from kb.models import Assignment, AuditEvent, Client, Contract, SlaEvent, Ticket
from kb.queries import audit
from kb.vocab import OPEN_STATUSES
from service.config import Settings, current_settings
from service.platform import outbox
from service.platform.unit_of_work import unit_of_work
from service.sla.calendar import (
    BusinessCalendar,
    CalendarError,
    MonthError,
    month_bounds,
    month_of,
    parse_month,
    previous_month,
)
from service.sla.clock import Pause, TicketClock, TicketTimes, ticket_clock
from service.sla.penalties import PenaltyTerms, PenaltyTermsError, breach_penalty, penalty_terms
from service.sla.policies import DEFAULT_POLICY, POLICIES, PolicyError, SlaPolicy, get_policy
from service.sla.report import ReportTicket, TargetOutcome, monthly_report

log = logging.getLogger(__name__)

#: Ticket SLA states that no longer change while the ticket stays resolved or closed.
FINAL_STATES = ("met", "breached")
EVENT_STATES = ("at_risk", "breached")


class SlaReportError(ValueError):
    """Bad report request (unknown client, malformed month); ``field`` names the argument."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


class ClientNotFound(SlaReportError):
    """The report's client does not exist."""

    def __init__(self, client_id: int):
        super().__init__(f"client {client_id} not found", "client")


def client_policy(client: Client) -> SlaPolicy:
    """The client's policy; an unknown key falls back to the default tier (logged, never an error)."""
    try:
        return get_policy(client.sla_policy or DEFAULT_POLICY)
    except PolicyError:
        log.warning("client %s has unknown SLA policy %r; using %s", client.id, client.sla_policy, DEFAULT_POLICY)
        return POLICIES[DEFAULT_POLICY]


def client_calendar(client: Client, policy: SlaPolicy) -> BusinessCalendar:
    """The calendar the client's clocks run in (the policy's own calendar wins, e.g. 24x7x4)."""
    name = policy.calendar or client.calendar or "10x5"
    try:
        return BusinessCalendar(name, client.timezone or "Europe/Moscow", client.country or None)
    except CalendarError as exc:
        log.warning("client %s calendar: %s; using 10x5 Europe/Moscow RU", client.id, exc)
        return BusinessCalendar(policy.calendar or "10x5", "Europe/Moscow", "RU")


def ticket_times(ticket: Ticket) -> TicketTimes:
    """The plain data the clocks need."""
    return TicketTimes(
        opened_at=ticket.created_at, priority=ticket.priority, reacted_at=ticket.reacted_at,
        work_started_at=ticket.work_started_at, resolved_at=ticket.resolved_at or ticket.closed_at,
        pauses=tuple(Pause(p.started_at, p.ended_at) for p in ticket.pauses),
    )


def _client_of(session: Session, ticket: Ticket) -> Client:
    return ticket.client if ticket.client is not None else session.get(Client, ticket.client_id)


def evaluate_ticket(session: Session, *, ticket: Ticket, now: datetime | None = None,
                    settings: Settings | None = None) -> TicketClock:
    """Run the clocks of ``ticket`` at ``now`` without changing anything."""
    settings = current_settings(settings)
    client = _client_of(session, ticket)
    policy = client_policy(client)
    return ticket_clock(ticket_times(ticket), policy, client_calendar(client, policy),
                        now or datetime.now(UTC), at_risk_fraction=settings.sla_at_risk_fraction)


def refresh_ticket_sla(session: Session, *, ticket: Ticket, now: datetime | None = None,
                       settings: Settings | None = None) -> None:
    """Recompute ticket.reaction_due/work_start_due/resolution_due/sla_state (no commit)."""
    if ticket.created_at is None:
        ticket.created_at = now or datetime.now(UTC)
    _store_clock(ticket, evaluate_ticket(session, ticket=ticket, now=now, settings=settings))


def contract_penalty_terms(session: Session, *, client_id: int, at: datetime) -> PenaltyTerms:
    """Penalty terms of the client's contract in force at ``at`` (none: no penalties)."""
    row = session.scalars(
        select(Contract).where(Contract.client_id == client_id, Contract.valid_from <= at,
                               or_(Contract.valid_to.is_(None), Contract.valid_to > at))
        .order_by(Contract.valid_from.desc(), Contract.id.desc()).limit(1)
    ).first()
    if row is None:
        return PenaltyTerms()
    try:
        return penalty_terms(row.terms)
    except PenaltyTermsError as exc:
        log.warning("contract %s: %s; no penalty computed", row.id, exc)
        return PenaltyTerms()


def staff_recipients(session: Session, ticket: Ticket, client: Client) -> list[str]:
    """E-mail addresses of the ticket's current assignees and of the client's manager."""
    rows = session.scalars(
        select(Assignment).options(selectinload(Assignment.specialist))
        .where(Assignment.ticket_id == ticket.id, Assignment.released_at.is_(None))
    ).all()
    addresses = [a.specialist.email for a in rows if a.specialist is not None and a.specialist.email]
    if client.manager_email:
        addresses.append(client.manager_email)
    return sorted(set(addresses))


_TARGET_TITLES = {"reaction": "реакция", "work_start": "начало работ", "resolution": "решение"}
_STATE_TITLES = {"at_risk": "под угрозой", "breached": "нарушен"}


def _notification(ticket: Ticket, client: Client, event: SlaEvent) -> tuple[str, str]:
    zone = client.zone
    subject = (f"SLA {_STATE_TITLES[event.state]}: заявка #{ticket.id} ({_TARGET_TITLES[event.target]}) "
               f"— {client.name}")
    lines = [
        f"Заявка #{ticket.id}: {ticket.subject}",
        f"Клиент: {client.name}, приоритет: {ticket.priority}, статус: {ticket.status}",
        f"Цель: {_TARGET_TITLES[event.target]}, срок: {event.due_at.astimezone(zone).isoformat()}",
        f"Состояние: {_STATE_TITLES[event.state]}",
    ]
    if event.state == "breached":
        lines.append(f"Просрочка: {event.overdue_minutes} мин рабочего времени, штраф: {event.penalty}")
    return subject, "\n".join(lines) + "\n"


def _tickets_to_check(session: Session) -> list[Ticket]:
    open_or_unsettled = or_(Ticket.status.in_(OPEN_STATUSES), Ticket.sla_state.is_(None),
                            Ticket.sla_state.not_in(FINAL_STATES))
    return list(session.scalars(
        select(Ticket).where(open_or_unsettled)
        .options(selectinload(Ticket.pauses), selectinload(Ticket.client)).order_by(Ticket.id)
    ))


def sla_check(session: Session, *, now: datetime | None = None, settings: Settings | None = None) -> dict:
    """Recompute the SLA of every open (or not yet settled) ticket and record at-risk/breached SlaEvents once per
    state change with overdue time and penalty. Returns counts.

    One unit of work: due instants, states, events and the mail of every event not yet notified (to the
    assignees and the client's manager, written to the outbox: :func:`queue_event_mail`) are committed together.
    """
    settings = current_settings(settings)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with unit_of_work(session):
        counts = _record_clocks(session, now=now, settings=settings)
        queued = queue_event_mail(session, now=now)
    return {**counts, "notified": queued, "notification_failures": 0, "checked_at": now.isoformat()}


def periodic_check(session: Session, *, now: datetime | None = None, settings: Settings | None = None,
                   reports: bool = False) -> dict:
    """The periodic SLA round of ``precedent sla check`` and of the background scheduler: :func:`sla_check`,
    then (``reports``) the previous month's reports that are due (:func:`send_monthly_reports`)."""
    settings = current_settings(settings)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    result = sla_check(session, now=now, settings=settings)
    if reports:
        result["reports"] = send_monthly_reports(session, now=now, settings=settings)
    return result


def _existing_events(session: Session, tickets: list[Ticket]) -> dict[tuple[int, str, str], SlaEvent]:
    """The recorded events of ``tickets`` by (ticket, target, state)."""
    existing: dict[tuple[int, str, str], SlaEvent] = {}
    ticket_ids = [t.id for t in tickets]
    for start in range(0, len(ticket_ids), 500):
        for event in session.scalars(select(SlaEvent).where(SlaEvent.ticket_id.in_(ticket_ids[start:start + 500]))):
            existing[(event.ticket_id, event.target, event.state)] = event
    return existing


def _record_clocks(session: Session, *, now: datetime, settings: Settings) -> dict:
    """Store every checked ticket's due instants and state and track its events (no commit); the counts."""
    tickets = _tickets_to_check(session)
    existing = _existing_events(session, tickets)
    states: dict[str, int] = {}
    changes = {"created": 0, "updated": 0}
    terms_cache: dict[int, PenaltyTerms] = {}
    for ticket in tickets:
        clock = evaluate_ticket(session, ticket=ticket, now=now, settings=settings)
        _store_clock(ticket, clock)
        states[clock.state] = states.get(clock.state, 0) + 1
        client_id = ticket.client.id
        if client_id not in terms_cache and any(c.state == "breached" for c in clock.targets.values()):
            terms_cache[client_id] = contract_penalty_terms(session, client_id=client_id, at=now)
        _track_events(session, ticket, clock, existing, terms_cache.get(client_id), now=now, changes=changes)
    session.flush()
    return {"checked": len(tickets), "states": dict(sorted(states.items())), "events_created": changes["created"],
            "events_updated": changes["updated"]}


def _store_clock(ticket: Ticket, clock: TicketClock) -> None:
    ticket.reaction_due = clock.due("reaction")
    ticket.work_start_due = clock.due("work_start")
    ticket.resolution_due = clock.due("resolution")
    ticket.sla_state = clock.state


def _track_events(session: Session, ticket: Ticket, clock: TicketClock,
                  existing: dict[tuple[int, str, str], SlaEvent], terms: PenaltyTerms | None, *, now: datetime,
                  changes: dict[str, int]) -> None:
    """Record a new at-risk/breached state of each target once; keep a running breach's event up to date."""
    breached_targets = sorted((c for c in clock.targets.values() if c.state == "breached"),
                              key=lambda c: (c.due_at, c.target))
    for target_clock in clock.targets.values():
        if target_clock.state not in EVENT_STATES:
            continue
        key = (ticket.id, target_clock.target, target_clock.state)
        event = existing.get(key)
        penalty = Decimal("0")
        if target_clock.state == "breached":
            first = breached_targets[0].target == target_clock.target
            penalty = breach_penalty(terms, target_clock.overdue, first_breach_of_ticket=first)
        if event is None:
            # The instant the state began (capped at now): a check that catches up on history, like the
            # first check of an imported or demo KB, files each breach in the month it happened.
            began = target_clock.due_at if target_clock.state == "breached" else target_clock.at_risk_from
            event = SlaEvent(ticket_id=ticket.id, target=target_clock.target, state=target_clock.state,
                             due_at=target_clock.due_at, recorded_at=min(began or now, now),
                             overdue_minutes=target_clock.overdue_minutes, penalty=penalty, notified=False)
            session.add(event)
            existing[key] = event
            changes["created"] += 1
        elif target_clock.state == "breached" and (event.overdue_minutes, event.penalty, event.due_at) != (
                target_clock.overdue_minutes, penalty, target_clock.due_at):
            # A running breach keeps growing: its overdue time and penalty follow it until the target is done.
            event.overdue_minutes = target_clock.overdue_minutes
            event.penalty = penalty
            event.due_at = target_clock.due_at
            changes["updated"] += 1


def queue_event_mail(session: Session, *, now: datetime) -> int:
    """Write one outbox message per event not yet notified and mark it notified (no commit: the caller's
    transaction); the number of messages queued."""
    session.flush()
    queued = 0
    pending = session.scalars(select(SlaEvent).where(SlaEvent.notified.is_(False)).order_by(SlaEvent.id)).all()
    for event in pending:
        ticket = session.get(Ticket, event.ticket_id)
        client = _client_of(session, ticket)
        subject, body = _notification(ticket, client, event)
        if outbox.enqueue(session, kind="sla_event", recipients=staff_recipients(session, ticket, client),
                          subject=subject, body=body, ticket_id=ticket.id, now=now) is not None:
            queued += 1
        event.notified = True  # queued, or nobody to tell: never twice
    return queued


# --- monthly report -------------------------------------------------------------------------------


def _report_month(month: str) -> str:
    """``month`` checked (YYYY-MM of the supported years), or SlaReportError naming 'month'."""
    try:
        parse_month(month)
    except MonthError as exc:
        raise SlaReportError(f"month {exc}", "month") from None
    return month


def client_report(session: Session, *, client_id: int, month: str | None, now: datetime | None = None,
                  settings: Settings | None = None) -> dict:
    """The monthly SLA report document of a client: tickets opened in ``month`` (client's time zone).

    SlaReportError naming ``month`` when it is missing or malformed; ClientNotFound for an unknown client.
    """
    settings = current_settings(settings)
    if not month:
        raise SlaReportError("month is required (YYYY-MM)", "month")
    client = session.get(Client, client_id)
    if client is None:
        raise ClientNotFound(client_id)
    zone = client.zone
    start, end = month_bounds(_report_month(month), zone)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    period_end = min(end, now)
    policy = client_policy(client)
    calendar = client_calendar(client, policy)
    tickets = session.scalars(
        select(Ticket).where(Ticket.client_id == client_id, Ticket.created_at >= start, Ticket.created_at < end)
        .options(selectinload(Ticket.pauses), selectinload(Ticket.nodes)).order_by(Ticket.id)
    ).all()
    penalties: dict[int, Decimal] = {}
    if tickets:
        ids = [t.id for t in tickets]
        for start_index in range(0, len(ids), 500):
            for event in session.scalars(select(SlaEvent).where(SlaEvent.ticket_id.in_(ids[start_index:start_index + 500]),
                                                                SlaEvent.state == "breached")):
                penalties[event.ticket_id] = penalties.get(event.ticket_id, Decimal("0")) + (event.penalty or 0)
    rows = []
    for ticket in tickets:
        clock = ticket_clock(ticket_times(ticket), policy, calendar, max(period_end, ticket.created_at),
                             at_risk_fraction=settings.sla_at_risk_fraction)
        rows.append(ReportTicket(
            id=ticket.id, subject=ticket.subject, priority=ticket.priority, type=ticket.type,
            opened_at=ticket.created_at,
            resolved_at=ticket.resolved_at if ticket.resolved_at and ticket.resolved_at <= period_end else None,
            targets={t: TargetOutcome(c.due_at, c.state, c.overdue_minutes) for t, c in clock.targets.items()},
            penalty=penalties.get(ticket.id, Decimal("0")), node_names=tuple(n.name for n in ticket.nodes),
        ))
    return monthly_report(
        client={"id": client.id, "name": client.name, "timezone": client.timezone, "calendar": calendar.name,
                "country": calendar.country},
        month=month,
        policy={"key": policy.key, "title": policy.title, "sends_monthly_report": policy.sends_monthly_report},
        tickets=rows, period_end=period_end, zone=zone,
    ) | {"generated_at": now.astimezone(zone).replace(microsecond=0).isoformat(), "complete": now >= end}


_TEMPLATES = Path(__file__).parent.parent / "web" / "templates"
PRIORITY_TITLES = {"low": "низкий", "standard": "стандартный", "high": "высокий", "highest": "наивысший"}
TARGET_TITLES = {"reaction": "Реакция", "work_start": "Начало работ", "resolution": "Решение"}


def render_report_html(report: dict) -> str:
    """The printable HTML page of a report document (the same page the web UI serves)."""
    environment = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["html"]))
    return environment.get_template("sla/report.html").render(r=report, priorities=PRIORITY_TITLES,
                                                               targets=TARGET_TITLES)


def report_text(report: dict) -> str:
    """A plain-text summary for the e-mail body (the HTML page is the alternative part)."""
    lines = [f"Отчёт о выполнении SLA за {report['month']}: {report['client']['name']}",
             f"Уровень: {report['policy']['title']}", f"Заявок: {report['tickets']}"]
    for target, row in report["targets"].items():
        if row["met"] or row["missed"] or row["running"]:
            lines.append(f"{TARGET_TITLES[target]}: выполнено {row['met']}, нарушено {row['missed']}, "
                         f"просрочка {row['overdue_minutes']} мин")
    lines.append(f"Штрафы: {report['penalties']}; простой: {report['downtime_minutes']} мин")
    return "\n".join(lines) + "\n"


def report_recipients(client: Client) -> list[str]:
    """Who gets a client's monthly report: the client's address and its manager."""
    return sorted({address for address in (client.email, client.manager_email) if address})


def send_client_report(session: Session, *, client_id: int, month: str, settings: Settings | None = None,
                       now: datetime | None = None, actor: str = "sla") -> bool:
    """Queue one client's report for ``month`` in the outbox and record it (the audit event ``sla.report_sent``)
    in one unit of work: the outbox worker delivers it and retries a failed send. False when there is no
    recipient."""
    settings = current_settings(settings)
    report = client_report(session, client_id=client_id, month=month, now=now, settings=settings)
    client = session.get(Client, client_id)
    recipients = report_recipients(client)
    if not recipients:
        return False
    with unit_of_work(session):
        outbox.enqueue(session, kind="sla_report", recipients=recipients, subject=f"Отчёт SLA за {month}: {client.name}",
                       body=report_text(report), html=render_report_html(report), now=now)
        audit.record(session, entity="client", entity_id=client_id, action="sla.report_sent", actor=actor,
                     month=month, recipients=recipients)
    return True


def send_monthly_reports(session: Session, *, now: datetime | None = None, settings: Settings | None = None) -> list[dict]:
    """At month end (the first run in a new month, client's zone), send the previous month's report to every
    client whose policy sends reports (Gold and up), once per client and month."""
    settings = current_settings(settings)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    results = []
    for client in session.scalars(select(Client).order_by(Client.id)):
        if not client_policy(client).sends_monthly_report or not report_recipients(client):
            continue
        month = previous_month(month_of(now, client.zone))
        already = session.scalar(select(AuditEvent.id).where(
            AuditEvent.entity == "client", AuditEvent.entity_id == client.id, AuditEvent.action == "sla.report_sent",
        ).where(AuditEvent.data["month"].as_string() == month).limit(1))
        if already is not None:
            continue
        sent = send_client_report(session, client_id=client.id, month=month, settings=settings, now=now)
        results.append({"client_id": client.id, "month": month, "sent": sent})
    return results
