"""The web UI in a real headless Chromium, against the app served on loopback."""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from kb.db import make_engine, make_session_factory, transaction
from kb.models import Client, Ticket
from service.platform.auth import create_user

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        reason = "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("PRECEDENT_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


@pytest.fixture
def served_app(app):
    """The app on a real HTTP server on a free loopback port."""
    with transaction(make_session_factory(make_engine(app.config["DATABASE_URL"]))) as session:
        session.add(Ticket(client=Client(name="ООО Ромашка"), subject="VPN не подключается из филиала",
                           priority="high", status="new"))
        create_user(session, username="eng", password="correct horse battery", role="engineer_l2")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_engineer_logs_in_and_opens_a_ticket(browser, served_app):
    from selenium.webdriver.common.by import By

    browser.get(served_app + "/queue")
    assert "/login" in browser.current_url
    browser.find_element(By.ID, "username").send_keys("eng")
    browser.find_element(By.ID, "password").send_keys("correct horse battery")
    browser.find_element(By.ID, "login-submit").click()
    table = browser.find_element(By.ID, "tickets")
    assert "VPN не подключается из филиала" in table.text
    browser.find_element(By.LINK_TEXT, "VPN не подключается из филиала").click()
    assert browser.find_element(By.ID, "status").text == "new"
    assert "VPN не подключается" in browser.title
