"""The outbox end to end: mail is written with the change, delivered by the real worker to a real SMTP server on
loopback, retried with exponential back-off while the server is down, marked failed after the last attempt and
resent from the staff page; a request that causes mail never waits for SMTP."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from kb.models import OutboxMessage
from service.platform import outbox
from service.tickets import workflow
from tests.service.signed_in import browser_for as staff_browser
from tests.service.signed_in import csrf
from tests.service.tickets.conftest import MONDAY_10_MSK, new_ticket
from tests.service.tickets.test_api import create
from tests.smtp_server import Inbox, free_port


def sink_on(port: int) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


def rows(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


@pytest.mark.parametrize(("attempts", "seconds"), [(1, 60), (2, 120), (3, 240), (5, 960), (7, 3600), (30, 3600)])
def test_back_off_doubles_up_to_the_cap(flow_settings, attempts, seconds):
    settings = replace(flow_settings, outbox_backoff_seconds=60, outbox_backoff_max_seconds=3600)
    assert outbox.backoff(attempts, settings) == timedelta(seconds=seconds)


def test_sink_down_then_up_every_message_arrives_once_in_order(db_session, world, flow_settings):
    port = free_port()
    settings = replace(flow_settings, smtp_host="127.0.0.1", smtp_port=port, smtp_timeout_seconds=2.0,
                       outbox_backoff_seconds=60, outbox_max_attempts=6)
    first = new_ticket(db_session, world, settings, subject="Первая")
    second = new_ticket(db_session, world, settings, subject="Вторая")
    for ticket in (first, second):
        workflow.add_comment(db_session, ticket_id=ticket.id, body=f"Комментарий к #{ticket.id}", actor="operator",
                             now=MONDAY_10_MSK, settings=settings)
        workflow.apply_action(db_session, ticket_id=ticket.id, action="triage", actor="operator",
                              now=MONDAY_10_MSK, settings=settings)
    written = [(m.ticket_id, m.subject) for m in rows(db_session)]
    assert len(written) == 6
    now = datetime.now(UTC)  # messages are due from the moment they were written
    down = outbox.deliver_due(db_session, settings=settings, now=now)
    assert down == {"sent": 0, "retry": 2, "failed": 0, "held": 4}  # one try per ticket; the rest wait behind
    assert outbox.deliver_due(db_session, settings=settings, now=now + timedelta(seconds=30))["retry"] == 0
    controller, inbox = sink_on(port)
    try:
        for minutes in (1, 2, 3, 4):  # the first retry is due a minute later
            outbox.deliver_due(db_session, settings=settings, now=now + timedelta(minutes=minutes))
    finally:
        controller.stop()
    assert all(m.status == "sent" for m in rows(db_session))
    received = [message["Subject"] for _, message in inbox.messages]
    assert sorted(received) == sorted(subject for _, subject in written)  # each exactly once
    for ticket in (first, second):
        mine = [s for s in received if s.startswith(f"[#{ticket.id}]")]
        assert mine == [s for t, s in written if t == ticket.id]  # in the order they were written


def test_after_the_last_attempt_a_message_is_failed_then_resent(db_session, world, flow_settings):
    port = free_port()
    settings = replace(flow_settings, smtp_host="127.0.0.1", smtp_port=port, smtp_timeout_seconds=2.0,
                       outbox_backoff_seconds=10, outbox_max_attempts=3)
    new_ticket(db_session, world, settings)
    now = datetime.now(UTC)
    outcomes = [outbox.deliver_due(db_session, settings=settings, now=now + timedelta(seconds=s))
                for s in (0, 10, 30)]
    assert [(o["retry"], o["failed"]) for o in outcomes] == [(1, 0), (1, 0), (0, 1)]
    [message] = rows(db_session)
    assert (message.status, message.attempts) == ("failed", 3) and f"127.0.0.1:{port}" in message.last_error
    assert outbox.deliver_due(db_session, settings=settings, now=now + timedelta(days=1))["sent"] == 0
    with pytest.raises(outbox.OutboxError):
        outbox.resend(db_session, message_id=message.id + 1, actor="operator")
    outbox.resend(db_session, message_id=message.id, actor="operator", now=now + timedelta(days=1))
    controller, inbox = sink_on(port)
    try:
        assert outbox.deliver_due(db_session, settings=settings, now=now + timedelta(days=1))["sent"] == 1
    finally:
        controller.stop()
    assert len(inbox.messages) == 1 and rows(db_session)[0].status == "sent"
    with pytest.raises(outbox.OutboxError):  # only a failed message is resent
        outbox.resend(db_session, message_id=message.id, actor="operator")


def test_a_worker_killed_after_its_claim_loses_nothing(db_session, world, flow_settings, smtp_inbox):
    inbox, port = smtp_inbox
    settings = replace(flow_settings, smtp_host="127.0.0.1", smtp_port=port)
    new_ticket(db_session, world, settings)
    [message] = rows(db_session)
    now = datetime.now(UTC)
    assert outbox._claim(db_session, message.id, now)  # the worker dies here, before sending
    assert not outbox._claim(db_session, message.id, now)  # and no other worker can take it meanwhile
    assert outbox.deliver_due(db_session, settings=settings, now=now)["sent"] == 0  # still claimed
    later = now + outbox.CLAIM + timedelta(seconds=1)
    assert outbox.deliver_due(db_session, settings=settings, now=later)["sent"] == 1
    assert outbox.deliver_due(db_session, settings=settings, now=later)["sent"] == 0
    assert len(inbox.messages) == 1


def test_no_smtp_host_keeps_messages_pending(db_session, world, flow_settings):
    new_ticket(db_session, world, flow_settings)
    assert "disabled" in outbox.deliver_due(db_session, settings=flow_settings)
    assert [m.status for m in rows(db_session)] == ["pending"]


def test_the_worker_thread_delivers(db_session, world, flow_settings, smtp_inbox, database_url):
    inbox, port = smtp_inbox
    settings = replace(flow_settings, smtp_host="127.0.0.1", smtp_port=port, outbox_interval_seconds=0.05)
    new_ticket(db_session, world, settings)
    worker = outbox.OutboxWorker(database_url, settings)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while not inbox.messages and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert len(inbox.messages) == 1 and inbox.messages[0][0] == ["p.petrov@romashka.ru"]


class Tarpit:
    """A TCP server that accepts connections and never answers (an SMTP server hung mid-conversation)."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.port = self.socket.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.held.append(self.socket.accept()[0])
            except OSError:
                return

    def close(self):
        for connection in self.held:
            connection.close()
        self.socket.close()


def test_a_request_that_causes_mail_never_waits_for_smtp(app, client, app_world, smtp_inbox):
    inbox, port = smtp_inbox
    tarpit = Tarpit()
    try:
        timings = {}
        for label, smtp_port in (("up", port), ("hung", tarpit.port)):
            app.config["SETTINGS"] = replace(app.config["SETTINGS"], smtp_host="127.0.0.1", smtp_port=smtp_port,
                                             smtp_timeout_seconds=5.0)
            started = time.perf_counter()
            assert create(client, app_world).status_code == 201
            timings[label] = time.perf_counter() - started
    finally:
        tarpit.close()
    # Sent inside the request, the hung server would hold it for the whole 5 s SMTP timeout.
    assert timings["hung"] < 2.5, timings
    assert inbox.messages == []  # and nothing was sent by the requests: the worker sends



def test_failed_mail_shows_on_the_staff_page_with_its_error_and_resends(app, client, app_world, app_session):
    dead = free_port()
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], smtp_host="127.0.0.1", smtp_port=dead,
                                     smtp_timeout_seconds=2.0, outbox_max_attempts=1)
    ticket_id = create(client, app_world).json["id"]
    from tests.smtp_server import deliver_app_outbox

    assert deliver_app_outbox(app)["failed"] == 1
    browser = staff_browser(app, app_session, "engineer_l1")
    page = browser.get("/outbox").get_data(as_text=True)
    assert f"#{ticket_id}" in page and "p.petrov@romashka.ru" in page and f"127.0.0.1:{dead}" in page
    [message] = rows(app_session)
    analyst = staff_browser(app, app_session, "analyst")
    analyst_page = analyst.get("/outbox").get_data(as_text=True)
    assert analyst.post(f"/outbox/{message.id}/resend", data={"csrf": csrf(analyst_page)}).status_code == 403
    response = browser.post(f"/outbox/{message.id}/resend", data={"csrf": csrf(page)})
    assert response.status_code == 302
    assert rows(app_session)[0].status == "pending"
    assert browser.post("/outbox/999999/resend", data={"csrf": csrf(page)}).status_code == 404
    assert browser.post(f"/outbox/{message.id}/resend", data={}).status_code == 400  # no CSRF token


def test_the_service_runs_the_worker_only_when_enabled(app, sqlite_url, tmp_path):
    from service import create_app

    assert "outbox_worker" not in app.extensions  # off by default and in tests
    enabled = create_app({"TESTING": True, "DATABASE_URL": sqlite_url, "VAR_DIR": str(tmp_path / "v"),
                          "OUTBOX_WORKER_ENABLED": True})
    worker = enabled.extensions["outbox_worker"]
    worker.stop()
    assert worker.rounds >= 1  # its thread ran a round at start-up
