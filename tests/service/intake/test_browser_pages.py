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
from tests.service.web.test_browser import browser  # noqa: F401 - the shared Chromium fixture


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
        browser.save_screenshot(str(Path(folder) / name))


def test_staff_work_the_intake_pages_in_a_browser(browser, served, app):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, ticket_id = served
    browser.set_window_size(1400, 900)
    browser.get(base + "/quarantine")
    browser.find_element(By.ID, "username").send_keys("eng")
    browser.find_element(By.ID, "password").send_keys("correct horse battery")
    browser.find_element(By.ID, "login-submit").click()
    WebDriverWait(browser, 10).until(lambda driver: "/quarantine" in driver.current_url)
    assert "o.novikova@gmail.example" in browser.page_source and "Скидки на картриджи" in browser.page_source
    assert "Сканер Canon не отвечает с утра." in browser.page_source and "С уважением" not in browser.page_source
    _shoot(browser, "intake-quarantine.png")
    form = browser.find_elements(By.CSS_SELECTOR, "form[action$='/accept']")[0]
    Select(form.find_element(By.NAME, "client_id")).select_by_visible_text("ООО Ромашка")
    form.find_element(By.NAME, "remember").click()
    form.find_element(By.TAG_NAME, "button").click()
    assert "Создана заявка" in browser.find_element(By.CLASS_NAME, "flash").text
    assert "o.novikova@gmail.example" not in browser.page_source

    browser.get(base + "/outbox")
    assert "Connection refused" in browser.page_source and "Отправить снова" in browser.page_source
    _shoot(browser, "intake-outbox-failed.png")
    browser.find_element(By.XPATH, "//button[text()='Отправить снова']").click()
    assert "поставлено в очередь" in browser.find_element(By.CLASS_NAME, "flash").text

    browser.get(base + "/alerts/unmatched")
    assert "db-new-07.romashka.local" in browser.page_source
    _shoot(browser, "intake-unmatched-alerts.png")
    form = browser.find_element(By.CSS_SELECTOR, "form[action$='/link']")
    Select(form.find_element(By.NAME, "node_id")).select_by_visible_text("ООО Ромашка: srv-1c")
    form.find_element(By.TAG_NAME, "button").click()
    assert "открыт инцидент" in browser.find_element(By.CLASS_NAME, "flash").text

    browser.get(f"{base}/tickets/{ticket_id}")
    link = browser.find_element(By.LINK_TEXT, "ошибка.pdf")
    assert link.get_attribute("href").endswith(f"/tickets/{ticket_id}/attachments/1")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
    _shoot(browser, "intake-ticket-attachments.png")
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        assert session.get(Ticket, ticket_id).requester_email == "p.petrov@romashka.ru"
        assert [m.status for m in outbox.messages(session, status="failed")] == []
