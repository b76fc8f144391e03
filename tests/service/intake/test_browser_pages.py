"""The intake's staff pages in a real headless Chromium against the app served on loopback: the quarantine
(accepting a message through its form), the failed outbox, the unmatched alerts, a ticket's attachments.
With PRECEDENT_SCREENSHOTS=<folder> each page is also saved there (docs/screenshots/ was made so)."""

from __future__ import annotations

import os
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from kb.db import make_engine, make_session_factory
from kb.models import OutboxMessage, Ticket
from service.platform import outbox
from service.platform.auth import create_user
from service.tickets.alertmanager import ingest_alertmanager
from service.tickets.email_intake import ingest_email
from tests.service.tickets.test_alertmanager import notification


def _mail(sender: str, subject: str, body: str, files=()) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "support@precedent.example", subject
    message.set_content(body)
    for name, content in files:
        message.add_attachment(content, maintype="application", subtype="pdf", filename=name)
    return message.as_bytes()


@pytest.fixture
def served(app, app_world, app_session):
    settings = app.config["SETTINGS"]
    ingest_email(app_session, raw=_mail("o.novikova@gmail.example", "Не работает сканер в приёмной",
                                        "Сканер Canon не отвечает с утра.\n\nС уважением,\nОльга"), settings=settings)
    ingest_email(app_session, raw=_mail("promo@deals.example", "Скидки на картриджи", "Только сегодня"),
                 settings=settings)
    ticket = ingest_email(app_session, raw=_mail("p.petrov@romashka.ru", "Счёт не печатается",
                                                 "Во вложении скан ошибки.", files=[("ошибка.pdf", b"%PDF-1.4")]),
                          settings=settings)["ticket_id"]
    ingest_alertmanager(app_session, payload=notification(fingerprint="a1b2", instance="db-new-07.romashka.local:9100"),
                        settings=settings)
    message = app_session.scalar(select(OutboxMessage).order_by(OutboxMessage.id))
    message.status, message.attempts = "failed", 6
    message.last_error = "SMTP 127.0.0.1:25: [Errno 111] Connection refused"
    app_session.commit()
    create_user(app_session, username="eng", password="correct horse battery", role="engineer_l1")
    app_session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", ticket
    server.shutdown()


def _shoot(browser, name: str) -> None:  # noqa: F811
    folder = os.environ.get("PRECEDENT_SCREENSHOTS")
    if folder:
        browser.screenshot(path=str(Path(folder) / name))


def test_staff_work_the_intake_pages_in_a_browser(browser, served, app):  # noqa: F811
    base, ticket_id = served
    browser.set_viewport_size({"width": 1400, "height": 900})
    browser.goto(base + "/quarantine")
    browser.fill("#username", "eng")
    browser.fill("#password", "correct horse battery")
    browser.click("#login-submit")
    browser.wait_for_url("**/quarantine*")
    page = browser.content()
    assert "o.novikova@gmail.example" in page and "Скидки на картриджи" in page
    assert "Сканер Canon не отвечает с утра." in page and "С уважением" not in page
    _shoot(browser, "intake-quarantine.png")
    form = browser.locator("form[action$='/accept']").first
    form.locator("[name=client_id]").select_option(label="ООО Ромашка")
    form.locator("[name=remember]").click()
    with browser.expect_navigation():
        form.locator("button").first.click()
    assert "Создана заявка" in browser.locator(".flash").first.inner_text()
    assert "o.novikova@gmail.example" not in browser.content()

    browser.goto(base + "/outbox")
    assert "Connection refused" in browser.content() and "Отправить снова" in browser.content()
    _shoot(browser, "intake-outbox-failed.png")
    with browser.expect_navigation():
        browser.locator("xpath=//button[text()='Отправить снова']").first.click()
    assert "поставлено в очередь" in browser.locator(".flash").first.inner_text()

    browser.goto(base + "/alerts/unmatched")
    assert "db-new-07.romashka.local" in browser.content()
    _shoot(browser, "intake-unmatched-alerts.png")
    form = browser.locator("form[action$='/link']").first
    form.locator("[name=node_id]").select_option(label="ООО Ромашка: srv-1c")
    with browser.expect_navigation():
        form.locator("button").first.click()
    assert "открыт инцидент" in browser.locator(".flash").first.inner_text()

    browser.goto(f"{base}/tickets/{ticket_id}")
    link = browser.get_by_role("link", name="ошибка.pdf", exact=True)
    assert link.evaluate("a => a.href").endswith(f"/tickets/{ticket_id}/attachments/1")
    link.evaluate("a => a.scrollIntoView({block: 'center'})")
    _shoot(browser, "intake-ticket-attachments.png")
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        assert session.get(Ticket, ticket_id).requester_email == "p.petrov@romashka.ru"
        assert [m.status for m in outbox.messages(session, status="failed")] == []
