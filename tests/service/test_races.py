"""Races against a real server process (gunicorn, two workers with threads) on SQLite and PostgreSQL:
concurrent creates with one external id, and concurrent identical Alertmanager notifications."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kb.db import make_engine, make_session_factory
from kb.models import Client, Node, Ticket
from service.platform.auth import create_user, issue_token
from tests.service.tickets.test_alertmanager import notification
from tests.smtp_server import free_port

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "race-secret"
CALLERS = 8


@pytest.fixture
def store(database_url):
    """A client with a monitored server and an engineer's token; yields (url, token, session)."""
    session = make_session_factory(make_engine(database_url))()
    client = Client(name="ООО Ромашка", email="it@romashka.ru")
    session.add(client)
    session.flush()
    session.add(Node(client_id=client.id, kind="server", name="srv-1c", attributes={"ip": "10.0.0.5"}))
    user = create_user(session, username="race-engineer", password="correct horse battery", role="engineer_l2")
    token = issue_token(session, user=user)
    session.commit()
    yield database_url, token, session, client.id
    session.close()


@pytest.fixture
def server(store, tmp_path):
    """gunicorn serving the app over the store; yields its base URL."""
    url, *_ = store
    port = free_port()
    env = {**os.environ, "PRECEDENT_DATABASE_URL": url, "PRECEDENT_VAR_DIR": str(tmp_path / "var"),
           "PRECEDENT_ALERTMANAGER_TOKEN": WEBHOOK_SECRET, "PRECEDENT_SMTP_HOST": "",
           "PRECEDENT_SECRET_KEY": "race-test-secret-key-not-the-default"}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "4", "-b",
                                f"127.0.0.1:{port}", "service:create_app()"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=10)
                break
            except OSError:  # refused, or accepted by the master while the workers still boot
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start: {process.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def post(url: str, body: dict, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def together(call) -> list[tuple[int, dict]]:
    with ThreadPoolExecutor(CALLERS) as pool:
        return list(pool.map(lambda _: call(), range(CALLERS)))


def count(session, *where) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Ticket).where(*where))


def test_concurrent_creates_with_one_external_id_give_one_ticket_and_conflicts(store, server):
    _, token, session, client_id = store
    body = {"client_id": client_id, "subject": "Импорт из GLPI", "priority": "standard", "group": "printers",
            "external_id": "GLPI-4242"}
    statuses = sorted(status for status, _ in together(lambda: post(server + "/api/v1/tickets", body, token)))
    assert statuses == [201] + [409] * (CALLERS - 1)
    assert count(session, Ticket.external_id == "GLPI-4242") == 1


def test_concurrent_identical_notifications_create_exactly_one_incident(store, server):
    _, _, session, _ = store
    url = server + "/api/v1/webhooks/alertmanager"
    answers = together(lambda: post(url, notification(), WEBHOOK_SECRET))
    assert [status for status, _ in answers] == [200] * CALLERS, answers
    outcomes = sorted(answer["results"][0]["outcome"] for _, answer in answers)
    assert outcomes == ["commented"] * (CALLERS - 1) + ["created"]
    assert count(session, Ticket.channel == "monitoring") == 1
