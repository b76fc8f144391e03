"""Errors raised at the boundary and their rendering: JSON under /api, an HTML page elsewhere."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge


class ApiError(Exception):
    """A client error with a status code, a message and, where it applies, the offending field."""

    def __init__(self, status: int, message: str, *, field: str | None = None, **extra: object):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.extra = extra

    def to_dict(self) -> dict:
        body: dict = {"message": self.message}
        if self.field is not None:
            body["field"] = self.field
        body.update(self.extra)
        return {"error": body}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/healthz")


def _render(status: int, message: str, payload: dict | None = None):
    if _wants_json():
        return jsonify(payload or {"error": {"message": message}}), status
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
        return _render(413, message, {"error": {"message": message, "field": "body"}})

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        return _render(error.code or 500, error.description or error.name)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("unhandled error")
        return _render(500, "internal error")
