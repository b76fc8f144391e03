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
    assert browser.find_element(By.ID, "status").get_attribute("data-status") == "new"
    assert "VPN не подключается" in browser.title


# --- the workspace, end to end ---------------------------------------------------------------------------

LABELS = {
    "ru": {"triaged": "рассортирована", "in_progress": "в работе", "with_specialists": "у специалистов",
           "resolved": "решена", "logged": "Записано: 25 мин", "not_found": "Страница не найдена"},
    "en": {"triaged": "triaged", "in_progress": "in progress", "with_specialists": "with specialists",
           "resolved": "resolved", "logged": "Logged: 25 min", "not_found": "Page not found"},
}


@pytest.fixture
def desk_app(app):
    """A client, its untriaged ticket with an unsure prediction, an engineer, a printer expert, a client user;
    and another client's ticket."""
    from datetime import UTC, datetime, timedelta

    from kb.models import Skill, Specialist, TriagePrediction

    with transaction(make_session_factory(make_engine(app.config["DATABASE_URL"]))) as session:
        client = Client(name="ООО Ромашка", calendar="24x7")
        other = Client(name="АО Вектор")
        engineer = Specialist(name="Иванов Иван", line=1, calendar="24x7")
        expert = Specialist(name="Петрова Анна", line=3, calendar="24x7", skills=[Skill(group="printers", level=5)])
        ticket = Ticket(client=client, subject="Принтер в бухгалтерии не печатает", priority="standard",
                        status="new", created_at=datetime.now(UTC) - timedelta(hours=1))
        theirs = Ticket(client=other, subject="Чужая заявка Вектора", status="new")
        session.add_all([engineer, expert, ticket, theirs])
        session.flush()
        session.add(TriagePrediction(ticket_id=ticket.id, priority="high", group="printers", group_confidence=0.31,
                                     priority_confidence=0.5, needs_human=True))
        create_user(session, username="eng", password="correct horse battery", role="engineer_l1",
                    specialist_id=engineer.id)
        create_user(session, username="romashka", password="correct horse battery", role="client",
                    client_id=client.id)
        ids = {"ticket": ticket.id, "theirs": theirs.id, "expert": expert.id, "url": app.config["DATABASE_URL"]}
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", ids
    server.shutdown()


def _login(browser, base: str, username: str, lang: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{base}/language/{lang}?next=/login")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys("correct horse battery")
    _click_and_wait(browser, "login-submit")


def _click_and_wait(browser, element_id: str) -> None:
    """Click a submit button and wait for the next page (a form post redirects to a new document)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.ID, element_id).click()
    WebDriverWait(browser, 10).until(expected_conditions.staleness_of(page))


def _status(browser) -> str:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, "status").text


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_engineer_works_a_ticket_from_the_triage_queue_to_resolution(browser, desk_app, lang):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    base, ids = desk_app
    words = LABELS[lang]
    _login(browser, base, "eng", lang)
    browser.get(base + "/queue?needs_triage=1")
    assert "Принтер в бухгалтерии" in browser.find_element(By.ID, "tickets").text
    browser.find_element(By.LINK_TEXT, "Принтер в бухгалтерии не печатает").click()
    WebDriverWait(browser, 10).until(lambda b: "/tickets/" in b.current_url)
    _click_and_wait(browser, "accept-triage")
    assert _status(browser) == words["triaged"]
    _click_and_wait(browser, "do-take")
    assert _status(browser) == words["in_progress"]
    _click_and_wait(browser, f"assign-{ids['expert']}")  # the recommended printer expert
    assert _status(browser) == words["with_specialists"]
    assert "Петрова Анна" in browser.find_element(By.CLASS_NAME, "ticket-head").text
    browser.find_element(By.ID, "comment-body").send_keys("Проверить драйвер на ПК бухгалтера")
    _click_and_wait(browser, "comment-submit")
    assert "Проверить драйвер" in browser.find_element(By.CSS_SELECTOR, ".comment.internal").text
    minutes = browser.find_element(By.ID, "time-minutes")
    minutes.send_keys("25")
    browser.find_element(By.ID, "time-note").send_keys("переустановлен драйвер")
    _click_and_wait(browser, "time-submit")
    assert words["logged"] in browser.find_element(By.CLASS_NAME, "flash").text
    browser.find_element(By.ID, "resolution").send_keys("Переустановлен драйвер принтера")
    _click_and_wait(browser, "do-resolve")
    assert _status(browser) == words["resolved"]
    journal = browser.find_element(By.ID, "journal").text
    assert "{" not in journal and "Петрова Анна" in journal


def test_client_answers_the_question_and_cannot_reach_another_clients_ticket(browser, desk_app):
    from selenium.webdriver.common.by import By

    from service.tickets import workflow

    base, ids = desk_app
    app_session = make_session_factory(make_engine(ids["url"]))()
    try:
        for action, extra in (("triage", {"group": "printers"}), ("take", {}),
                              ("request_info", {"reason": "С какого компьютера печатаете?"})):
            workflow.apply_action(app_session, ticket_id=ids["ticket"], action=action, actor="eng", **extra)
    finally:
        app_session.close()
    _login(browser, base, "romashka", "ru")
    browser.get(f"{base}/portal/tickets/{ids['ticket']}")
    assert "С какого компьютера печатаете?" in browser.find_element(By.ID, "question").text
    browser.find_element(By.ID, "reply-body").send_keys("С ноутбука главбуха")
    _click_and_wait(browser, "reply-submit")
    assert _status(browser) == "в работе", browser.find_element(By.TAG_NAME, "main").text[:500]
    assert "С ноутбука главбуха" in browser.page_source
    browser.get(f"{base}/portal/tickets/{ids['theirs']}")
    assert "Страница не найдена" in browser.page_source and "Чужая заявка" not in browser.page_source


def test_the_workspace_reads_on_a_phone(browser, desk_app):
    from selenium.webdriver.common.by import By

    base, ids = desk_app
    browser.set_window_size(390, 844)
    _login(browser, base, "eng", "ru")
    for path in ("/queue", f"/tickets/{ids['ticket']}"):
        browser.get(base + path)
        width = browser.execute_script("return document.documentElement.scrollWidth")
        wide = browser.execute_script(
            "return [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > 391)"
            ".slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className)")
        assert width <= 390, f"{path} is {width}px wide on a 390px screen: {wide}"
    assert browser.find_element(By.ID, "accept-triage").is_displayed()
