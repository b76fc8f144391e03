"""Liveness and readiness."""

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.platform import db
from service.platform.auth import public

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():
    """200 when the database answers, 503 otherwise."""
    try:
        db.session().execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return jsonify({"status": "error", "database": str(exc.__class__.__name__)}), 503
    return jsonify({"status": "ok", "database": "ok"})
