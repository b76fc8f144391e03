"""Prometheus metrics (the OpenAPI document is service.api.openapi)."""

from __future__ import annotations

import hmac
import ipaddress
import os
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from service.config import current_settings
from service.platform import db
from service.platform import metrics as app_metrics
from service.platform.auth import STAFF_ROLES, public, user_for_token
from service.platform.errors import ApiError

bp = Blueprint("meta", __name__)

def init_metrics(app: Flask) -> None:
    """Count requests and time them per route (one registry per app so tests stay independent); count
    stored triage predictions and suggestion verdicts (service.platform.metrics)."""
    registry = CollectorRegistry()
    requests_total = Counter(
        "precedent_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "precedent_http_request_seconds", "HTTP request latency", ["method", "route"], registry=registry,
        buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    )
    app.extensions["precedent.metrics_registry"] = registry
    app_metrics.install_session_events()

    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response):
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        requests_total.labels(request.method, route, str(response.status_code)).inc()
        if "request_started" in g:
            latency.labels(request.method, route).observe(time.perf_counter() - g.request_started)
        return response


#: Headers a reverse proxy adds: a request carrying one came from elsewhere, whatever its socket address.
_PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def _from_loopback() -> bool:
    """Whether the request came straight from this host (not relayed by a proxy on it)."""
    if any(name in request.headers for name in _PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def _check_metrics_access() -> None:
    """Metrics are for loopback scrapers, the PRECEDENT_METRICS_TOKEN bearer and staff API tokens."""
    if _from_loopback():
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "metrics need 'Authorization: Bearer <token>' (or a scrape from loopback)",
                       field="Authorization")
    expected = current_settings().metrics_token
    if expected and hmac.compare_digest(token.encode(), expected.encode()):
        return
    user = user_for_token(db.session(), token)
    if user is None:
        raise ApiError(401, "unknown or revoked token", field="Authorization")
    if user.role not in STAFF_ROLES:
        raise ApiError(403, "metrics are for staff")


@bp.get("/metrics")
@public  # guarded by _check_metrics_access: also a scraper's own token, not only users' tokens
def metrics():
    """Prometheus exposition; under gunicorn set PROMETHEUS_MULTIPROC_DIR to aggregate the workers."""
    _check_metrics_access()
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
        registries = [counted]
    else:
        registries = [current_app.extensions["precedent.metrics_registry"], app_metrics.REGISTRY]
    state = CollectorRegistry()
    state.register(app_metrics.StateCollector(db.session_factory(), current_settings().index_dir))
    body = b"".join(generate_latest(registry) for registry in (*registries, state))
    return Response(body, mimetype=CONTENT_TYPE_LATEST)
