"""Shared fixtures: real databases (SQLite file and PostgreSQL) and an app over a temporary SQLite file."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from kb import migrate
from kb.db import make_engine, make_session_factory

POSTGRES_ADMIN_URL = os.environ.get("PRECEDENT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except OperationalError as exc:
        return f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}: {exc.orig}"


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh, migrated PostgreSQL database for this test session, dropped afterwards."""
    reason = _postgres_reachable()
    if reason:
        if os.environ.get("PRECEDENT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (PRECEDENT_REQUIRE_POSTGRES=1: CI must test PostgreSQL)")
        pytest.skip(reason)
    name = f"precedent_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    migrate.upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    """A migrated SQLite file in a temporary folder."""
    url = f"sqlite:///{tmp_path / 'precedent.sqlite3'}"
    migrate.upgrade(url)
    return url


def _truncate_all(engine) -> None:
    from kb.models import Base

    with engine.begin() as connection:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A migrated, empty database URL on each backend (the PostgreSQL one is emptied per test)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'precedent.sqlite3'}"
        migrate.upgrade(url)
        yield url
    else:
        url = request.getfixturevalue("postgres_url")
        engine = make_engine(url)
        _truncate_all(engine)
        engine.dispose()
        from service.triage.service import forget_neighbours

        forget_neighbours()  # the emptied database keeps its URL: nothing cached for it may survive
        yield url


@pytest.fixture
def db_session(database_url):
    """A session on an empty database, run on SQLite and PostgreSQL alike."""
    engine = make_engine(database_url)
    session = make_session_factory(engine)()
    yield session
    session.close()
    engine.dispose()


@pytest.fixture
def app(sqlite_url, tmp_path):
    """The Flask app over a temporary SQLite database."""
    from service import create_app

    return create_app({"TESTING": True, "DATABASE_URL": sqlite_url, "VAR_DIR": str(tmp_path / "var")})


def _authenticated_client(app, *, role: str, client_id: int | None = None):
    """A test client carrying a real API token of a new user with ``role``."""
    from service.platform.auth import create_user, issue_token

    factory = make_session_factory(make_engine(app.config["DATABASE_URL"]))
    with factory() as session:
        user = create_user(session, username=f"{role}-{uuid.uuid4().hex[:8]}", password="correct horse battery",
                           role=role, client_id=client_id)
        token = issue_token(session, user=user, name="tests")
        session.commit()
    test_client = app.test_client()
    test_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return test_client


@pytest.fixture
def client(app):
    """A test client authenticated as a second-line engineer."""
    return _authenticated_client(app, role="engineer_l2")


@pytest.fixture
def anonymous_client(app):
    return app.test_client()


@pytest.fixture
def client_for_role(app):
    """Factory: ``client_for_role("manager")`` gives a test client authenticated with that role."""
    return lambda role: _authenticated_client(app, role=role)


@pytest.fixture
def client_user_client(app):
    """Factory: ``client_user_client(client_id)`` gives a test client of a client user of that client."""
    return lambda client_id: _authenticated_client(app, role="client", client_id=client_id)


@pytest.fixture
def smtp_inbox():
    """A real SMTP server on loopback: yields (inbox, port); ``inbox.messages`` holds (recipients, message)."""
    from tests.smtp_server import smtp_server

    with smtp_server() as (inbox, port):
        yield inbox, port
