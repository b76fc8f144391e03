"""Per-request database session bound to the application's engine."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from kb.db import make_engine, make_session_factory


def init_app(app: Flask) -> None:
    """Create the app's engine and session factory; close the request session at teardown."""
    engine = make_engine(app.config["DATABASE_URL"], pool_pre_ping=True)
    app.extensions["precedent.engine"] = engine
    app.extensions["precedent.sessions"] = make_session_factory(engine)

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        db_session = g.pop("db_session", None)
        if db_session is not None:
            if exc is not None:
                db_session.rollback()
            db_session.close()


def session() -> Session:
    """The current request's session (created on first use)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["precedent.sessions"]()
    return g.db_session


def session_factory():
    """The app's session factory, for work outside a request (scheduler, CLI)."""
    return current_app.extensions["precedent.sessions"]
