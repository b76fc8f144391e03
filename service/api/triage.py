"""``POST /api/v1/triage``: priority, specialist group and specialists for a request, without creating it."""

from __future__ import annotations

from flask import Blueprint, jsonify

from kb import vocab
from service.api import schemas as s
from service.platform import db
from service.platform.errors import ApiError
from service.platform.permissions import permit
from service.platform.schema import operation
from service.platform.validation import choice, integer, integer_list, json_body, string
from service.triage.service import TriageInputError, triage_request

bp = Blueprint("triage", __name__, url_prefix="/api/v1")

ALERT_SEVERITIES = ("critical", "warning", "info", "none")


@bp.post("/triage")
@permit("triage.run")
@operation(body=s.TriageBody, responses={200: s.TriageOut})
def triage():
    """Triage ``{"subject", "description", "client_id"?, "channel"?, "node_ids"?, "alert_severity"?}``."""
    data = json_body(("subject", "description", "client_id", "channel", "node_ids", "alert_severity"))
    subject = string(data, "subject", required=True, max_length=500)
    description = string(data, "description", max_length=50_000, default="")
    client_id = integer(data, "client_id", minimum=1)
    channel = choice(data, "channel", vocab.CHANNELS)
    node_ids = integer_list(data, "node_ids")
    alert_severity = choice(data, "alert_severity", ALERT_SEVERITIES)
    try:
        result = triage_request(db.session(), subject=subject, description=description, client_id=client_id,
                                channel=channel, node_ids=node_ids, alert_severity=alert_severity)
    except TriageInputError as exc:
        status = 404 if exc.field == "client_id" else 422
        raise ApiError(status, str(exc), field=exc.field) from None
    return jsonify(result.to_dict())
