"""One structured JSON log line per request, with a request id that is also returned as ``X-Request-Id``.

An incoming ``X-Request-Id`` (from a proxy) is kept when it is a plausible id, so one request can be
followed through the proxy's log and ours; otherwise a new one is made. Query strings are logged with their
secrets redacted (``service.platform.auth.redact_secrets``); bodies, passwords and tokens never are.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, g, request

from service.platform.auth import redact_secrets

log = logging.getLogger("precedent.requests")
REQUEST_ID_HEADER = "X-Request-Id"
_PLAUSIBLE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def request_id() -> str:
    """The current request's id."""
    return g.get("request_id") or "-"


def log_line(*, status: int, seconds: float) -> str:
    """The JSON line of the current request."""
    user = g.get("user")
    query = request.query_string.decode("utf-8", "replace")
    return json.dumps({
        "request_id": request_id(), "method": request.method, "path": request.path,
        "query": redact_secrets(query) if query else None,
        "route": request.url_rule.rule if request.url_rule is not None else None,
        "status": status, "ms": round(seconds * 1000, 1),
        "user_id": user.id if user is not None else None, "remote": request.remote_addr,
    }, ensure_ascii=False)


def _install_handler() -> None:
    """Write the request lines to stderr as they are (one JSON object a line), once per process."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


def init_app(app: Flask) -> None:
    """Give every request an id, return it, and log one JSON line when the response is ready."""
    _install_handler()

    @app.before_request
    def _start():
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _PLAUSIBLE_ID.fullmatch(given) else uuid.uuid4().hex
        g.request_log_started = time.perf_counter()

    @app.after_request
    def _finish(response):
        response.headers[REQUEST_ID_HEADER] = request_id()
        started = g.get("request_log_started")
        if started is not None:
            log.info(log_line(status=response.status_code, seconds=time.perf_counter() - started))
        return response
