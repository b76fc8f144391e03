"""/api/v1/docs in a real headless Chromium with every host but loopback unresolvable: Swagger UI renders the
document from the app's own files, and nothing is fetched from anywhere else.

``PRECEDENT_SCREENSHOTS=DIR`` also saves the page (and the admin page) there, for docs/screenshots/.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from kb.db import make_engine, make_session_factory, transaction
from kb.models import Client
from service.platform.auth import create_user
from tests.browser import open_page, submit

PASSWORD = "correct horse battery"


@pytest.fixture
def offline_browser(chromium):
    """A page whose browser resolves no name but loopback, and whose requests elsewhere are aborted."""
    page = open_page(chromium, 1280, 1000)
    yield page
    page.context.close()


@pytest.fixture
def served(app):
    with transaction(make_session_factory(make_engine(app.config["DATABASE_URL"]))) as session:
        client = Client(name="ООО Ромашка")
        session.add(client)
        session.flush()
        create_user(session, username="root", password=PASSWORD, role="admin")
        create_user(session, username="i.petrova", password=PASSWORD, role="engineer_l1")
        create_user(session, username="romashka.buh", password=PASSWORD, role="client", client_id=client.id)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _screenshot(page, name: str) -> None:
    folder = os.environ.get("PRECEDENT_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / name))


def test_the_offline_browser_reaches_nothing_but_loopback(offline_browser, served):
    offline_browser.goto(served + "/login")
    outcome = offline_browser.evaluate(
        "() => fetch('http://cdn.example.net/swagger-ui.js').then(() => 'fetched', () => 'refused')")
    assert outcome == "refused" and offline_browser.refused == ["http://cdn.example.net/swagger-ui.js"]


def test_docs_render_offline_from_local_assets(offline_browser, served):
    offline_browser.goto(served + "/api/v1/docs")
    offline_browser.locator(".info .title").wait_for()
    offline_browser.locator(".opblock").first.wait_for()
    assert offline_browser.locator(".opblock").count() > 30  # every operation of the document, collapsed by tag
    assert "Precedent API" in offline_browser.inner_text(".info .title")
    resources = offline_browser.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(url.startswith(served) for url in resources), resources
    assert offline_browser.refused == []  # nothing was asked of any other host
    # Swagger UI's id of POST /api/v1/triage (its operationId, dots escaped): open it, read its roles
    offline_browser.locator("xpath=//*[@id='operations-triage-triage\\.triage\\.post']//button").first.click()
    block = offline_browser.locator(".opblock.is-open").first
    block.locator(".opblock-body").first.wait_for()  # the body renders after the click: read it only then
    block.get_by_text("Request body").first.wait_for()
    opened = block.inner_text()
    block.scroll_into_view_if_needed()
    assert "Request body" in opened and "x-roles" in opened and "engineer_l1" in opened
    _screenshot(offline_browser, "api-docs.png")


def test_admin_page_in_a_browser(offline_browser, served):
    offline_browser.goto(served + "/admin/users?lang=ru")  # to the login page, and back here after it
    offline_browser.fill("#username", "root")
    offline_browser.fill("#password", PASSWORD)
    submit(offline_browser, "#login-submit")
    offline_browser.fill("#create-token [name=name]", "мониторинг")
    submit(offline_browser, "#create-token button")
    shown = offline_browser.inner_text("#new-token")
    assert "больше он показан не будет" in shown
    rows = offline_browser.inner_text("#users")
    assert "Администратор" in rows and "Пользователь клиента" in rows and "admin" not in rows.split()
    _screenshot(offline_browser, "admin-users-tokens.png")
