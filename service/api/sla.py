"""SLA API: a client's monthly SLA report as JSON; the SLA policies; a ticket's live SLA clocks.

A client user sees only its own company's report (404 for another's). The printable report page is
``service/web/sla.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, jsonify, request

from kb.models import Ticket
from kb.vocab import PRIORITIES
from service.api import schemas as s
from service.config import current_settings
from service.platform import db
from service.platform.auth import ensure_visible
from service.platform.errors import ApiError
from service.platform.schema import operation
from service.platform.serializers import iso
from service.sla import service as sla_service
from service.sla.policies import POLICIES, TARGETS

bp = Blueprint("sla", __name__, url_prefix="/api/v1")


def _report(client_id: int) -> dict:
    ensure_visible(client_id, f"client {client_id}")
    try:
        return sla_service.client_report(db.session(), client_id=client_id, month=request.args.get("month"),
                                         settings=current_settings())
    except sla_service.ClientNotFound as exc:
        raise ApiError(404, str(exc)) from None
    except sla_service.SlaReportError as exc:
        raise ApiError(400, str(exc), field=exc.field) from None


@bp.get("/sla/policies")
@operation(responses={200: s.Policies})
def sla_policies():
    """The SLA policies: targets in working hours per priority, price coefficient, own calendar, monthly report."""
    return jsonify({"policies": [
        {"key": p.key, "title": p.title, "coefficient": None if p.coefficient is None else str(p.coefficient),
         "calendar": p.calendar, "sends_monthly_report": p.sends_monthly_report,
         "targets": {target: {priority: p.target_hours(target, priority) for priority in PRIORITIES}
                     for target in TARGETS if p.target_hours(target, PRIORITIES[0]) is not None}}
        for p in POLICIES.values()
    ]})


@bp.get("/clients/<int:client_id>/sla-report")
@operation(query=s.MonthQuery, responses={200: s.Document})
def client_sla_report(client_id: int):
    """The client's SLA report of ``?month=YYYY-MM``: tickets by priority, targets met/missed, breaches,
    overdue time, penalties, the longest outages."""
    return jsonify(_report(client_id))


@bp.get("/tickets/<int:ticket_id>/sla")
@operation(responses={200: s.TicketSla})
def ticket_sla(ticket_id: int):
    """The ticket's clocks now: per target the due instant, used/remaining/overdue minutes and state."""
    session = db.session()
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise ApiError(404, f"ticket {ticket_id} not found")
    ensure_visible(ticket.client_id, f"ticket {ticket_id}")
    now = datetime.now(UTC)
    clock = sla_service.evaluate_ticket(session, ticket=ticket, now=now, settings=current_settings())
    return jsonify({
        "ticket_id": ticket.id, "priority": ticket.priority, "state": clock.state, "paused": clock.paused,
        "evaluated_at": iso(now),
        "targets": {
            name: {"due_at": iso(c.due_at), "done_at": iso(c.done_at), "state": c.state,
                   "target_minutes": int(c.target_time.total_seconds() // 60),
                   "used_minutes": int(c.used.total_seconds() // 60),
                   "remaining_minutes": int(c.remaining.total_seconds() // 60),
                   "overdue_minutes": c.overdue_minutes}
            for name, c in clock.targets.items()
        },
    })
