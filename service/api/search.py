"""Similar-fix search API: free-text search, suggestions for a stored ticket, feedback on suggestions."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from kb.models import Client, Ticket
from kb.queries import tickets as ticket_queries
from service.api import schemas as s
from service.api.tickets import int_arg
from service.platform import db, metrics
from service.platform.auth import current_user
from service.platform.errors import ApiError
from service.platform.permissions import permit
from service.platform.schema import operation
from service.platform.validation import boolean, json_body
from service.search.feedback import FeedbackTargetNotFound, check_feedback_target, record_feedback

bp = Blueprint("search", __name__, url_prefix="/api/v1")

MAX_QUERY_CHARS = 5000


def _unavailable(exc: Exception) -> ApiError:
    return ApiError(503, f"search index unavailable: {exc}")


@bp.get("/search")
@permit("search.run")
@operation(query=s.SearchQuery, responses={200: s.SearchOut})
def search():
    """Similar resolved incidents, articles and known problems for ?q= (optional ?client=, ?k=)."""
    from service.search import service as search_service

    query = (request.args.get("q") or "").strip()
    if not query:
        raise ApiError(400, "q must not be empty", field="q")
    if len(query) > MAX_QUERY_CHARS:
        raise ApiError(400, f"q must be at most {MAX_QUERY_CHARS} characters", field="q")
    client_id = int_arg("client", minimum=1)
    if client_id is not None and db.session().get(Client, client_id) is None:
        raise ApiError(404, f"client {client_id} not found", field="client")
    k = int_arg("k", 5, minimum=1, maximum=search_service.MAX_K)
    try:
        result = search_service.suggest(db.session(), text=query, client_id=client_id, k=k)
    except search_service.SearchUnavailable as exc:
        raise _unavailable(exc) from None
    metrics.count_served(result)
    return jsonify(result)


def _ticket_or_404(ticket_id: int) -> Ticket:
    ticket = ticket_queries.get_ticket(db.session(), ticket_id=ticket_id)
    if ticket is None:
        raise ApiError(404, f"ticket {ticket_id} not found", field="ticket_id")
    return ticket


@bp.get("/tickets/<int:ticket_id>/suggestions")
@permit("search.run")
@operation(query=s.KQuery, responses={200: s.SearchOut})
def ticket_suggestions(ticket_id: int):
    """Suggestions for a stored ticket (its own client and node kinds boost; itself excluded); ?k=."""
    from service.search import service as search_service

    ticket = _ticket_or_404(ticket_id)
    k = int_arg("k", 5, minimum=1, maximum=search_service.MAX_K)
    try:
        result = search_service.suggest_for_ticket(db.session(), ticket=ticket, k=k)
    except search_service.SearchUnavailable as exc:
        raise _unavailable(exc) from None
    metrics.count_served(result)
    return jsonify(result)


def _feedback_call(use_case, **kwargs):
    """Run a feedback use case; an unknown kind, ticket or item is a 404 naming it."""
    try:
        return use_case(db.session(), **kwargs)
    except FeedbackTargetNotFound as exc:
        raise ApiError(404, str(exc), field=exc.field) from None


@bp.post("/tickets/<int:ticket_id>/suggestions/<kind>/<int:ref>/feedback")
@permit("search.feedback")
@operation(body=s.FeedbackBody, responses={201: s.FeedbackOut})
def suggestion_feedback(ticket_id: int, kind: str, ref: int):
    """Record whether a suggestion was useful for a ticket: body ``{"useful": true|false}``."""
    target = {"ticket_id": ticket_id, "kind": kind, "ref": ref}
    _feedback_call(check_feedback_target, **target)  # an unknown target is a 404 before the body is judged
    data = json_body(("useful",))
    if "useful" not in data:
        raise ApiError(422, "useful is required", field="useful")
    useful = boolean(data, "useful")
    feedback = _feedback_call(record_feedback, **target, useful=useful, actor=current_user().username)
    return jsonify({"id": feedback.id, "ticket_id": ticket_id, "kind": kind, "ref": ref, "useful": useful,
                    "actor": feedback.actor, "at": feedback.at.isoformat()}), 201
