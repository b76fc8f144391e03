"""The printable SLA report page of a client (staff, and the client's own users)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request

from service.config import current_settings
from service.platform import db
from service.platform.auth import visible_client_id
from service.sla import service as sla_service
from service.web.views import login_required

bp = Blueprint("sla_pages", __name__)


@bp.get("/clients/<int:client_id>/sla-report.html")
@login_required()
def client_sla_report_page(client_id: int):
    """The client's SLA report of ``?month=YYYY-MM`` as a printable HTML page (the JSON of the API, rendered)."""
    limit = visible_client_id()
    if limit is not None and limit != client_id:
        abort(404, f"client {client_id} not found")
    try:
        report = sla_service.client_report(db.session(), client_id=client_id, month=request.args.get("month"),
                                           settings=current_settings())
    except sla_service.ClientNotFound as exc:
        abort(404, str(exc))
    except sla_service.SlaReportError as exc:
        abort(400, str(exc))
    return Response(sla_service.render_report_html(report), mimetype="text/html")
