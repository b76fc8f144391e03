"""The SMTP intake: a real SMTP server (aiosmtpd) that turns every accepted message into a ticket, a comment or a
quarantined message, through the same code as ``precedent intake email`` (service/tickets/email_intake.py).

Replies to the sending server:

- ``250`` once the message is stored (a ticket, a comment on the ticket its subject names, a duplicate of one
  already taken, or a quarantined message from an unknown sender: never dropped);
- ``552`` for a message over ``intake_max_message_bytes`` (aiosmtpd refuses it while it is read);
- ``554 5.6.0`` for a message that cannot be read (no sender address, nothing in it): the sender's server
  bounces it to the sender, who learns what was wrong;
- ``451 4.3.0`` when the store fails (database down): the sending server keeps the message and tries again.

Each message is ingested on a worker thread with its own session, so the server's event loop keeps taking
connections while triage runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy.orm import sessionmaker

from service.config import Settings
from service.tickets.email_intake import IntakeError, ingest_email

log = logging.getLogger(__name__)


def reply_for(report: dict[str, Any]) -> str:
    """The SMTP reply line of an ingested message."""
    outcome = report["outcome"]
    if outcome == "quarantined":
        return f"250 OK: held for review by the service desk (#{report['quarantine_id']})"
    return f"250 OK: {outcome} ticket #{report['ticket_id']}"


class IntakeHandler:
    """aiosmtpd handler: each message's DATA is ingested; the reply says what became of it."""

    def __init__(self, sessions: sessionmaker, settings: Settings):
        self.sessions = sessions
        self.settings = settings
        #: The latest reports (for tests and a debugger; bounded: the server runs for months).
        self.reports: deque[dict[str, Any]] = deque(maxlen=100)

    def ingest(self, raw: bytes) -> str:
        """Ingest one message (blocking, on a worker thread); the SMTP reply."""
        with self.sessions() as session:
            try:
                report = ingest_email(session, raw=raw, settings=self.settings)
            except IntakeError as exc:
                log.info("SMTP intake refused a message: %s", exc)
                return f"554 5.6.0 Message refused: {' '.join(str(exc).split())[:300]}"
            except Exception:  # noqa: BLE001 - the store failed: the sender retries, nothing is lost
                log.exception("SMTP intake could not store a message")
                return "451 4.3.0 Temporary failure storing the message, try again later"
        self.reports.append(report)
        return reply_for(report)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        return await asyncio.get_running_loop().run_in_executor(None, self.ingest, raw)


def intake_server(sessions: sessionmaker, settings: Settings, *, host: str, port: int) -> Controller:
    """A started-on-demand aiosmtpd controller on ``host:port`` (call ``start()`` / ``stop()``)."""
    handler = IntakeHandler(sessions, settings)
    # decode_data=False keeps the raw bytes (KOI8-R, cp1251...) for the parser to decode by their charset.
    return Controller(handler, hostname=host, port=port, decode_data=False,
                      data_size_limit=settings.intake_max_message_bytes, ready_timeout=10.0)
