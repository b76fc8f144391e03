"""Throughput of the intake and of the outbox on a temporary SQLite store; prints JSON.

    PYTHONPATH=. python benchmarks/intake.py [--messages 200] [--alerts 100]

1. ``--messages`` e-mails (Russian and English, every fifth with a 20 KB attachment, each with a quoted reply
   and a signature to trim) sent with smtplib over one loopback connection into the real SMTP intake server
   (aiosmtpd): each becomes a ticket through the workflow (triage, SLA, audit, the requester's outbox message).
2. ``--alerts`` Alertmanager notifications (one firing alert each, 50 nodes) posted to the webhook through the
   Flask test client (the real endpoint and use case, no HTTP socket).
3. The outbox worker delivers every queued message to a loopback SMTP sink (aiosmtpd).

Triage runs in its rules-only mode (no trained model in the temporary store) and no search index is built,
so suggestions are not part of these numbers.
"""

from __future__ import annotations

import argparse
import json
import smtplib
import tempfile
import time
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

from kb.db import make_engine, make_session_factory
from kb.migrate import upgrade
from kb.models import Client, Node
from service.config import load_settings
from service.platform.outbox import deliver_due
from service.tickets.smtp_intake import intake_server
from tests.smtp_server import free_port, smtp_server

BODIES = [
    ("Не печатает принтер в бухгалтерии", "Принтер HP в бухгалтерии не печатает, горит оранжевая лампа.\n\n"
     "С уважением,\nБухгалтерия\n\nпн, 30 нояб. 2026 г. в 10:00, Служба поддержки <support@desk.ru>:\n> Добрый день"),
    ("VPN in the branch is down", "Cannot connect to the VPN from the Tver branch since 9am.\n\nBest regards,\n"
     "John\n\nOn Mon, Nov 30, 2026 at 10:00 AM Support <support@desk.example> wrote:\n> Hello"),
]


def _message(index: int) -> bytes:
    subject, body = BODIES[index % 2]
    message = EmailMessage()
    message["From"] = f"user{index}@bench.example"
    message["To"] = "support@precedent.example"
    message["Subject"] = f"{subject} ({index})"
    message["Message-ID"] = f"<bench-{index}@bench.example>"
    message.set_content(body)
    if index % 5 == 0:
        message.add_attachment(b"x" * 20_000, maintype="application", subtype="octet-stream", filename="log.bin")
    return message.as_bytes().replace(b"\n", b"\r\n")


def _alert(index: int) -> dict:
    return {"version": "4", "status": "firing", "receiver": "precedent", "alerts": [{
        "status": "firing", "labels": {"alertname": "DiskFull", "instance": f"srv-{index % 50:03d}:9100",
                                       "severity": "warning"},
        "annotations": {"summary": "Диск заполнен на 93 %"}, "startsAt": "2026-11-23T07:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z", "fingerprint": f"bench{index:06d}"}]}


def _store(url: str) -> None:
    upgrade(url)
    with make_session_factory(make_engine(url))() as session:
        client = Client(name="bench", email="it@bench.example", sla_policy="gold", email_domains=["bench.example"])
        session.add(client)
        session.flush()
        session.add_all([Node(client_id=client.id, kind="server", name=f"srv-{i:03d}", criticality="high",
                              monitored=True) for i in range(50)])
        session.commit()


def _smtp_intake(url: str, settings, count: int) -> dict:
    port = free_port()
    server = intake_server(make_session_factory(make_engine(url)), settings, host="127.0.0.1", port=port)
    server.start()
    messages = [_message(i) for i in range(count)]
    codes = []
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.ehlo()
            began = time.perf_counter()
            for raw in messages:
                smtp.mail("bench@bench.example")
                smtp.rcpt("support@precedent.example")
                codes.append(smtp.data(raw)[0])
            elapsed = time.perf_counter() - began
    finally:
        server.stop()
    return {"messages": count, "accepted": codes.count(250), "seconds": round(elapsed, 2),
            "messages_per_second": round(count / elapsed, 1)}


def _webhook(url: str, settings, count: int) -> dict:
    from service import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": url, "SETTINGS": settings})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {settings.alertmanager_token}"}
    client.post("/api/v1/webhooks/alertmanager", json=_alert(10**6), headers=headers)  # warm-up
    began = time.perf_counter()
    created = sum(client.post("/api/v1/webhooks/alertmanager", json=_alert(i), headers=headers).json["created"]
                  for i in range(count))
    elapsed = time.perf_counter() - began
    return {"alerts": count, "incidents_created": created, "seconds": round(elapsed, 2),
            "alerts_per_second": round(count / elapsed, 1)}


def _outbox(url: str, settings) -> dict:
    with smtp_server() as (inbox, port), make_session_factory(make_engine(url))() as session:
        sending = replace(settings, smtp_host="127.0.0.1", smtp_port=port)
        began = time.perf_counter()
        sent = 0
        while True:
            round_sent = deliver_due(session, settings=sending, limit=500)["sent"]
            if not round_sent:
                break
            sent += round_sent
        elapsed = time.perf_counter() - began
    return {"delivered": sent, "received": len(inbox.messages), "seconds": round(elapsed, 2),
            "messages_per_second": round(sent / elapsed, 1) if elapsed else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--alerts", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        _store(url)
        settings = replace(load_settings({}), triage_use_search=False, var_dir=Path(folder) / "var",
                           alertmanager_token="bench", smtp_host="")
        report = {"smtp_intake": _smtp_intake(url, settings, args.messages),
                  "webhook": _webhook(url, settings, args.alerts),
                  "outbox": _outbox(url, settings)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
