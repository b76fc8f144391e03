"""Ticket write API: create, workflow actions, comments, time entries, priority/group changes.

Errors: 415/400 for a body that is not a JSON object, 422 naming the field for a bad value, 404 for an
unknown ticket (or another client's), 409 with ``current_status`` and ``allowed_actions`` for an illegal
transition, 403 for an action the caller's role may not take.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from kb import vocab
from kb.models import Specialist, Ticket
from kb.queries import audit as audit_queries
from service.api import schemas as s
from service.api.tickets import ticket_view
from service.platform import db
from service.platform.auth import actor_name, current_user, ensure_visible, is_partner_user
from service.platform.errors import ApiError
from service.platform.permissions import (
    CLIENT_TICKET_ACTIONS,
    PARTNER_TICKET_ACTIONS,
    allowed,
    bind_ticket_create,
    permit,
)
from service.platform.schema import operation
from service.platform.serializers import iso
from service.platform.validation import boolean, checked, instant, integer, json_body, one_of, string
from service.tickets import periodic, transitions, workflow
from service.tickets.errors import DuplicateTicket, IllegalTransition, TicketNotFound, WorkflowInputError

bp = Blueprint("workflow", __name__, url_prefix="/api/v1/tickets")


def _ticket(ticket_id: int):
    ticket = db.session().get(Ticket, ticket_id)  # route ids are within the database range (create_app)
    if ticket is None:
        raise ApiError(404, f"ticket {ticket_id} not found", field="id")
    ensure_visible(ticket.client_id, f"ticket {ticket_id}")
    return ticket


def _partner_specialist(specialist_id: object) -> None:
    """404 unless ``specialist_id`` is an engineer of the current partner user's company."""
    engineer = db.session().get(Specialist, specialist_id) if isinstance(specialist_id, int) \
        and 0 < specialist_id < 2**31 else None
    if engineer is None or engineer.partner_id is None or engineer.partner_id != current_user().partner_id:
        raise ApiError(404, f"specialist {specialist_id} not found", field="specialist_id")


def _call(function, **kwargs):
    """Run a use case, translating workflow errors into API errors."""
    try:
        return function(db.session(), **kwargs)
    except WorkflowInputError as exc:
        raise ApiError(422, str(exc), field=exc.field) from None
    except TicketNotFound as exc:
        raise ApiError(404, str(exc), field="id") from None
    except IllegalTransition as exc:
        raise ApiError(409, str(exc), field="action", code="illegal_transition", current_status=exc.status,
                       action=exc.action, allowed_actions=list(exc.allowed)) from None
    except DuplicateTicket as exc:
        raise ApiError(409, str(exc), field=exc.field, code="duplicate") from None


@bp.post("")
@permit("ticket.create")
@operation(body=s.TicketCreate, responses={201: s.TicketDetail})
def create_ticket():
    """Create a ticket; priority and group come from triage when not given (a client user gives only
    subject, description, urgency and its own nodes)."""
    fields = bind_ticket_create(current_user(), json_body(), staff_fields=workflow.CREATE_FIELDS)
    ticket = _call(workflow.create_ticket, actor=actor_name(), **fields)
    response = jsonify(ticket_view(ticket))
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/tickets/{ticket.id}"
    return response


@bp.get("/<int:ticket_id>/actions")
@operation(responses={200: s.AllowedActions})
def allowed_actions(ticket_id: int):
    """The ticket's status, the actions allowed now and whether the first-line time box ran out."""
    ticket = _ticket(ticket_id)
    return jsonify({
        "ticket_id": ticket.id,
        "current_status": ticket.status,
        "allowed_actions": list(transitions.allowed_actions(ticket.status)),
        "flagged_for_escalation": periodic.flagged_for_escalation(db.session(), ticket=ticket),
        "transitions": transitions.transition_table(),
    })


@bp.post("/<int:ticket_id>/actions")
@permit("ticket.act")
@operation(body=s.ActionBody, responses={200: s.TicketDetail})
def apply_action(ticket_id: int):
    """Apply a workflow action: ``{"action": "escalate", "reason": "...", ...}``."""
    data = json_body()
    action = string(data, "action", required=True, max_length=40)
    if action not in transitions.TRANSITIONS:
        raise ApiError(422, f"action must be one of {', '.join(transitions.ACTIONS)}", field="action")
    ticket = _ticket(ticket_id)
    if current_user().role == "client" and action not in CLIENT_TICKET_ACTIONS:
        raise ApiError(403, f"a client user may only: {', '.join(sorted(CLIENT_TICKET_ACTIONS))}",
                       field="action")
    if is_partner_user():
        if action not in PARTNER_TICKET_ACTIONS:
            raise ApiError(403, f"a partner engineer may only: {', '.join(sorted(PARTNER_TICKET_ACTIONS))}",
                           field="action")
        if data.get("specialist_id") is not None:
            _partner_specialist(data["specialist_id"])
    params = {k: v for k, v in data.items() if k != "action"}
    ticket = _call(workflow.apply_action, ticket_id=ticket.id, action=action, actor=actor_name(), **params)
    return jsonify(ticket_view(ticket))


@bp.post("/<int:ticket_id>/comments")
@permit("ticket.comment")
@operation(body=s.CommentBody, responses={201: s.CommentOut})
def add_comment(ticket_id: int):
    """Add a comment ``{"body": "...", "public": true}``; a client user's comment is always public."""
    data = json_body(("body", "public"))
    body = string(data, "body", required=True, max_length=100_000)
    public = boolean(data, "public", default=True)
    ticket = _ticket(ticket_id)
    if current_user().role == "client" or is_partner_user():
        public = True
    comment = _call(workflow.add_comment, ticket_id=ticket.id, body=body, public=public, actor=actor_name())
    return jsonify({"id": comment.id, "ticket_id": ticket.id, "author": comment.author, "body": comment.body,
                    "public": comment.public, "created_at": iso(comment.created_at)}), 201


@bp.post("/<int:ticket_id>/time-entries")
@permit("ticket.log_work")
@operation(body=s.TimeEntryBody, responses={201: s.TimeEntryOut})
def add_time_entry(ticket_id: int):
    """Record work: specialist_id, started_at (ISO 8601 with offset), minutes, on_site, off_hours_agreed,
    work_kind, note."""
    data = json_body(("specialist_id", "started_at", "minutes", "on_site", "off_hours_agreed", "work_kind",
                           "note"))
    fields = {
        "specialist_id": integer(data, "specialist_id", required=True, minimum=1),
        "started_at": instant(data, "started_at", required=True),
        "minutes": integer(data, "minutes", required=True, minimum=1, maximum=24 * 60),
        "on_site": boolean(data, "on_site"),
        "off_hours_agreed": boolean(data, "off_hours_agreed"),
        "work_kind": string(data, "work_kind", max_length=20),
        "note": string(data, "note", max_length=10_000),
    }
    checked(one_of, fields["work_kind"], "work_kind", vocab.BILLING_MODES)
    ticket = _ticket(ticket_id)
    if is_partner_user():
        _partner_specialist(fields["specialist_id"])
    entry = _call(workflow.add_time_entry, ticket_id=ticket.id, actor=actor_name(), **fields)
    return jsonify({"id": entry.id, "ticket_id": ticket.id, "specialist_id": entry.specialist_id,
                    "started_at": iso(entry.started_at), "minutes": entry.minutes, "on_site": entry.on_site,
                    "off_hours_agreed": entry.off_hours_agreed, "work_kind": entry.work_kind,
                    "note": entry.note}), 201


@bp.patch("/<int:ticket_id>")
@permit("ticket.update")
@operation(body=s.TicketUpdate, responses={200: s.TicketDetail})
def update_ticket(ticket_id: int):
    """Change priority and/or group ``{"priority": "high", "reason": "..."}``; SLA targets are recomputed."""
    data = json_body(("priority", "group", "reason"))
    for name, choices in (("priority", vocab.PRIORITIES), ("group", vocab.GROUPS)):
        checked(one_of, data.get(name), name, choices)
    reason = string(data, "reason", max_length=2000)
    ticket = _ticket(ticket_id)
    ticket = _call(workflow.change_priority, ticket_id=ticket.id, actor=actor_name(), priority=data.get("priority"),
                   group=data.get("group"), reason=reason)
    return jsonify(ticket_view(ticket))


@bp.get("/<int:ticket_id>/history")
@operation(responses={200: s.History})
def history(ticket_id: int):
    """The ticket's audit trail, oldest first (staff only)."""
    ticket = _ticket(ticket_id)
    if not allowed(current_user().role, "ticket.read_internal"):
        raise ApiError(403, "the audit trail is visible to staff only")
    events = audit_queries.history(db.session(), entity="ticket", entity_id=ticket.id)
    return jsonify({"ticket_id": ticket.id, "items": [
        {"id": e.id, "action": e.action, "actor": e.actor, "at": iso(e.at), "data": e.data} for e in events]})
