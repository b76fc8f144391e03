"""Ticket read API."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from kb import vocab
from kb.models import MAX_ID
from kb.queries import tickets as ticket_queries
from service.api import schemas as s
from service.platform import db
from service.platform.auth import (
    current_user,
    ensure_visible,
    is_partner_user,
    partner_ticket_ids,
    visible_client_id,
    visible_partner_id,
)
from service.platform.errors import ApiError
from service.platform.permissions import allowed
from service.platform.schema import operation
from service.platform.serializers import ticket_detail, ticket_summary
from service.sla.partner_service import partner_sla

bp = Blueprint("tickets", __name__, url_prefix="/api/v1/tickets")


def int_arg(name: str, default: int | None = None, *, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """An integer query argument within ``minimum``..``maximum``, or a 400 naming it.

    The default maximum is the id range: an id or offset beyond it matches nothing, and a value past
    2**63 cannot even be bound as a database parameter.
    """
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {raw!r}", field=name) from None
    if not minimum <= value <= maximum:
        raise ApiError(400, f"{name} must be between {minimum} and {maximum}", field=name)
    return value


def choice_arg(name: str, allowed: tuple[str, ...]) -> str | None:
    """A query argument restricted to a vocabulary, or a 400 naming it."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise ApiError(400, f"{name} must be one of {', '.join(allowed)}", field=name)
    return raw


def ticket_view(ticket) -> dict:
    """The ticket as the current user may read it: internal comments only for staff."""
    user = current_user()
    role = user.role if user else None
    data = ticket_detail(ticket, internal=allowed(role, "ticket.read_internal"))
    clocks = [] if role == "client" else partner_sla(db.session(), ticket)
    if is_partner_user():
        clocks = [c for c in clocks if c["partner_id"] == user.partner_id]
    data["partner_sla"] = clocks
    return data


@bp.get("")
@operation(query=s.TicketListQuery, responses={200: s.TicketList})
def list_tickets():
    """Tickets, newest first, filtered by client, status, group and priority."""
    client_id = int_arg("client")
    limit_to = visible_client_id()
    if limit_to is not None:
        if client_id not in (None, limit_to):
            raise ApiError(404, f"client {client_id} not found", field="client")
        client_id = limit_to
    only = partner_ticket_ids(visible_partner_id()) if is_partner_user() else None
    rows, total = ticket_queries.list_tickets(
        db.session(),
        client_id=client_id,
        status=choice_arg("status", vocab.STATUSES),
        group=choice_arg("group", vocab.GROUPS),
        priority=choice_arg("priority", vocab.PRIORITIES),
        limit=int_arg("limit", 50, minimum=1, maximum=500),
        offset=int_arg("offset", 0),
        ticket_ids=only,
    )
    return jsonify({"total": total, "items": [ticket_summary(t) for t in rows]})


@bp.get("/<int:ticket_id>")
@operation(responses={200: s.TicketDetail})
def get_ticket(ticket_id: int):
    """One ticket with its comments, work log and pauses."""
    ticket = ticket_queries.get_ticket(db.session(), ticket_id=ticket_id)
    if ticket is None:
        raise ApiError(404, f"ticket {ticket_id} not found", field="id")
    ensure_visible(ticket.client_id, f"ticket {ticket_id}")
    return jsonify(ticket_view(ticket))
