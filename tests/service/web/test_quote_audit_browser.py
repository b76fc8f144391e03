"""The calculator and the audit page in a real headless Chromium, against the app served on loopback."""

from __future__ import annotations

from kb.db import make_engine, make_session_factory, transaction
from service.platform.auth import create_user
from tests.browser import submit
from tests.service.directory.test_audit import plant_office
from tests.service.web.test_browser import served_app  # noqa: F401 - fixture


def _log_in(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("[name=username]", username)
    page.fill("[name=password]", "correct horse battery")
    page.locator("form button").first.click()
    page.wait_for_url(lambda url: "/login" not in url)


def test_a_visitor_prices_a_fleet_and_a_manager_makes_the_contract(browser, served_app, app):  # noqa: F811
    browser.goto(served_app + "/quote?lang=ru")
    browser.fill("#workstations", "25")
    browser.fill("#servers", "3")
    browser.select_option("#tier", "gold")
    browser.select_option("#on_site_visits", "biweekly")
    browser.fill("#prepayment_months", "13")
    submit(browser, "#calculate")
    # 25 × 1500 × 1.5 × 1.15 + 3 × 6000 × 1.5 × 1.15 = 64687.50 + 31050 = 95737.50, less 10 % for 13 months.
    assert browser.inner_text("#monthly-total").replace("\u00a0", " ") == "86 163,75"
    assert "Скидка за предоплату" in browser.content()
    assert browser.locator("#draft-contract").count() == 0

    with transaction(make_session_factory(make_engine(app.config["DATABASE_URL"]))) as session:
        create_user(session, username="mgr", password="correct horse battery", role="manager")
    _log_in(browser, served_app, "mgr")
    browser.goto(served_app + "/quote?workstations=25&servers=3&tier=gold&on_site_visits=biweekly"
                              "&prepayment_months=13&plan=subscription")
    browser.fill("#client_name", "ООО Новые горизонты")
    submit(browser, "#draft-contract button")
    assert "ООО Новые горизонты" in browser.content()
    assert browser.inner_text("#total") == "86163.75"  # the first invoice equals the quote


def test_the_audit_page_in_a_browser(browser, served_app, app):  # noqa: F811
    with transaction(make_session_factory(make_engine(app.config["DATABASE_URL"]))) as session:
        create_user(session, username="mgr2", password="correct horse battery", role="manager")
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        client_id, _ = plant_office(session)
    _log_in(browser, served_app, "mgr2")
    browser.goto(f"{served_app}/clients/{client_id}/audit?lang=en")
    cells = browser.locator("#spof tbody tr").evaluate_all("rows => rows.map(r => r.querySelector('td').innerText)")
    assert [cell.split()[0] for cell in cells] == ["gw-main", "1c-buh"]
    assert "gap: no runbook" in browser.inner_text("#failure-plans")
