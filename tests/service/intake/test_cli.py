"""The commands: `precedent intake smtp` as a real process taking mail, `precedent outbox run --once|list|resend`,
and `precedent demo alert` posting to the app served on loopback."""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select
from werkzeug.serving import make_server

from kb.db import make_engine, make_session_factory
from kb.models import OutboxMessage, Ticket
from service.cli import main
from service.cli.demo import sample_alert
from tests.service.tickets.conftest import EML_DIR, build_world
from tests.smtp_server import free_port

ROOT = Path(__file__).resolve().parents[3]


def _env(url: str, **extra: str) -> dict:
    return {**os.environ, "PRECEDENT_DATABASE_URL": url, "PRECEDENT_TRIAGE_USE_SEARCH": "0", **extra}


def test_intake_smtp_command_serves_until_stopped(sqlite_url, tmp_path):
    from kb.migrate import upgrade

    upgrade(sqlite_url)
    with make_session_factory(make_engine(sqlite_url))() as session:
        build_world(session)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", "from service.cli import main; main()", "intake", "smtp",
                                "--port", str(port)],
                               cwd=ROOT, env=_env(sqlite_url, PRECEDENT_VAR_DIR=str(tmp_path / "var")),
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        with smtp:
            smtp.sendmail("p.petrov@romashka.ru", ["support@precedent.example"],
                          (EML_DIR / "01_koi8r_plain.eml").read_bytes().replace(b"\r\n", b"\n")
                          .replace(b"\n", b"\r\n"))
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert f"listening on 127.0.0.1:{port}" in stderr
    with make_session_factory(make_engine(sqlite_url))() as session:
        assert [t.subject for t in session.scalars(select(Ticket))] == ["Не печатает принтер"]


def test_intake_smtp_command_refuses_a_taken_port(sqlite_url):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["intake", "smtp", "--port", str(port)], env=_env(sqlite_url))
    assert result.exit_code == 1 and "--port" in result.stderr


def test_outbox_commands(db_session, world, flow_settings, smtp_inbox, database_url):
    from tests.service.tickets.conftest import new_ticket

    inbox, port = smtp_inbox
    new_ticket(db_session, world, flow_settings)
    env = _env(database_url, PRECEDENT_SMTP_HOST="127.0.0.1", PRECEDENT_SMTP_PORT=str(port))
    result = CliRunner().invoke(main, ["outbox", "run", "--once"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sent"] == 1 and len(inbox.messages) == 1
    message = db_session.scalar(select(OutboxMessage))
    refused = CliRunner().invoke(main, ["outbox", "resend", str(message.id)], env=env)
    assert refused.exit_code == 2 and "only a failed one" in refused.stderr
    listed = CliRunner().invoke(main, ["outbox", "list", "--status", "sent"], env=env)
    assert [m["kind"] for m in json.loads(listed.stdout)] == ["ticket_created"]


def test_demo_alert_opens_an_incident_on_the_running_service(app, app_world, sqlite_url):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        env = _env(sqlite_url, PRECEDENT_ALERTMANAGER_TOKEN="s3cret")
        result = CliRunner().invoke(main, ["demo", "alert", "--url", base], env=env)
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["node"] == "srv-1c" and report["created"] == 1  # the most critical monitored node
        ticket_id = report["results"][0]["ticket_id"]
        assert report["results"][0]["page"] == f"{base}/tickets/{ticket_id}"
        resolved = CliRunner().invoke(main, ["demo", "alert", "--url", base, "--resolved", "--fingerprint",
                                             report["fingerprint"]], env=env)
        assert json.loads(resolved.stdout)["results"][0]["outcome"] == "commented"
        wrong = CliRunner().invoke(main, ["demo", "alert", "--url", base, "--token", "nope"], env=env)
        assert wrong.exit_code == 1 and "401" in wrong.stderr
    finally:
        server.shutdown()
    nobody = CliRunner().invoke(main, ["demo", "alert", "--url", f"http://127.0.0.1:{free_port()}"], env=env)
    assert nobody.exit_code == 1 and "cannot reach" in nobody.stderr
    with make_session_factory(make_engine(sqlite_url))() as session:
        incident = session.get(Ticket, ticket_id)
        assert (incident.channel, incident.alert_severity) == ("monitoring", "critical")
        assert "Диск /var" in incident.subject


def test_the_sample_alert_is_a_valid_notification():
    from service.tickets.alertmanager import parse_notification

    [alert] = parse_notification(sample_alert("srv-1c", fingerprint="abc"))
    assert alert.labels["instance"] == "srv-1c:9100" and alert.ends_at is None
    assert parse_notification(sample_alert("srv-1c", fingerprint="abc", status="resolved"))[0].ends_at is not None


def test_flow_settings_untouched(flow_settings):
    assert replace(flow_settings).smtp_host == ""
