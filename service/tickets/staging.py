"""What every staged change of a ticket shares: the instant and settings, loading the ticket, its audit event,
the SLA refresh, and the signals and requester e-mail sent once the change is committed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from kb.models import MAX_ID, Client, Comment, Specialist, Ticket
from kb.queries import audit
from service.config import Settings, current_settings
from service.platform import signals
from service.sla.service import client_calendar, client_policy, refresh_ticket_sla
from service.tickets.errors import TicketNotFound, WorkflowInputError

log = logging.getLogger(__name__)


def resolve_settings(settings: Settings | None) -> Settings:
    """``settings``, else the running app's, else the environment's."""
    return current_settings(settings)


def utc_now(now: datetime | None) -> datetime:
    """``now`` in UTC (it must carry an offset), or the current instant."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise WorkflowInputError("now must carry a UTC offset", "now")
    return now.astimezone(UTC)


def calendar_of(client: Client):
    """The calendar the client's SLA clocks run in (the policy's own calendar wins, e.g. 24x7x4)."""
    return client_calendar(client, client_policy(client))


def refresh_sla(session: Session, ticket: Ticket, now: datetime, settings: Settings) -> None:
    """Recompute the ticket's SLA due instants and state (H-sla's engine; no commit)."""
    refresh_ticket_sla(session, ticket=ticket, now=now, settings=settings)


@dataclass
class Effects:
    """What to do once the transaction is committed: signals and e-mail."""

    created: list[int] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    mails: list[Callable[[], None]] = field(default_factory=list)

    def run(self) -> None:
        sender = _signal_sender()
        for ticket_id in self.created:
            _safe(lambda tid=ticket_id: signals.ticket_created.send(sender, ticket_id=tid), "ticket_created")
        for facts in self.changes:
            _safe(lambda f=facts: signals.ticket_changed.send(sender, **f), "ticket_changed")
        for send in self.mails:
            _safe(send, "mail")


def _safe(call: Callable[[], object], what: str) -> None:
    # After the commit nothing may undo the ticket change: a failing receiver or SMTP server is logged.
    try:
        call()
    except Exception:  # noqa: BLE001 - logged, the change is already committed
        log.exception("%s failed after commit", what)


def _signal_sender():
    try:
        from flask import current_app, has_app_context

        if has_app_context():
            return current_app._get_current_object()
    except ImportError:  # pragma: no cover
        pass
    return None


def commit_and_notify(session: Session, effects: Effects) -> None:
    """Commit the use case's one transaction, then send its signals and e-mail (rolled back on failure)."""
    try:
        session.commit()
    except Exception:
        session.rollback()
        raise
    effects.run()


def audit_event(session: Session, ticket: Ticket, action: str, actor: str, now: datetime, **data: Any) -> None:
    event = audit.record(session, entity="ticket", entity_id=ticket.id, action=action, actor=actor, **data)
    event.at = now  # the use case's instant, so that replays and tests with a fixed clock stay consistent


def load_ticket(session: Session, ticket_id: int) -> Ticket:
    valid = isinstance(ticket_id, int) and not isinstance(ticket_id, bool) and 0 < ticket_id <= MAX_ID
    ticket = session.get(Ticket, ticket_id) if valid else None
    if ticket is None:
        raise TicketNotFound(ticket_id)
    return ticket


def active_specialist(session: Session, value: object, name: str) -> Specialist:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WorkflowInputError(f"{name} must be an integer", name)
    specialist = session.get(Specialist, value) if 0 < value <= MAX_ID else None
    if specialist is None:
        raise WorkflowInputError(f"specialist {value} not found", name)
    if not specialist.active:
        raise WorkflowInputError(f"specialist {value} is not active", name)
    return specialist


def mail_status(effects: Effects, settings: Settings, ticket: Ticket, *, from_status: str | None,
                 reason: str | None, actor: str) -> None:
    if not (settings.workflow_notify_requester and ticket.requester_email):
        return
    from service.tickets.notifications import notify_status_change

    facts = mail_facts(ticket)
    effects.mails.append(lambda: notify_status_change(settings, facts, from_status=from_status,
                                                       reason=reason, actor=actor))


def mail_comment(effects: Effects, settings: Settings, ticket: Ticket, comment: Comment) -> None:
    if not (settings.workflow_notify_requester and ticket.requester_email and comment.public):
        return
    if comment.author.strip().lower() == ticket.requester_email.strip().lower():
        return  # the requester wrote it: no echo
    from service.tickets.notifications import notify_comment

    facts = mail_facts(ticket)
    author, body = comment.author, comment.body
    effects.mails.append(lambda: notify_comment(settings, facts, author=author, body=body))


def mail_facts(ticket: Ticket) -> dict[str, Any]:
    """A session-independent snapshot of what the templates show (sent after the session may be gone)."""
    return {
        "id": ticket.id, "subject": ticket.subject, "status": ticket.status, "priority": ticket.priority,
        "requester_name": ticket.requester_name, "requester_email": ticket.requester_email,
        "resolution": ticket.resolution, "client_name": ticket.client.name if ticket.client else None,
        "resolution_due": ticket.resolution_due,
    }
