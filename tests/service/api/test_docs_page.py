"""/api/v1/docs in a real headless Chromium with every host but loopback unresolvable: Swagger UI renders the
document from the app's own files, and nothing is fetched from anywhere else.

``PRECEDENT_SCREENSHOTS=DIR`` also saves the page (and the admin page) there, for docs/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from kb.db import make_engine, make_session_factory, transaction
from kb.models import Client
from service.platform.auth import create_user

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
PASSWORD = "correct horse battery"


@pytest.fixture
def offline_browser():
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
                 "--disable-dev-shm-usage", "--window-size=1280,1000",
                 # the network is "blocked": no name but the loopback address resolves
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(10)
    yield driver
    driver.quit()


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


def _screenshot(driver, name: str) -> None:
    folder = os.environ.get("PRECEDENT_SCREENSHOTS")
    if folder:
        driver.save_screenshot(str(Path(folder) / name))


def test_docs_render_offline_from_local_assets(offline_browser, served):
    from selenium.webdriver.common.by import By

    offline_browser.get(served + "/api/v1/docs")
    operations = offline_browser.find_elements(By.CSS_SELECTOR, ".opblock")
    assert len(operations) > 30  # every operation of the document, collapsed by tag
    assert "Precedent API" in offline_browser.find_element(By.CSS_SELECTOR, ".info .title").text
    resources = offline_browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(url.startswith(served) for url in resources), resources
    # Swagger UI's id of POST /api/v1/triage (its operationId, dots escaped): open it, read its roles
    offline_browser.find_element(By.XPATH, "//*[@id='operations-triage-triage\\.triage\\.post']//button").click()
    block = offline_browser.find_element(By.CSS_SELECTOR, ".opblock.is-open")
    opened = block.text
    offline_browser.execute_script("arguments[0].scrollIntoView()", block)
    assert "Request body" in opened and "x-roles" in opened and "engineer_l1" in opened
    _screenshot(offline_browser, "api-docs.png")


def test_admin_page_in_a_browser(offline_browser, served):
    from selenium.webdriver.common.by import By

    offline_browser.get(served + "/admin/users?lang=ru")  # to the login page, and back here after it
    offline_browser.find_element(By.ID, "username").send_keys("root")
    offline_browser.find_element(By.ID, "password").send_keys(PASSWORD)
    offline_browser.find_element(By.ID, "login-submit").click()
    form = offline_browser.find_element(By.ID, "create-token")
    form.find_element(By.NAME, "name").send_keys("мониторинг")
    form.find_element(By.TAG_NAME, "button").click()
    shown = offline_browser.find_element(By.ID, "new-token").text
    assert "больше он показан не будет" in shown
    rows = offline_browser.find_element(By.ID, "users").text
    assert "Администратор" in rows and "Пользователь клиента" in rows and "admin" not in rows.split()
    _screenshot(offline_browser, "admin-users-tokens.png")
