"""Partners API: a regional service partner's monthly report (staff who manage partners only)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from service.platform import db
from service.platform.errors import ApiError
from service.platform.permissions import permit
from service.platform.schema import operation
from service.sla.partner_report import PartnerReportError, build_partner_report

bp = Blueprint("partners", __name__, url_prefix="/api/v1/partners")


@bp.get("/<int:partner_id>/report/<month>")
@permit("partners.report")
@operation()
def partner_report(partner_id: int, month: str):
    """Tasks, the partner's SLA met/breached, time spent, what we owe, and remote vs on site per client and region."""
    try:
        return jsonify(build_partner_report(db.session(), partner_id=partner_id, month=month))
    except PartnerReportError as exc:
        raise ApiError(404 if exc.field == "partner" else 400, str(exc), field=exc.field) from None
