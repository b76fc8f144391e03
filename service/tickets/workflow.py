"""Ticket workflow of the ITIL path in the seeds: intake, first line, second line, specialists, closure.

The transition table :data:`TRANSITIONS` is the single source of truth: an action is allowed only from
its listed statuses, anything else raises :class:`IllegalTransition` (HTTP 409). Use cases
(:func:`create_ticket`, :func:`apply_action`, :func:`add_comment`, :func:`add_time_entry`,
:func:`change_priority`, :func:`autoclose_resolved`, :func:`flag_time_box_expired`) are plain functions
that validate first, change the session, write one audit event per change, commit once, and only then
send signals and e-mail to the requester (a failed e-mail is logged and never undoes the change).

Actors are strings: a staff user's name, ``client:<name>`` for a client user or the requester, and
``system:<what>`` for automation. The SLA reaction instant (``ticket.reacted_at``) is the first status
change out of "new" or the first public comment by an engineer (neither a client nor the system).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from kb import vocab
from kb.models import MAX_ID, Assignment, AuditEvent, Client, Comment, SlaPause, Specialist, Ticket, TimeEntry
from kb.queries import audit
from kb.queries.directory import get_nodes
from service.config import Settings, current_settings
from service.platform import signals
from service.platform.money import MAX_HOURS, MAX_MONEY
from service.platform.validation import FieldError, check_amount, check_email, check_string, one_of
from service.sla.service import client_calendar, client_policy, refresh_ticket_sla, staff_recipients

log = logging.getLogger(__name__)

STATUSES = vocab.STATUSES
#: Statuses in which somebody works the ticket; "client_replied" returns to the one it left.
WORKING_STATUSES = ("in_progress", "escalated", "with_specialists")
#: Actions whose reason is addressed to the requester (the question asked, the note on the resolution).
REQUESTER_REASONS = frozenset({"request_info", "resolve"})
#: Sentinel target: back to the working status the ticket had before it waited for the client.
PREVIOUS_WORKING_STATUS = "<previous working status>"


@dataclass(frozen=True)
class Transition:
    """One row of the transition table: ``action`` moves a ticket from any of ``sources`` to ``target``."""

    action: str
    sources: tuple[str, ...]
    target: str
    description: str


TRANSITIONS: dict[str, Transition] = {t.action: t for t in (
    Transition("triage", ("new",), "triaged",
               "first line sets or confirms priority and group and queues the ticket"),
    Transition("take", ("triaged", "reopened"), "in_progress",
               "a first-line engineer takes the ticket (starts the first-line time box)"),
    Transition("escalate", ("in_progress",), "escalated", "first line hands the ticket to the second line"),
    Transition("assign_specialists", ("in_progress", "escalated", "with_specialists"), "with_specialists",
               "one or several narrow specialists work the ticket"),
    Transition("request_info", WORKING_STATUSES, "waiting_for_client",
               "ask the client for information; SLA clocks pause"),
    Transition("client_replied", ("waiting_for_client",), PREVIOUS_WORKING_STATUS,
               "the client answered; SLA clocks resume"),
    Transition("resolve", (*WORKING_STATUSES, "waiting_for_client"), "resolved",
               "the resolver records the resolution and informs the requester"),
    Transition("confirm", ("resolved",), "closed", "the requester confirms the resolution"),
    Transition("close", ("resolved",), "closed", "staff (or auto-close) closes a resolved ticket"),
    Transition("reopen", ("resolved", "closed"), "reopened", "the problem is back"),
)}
ACTIONS = tuple(TRANSITIONS)


# --- errors ---------------------------------------------------------------------------------------


class WorkflowError(Exception):
    """Base of the workflow's refusals other than a bad field (that one is WorkflowInputError)."""


#: A field of a request is not acceptable; ``field`` names it (HTTP 422). It is the error of the shared field
#: checks of :mod:`service.platform.validation`, so the API and the workflow refuse a value in the same words.
WorkflowInputError = FieldError


class TicketNotFound(WorkflowError, LookupError):
    """No ticket with that id (HTTP 404)."""

    def __init__(self, ticket_id: int):
        super().__init__(f"ticket {ticket_id} not found")
        self.ticket_id = ticket_id


class DuplicateTicket(WorkflowError):
    """A ticket with that external id exists already (HTTP 409); ``field`` names the key."""

    def __init__(self, message: str, field: str = "external_id"):
        super().__init__(message)
        self.field = field


class IllegalTransition(WorkflowError):
    """``action`` is not allowed in ``status``; ``allowed`` lists what is (HTTP 409)."""

    def __init__(self, status: str, action: str, allowed: Sequence[str]):
        allowed_text = ", ".join(allowed) if allowed else "none"
        super().__init__(f"action {action!r} is not allowed in status {status!r}; allowed: {allowed_text}")
        self.status = status
        self.action = action
        self.allowed = tuple(allowed)


# --- pure rules -----------------------------------------------------------------------------------


def allowed_actions(status: str) -> tuple[str, ...]:
    """The actions the transition table allows from ``status``, in table order."""
    return tuple(t.action for t in TRANSITIONS.values() if status in t.sources)


def next_status(status: str, action: str, *, previous_working: str | None = None) -> str:
    """The status ``action`` leads to from ``status``; raises IllegalTransition or WorkflowInputError."""
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise WorkflowInputError(f"action must be one of {', '.join(ACTIONS)}", "action")
    if status not in transition.sources:
        raise IllegalTransition(status, action, allowed_actions(status))
    if transition.target == PREVIOUS_WORKING_STATUS:
        return previous_working if previous_working in WORKING_STATUSES else "in_progress"
    return transition.target


def is_engineer(actor: str) -> bool:
    """True for a staff actor (neither ``client:`` nor ``system:``): only engineers' moves count as reaction."""
    return not actor.startswith(("client:", "system:"))


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


# --- helpers --------------------------------------------------------------------------------------


def resolve_settings(settings: Settings | None) -> Settings:
    """``settings``, else the running app's, else the environment's."""
    return current_settings(settings)


def utc_now(now: datetime | None) -> datetime:
    """``now`` in UTC (it must carry an offset), or the current instant."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise WorkflowInputError("now must carry a UTC offset", "now")
    return now.astimezone(UTC)


def _client_calendar(client: Client):
    """The calendar the client's SLA clocks run in (the policy's own calendar wins, e.g. 24x7x4)."""
    return client_calendar(client, client_policy(client))


def _refresh_sla(session: Session, ticket: Ticket, now: datetime, settings: Settings) -> None:
    """Recompute the ticket's SLA due instants and state (H-sla's engine; no commit)."""
    refresh_ticket_sla(session, ticket=ticket, now=now, settings=settings)


@dataclass
class Effects:
    """What to do once the transaction is committed: signals and e-mail."""

    created: list[int] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    mails: list[Callable[[], None]] = field(default_factory=list)

    def run(self) -> None:
        sender = _signal_sender()
        for ticket_id in self.created:
            _safe(lambda tid=ticket_id: signals.ticket_created.send(sender, ticket_id=tid), "ticket_created")
        for facts in self.changes:
            _safe(lambda f=facts: signals.ticket_changed.send(sender, **f), "ticket_changed")
        for send in self.mails:
            _safe(send, "mail")


def _safe(call: Callable[[], object], what: str) -> None:
    # After the commit nothing may undo the ticket change: a failing receiver or SMTP server is logged.
    try:
        call()
    except Exception:  # noqa: BLE001 - logged, the change is already committed
        log.exception("%s failed after commit", what)


def _signal_sender():
    try:
        from flask import current_app, has_app_context

        if has_app_context():
            return current_app._get_current_object()
    except ImportError:  # pragma: no cover
        pass
    return None


def commit_and_notify(session: Session, effects: Effects) -> None:
    """Commit the use case's one transaction, then send its signals and e-mail (rolled back on failure)."""
    try:
        session.commit()
    except Exception:
        session.rollback()
        raise
    effects.run()


def _audit(session: Session, ticket: Ticket, action: str, actor: str, now: datetime, **data: Any) -> None:
    event = audit.record(session, entity="ticket", entity_id=ticket.id, action=action, actor=actor, **data)
    event.at = now  # the use case's instant, so that replays and tests with a fixed clock stay consistent


def _load_ticket(session: Session, ticket_id: int) -> Ticket:
    valid = isinstance(ticket_id, int) and not isinstance(ticket_id, bool) and 0 < ticket_id <= MAX_ID
    ticket = session.get(Ticket, ticket_id) if valid else None
    if ticket is None:
        raise TicketNotFound(ticket_id)
    return ticket


def _mail_status(effects: Effects, settings: Settings, ticket: Ticket, *, from_status: str | None,
                 reason: str | None, actor: str) -> None:
    if not (settings.workflow_notify_requester and ticket.requester_email):
        return
    from service.tickets.notifications import notify_status_change

    facts = _mail_facts(ticket)
    effects.mails.append(lambda: notify_status_change(settings, facts, from_status=from_status,
                                                       reason=reason, actor=actor))


def _mail_comment(effects: Effects, settings: Settings, ticket: Ticket, comment: Comment) -> None:
    if not (settings.workflow_notify_requester and ticket.requester_email and comment.public):
        return
    if comment.author.strip().lower() == ticket.requester_email.strip().lower():
        return  # the requester wrote it: no echo
    from service.tickets.notifications import notify_comment

    facts = _mail_facts(ticket)
    author, body = comment.author, comment.body
    effects.mails.append(lambda: notify_comment(settings, facts, author=author, body=body))


def _mail_facts(ticket: Ticket) -> dict[str, Any]:
    """A session-independent snapshot of what the templates show (sent after the session may be gone)."""
    return {
        "id": ticket.id, "subject": ticket.subject, "status": ticket.status, "priority": ticket.priority,
        "requester_name": ticket.requester_name, "requester_email": ticket.requester_email,
        "resolution": ticket.resolution, "client_name": ticket.client.name if ticket.client else None,
        "resolution_due": ticket.resolution_due,
    }


# --- creation -------------------------------------------------------------------------------------

_STRING_FIELDS = {"urgency": 20, "subject": 500, "description": 100_000, "requester_name": 200, "requester_email": 200,
                  "alert_fingerprint": 100, "alert_severity": 20, "external_id": 100}
CREATE_FIELDS = ("client_id", "subject", "description", "urgency", "requester_name", "requester_email", "channel",
                 "type", "priority", "group", "node_ids", "billing_mode", "estimate_hours", "fixed_price",
                 "alert_fingerprint", "alert_severity", "external_id")


def _check_string(fields: dict, name: str, *, required: bool = False, max_length: int | None = None,
                  required_message: str = "is required") -> str | None:
    """A stripped string field (None when absent or blank), or WorkflowInputError naming it."""
    limit = max_length if max_length is not None else _STRING_FIELDS[name]
    return check_string(fields, name, required=required, max_length=limit, required_message=required_message) or None


def _check_choice(fields: dict, name: str, allowed: Sequence[str], default: str | None) -> str | None:
    value = fields.get(name)
    return default if value is None else one_of(value, name, allowed)


def _check_decimal(fields: dict, name: str) -> Decimal | None:
    """A storable amount of hours (``estimate_hours``) or money (``fixed_price``), or WorkflowInputError
    naming it: "1e30" hours would be stored and break the ticket's balance from then on."""
    return check_amount(fields, name, maximum=MAX_HOURS if name.endswith("_hours") else MAX_MONEY, example="12.50")


def _triage(session: Session, *, subject: str, description: str, client_id: int, channel: str,
            node_ids: list[int], alert_severity: str | None, settings: Settings) -> Any:
    """The request's ``service.triage.service.TriageResult``, or None when triage failed."""
    from service.triage.service import TriageInputError, triage_request

    try:
        return triage_request(session, subject=subject, description=description, client_id=client_id,
                              channel=channel, node_ids=node_ids, alert_severity=alert_severity,
                              settings=settings)
    except TriageInputError as exc:
        raise WorkflowInputError(str(exc), exc.field) from None
    except SQLAlchemyError:
        raise
    except Exception:  # noqa: BLE001 - a broken model must not lose the request: it goes to human triage
        log.exception("triage failed; the ticket is created with the default priority for human triage")
        return None


def stage_ticket(session: Session, *, actor: str, now: datetime, settings: Settings, effects: Effects,
                  fields: dict[str, Any]) -> Ticket:
    """Validate ``fields``, add the ticket with triage, SLA and audit to the session (no commit)."""
    unknown = sorted(set(fields) - set(CREATE_FIELDS))
    if unknown:
        raise WorkflowInputError(f"unknown field {unknown[0]!r}", unknown[0])
    client_id = fields.get("client_id")
    if client_id is None:
        raise WorkflowInputError("client_id is required", "client_id")
    if isinstance(client_id, bool) or not isinstance(client_id, int):
        raise WorkflowInputError("client_id must be an integer", "client_id")
    client = session.get(Client, client_id) if 0 < client_id <= MAX_ID else None
    if client is None:
        raise WorkflowInputError(f"client {client_id} not found", "client_id")
    subject = _check_string(fields, "subject", required=True)
    description = _check_string(fields, "description") or ""
    requester_name = _check_string(fields, "requester_name")
    requester_email = check_email(_check_string(fields, "requester_email"), "requester_email")
    channel = _check_choice(fields, "channel", vocab.CHANNELS, "portal")
    ticket_type = _check_choice(fields, "type", vocab.TICKET_TYPES, "incident")
    priority = _check_choice(fields, "priority", vocab.PRIORITIES, None)
    urgency = _check_choice(fields, "urgency", vocab.PRIORITIES, None)
    group = _check_choice(fields, "group", vocab.GROUPS, None)
    billing_mode = _check_choice(fields, "billing_mode", vocab.BILLING_MODES, "included")
    estimate_hours = _check_decimal(fields, "estimate_hours")
    fixed_price = _check_decimal(fields, "fixed_price")
    alert_fingerprint = _check_string(fields, "alert_fingerprint")
    alert_severity = _check_string(fields, "alert_severity")
    external_id = _check_string(fields, "external_id")
    node_ids = fields.get("node_ids") or []
    if not isinstance(node_ids, list | tuple) or any(isinstance(i, bool) or not isinstance(i, int)
                                                     for i in node_ids):
        raise WorkflowInputError("node_ids must be a list of integers", "node_ids")
    node_ids = list(dict.fromkeys(node_ids))
    nodes = get_nodes(session, node_ids=[i for i in node_ids if 0 < i <= MAX_ID]) if node_ids else []
    # another client's node answers exactly like one that does not exist
    nodes = [n for n in nodes if n.client_id == client.id]
    missing = sorted(set(node_ids) - {n.id for n in nodes})
    if missing:
        raise WorkflowInputError(f"nodes not found: {', '.join(map(str, missing))}", "node_ids")
    if external_id is not None and session.scalar(select(Ticket.id).where(Ticket.external_id == external_id)):
        raise DuplicateTicket(f"a ticket with external_id {external_id!r} exists")

    triage_result, triaged_by = None, "caller"
    if priority is None or group is None:
        triage_result = _triage(session, subject=subject, description=description, client_id=client.id,
                                channel=channel, node_ids=node_ids, alert_severity=alert_severity,
                                settings=settings)
        triaged_by = "triage" if triage_result is not None else "triage failed"
        if priority is None:
            priority = triage_result.priority.value if triage_result is not None else "standard"
        if group is None:
            group = triage_result.group.value if triage_result is not None else None

    ticket = Ticket(
        client=client, client_id=client.id, subject=subject, description=description,
        requester_name=requester_name, requester_email=requester_email, channel=channel, type=ticket_type,
        priority=priority, urgency=urgency, group=group, status="new", billing_mode=billing_mode, estimate_hours=estimate_hours,
        fixed_price=fixed_price, alert_fingerprint=alert_fingerprint, alert_severity=alert_severity,
        external_id=external_id, created_at=now, updated_at=now,
    )
    ticket.nodes = list(nodes)
    session.add(ticket)
    session.flush()
    if triage_result is not None:
        from service.triage.service import record_prediction

        record_prediction(session, ticket=ticket, result=triage_result)
    _refresh_sla(session, ticket, now, settings)
    _audit(session, ticket, "create", actor, now, **{"from": None, "to": "new"}, channel=channel,
           priority=priority, group=group, triaged_by=triaged_by,
           needs_human=triaged_by == "triage failed" or bool(triage_result and triage_result.needs_human))
    effects.created.append(ticket.id)
    _mail_status(effects, settings, ticket, from_status=None, reason=None, actor=actor)
    return ticket


def create_ticket(session: Session, *, actor: str, now: datetime | None = None, settings: Settings | None = None,
                  **fields: Any) -> Ticket:
    """Create a ticket in status "new" (triage fills a missing priority/group), commit, then notify.

    ``fields`` are the names of :data:`CREATE_FIELDS`; ``client_id`` and ``subject`` are required.
    Raises WorkflowInputError naming the field; nothing is written then.
    """
    now, settings, effects = utc_now(now), resolve_settings(settings), Effects()
    try:
        ticket = stage_ticket(session, actor=actor, now=now, settings=settings, effects=effects, fields=fields)
        commit_and_notify(session, effects)
    except IntegrityError:
        session.rollback()
        # a concurrent create took the same external id between our check and our commit
        external_id = fields.get("external_id")
        if external_id and session.scalar(select(Ticket.id).where(Ticket.external_id == external_id.strip())):
            raise DuplicateTicket(f"a ticket with external_id {external_id.strip()!r} exists") from None
        raise
    except Exception:
        session.rollback()
        raise
    return ticket


# --- actions --------------------------------------------------------------------------------------

ACTION_PARAMS: dict[str, tuple[str, ...]] = {
    "triage": ("priority", "group", "reason"),
    "take": ("specialist_id", "reason"),
    "escalate": ("specialist_id", "reason"),
    "assign_specialists": ("specialist_ids", "reason"),
    "request_info": ("reason", "comment"),
    "client_replied": ("reason", "comment"),
    "resolve": ("resolution", "reason"),
    "confirm": ("reason",),
    "close": ("reason",),
    "reopen": ("reason",),
}


def _param_string(params: dict, name: str, *, required: bool = False, max_length: int = 100_000) -> str | None:
    return _check_string(params, name, required=required, max_length=max_length,
                         required_message="is required for this action")


def _specialist(session: Session, value: object, name: str) -> Specialist:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WorkflowInputError(f"{name} must be an integer", name)
    specialist = session.get(Specialist, value) if 0 < value <= MAX_ID else None
    if specialist is None:
        raise WorkflowInputError(f"specialist {value} not found", name)
    if not specialist.active:
        raise WorkflowInputError(f"specialist {value} is not active", name)
    return specialist


def _assign(ticket: Ticket, specialist: Specialist, role: str, now: datetime) -> None:
    for assignment in ticket.assignees:
        if assignment.specialist_id == specialist.id:
            assignment.released_at = None
            assignment.role = role if role == "primary" else assignment.role
            return
    ticket.assignees.append(Assignment(specialist_id=specialist.id, role=role, assigned_at=now))


def _release_primary(ticket: Ticket, now: datetime) -> list[int]:
    released = []
    for assignment in ticket.assignees:
        if assignment.role == "primary" and assignment.released_at is None:
            assignment.released_at = now
            released.append(assignment.specialist_id)
    return released


def _previous_working_status(session: Session, ticket: Ticket) -> str | None:
    event = session.scalar(
        select(AuditEvent).where(AuditEvent.entity == "ticket", AuditEvent.entity_id == ticket.id,
                                 AuditEvent.action == "request_info")
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(1))
    return (event.data or {}).get("from") if event is not None else None


def _close_open_pause(ticket: Ticket, now: datetime) -> bool:
    closed = False
    for pause in ticket.pauses:
        if pause.ended_at is None:
            pause.ended_at = max(now, pause.started_at)
            closed = True
    return closed


def _check_no_newer_incident(session: Session, ticket: Ticket) -> None:
    """A monitoring incident cannot be reopened while a newer open one tracks the same alert of its client."""
    if ticket.channel != "monitoring" or not ticket.alert_fingerprint:
        return
    newer = session.scalar(select(Ticket.id).where(
        Ticket.id != ticket.id, Ticket.channel == "monitoring", Ticket.client_id == ticket.client_id,
        Ticket.alert_fingerprint == ticket.alert_fingerprint, Ticket.status.in_(vocab.OPEN_STATUSES)))
    if newer is not None:
        raise WorkflowInputError(f"open incident #{newer} tracks the same alert now: add to it instead", "action")


def stage_action(session: Session, ticket: Ticket, *, action: str, actor: str, now: datetime,
                  settings: Settings, effects: Effects, params: dict[str, Any]) -> None:
    """Check and apply one action to ``ticket`` in the session (no commit)."""
    if action not in TRANSITIONS:
        raise WorkflowInputError(f"action must be one of {', '.join(ACTIONS)}", "action")
    unknown = sorted(set(params) - set(ACTION_PARAMS[action]))
    if unknown:
        raise WorkflowInputError(f"{unknown[0]!r} is not a parameter of action {action!r} "
                                 f"(allowed: {', '.join(ACTION_PARAMS[action])})", unknown[0])
    from_status = ticket.status
    previous = _previous_working_status(session, ticket) if action == "client_replied" else None
    to_status = next_status(from_status, action, previous_working=previous)
    reason = _param_string(params, "reason", max_length=2000)
    details: dict[str, Any] = {}
    sla_changed = False

    if action == "triage":
        priority = one_of(params.get("priority"), "priority", vocab.PRIORITIES)
        group = one_of(params.get("group"), "group", vocab.GROUPS)
        if group is None and ticket.group is None:
            raise WorkflowInputError("group is required: triage could not route this ticket", "group")
        if priority is not None and priority != ticket.priority:
            details["priority"] = {"from": ticket.priority, "to": priority}
            ticket.priority = priority
            sla_changed = True
        if group is not None and group != ticket.group:
            details["group"] = {"from": ticket.group, "to": group}
            ticket.group = group
    elif action in ("take", "escalate"):
        specialist_id = params.get("specialist_id")
        if specialist_id is not None:
            specialist = _specialist(session, specialist_id, "specialist_id")
            if action == "escalate" and specialist.line < 2:
                raise WorkflowInputError(f"specialist {specialist.id} is on line {specialist.line}; "
                                         "escalation goes to line 2 or 3", "specialist_id")
            released = _release_primary(ticket, now)
            _assign(ticket, specialist, "primary", now)
            details.update(specialist_id=specialist.id, released=released)
    elif action == "assign_specialists":
        ids = params.get("specialist_ids")
        if not isinstance(ids, list) or not ids or any(isinstance(v, bool) or not isinstance(v, int) for v in ids):
            raise WorkflowInputError("specialist_ids must be a non-empty list of specialist ids", "specialist_ids")
        specialists = [_specialist(session, value, "specialist_ids") for value in dict.fromkeys(ids)]
        has_primary = any(a.role == "primary" and a.released_at is None for a in ticket.assignees)
        for index, specialist in enumerate(specialists):
            _assign(ticket, specialist, "primary" if not has_primary and index == 0 else "helper", now)
        details["specialist_ids"] = [s.id for s in specialists]
    elif action == "request_info":
        ticket.pauses.append(SlaPause(started_at=now, reason=(reason or "waiting for client")[:200]))
        sla_changed = True
    elif action == "resolve":
        ticket.resolution = _param_string(params, "resolution", required=True)
        ticket.resolved_at = now
        details["resolution"] = ticket.resolution[:500]
    elif action in ("confirm", "close"):
        ticket.closed_at = now
        if actor.startswith("system:"):
            details["automatic"] = True
    elif action == "reopen":
        _check_no_newer_incident(session, ticket)
        details["previous_resolution"] = (ticket.resolution or "")[:500]
        ticket.resolved_at = None
        ticket.closed_at = None
        sla_changed = True

    if from_status == "waiting_for_client" and to_status != "waiting_for_client":
        sla_changed = _close_open_pause(ticket, now) or sla_changed
    comment_text = _param_string(params, "comment")
    if comment_text:
        stage_comment(session, ticket, author=actor, body=comment_text, public=True, actor=actor, now=now,
                       settings=settings, effects=effects, notify=False)
    if to_status in WORKING_STATUSES and ticket.work_started_at is None and is_engineer(actor):
        ticket.work_started_at = now
    if from_status == "new" and ticket.reacted_at is None and is_engineer(actor):
        ticket.reacted_at = now
    ticket.status = to_status
    ticket.updated_at = now
    if sla_changed or to_status in ("resolved", "closed", "reopened"):
        session.flush()
        _refresh_sla(session, ticket, now, settings)
    _audit(session, ticket, action, actor, now, **{"from": from_status, "to": to_status}, reason=reason, **details)
    effects.changes.append({"ticket_id": ticket.id, "action": action, "from_status": from_status,
                            "to_status": to_status})
    # the requester reads the question or note in the status mail itself (one message, not two); a staff
    # reason of an internal step (triage, escalation...) is an internal note and stays in the audit trail
    told = reason if action in REQUESTER_REASONS or not is_engineer(actor) else None
    _mail_status(effects, settings, ticket, from_status=from_status, reason=told or comment_text, actor=actor)


def apply_action(session: Session, *, ticket_id: int, action: str, actor: str, now: datetime | None = None,
                 settings: Settings | None = None, **params: Any) -> Ticket:
    """Apply ``action`` (a key of :data:`TRANSITIONS`) to a ticket, commit, then notify.

    Raises TicketNotFound, IllegalTransition (with the current status and the allowed actions) or
    WorkflowInputError naming the parameter; nothing is written then.
    """
    now, settings, effects = utc_now(now), resolve_settings(settings), Effects()
    try:
        ticket = _load_ticket(session, ticket_id)
        stage_action(session, ticket, action=action, actor=actor, now=now, settings=settings, effects=effects,
                      params=params)
    except Exception:
        session.rollback()
        raise
    commit_and_notify(session, effects)
    return ticket


# --- comments, time entries, priority -------------------------------------------------------------


def stage_comment(session: Session, ticket: Ticket, *, author: str, body: str, public: bool, actor: str,
                   now: datetime, settings: Settings, effects: Effects, notify: bool = True) -> Comment:
    comment = Comment(author=author[:200], body=body, public=public, created_at=now)
    ticket.comments.append(comment)
    session.flush()
    if public and ticket.reacted_at is None and is_engineer(actor):
        ticket.reacted_at = now
        session.flush()
        _refresh_sla(session, ticket, now, settings)
    ticket.updated_at = now
    _audit(session, ticket, "comment", actor, now, comment_id=comment.id, public=public)
    effects.changes.append({"ticket_id": ticket.id, "action": "comment", "from_status": ticket.status,
                            "to_status": ticket.status})
    if notify:
        _mail_comment(effects, settings, ticket, comment)
    return comment


def add_comment(session: Session, *, ticket_id: int, body: str, actor: str, author: str | None = None,
                public: bool = True, now: datetime | None = None, settings: Settings | None = None) -> Comment:
    """Add a comment; a public one is e-mailed to the requester and may count as the reaction."""
    now, settings, effects = utc_now(now), resolve_settings(settings), Effects()
    try:
        ticket = _load_ticket(session, ticket_id)
        body = _check_string({"body": body}, "body", required=True, max_length=100_000)
        if not isinstance(public, bool):
            raise WorkflowInputError("public must be true or false", "public")
        comment = stage_comment(session, ticket, author=author or actor, body=body, public=public,
                                 actor=actor, now=now, settings=settings, effects=effects)
    except Exception:
        session.rollback()
        raise
    commit_and_notify(session, effects)
    return comment


def add_time_entry(session: Session, *, ticket_id: int, actor: str, specialist_id: int, started_at: datetime,
                   minutes: int, on_site: bool = False, off_hours_agreed: bool = False,
                   work_kind: str | None = None, note: str | None = None, now: datetime | None = None,
                   settings: Settings | None = None) -> TimeEntry:
    """Record work on a ticket (not on a closed one); ``work_kind`` defaults to the ticket's billing mode."""
    now, settings, effects = utc_now(now), resolve_settings(settings), Effects()
    try:
        ticket = _load_ticket(session, ticket_id)
        if ticket.status == "closed":
            raise IllegalTransition(ticket.status, "add_time_entry", allowed_actions(ticket.status))
        specialist = _specialist(session, specialist_id, "specialist_id")
        if not isinstance(started_at, datetime) or started_at.tzinfo is None:
            raise WorkflowInputError("started_at must be an instant with a UTC offset", "started_at")
        if started_at > now + timedelta(minutes=5):
            raise WorkflowInputError("started_at must not be in the future", "started_at")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 24 * 60:
            raise WorkflowInputError("minutes must be an integer between 1 and 1440", "minutes")
        note = _check_string({"note": note}, "note", max_length=10_000)
        work_kind = one_of(work_kind or ticket.billing_mode, "work_kind", vocab.BILLING_MODES)
        entry = TimeEntry(specialist_id=specialist.id, started_at=started_at, minutes=minutes,
                          on_site=bool(on_site), off_hours_agreed=bool(off_hours_agreed), work_kind=work_kind,
                          note=note)
        ticket.time_entries.append(entry)
        ticket.updated_at = now
        session.flush()
        _audit(session, ticket, "time_entry", actor, now, time_entry_id=entry.id, specialist_id=specialist.id, minutes=minutes, on_site=bool(on_site),
                     off_hours_agreed=bool(off_hours_agreed), work_kind=work_kind)
        effects.changes.append({"ticket_id": ticket.id, "action": "time_entry", "from_status": ticket.status,
                                "to_status": ticket.status})
    except Exception:
        session.rollback()
        raise
    commit_and_notify(session, effects)
    return entry


def change_priority(session: Session, *, ticket_id: int, actor: str, priority: str | None = None,
                    group: str | None = None, reason: str | None = None, now: datetime | None = None,
                    settings: Settings | None = None) -> Ticket:
    """Change priority and/or group of an open ticket; a new priority recomputes the SLA targets."""
    now, settings, effects = utc_now(now), resolve_settings(settings), Effects()
    try:
        ticket = _load_ticket(session, ticket_id)
        if ticket.status == "closed":
            raise IllegalTransition(ticket.status, "change_priority", allowed_actions(ticket.status))
        if priority is None and group is None:
            raise WorkflowInputError("give priority and/or group", "priority")
        one_of(priority, "priority", vocab.PRIORITIES)
        one_of(group, "group", vocab.GROUPS)
        changes: dict[str, Any] = {}
        if priority is not None and priority != ticket.priority:
            changes["priority"] = {"from": ticket.priority, "to": priority}
            ticket.priority = priority
        if group is not None and group != ticket.group:
            changes["group"] = {"from": ticket.group, "to": group}
            ticket.group = group
        if changes:
            ticket.updated_at = now
            session.flush()
            if "priority" in changes:
                _refresh_sla(session, ticket, now, settings)
            _audit(session, ticket, "update", actor, now, reason=reason, **changes)
            effects.changes.append({"ticket_id": ticket.id, "action": "update", "from_status": ticket.status,
                                    "to_status": ticket.status})
    except Exception:
        session.rollback()
        raise
    commit_and_notify(session, effects)
    return ticket


# --- periodic checks ------------------------------------------------------------------------------


def autoclose_candidates(session: Session, *, now: datetime | None = None,
                         settings: Settings | None = None) -> list[Ticket]:
    """Resolved tickets whose requester has not confirmed within the configured working days."""
    now, settings = utc_now(now), resolve_settings(settings)
    days = settings.workflow_autoclose_working_days
    rows = session.scalars(select(Ticket).where(Ticket.status == "resolved", Ticket.resolved_at.is_not(None))
                           .order_by(Ticket.id))
    return [t for t in rows if working_days_between(t.resolved_at, now, _client_calendar(t.client)) >= days]


def autoclose_resolved(session: Session, *, now: datetime | None = None,
                       settings: Settings | None = None) -> list[int]:
    """Close every auto-close candidate (actor ``system:autoclose``) in one commit; their ids."""
    now, settings, effects = utc_now(now), resolve_settings(settings), Effects()
    try:
        tickets = autoclose_candidates(session, now=now, settings=settings)
        for ticket in tickets:
            stage_action(session, ticket, action="close", actor="system:autoclose", now=now, settings=settings,
                          effects=effects,
                          params={"reason": f"no confirmation within {settings.workflow_autoclose_working_days} "
                                            "working days"})
    except Exception:
        session.rollback()
        raise
    commit_and_notify(session, effects)
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
    return _client_calendar(ticket.client).working_time_between(taken.at, now, pauses)


def time_box_expired(session: Session, *, now: datetime | None = None,
                     settings: Settings | None = None) -> list[tuple[Ticket, timedelta]]:
    """First-line tickets past the time box that are not yet flagged since they were last taken."""
    now, settings = utc_now(now), resolve_settings(settings)
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
    now, settings, effects = utc_now(now), resolve_settings(settings), Effects()
    try:
        expired = time_box_expired(session, now=now, settings=settings)
        for ticket, used in expired:
            _audit(session, ticket, "time_box_expired", "system:timebox", now, **{"from": ticket.status, "to": ticket.status},
                         reason="first-line time box ran out: escalate to the second line",
                         used_minutes=int(used.total_seconds() // 60),
                         limit_minutes=settings.workflow_first_line_minutes)
            effects.changes.append({"ticket_id": ticket.id, "action": "time_box_expired",
                                    "from_status": ticket.status, "to_status": ticket.status})
            client = session.get(Client, ticket.client_id)
            _mail_time_box_expired(effects, settings, ticket, client, staff_recipients(session, ticket, client),
                                   used_minutes=int(used.total_seconds() // 60))
    except Exception:
        session.rollback()
        raise
    commit_and_notify(session, effects)
    return [t.id for t, _ in expired]


def _mail_time_box_expired(effects: Effects, settings: Settings, ticket: Ticket, client: Client,
                           recipients: list[str], *, used_minutes: int) -> None:
    """Tell the first-line assignee and the client's manager that the ticket should go to the second line."""
    if not recipients:
        return
    from service.platform.mail import send_mail

    subject = f"Время первой линии истекло: заявка #{ticket.id} — {client.name}"
    body = (f"Заявка #{ticket.id}: {ticket.subject}\n"
            f"Клиент: {client.name}, приоритет: {ticket.priority}, статус: {ticket.status}\n"
            f"Первая линия работает {used_minutes} мин рабочего времени при лимите "
            f"{settings.workflow_first_line_minutes} мин: передайте заявку второй линии (escalate).\n")
    effects.mails.append(lambda: send_mail(settings, recipients, subject, body))


def flagged_for_escalation(session: Session, *, ticket: Ticket) -> bool:
    """True when the ticket is at line 1 and its time box was flagged since it was last taken."""
    if ticket.status != "in_progress":
        return False
    last = _last_event(session, ticket.id, ("take", "time_box_expired"))
    return last is not None and last.action == "time_box_expired"


def transition_table() -> list[dict[str, Any]]:
    """The transition table as plain data (docs, API)."""
    return [{"action": t.action, "from": list(t.sources), "to": t.target, "description": t.description}
            for t in TRANSITIONS.values()]


__all__ = [
    "ACTIONS", "TRANSITIONS", "DuplicateTicket", "IllegalTransition", "TicketNotFound", "WorkflowInputError", "add_comment",
    "add_time_entry", "allowed_actions", "apply_action", "autoclose_resolved", "change_priority",
    "create_ticket", "flag_time_box_expired", "next_status", "time_box_expired",
]
