"""The web UI in a real headless Chromium (Debian's, driven by Playwright), against the app served on loopback."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from kb.db import make_engine, make_session_factory, transaction
from kb.models import Client, Ticket
from service.platform.auth import create_user
from tests.browser import submit


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
    browser.goto(served_app + "/queue")
    assert "/login" in browser.url
    browser.fill("#username", "eng")
    browser.fill("#password", "correct horse battery")
    submit(browser, "#login-submit")
    assert "VPN не подключается из филиала" in browser.inner_text("#tickets")
    with browser.expect_navigation():
        browser.get_by_role("link", name="VPN не подключается из филиала", exact=True).click()
    assert browser.get_attribute("#status", "data-status") == "new"
    assert "VPN не подключается" in browser.title()


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
    browser.goto(f"{base}/language/{lang}?next=/login")
    browser.fill("#username", username)
    browser.fill("#password", "correct horse battery")
    submit(browser, "#login-submit")


def _status(browser) -> str:
    return browser.inner_text("#status")


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_engineer_works_a_ticket_from_the_triage_queue_to_resolution(browser, desk_app, lang):
    base, ids = desk_app
    words = LABELS[lang]
    _login(browser, base, "eng", lang)
    browser.goto(base + "/queue?needs_triage=1")
    assert "Принтер в бухгалтерии" in browser.inner_text("#tickets")
    browser.get_by_role("link", name="Принтер в бухгалтерии не печатает", exact=True).click()
    browser.wait_for_url("**/tickets/**")
    submit(browser, "#accept-triage")
    assert _status(browser) == words["triaged"]
    submit(browser, "#do-take")
    assert _status(browser) == words["in_progress"]
    submit(browser, f"#assign-{ids['expert']}")  # the recommended printer expert
    assert _status(browser) == words["with_specialists"]
    assert "Петрова Анна" in browser.inner_text(".ticket-head")
    browser.fill("#comment-body", "Проверить драйвер на ПК бухгалтера")
    submit(browser, "#comment-submit")
    assert "Проверить драйвер" in browser.locator(".comment.internal").first.inner_text()
    browser.fill("#time-minutes", "25")
    browser.fill("#time-note", "переустановлен драйвер")
    submit(browser, "#time-submit")
    assert words["logged"] in browser.locator(".flash").first.inner_text()
    browser.fill("#resolution", "Переустановлен драйвер принтера")
    submit(browser, "#do-resolve")
    assert _status(browser) == words["resolved"]
    journal = browser.inner_text("#journal")
    assert "{" not in journal and "Петрова Анна" in journal


def test_client_answers_the_question_and_cannot_reach_another_clients_ticket(browser, desk_app):
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
    browser.goto(f"{base}/portal/tickets/{ids['ticket']}")
    assert "С какого компьютера печатаете?" in browser.inner_text("#question")
    browser.fill("#reply-body", "С ноутбука главбуха")
    submit(browser, "#reply-submit")
    assert _status(browser) == "в работе", browser.inner_text("main")[:500]
    assert "С ноутбука главбуха" in browser.content()
    browser.goto(f"{base}/portal/tickets/{ids['theirs']}")
    assert "Страница не найдена" in browser.content() and "Чужая заявка" not in browser.content()


def test_the_workspace_reads_on_a_phone(browser, desk_app):
    base, ids = desk_app
    browser.set_viewport_size({"width": 390, "height": 844})
    _login(browser, base, "eng", "ru")
    for path in ("/queue", f"/tickets/{ids['ticket']}"):
        browser.goto(base + path)
        width = browser.evaluate("() => document.documentElement.scrollWidth")
        wide = browser.evaluate(
            "() => [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > 391)"
            ".slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className)")
        assert width <= 390, f"{path} is {width}px wide on a 390px screen: {wide}"
    assert browser.is_visible("#accept-triage")


def test_a_manager_reads_the_load_and_the_sla_dashboard(browser, desk_app):
    base, _ids = desk_app
    with transaction(make_session_factory(make_engine(_ids["url"]))) as session:
        create_user(session, username="boss", password="correct horse battery", role="manager")
    _login(browser, base, "boss", "ru")
    browser.goto(base + "/specialists")
    load = browser.inner_text("#specialists")
    assert "Иванов Иван" in load and "Петрова Анна" in load
    browser.goto(base + "/sla")
    dashboard = browser.inner_text("main")
    assert "ООО Ромашка" in dashboard and "{" not in dashboard
    browser.locator("a.badge").first.click()  # a count opens the tickets behind it
    browser.wait_for_url("**/queue?**")
    assert "sla_state=" in browser.url


def test_a_client_files_a_request_with_an_attachment_and_confirms_the_fix(browser, desk_app, tmp_path):
    from kb.models import Attachment
    from service.tickets import workflow

    base, ids = desk_app
    screenshot = tmp_path / "ошибка.png"
    screenshot.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    _login(browser, base, "romashka", "ru")
    browser.goto(base + "/portal/new")
    browser.fill("#subject", "Сканер не видит сеть")
    browser.set_input_files("#attachments", str(screenshot))
    submit(browser, "#create-ticket")
    assert "Сканер не видит сеть" in browser.inner_text("main") and "ошибка.png" in browser.inner_text("#attachments")
    created = int(browser.url.rstrip("/").rsplit("/", 1)[-1])
    session = make_session_factory(make_engine(ids["url"]))()
    try:
        for action, extra in (("triage", {"group": "printers"}), ("take", {}),
                              ("resolve", {"resolution": "Перезапущен сканер"})):
            workflow.apply_action(session, ticket_id=created, action=action, actor="eng", **extra)
        theirs = workflow.create_ticket(session, actor="operator", client_id=session.get(Ticket, ids["theirs"]).client_id,
                                        subject="Чужой скан")
        session.add(Attachment(ticket_id=theirs.id, filename="чужой.pdf", size=4, sha256="0" * 64, content=b"%PDF"))
        session.commit()
        foreign = session.query(Attachment).filter_by(ticket_id=theirs.id).one()
        foreign_url = f"{base}/tickets/{theirs.id}/attachments/{foreign.id}"
    finally:
        session.close()
    browser.goto(f"{base}/portal/tickets/{created}")
    submit(browser, "#do-confirm")
    assert _status(browser) == "закрыта"
    response = browser.request.get(foreign_url)
    assert response.status == 404 and b"%PDF" not in response.body()
