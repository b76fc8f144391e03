"""The calculator and the audit page in a real headless Chromium, against the app served on loopback."""

from __future__ import annotations

from kb.db import make_engine, make_session_factory, transaction
from service.platform.auth import create_user
from tests.service.directory.test_audit import plant_office
from tests.service.web.test_browser import browser, served_app  # noqa: F401 - fixtures


def _log_in(driver, base: str, username: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base + "/login")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys("correct horse battery")
    driver.find_element(By.CSS_SELECTOR, "form button").click()
    WebDriverWait(driver, 10).until(lambda d: "/login" not in d.current_url)


def test_a_visitor_prices_a_fleet_and_a_manager_makes_the_contract(browser, served_app, app):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(served_app + "/quote?lang=ru")
    browser.find_element(By.ID, "workstations").send_keys("25")
    browser.find_element(By.ID, "servers").send_keys("3")
    Select(browser.find_element(By.ID, "tier")).select_by_value("gold")
    Select(browser.find_element(By.ID, "on_site_visits")).select_by_value("biweekly")
    prepayment = browser.find_element(By.ID, "prepayment_months")
    prepayment.clear()
    prepayment.send_keys("13")
    browser.find_element(By.ID, "calculate").click()
    # 25 × 1500 × 1.5 × 1.15 + 3 × 6000 × 1.5 × 1.15 = 64687.50 + 31050 = 95737.50, less 10 % for 13 months.
    assert browser.find_element(By.ID, "monthly-total").text.replace("\u00a0", " ") == "86 163,75"
    assert "Скидка за предоплату" in browser.page_source
    assert not browser.find_elements(By.ID, "draft-contract")

    with transaction(make_session_factory(make_engine(app.config["DATABASE_URL"]))) as session:
        create_user(session, username="mgr", password="correct horse battery", role="manager")
    _log_in(browser, served_app, "mgr")
    browser.get(served_app + "/quote?workstations=25&servers=3&tier=gold&on_site_visits=biweekly"
                              "&prepayment_months=13&plan=subscription")
    browser.find_element(By.ID, "client_name").send_keys("ООО Новые горизонты")
    browser.find_element(By.CSS_SELECTOR, "#draft-contract button").click()
    assert "ООО Новые горизонты" in browser.page_source
    assert browser.find_element(By.ID, "total").text == "86163.75"  # the first invoice equals the quote


def test_the_audit_page_in_a_browser(browser, served_app, app):  # noqa: F811
    from selenium.webdriver.common.by import By

    with transaction(make_session_factory(make_engine(app.config["DATABASE_URL"]))) as session:
        create_user(session, username="mgr2", password="correct horse battery", role="manager")
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        client_id, _ = plant_office(session)
    _log_in(browser, served_app, "mgr2")
    browser.get(f"{served_app}/clients/{client_id}/audit?lang=en")
    rows = browser.find_elements(By.CSS_SELECTOR, "#spof tbody tr")
    assert [row.find_element(By.TAG_NAME, "td").text.split()[0] for row in rows] == ["gw-main", "1c-buh"]
    assert "gap: no runbook" in browser.find_element(By.ID, "failure-plans").text
