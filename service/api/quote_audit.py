"""The price calculator and the infrastructure audit over JSON.

``POST /api/v1/quote`` is public (no login: the seed's calculator is on the website): it stores nothing and
its input is bounded (service.billing.quote), a bad value answers 422 naming the field. The audit of a
client is read by staff and by the client's own users (another client's id is a 404, as a missing one).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, jsonify

from service.api import schemas as s
from service.billing import rates as rates_service
from service.billing.contract import BillingInputError
from service.billing.quote import QUOTE_FIELDS, quote_to_dict
from service.directory import audit
from service.platform import db
from service.platform.auth import ensure_visible, public
from service.platform.errors import ApiError
from service.platform.permissions import require, require_audit_reader
from service.platform.schema import operation
from service.platform.validation import json_body

bp = Blueprint("quote_audit_api", __name__, url_prefix="/api/v1")


@bp.post("/quote")
@public
@operation(body=s.QuoteBody, responses={200: s.QuoteOut})
def quote():
    """The monthly price of {workstations, servers, tier, plan, package_hours?, on_site_visits, prepayment_months}
    with every line explained (docs/quote.md)."""
    body = json_body(QUOTE_FIELDS)
    try:
        result = rates_service.quote_for(db.session(), body, now=datetime.now(UTC))
    except BillingInputError as exc:
        raise ApiError(422, exc.message, field=exc.field) from None
    return jsonify(quote_to_dict(result))


@bp.get("/clients/<int:client_id>/audit")
@operation(responses={200: s.AuditOut})
def client_audit(client_id: int):
    """The client's infrastructure audit (docs/audit.md)."""
    require("audit.read")
    ensure_visible(client_id, f"client {client_id}")
    require_audit_reader()
    try:
        report = audit.client_audit(db.session(), client_id=client_id, now=datetime.now(UTC))
    except audit.AuditNotFound as exc:
        raise ApiError(404, str(exc), field="client_id") from None
    return jsonify(report)
