"""Use cases of the ticket workflow of the ITIL path in the seeds: intake, first line, second line, specialists,
closure.

Use cases (:func:`create_ticket`, :func:`apply_action`, :func:`add_comment`, :func:`add_time_entry`,
:func:`change_priority`; the periodic ones in :mod:`service.tickets.periodic`) are plain functions that
validate first, change the session, write one audit event per change, commit once, and only then send
signals and e-mail to the requester (a failed e-mail is logged and never undoes the change). The table is
:mod:`service.tickets.transitions`, the actions :mod:`service.tickets.actions`.

Actors are strings: a staff user's name, ``client:<name>`` for a client user or the requester, and
``system:<what>`` for automation. The SLA reaction instant (``ticket.reacted_at``) is the first status
change out of "new" or the first public comment by an engineer (neither a client nor the system).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from kb import vocab
from kb.models import MAX_ID, Client, Comment, Node, Ticket, TimeEntry
from kb.queries.directory import get_nodes
from service.config import Settings, current_settings
from service.platform.money import MAX_HOURS, MAX_MONEY
from service.platform.unit_of_work import UnitOfWork, unit_of_work
from service.platform.validation import check_amount, check_email, check_string, one_of
from service.sla.service import refresh_ticket_sla
from service.tickets.actions import stage_action, stage_comment
from service.tickets.attachments import ParsedAttachment, check_uploads, stage_attachments
from service.tickets.errors import DuplicateTicket, IllegalTransition, WorkflowInputError
from service.tickets.staging import (
    active_specialist,
    audit_event,
    load_ticket,
    mail_status,
    notify_changed,
    notify_created,
    utc_now,
)
from service.tickets.transitions import allowed_actions

log = logging.getLogger(__name__)

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
    """A field restricted to ``allowed``; ``default`` when absent (or null)."""
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


def stage_ticket(uow: UnitOfWork, *, actor: str, now: datetime, settings: Settings, fields: dict[str, Any]) -> Ticket:
    """Validate ``fields``, add the ticket with triage, SLA and audit to the unit of work's session (no
    commit); ``ticket_created`` and the requester's e-mail go out once the unit of work is committed."""
    session = uow.session
    client, values, node_ids, nodes = _checked_ticket_fields(session, fields)
    triage_result, triaged_by = _triage_missing(session, values, client=client, node_ids=node_ids, settings=settings)
    ticket = Ticket(client=client, client_id=client.id, **values, status="new", created_at=now, updated_at=now)
    ticket.nodes = list(nodes)
    session.add(ticket)
    session.flush()
    if triage_result is not None:
        from service.triage.service import record_prediction

        record_prediction(session, ticket=ticket, result=triage_result)
    refresh_ticket_sla(session, ticket=ticket, now=now, settings=settings)
    audit_event(session, ticket, "create", actor, now, **{"from": None, "to": "new"}, channel=ticket.channel,
                priority=ticket.priority, group=ticket.group, triaged_by=triaged_by,
                needs_human=triaged_by == "triage failed" or bool(triage_result and triage_result.needs_human))
    notify_created(uow, ticket)
    mail_status(uow, settings, ticket, from_status=None, reason=None, actor=actor)
    return ticket


def _checked_ticket_fields(session: Session,
                           fields: dict[str, Any]) -> tuple[Client, dict[str, Any], list[int], list[Node]]:
    """The client, the ticket's column values, its node ids and nodes from the create ``fields``, each
    checked; WorkflowInputError names the first bad field, DuplicateTicket a taken external id."""
    unknown = sorted(set(fields) - set(CREATE_FIELDS))
    if unknown:
        raise WorkflowInputError(f"unknown field {unknown[0]!r}", unknown[0])
    client = _checked_client(session, fields.get("client_id"))
    values = {
        "subject": _check_string(fields, "subject", required=True),
        "description": _check_string(fields, "description") or "",
        "requester_name": _check_string(fields, "requester_name"),
        "requester_email": check_email(_check_string(fields, "requester_email"), "requester_email"),
        "channel": _check_choice(fields, "channel", vocab.CHANNELS, "portal"),
        "type": _check_choice(fields, "type", vocab.TICKET_TYPES, "incident"),
        "priority": _check_choice(fields, "priority", vocab.PRIORITIES, None),
        "urgency": _check_choice(fields, "urgency", vocab.PRIORITIES, None),
        "group": _check_choice(fields, "group", vocab.GROUPS, None),
        "billing_mode": _check_choice(fields, "billing_mode", vocab.BILLING_MODES, "included"),
        "estimate_hours": _check_decimal(fields, "estimate_hours"),
        "fixed_price": _check_decimal(fields, "fixed_price"),
        "alert_fingerprint": _check_string(fields, "alert_fingerprint"),
        "alert_severity": _check_string(fields, "alert_severity"),
        "external_id": _check_string(fields, "external_id"),
    }
    node_ids, nodes = _checked_nodes(session, fields.get("node_ids") or [], client)
    external_id = values["external_id"]
    if external_id is not None and session.scalar(select(Ticket.id).where(Ticket.external_id == external_id)):
        raise DuplicateTicket(f"a ticket with external_id {external_id!r} exists")
    return client, values, node_ids, nodes


def _checked_client(session: Session, client_id: object) -> Client:
    if client_id is None:
        raise WorkflowInputError("client_id is required", "client_id")
    if isinstance(client_id, bool) or not isinstance(client_id, int):
        raise WorkflowInputError("client_id must be an integer", "client_id")
    client = session.get(Client, client_id) if 0 < client_id <= MAX_ID else None
    if client is None:
        raise WorkflowInputError(f"client {client_id} not found", "client_id")
    return client


def _checked_nodes(session: Session, node_ids: object, client: Client) -> tuple[list[int], list[Node]]:
    """``node_ids`` without repeats (in the order given) and the client's nodes they name."""
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
    return node_ids, nodes


def _triage_missing(session: Session, values: dict[str, Any], *, client: Client, node_ids: list[int],
                    settings: Settings) -> tuple[Any, str]:
    """Fill the priority and group the caller left out (in ``values``) from triage; the triage result (None
    when triage did not run or failed) and who triaged: "caller", "triage" or "triage failed"."""
    if values["priority"] is not None and values["group"] is not None:
        return None, "caller"
    result = _triage(session, subject=values["subject"], description=values["description"], client_id=client.id,
                     channel=values["channel"], node_ids=node_ids, alert_severity=values["alert_severity"],
                     settings=settings)
    if values["priority"] is None:
        values["priority"] = result.priority.value if result is not None else "standard"
    if values["group"] is None:
        values["group"] = result.group.value if result is not None else None
    return result, "triage" if result is not None else "triage failed"


def create_ticket(session: Session, *, actor: str, now: datetime | None = None, settings: Settings | None = None,
                  attachments: Sequence[ParsedAttachment] = (), **fields: Any) -> Ticket:
    """Create a ticket in status "new" (triage fills a missing priority/group), commit, then notify.

    ``fields`` are the names of :data:`CREATE_FIELDS`; ``client_id`` and ``subject`` are required.
    ``attachments``: files given with the request (the portal's), checked by ``attachments.check_uploads``.
    Raises WorkflowInputError naming the field; nothing is written then.
    """
    now, settings = utc_now(now), current_settings(settings)
    files = check_uploads(attachments, settings)
    try:
        with unit_of_work(session) as uow:
            ticket = stage_ticket(uow, actor=actor, now=now, settings=settings, fields=fields)
            stage_attachments(uow.session, ticket, files, comment=None, now=now)
    except IntegrityError:
        # rolled back; a concurrent create took the same external id between our check and our commit
        external_id = fields.get("external_id")
        if external_id and session.scalar(select(Ticket.id).where(Ticket.external_id == external_id.strip())):
            raise DuplicateTicket(f"a ticket with external_id {external_id.strip()!r} exists") from None
        raise
    return ticket


def apply_action(session: Session, *, ticket_id: int, action: str, actor: str, now: datetime | None = None,
                 settings: Settings | None = None, **params: Any) -> Ticket:
    """Apply ``action`` (a key of :data:`TRANSITIONS`) to a ticket, commit, then notify.

    Raises TicketNotFound, IllegalTransition (with the current status and the allowed actions) or
    WorkflowInputError naming the parameter; nothing is written then.
    """
    now, settings = utc_now(now), current_settings(settings)
    with unit_of_work(session) as uow:
        ticket = load_ticket(session, ticket_id)
        stage_action(uow, ticket, action=action, actor=actor, now=now, settings=settings, params=params)
    return ticket


def add_comment(session: Session, *, ticket_id: int, body: str, actor: str, author: str | None = None,
                public: bool = True, now: datetime | None = None, settings: Settings | None = None) -> Comment:
    """Add a comment; a public one is e-mailed to the requester and may count as the reaction."""
    now, settings = utc_now(now), current_settings(settings)
    with unit_of_work(session) as uow:
        ticket = load_ticket(session, ticket_id)
        body = _check_string({"body": body}, "body", required=True, max_length=100_000)
        if not isinstance(public, bool):
            raise WorkflowInputError("public must be true or false", "public")
        comment = stage_comment(uow, ticket, author=author or actor, body=body, public=public,
                                actor=actor, now=now, settings=settings)
    return comment


def _open_ticket(session: Session, ticket_id: int, change: str) -> Ticket:
    """The ticket, unless it is closed (a closed ticket takes no more work or priority changes: 409)."""
    ticket = load_ticket(session, ticket_id)
    if ticket.status == "closed":
        raise IllegalTransition(ticket.status, change, allowed_actions(ticket.status))
    return ticket


def add_time_entry(session: Session, *, ticket_id: int, actor: str, specialist_id: int, started_at: datetime,
                   minutes: int, on_site: bool = False, off_hours_agreed: bool = False,
                   work_kind: str | None = None, note: str | None = None, now: datetime | None = None,
                   settings: Settings | None = None) -> TimeEntry:
    """Record work on a ticket (not on a closed one); ``work_kind`` defaults to the ticket's billing mode."""
    now, settings = utc_now(now), current_settings(settings)
    with unit_of_work(session) as uow:
        ticket = _open_ticket(session, ticket_id, "add_time_entry")
        specialist = active_specialist(session, specialist_id, "specialist_id")
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
        audit_event(session, ticket, "time_entry", actor, now, time_entry_id=entry.id, specialist_id=specialist.id,
                    minutes=minutes, on_site=bool(on_site), off_hours_agreed=bool(off_hours_agreed), work_kind=work_kind)
        notify_changed(uow, ticket, "time_entry")
    return entry


def change_priority(session: Session, *, ticket_id: int, actor: str, priority: str | None = None,
                    group: str | None = None, reason: str | None = None, now: datetime | None = None,
                    settings: Settings | None = None) -> Ticket:
    """Change priority and/or group of an open ticket; a new priority recomputes the SLA targets."""
    now, settings = utc_now(now), current_settings(settings)
    with unit_of_work(session) as uow:
        ticket = _open_ticket(session, ticket_id, "change_priority")
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
                refresh_ticket_sla(session, ticket=ticket, now=now, settings=settings)
            audit_event(session, ticket, "update", actor, now, reason=reason, **changes)
            notify_changed(uow, ticket, "update")
    return ticket
