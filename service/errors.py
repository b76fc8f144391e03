"""Errors raised at the HTTP boundary and their JSON rendering."""

from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException


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


def register_error_handlers(app: Flask) -> None:
    """Render every error under /api as JSON; never leak a traceback to the caller."""

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return jsonify(error.to_dict()), error.status

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        return jsonify({"error": {"message": error.description or error.name}}), error.code

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("unhandled error")
        return jsonify({"error": {"message": "internal error"}}), 500
