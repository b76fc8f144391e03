"""Signed-in test clients for the intake's staff and portal pages, and the CSRF token of a page."""

from __future__ import annotations

import re
import uuid

from service.platform.auth import create_user
from tests.service.web.test_views import PASSWORD, login


def browser_for(app, session, role: str = "engineer_l1", client_id: int | None = None):
    """A test client logged in as a new user of ``role`` (bound to ``client_id`` for client users)."""
    username = f"{role}-{uuid.uuid4().hex[:6]}"
    create_user(session, username=username, password=PASSWORD, role=role, client_id=client_id)
    session.commit()
    browser = app.test_client()
    assert login(browser, username).status_code == 302
    return browser


def csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)
