"""Quality in production for managers and analysts: triage against what engineers kept, and suggestion
feedback replayed through the current search (see service/quality.py)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from service.api import schemas as s
from service.api.tickets import int_arg
from service.platform import db
from service.platform.errors import ApiError
from service.platform.permissions import permit
from service.platform.schema import operation
from service.search import service as search_service
from service.triage import quality

bp = Blueprint("quality", __name__, url_prefix="/api/v1/quality")


@bp.get("/triage")
@permit("quality.read")
@operation(query=s.SinceQuery, responses={200: s.Document})
def triage_quality():
    """Accuracy of triage at ticket creation against the handled tickets' group and priority; ``?since=``."""
    since_text = request.args.get("since")
    try:
        since = quality.parse_since(since_text) if since_text else None
    except ValueError as exc:
        raise ApiError(422, str(exc), field="since") from None
    return jsonify(quality.triage_quality(db.session(), since=since))


@bp.get("/suggestions")
@permit("quality.read")
@operation(query=s.KQuery, responses={200: s.Document})
def suggestion_quality():
    """Engineers' verdicts on suggestions, replayed through the current search; ``?k=5``."""
    k = int_arg("k", 5, minimum=1, maximum=search_service.MAX_K)
    try:
        return jsonify(quality.suggestion_quality(db.session(), k=k))
    except search_service.SearchUnavailable as exc:
        raise ApiError(503, f"search index unavailable: {exc}") from None
