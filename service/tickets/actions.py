"""The actions of the transition table and comments, staged in a unit of work (no commit): the use cases of
:mod:`service.tickets.workflow`, the periodic checks, the e-mail intake and the Alertmanager webhook commit them.

:func:`stage_action` does what every action shares (parameters allowed, the move the table allows, the
reason and comment, the reaction and work start, the SLA refresh, audit, signal and mail) and calls the
action's own handler in :data:`HANDLERS`, which checks the action's parameters and applies it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb import vocab
from kb.models import Assignment, AuditEvent, Comment, SlaPause, Specialist, Ticket
from service.config import Settings
from service.platform.unit_of_work import UnitOfWork
from service.platform.validation import check_string, one_of
from service.sla.service import refresh_ticket_sla
from service.tickets.errors import WorkflowInputError
from service.tickets.staging import (
    active_assignees,
    active_specialist,
    audit_event,
    mail_comment,
    mail_new_assignees,
    mail_status,
    notify_changed,
)
from service.tickets.transitions import (
    ACTION_PARAMS,
    ACTIONS,
    REQUESTER_REASONS,
    TRANSITIONS,
    WORKING_STATUSES,
    is_engineer,
    next_status,
)


@dataclass(frozen=True)
class Act:
    """One action being staged: the unit of work, the ticket, who acts, when, and the reason given."""

    uow: UnitOfWork
    ticket: Ticket
    actor: str
    now: datetime
    reason: str | None


@dataclass
class Change:
    """What a handler did: the facts for the audit event, and whether the SLA targets must be recomputed."""

    details: dict[str, Any] = field(default_factory=dict)
    sla_changed: bool = False


def _param_string(params: dict, name: str, *, required: bool = False, max_length: int = 100_000) -> str | None:
    return check_string(params, name, required=required, max_length=max_length,
                        required_message="is required for this action") or None


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


def _triage(act: Act, params: dict[str, Any]) -> Change:
    """First line sets or confirms priority and group (a ticket triage could not route needs a group)."""
    ticket = act.ticket
    priority = one_of(params.get("priority"), "priority", vocab.PRIORITIES)
    group = one_of(params.get("group"), "group", vocab.GROUPS)
    if group is None and ticket.group is None:
        raise WorkflowInputError("group is required: triage could not route this ticket", "group")
    change = Change()
    if priority is not None and priority != ticket.priority:
        change.details["priority"] = {"from": ticket.priority, "to": priority}
        ticket.priority = priority
        change.sla_changed = True
    if group is not None and group != ticket.group:
        change.details["group"] = {"from": ticket.group, "to": group}
        ticket.group = group
    return change


def _take(act: Act, params: dict[str, Any]) -> Change:
    """A first-line engineer takes the ticket; the specialist given becomes its primary assignee."""
    return _assign_primary(act, params.get("specialist_id"))


def _escalate(act: Act, params: dict[str, Any]) -> Change:
    """First line hands the ticket to the second line: optionally to another group (the audit event keeps the
    group before and after) and to a specialist (line 2 or 3), who becomes primary."""
    group = one_of(params.get("group"), "group", vocab.GROUPS)  # checked before anything changes
    change = _assign_primary(act, params.get("specialist_id"), minimum_line=2)
    if group is not None and group != act.ticket.group:
        change.details["group"] = {"from": act.ticket.group, "to": group}
        act.ticket.group = group
    return change


def _assign_primary(act: Act, specialist_id: object, *, minimum_line: int | None = None) -> Change:
    """The specialist (if given; of ``minimum_line`` or above) replaces the primary assignee, who is released."""
    if specialist_id is None:
        return Change()
    specialist = active_specialist(act.uow.session, specialist_id, "specialist_id")
    if minimum_line is not None and specialist.line < minimum_line:
        raise WorkflowInputError(f"specialist {specialist.id} is on line {specialist.line}; "
                                 "escalation goes to line 2 or 3", "specialist_id")
    released = _release_primary(act.ticket, act.now)
    _assign(act.ticket, specialist, "primary", act.now)
    return Change({"specialist_id": specialist.id, "released": released})


def _assign_specialists(act: Act, params: dict[str, Any]) -> Change:
    """Narrow specialists join the ticket as helpers (the first becomes primary if there is none)."""
    ids = params.get("specialist_ids")
    if not isinstance(ids, list) or not ids or any(isinstance(v, bool) or not isinstance(v, int) for v in ids):
        raise WorkflowInputError("specialist_ids must be a non-empty list of specialist ids", "specialist_ids")
    specialists = [active_specialist(act.uow.session, value, "specialist_ids") for value in dict.fromkeys(ids)]
    ticket = act.ticket
    has_primary = any(a.role == "primary" and a.released_at is None for a in ticket.assignees)
    for index, specialist in enumerate(specialists):
        _assign(ticket, specialist, "primary" if not has_primary and index == 0 else "helper", act.now)
    return Change({"specialist_ids": [s.id for s in specialists]})


def _request_info(act: Act, params: dict[str, Any]) -> Change:
    """Ask the client: an SLA pause opens (its reason is the question)."""
    act.ticket.pauses.append(SlaPause(started_at=act.now, reason=(act.reason or "waiting for client")[:200]))
    return Change(sla_changed=True)


def _client_replied(act: Act, params: dict[str, Any]) -> Change:
    """The client answered: nothing of its own (leaving "waiting_for_client" closes the pause)."""
    return Change()


def _resolve(act: Act, params: dict[str, Any]) -> Change:
    """The resolver records the resolution (required)."""
    ticket = act.ticket
    ticket.resolution = _param_string(params, "resolution", required=True)
    ticket.resolved_at = act.now
    return Change({"resolution": ticket.resolution[:500]})


def _close(act: Act, params: dict[str, Any]) -> Change:
    """``confirm`` (the requester) or ``close`` (staff, or automatically by the system)."""
    act.ticket.closed_at = act.now
    return Change({"automatic": True} if act.actor.startswith("system:") else {})


def _reopen(act: Act, params: dict[str, Any]) -> Change:
    """The problem is back: resolved and closed instants clear, the old resolution stays in the audit trail."""
    ticket = act.ticket
    _check_no_newer_incident(act.uow.session, ticket)
    change = Change({"previous_resolution": (ticket.resolution or "")[:500]}, sla_changed=True)
    ticket.resolved_at = None
    ticket.closed_at = None
    return change


#: The handler of each action of the table: it checks the action's own parameters and applies it.
HANDLERS: dict[str, Callable[[Act, dict[str, Any]], Change]] = {
    "triage": _triage,
    "take": _take,
    "escalate": _escalate,
    "assign_specialists": _assign_specialists,
    "request_info": _request_info,
    "client_replied": _client_replied,
    "resolve": _resolve,
    "confirm": _close,
    "close": _close,
    "reopen": _reopen,
}


def _check_parameters(action: str, params: dict[str, Any]) -> None:
    if action not in TRANSITIONS:
        raise WorkflowInputError(f"action must be one of {', '.join(ACTIONS)}", "action")
    unknown = sorted(set(params) - set(ACTION_PARAMS[action]))
    if unknown:
        raise WorkflowInputError(f"{unknown[0]!r} is not a parameter of action {action!r} "
                                 f"(allowed: {', '.join(ACTION_PARAMS[action])})", unknown[0])


def stage_action(uow: UnitOfWork, ticket: Ticket, *, action: str, actor: str, now: datetime,
                 settings: Settings, params: dict[str, Any]) -> None:
    """Check and apply one action to ``ticket`` in the unit of work's session (no commit); its signal and
    the requester's e-mail go out once the unit of work is committed."""
    session = uow.session
    _check_parameters(action, params)
    from_status = ticket.status
    previous = _previous_working_status(session, ticket) if action == "client_replied" else None
    to_status = next_status(from_status, action, previous_working=previous)
    act = Act(uow, ticket, actor, now, reason=_param_string(params, "reason", max_length=2000))
    assigned_before = active_assignees(ticket)
    change = HANDLERS[action](act, params)
    if from_status == "waiting_for_client" and to_status != "waiting_for_client":
        change.sla_changed = _close_open_pause(ticket, now) or change.sla_changed
    comment_text = _param_string(params, "comment")
    if comment_text:
        stage_comment(uow, ticket, author=actor, body=comment_text, public=True, actor=actor, now=now,
                      settings=settings, notify=False)
    _move(ticket, to_status, actor=actor, now=now)
    if change.sla_changed or to_status in ("resolved", "closed", "reopened"):
        session.flush()
        refresh_ticket_sla(session, ticket=ticket, now=now, settings=settings)
    audit_event(session, ticket, action, actor, now, **{"from": from_status, "to": to_status}, reason=act.reason,
                **change.details)
    notify_changed(uow, ticket, action, from_status=from_status)
    # the requester reads the question or note in the status mail itself (one message, not two); a staff
    # reason of an internal step (triage, escalation...) is an internal note and stays in the audit trail
    told = act.reason if action in REQUESTER_REASONS or not is_engineer(actor) else None
    mail_status(uow, settings, ticket, from_status=from_status, reason=told or comment_text, actor=actor)
    mail_new_assignees(uow, settings, ticket, assigned_before)


def _move(ticket: Ticket, to_status: str, *, actor: str, now: datetime) -> None:
    """Set the new status; an engineer's first move out of "new" is the reaction, into work the work start."""
    if to_status in WORKING_STATUSES and ticket.work_started_at is None and is_engineer(actor):
        ticket.work_started_at = now
    if ticket.status == "new" and ticket.reacted_at is None and is_engineer(actor):
        ticket.reacted_at = now
    ticket.status = to_status
    ticket.updated_at = now


def stage_comment(uow: UnitOfWork, ticket: Ticket, *, author: str, body: str, public: bool, actor: str,
                  now: datetime, settings: Settings, notify: bool = True) -> Comment:
    """Add a comment in the unit of work's session (no commit); a public one by an engineer may be the
    reaction, and (``notify``) is e-mailed to the requester after the commit."""
    session = uow.session
    comment = Comment(author=author[:200], body=body, public=public, created_at=now)
    ticket.comments.append(comment)
    session.flush()
    if public and ticket.reacted_at is None and is_engineer(actor):
        ticket.reacted_at = now
        session.flush()
        refresh_ticket_sla(session, ticket=ticket, now=now, settings=settings)
    ticket.updated_at = now
    audit_event(session, ticket, "comment", actor, now, comment_id=comment.id, public=public)
    notify_changed(uow, ticket, "comment")
    if notify:
        mail_comment(uow, settings, ticket, comment)
    return comment
