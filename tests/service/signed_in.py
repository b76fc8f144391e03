"""Test clients signed in as a new user of a role, and the CSRF token of a page (shared by the page tests)."""

from __future__ import annotations

import re
import uuid

from kb.db import make_engine, make_session_factory
from service.platform.auth import create_user, issue_token
from tests.service.web.test_views import PASSWORD, login


def browser_for(app, session, role: str = "engineer_l1", client_id: int | None = None, *,
                client_manager: bool = False):
    """A test client logged in as a new user of ``role`` (bound to ``client_id`` for client users; with
    ``client_manager``, its company's manager), the user written through ``session``."""
    username = f"{role}-{uuid.uuid4().hex[:6]}"
    user = create_user(session, username=username, password=PASSWORD, role=role, client_id=client_id)
    user.client_manager = client_manager
    session.commit()
    browser = app.test_client()
    assert login(browser, username).status_code == 302
    return browser


def signed_in(app, role: str, client_id: int | None = None, *, client_manager: bool = False):
    """:func:`browser_for` with a session of its own on the app's database."""
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        return browser_for(app, session, role, client_id, client_manager=client_manager)


def api_client_for(app, role: str, client_id: int | None = None, *, client_manager: bool = False):
    """A test client carrying the API token of a new user of ``role`` (see :func:`browser_for`)."""
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        user = create_user(session, username=f"{role}-{uuid.uuid4().hex[:6]}", password=PASSWORD, role=role,
                           client_id=client_id)
        user.client_manager = client_manager
        token = issue_token(session, user=user)
        session.commit()
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return api


def csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)
