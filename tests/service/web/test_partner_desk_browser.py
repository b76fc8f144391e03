"""The partner engineer's pages in a real headless Chromium against the app served on loopback: its list by its
own SLA clock, a ticket taken and an on-site visit logged through the forms, in Russian and English.
With PRECEDENT_SCREENSHOTS=<folder> the pages are also saved there (docs/screenshots/ was made so)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from kb.db import make_engine, make_session_factory
from tests.browser import submit
from tests.service.web.partner_desk_world import INTERNAL_NOTE, OTHER_SUBJECT, PASSWORD, plant_partner_desk


@pytest.fixture
def served(app):
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        planted = plant_partner_desk(session)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", planted
    server.shutdown()


def _shoot(browser, name: str) -> None:
    folder = os.environ.get("PRECEDENT_SCREENSHOTS")
    if folder:
        browser.screenshot(path=str(Path(folder) / name), full_page=True)


def test_a_partner_engineer_works_its_tickets_in_a_browser(browser, served):
    base, d = served
    browser.set_viewport_size({"width": 1400, "height": 900})
    browser.goto(base + "/?lang=ru")
    browser.fill("#username", "partner-sib")
    browser.fill("#password", PASSWORD)
    submit(browser, "#login-submit")
    assert browser.url.endswith("/partner/tickets")
    rows = browser.locator("#tickets tbody tr").evaluate_all("rows => rows.map(r => r.dataset.ticket)")
    assert rows == [str(d.working_id), str(d.triaged_id), str(d.resolved_id)]
    assert OTHER_SUBJECT not in browser.content()
    assert [a.strip() for a in browser.locator("header nav a").all_inner_texts()] == ["Заявки компании"]
    _shoot(browser, "partner-tickets-ru.png")

    with browser.expect_navigation():
        browser.get_by_role("link", name="Не включается компьютер в филиале").click()
    assert INTERNAL_NOTE not in browser.content()
    browser.select_option("#take-specialist", str(d.engineer_id))
    submit(browser, "#do-take")
    assert browser.get_attribute("#status", "data-status") == "in_progress"
    browser.fill("#time-minutes", "45")
    browser.check("#time-on-site")
    browser.fill("#time-note", "Заменили блок питания")
    submit(browser, "#time-submit")
    assert "Записано: 45 мин" in browser.inner_text(".flash")
    assert "выполнен" in browser.inner_text("#target-onsite")
    browser.fill("#comment-body", "Компьютер включается, проверим завтра ещё раз.")
    submit(browser, "#comment-submit")
    browser.evaluate("window.scrollTo(0, 0)")
    _shoot(browser, "partner-ticket-ru.png")

    browser.goto(base + "/language/en?next=/partner/tickets")
    assert "Company tickets" in browser.inner_text("h2") and "overdue" in browser.inner_text("#tickets")
    _shoot(browser, "partner-tickets-en.png")
    browser.goto(f"{base}/partner/tickets/{d.triaged_id}")
    assert "Your SLA towards us" in browser.inner_text("#partner-sla")
    assert "met" in browser.inner_text("#target-onsite")
    _shoot(browser, "partner-ticket-en.png")
    browser.goto(f"{base}/partner/tickets/{d.other_id}")
    assert "Page not found" in browser.content()
