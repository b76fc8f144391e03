"""The outbox: every outgoing e-mail is a row written in the transaction of the change that caused it, and a
worker delivers it later -- a request never waits for SMTP, and a message is never lost with a failed send.

::

    with unit_of_work(session) as uow:
        ticket.status = "resolved"
        outbox.enqueue(session, kind="status_changed", recipients=[...], subject=..., body=...)
    # committed together: the change and its message, or neither

The worker (:func:`deliver_due`, run by ``precedent outbox run`` and by :class:`OutboxWorker` inside the web
service when ``outbox_worker_enabled``) takes due messages oldest first. Before sending it *claims* a message
by moving its ``next_attempt_at`` past the claim time in its own commit (only one worker wins the update), so
a worker killed between the claim and the send leaves the message to be taken again once the claim lapses.
A failed attempt waits ``outbox_backoff_seconds * 2**(attempts-1)`` (capped) before the next one; after
``outbox_max_attempts`` the message is ``failed`` and shows on the staff page ``/outbox`` with its error and
a resend button (:func:`resend`). Messages of one ticket go out in the order they were written: while an
earlier one waits for a retry, the later ones wait too.

Delivery is at least once: a worker killed after the server accepted a message but before it recorded that
sends it again. A message with no SMTP host configured stays pending (nothing is sent, nothing is lost).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kb.models import OutboxMessage
from kb.queries import audit
from service.config import Settings
from service.platform.mail import MailError, send_mail
from service.platform.periodic import PeriodicWorker
from service.platform.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

#: How long a claimed message is left to the worker that claimed it before another may take it.
CLAIM = timedelta(minutes=5)
STATUSES = ("pending", "sent", "failed")


class OutboxError(ValueError):
    """A resend of a message that is not there or not failed; ``field`` names the argument."""

    def __init__(self, message: str, field: str = "message_id", status: int = 409):
        super().__init__(message)
        self.field = field
        self.status = status


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def enqueue(session: Session, *, kind: str, recipients: list[str] | tuple[str, ...], subject: str, body: str,
            html: str | None = None, ticket_id: int | None = None,
            now: datetime | None = None) -> OutboxMessage | None:
    """Add one message to the caller's transaction (no commit); None when there is nobody to send it to."""
    addresses = sorted({a.strip() for a in recipients if a and a.strip()})
    if not addresses:
        return None
    at = _now(now)
    message = OutboxMessage(kind=kind, ticket_id=ticket_id, recipients=addresses, subject=subject[:500],
                            body=body, html=html, status="pending", attempts=0, next_attempt_at=at,
                            created_at=at)
    session.add(message)
    return message


def backoff(attempts: int, settings: Settings) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: base * 2**(attempts-1), at most the cap."""
    seconds = settings.outbox_backoff_seconds * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, settings.outbox_backoff_max_seconds))


def _due(session: Session, now: datetime, limit: int) -> list[int]:
    return list(session.scalars(select(OutboxMessage.id).where(
        OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id).limit(limit)))


def _waiting_tickets(session: Session, now: datetime) -> set[int]:
    """Tickets with a message that waits for its retry: their later messages wait behind it."""
    rows = session.scalars(select(OutboxMessage.ticket_id).where(
        OutboxMessage.status == "pending", OutboxMessage.next_attempt_at > now,
        OutboxMessage.ticket_id.is_not(None)))
    return set(rows)


def _claim(session: Session, message_id: int, now: datetime) -> bool:
    """Take the message for this worker (one commit); False when another worker took it first."""
    with unit_of_work(session):
        taken = session.execute(update(OutboxMessage).where(
            OutboxMessage.id == message_id, OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= now).values(next_attempt_at=now + CLAIM))
    return taken.rowcount == 1


def _attempt(session: Session, message_id: int, *, settings: Settings, now: datetime) -> str:
    """Send one claimed message and record the outcome (one commit): sent, retry or failed."""
    message = session.get(OutboxMessage, message_id)
    error = None
    try:
        send_mail(settings, message.recipients, message.subject, message.body, html=message.html)
    except MailError as exc:
        error = str(exc)[:2000]
    with unit_of_work(session):
        message.attempts += 1
        if error is None:
            message.status, message.sent_at, message.last_error = "sent", _now(None), None
            return "sent"
        message.last_error = error
        if message.attempts >= settings.outbox_max_attempts:
            message.status = "failed"
            log.warning("outbox message %s failed for good after %s attempts: %s", message.id,
                        message.attempts, error)
            return "failed"
        message.next_attempt_at = now + backoff(message.attempts, settings)
        return "retry"


def deliver_due(session: Session, *, settings: Settings, now: datetime | None = None,
                limit: int = 200) -> dict[str, Any]:
    """Deliver the due messages, oldest first (each claimed, sent and recorded on its own); the counts."""
    now = _now(now)
    counts = {"sent": 0, "retry": 0, "failed": 0, "held": 0}
    if not settings.smtp_host:
        return {**counts, "disabled": "no smtp_host: messages stay pending"}
    blocked = _waiting_tickets(session, now)
    for message_id in _due(session, now, limit):
        ticket_id = session.get(OutboxMessage, message_id).ticket_id
        if ticket_id is not None and ticket_id in blocked:
            counts["held"] += 1
            continue
        if not _claim(session, message_id, now):
            continue
        outcome = _attempt(session, message_id, settings=settings, now=now)
        counts[outcome] += 1
        if outcome == "retry" and ticket_id is not None:
            blocked.add(ticket_id)
    return counts


def resend(session: Session, *, message_id: int, actor: str, now: datetime | None = None) -> OutboxMessage:
    """Put a failed message back in line with a fresh set of attempts (audited, one commit)."""
    message = session.get(OutboxMessage, message_id) if isinstance(message_id, int) else None
    if message is None:
        raise OutboxError(f"outbox message {message_id} not found", status=404)
    if message.status != "failed":
        raise OutboxError(f"outbox message {message_id} is {message.status}, only a failed one is resent")
    with unit_of_work(session):
        message.status, message.attempts, message.next_attempt_at = "pending", 0, _now(now)
        audit.record(session, entity="outbox", entity_id=message.id, action="resend", actor=actor,
                     last_error=message.last_error)
    return message


def messages(session: Session, *, status: str, limit: int = 200) -> list[OutboxMessage]:
    """Messages of one status, newest first (the staff page)."""
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.status == status)
                                .order_by(OutboxMessage.id.desc()).limit(limit)))


class OutboxWorker(PeriodicWorker):
    """Delivers the outbox every ``outbox_interval_seconds`` in a daemon thread until :meth:`stop`."""

    thread_name = "outbox-worker"

    def interval_seconds(self) -> float:
        return max(self.settings.outbox_interval_seconds, 0.05)

    def round(self, session) -> dict[str, Any]:
        return deliver_due(session, settings=self.settings)


def init_app(app) -> OutboxWorker | None:
    """Start the worker thread when ``outbox_worker_enabled`` or the SLA scheduler is enabled (a service that
    runs its periodic work in-process delivers its mail too); kept in ``app.extensions['outbox_worker']``."""
    settings: Settings = app.config["SETTINGS"]
    scheduler = app.config.get("SLA_SCHEDULER_ENABLED", settings.sla_scheduler_enabled)
    if not app.config.get("OUTBOX_WORKER_ENABLED", settings.outbox_worker_enabled or scheduler):
        return None
    worker = OutboxWorker(app.config["DATABASE_URL"], settings)
    app.extensions["outbox_worker"] = worker
    worker.start()
    return worker
