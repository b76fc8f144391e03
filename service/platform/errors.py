"""Errors raised at the boundary and their rendering: JSON under /api, an HTML page elsewhere."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

#: The machine-readable ``code`` of an error with no more specific one, by HTTP status (a stable contract).
STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
                415: "unsupported_media_type", 422: "invalid_field", 429: "too_many_requests",
                500: "internal_error", 503: "unavailable"}


def status_code_name(status: int) -> str:
    """The stable ``code`` of an HTTP status (``error`` for one without its own)."""
    return STATUS_CODES.get(status, "error")


class ApiError(Exception):
    """A client error with a status code, a message, a stable machine-readable ``code`` (by default the
    status's) and, where it applies, the offending field."""

    def __init__(self, status: int, message: str, *, field: str | None = None, code: str | None = None,
                 **extra: object):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.code = code or status_code_name(status)
        self.extra = extra

    def to_dict(self) -> dict:
        body: dict = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        body.update(self.extra)
        return {"error": body}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/healthz")


def _render(status: int, message: str, payload: dict | None = None):
    if _wants_json():
        return jsonify(payload or {"error": {"code": status_code_name(status), "message": message}}), status
    return render_template("web/error.html", code=status, message=message), status


def register_error_handlers(app: Flask) -> None:
    """Render every error without leaking a traceback to the caller."""

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return _render(error.status, error.message, error.to_dict())

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(error: RequestEntityTooLarge):
        # Raised by Werkzeug as soon as Content-Length (or the bytes read so far) passes the limit: the rest
        # of the body is never read.
        message = f"the request body is larger than the limit of {app.config['MAX_CONTENT_LENGTH']} bytes"
        return _render(413, message, ApiError(413, message, field="body").to_dict())

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        return _render(error.code or 500, error.description or error.name)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("unhandled error")
        return _render(500, "internal error")
