"""Inbound webhooks protected by their own shared secret (not user tokens).

``POST /api/v1/webhooks/alertmanager``: Prometheus Alertmanager's ``webhook_config``. Configure it with
``http_config: {authorization: {credentials: <secret>}}`` (sent as ``Authorization: Bearer <secret>``) or
append ``?token=<secret>`` to the URL; the secret is the ``PRECEDENT_ALERTMANAGER_TOKEN`` setting.
An unknown node is answered 200 with outcome ``unmatched`` (a non-2xx answer makes Alertmanager retry
forever); a malformed payload is a 400 naming the field.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, jsonify, request

from service.api import schemas as s
from service.config import current_settings
from service.platform import db
from service.platform.auth import public
from service.platform.errors import ApiError
from service.platform.schema import operation
from service.tickets.alertmanager import ingest_alertmanager
from service.tickets.errors import WorkflowInputError

bp = Blueprint("webhooks", __name__, url_prefix="/api/v1/webhooks")


def _check_secret(expected: str) -> None:
    if not expected:
        raise ApiError(503, "the Alertmanager webhook is disabled: set PRECEDENT_ALERTMANAGER_TOKEN")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        given = request.args.get("token", "")
    if not given or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise ApiError(401, "missing or wrong webhook secret", field="Authorization")


@bp.post("/alertmanager")
@public
@operation(responses={200: s.Document})
def alertmanager():
    """Create or update incidents from one Alertmanager notification."""
    settings = current_settings()
    _check_secret(settings.alertmanager_token)
    if not request.is_json:
        raise ApiError(415, "send the Alertmanager JSON with Content-Type: application/json")
    try:
        payload = request.get_json(silent=True)
    except RecursionError:  # "[" * 100000: the decoder recurses once per level
        raise ApiError(400, "the body is nested too deeply", field="payload") from None
    if payload is None:
        raise ApiError(400, "the body is not valid JSON", field="payload")
    try:
        report = ingest_alertmanager(db.session(), payload=payload, settings=settings)
    except WorkflowInputError as exc:
        raise ApiError(400, str(exc), field=exc.field) from None
    return jsonify(report)
