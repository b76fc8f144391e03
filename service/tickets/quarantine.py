"""The quarantine of e-mail no client could be found for: staff accept a message (it becomes a ticket of the
client they choose, and the sender's address may be remembered as that client's contact, so the next message
goes straight through) or reject it. Nothing is deleted: a rejected message stays, marked, with who did it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.models import MAX_ID, Client, ClientContact, QuarantinedMessage, Ticket
from kb.queries import audit
from service.config import Settings, current_settings
from service.platform.unit_of_work import unit_of_work
from service.tickets.email_intake import (
    ACTOR_PREFIX,
    REFERENCE,
    ParsedMessage,
    parse_message,
    stage_message_ticket,
    stage_reply,
)
from service.tickets.errors import WorkflowInputError
from service.tickets.staging import utc_now


class QuarantineNotFound(WorkflowInputError):
    """No such quarantined message."""

    def __init__(self, message_id: object):
        super().__init__(f"quarantined message {message_id} not found", "message_id")


class AlreadyDecided(WorkflowInputError):
    """The message was accepted or rejected already."""


def preview(row: QuarantinedMessage, limit: int = 300) -> str:
    """The beginning of the message's (trimmed) text, for staff to decide on."""
    try:
        text = parse_message(row.raw).body
    except WorkflowInputError:
        return ""
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def pending(session: Session, *, limit: int = 200) -> list[QuarantinedMessage]:
    """Messages waiting for a decision, oldest first (the one waiting longest matters most)."""
    return list(session.scalars(select(QuarantinedMessage).where(QuarantinedMessage.status == "pending")
                                .order_by(QuarantinedMessage.received_at, QuarantinedMessage.id).limit(limit)))


def _pending_message(session: Session, message_id: object) -> QuarantinedMessage:
    valid = isinstance(message_id, int) and not isinstance(message_id, bool) and 0 < message_id <= MAX_ID
    row = session.get(QuarantinedMessage, message_id) if valid else None
    if row is None:
        raise QuarantineNotFound(message_id)
    if row.status != "pending":
        raise AlreadyDecided(f"quarantined message {row.id} was {row.status} already", "message_id")
    return row


def accept(session: Session, *, message_id: int, client_id: object, actor: str, remember: bool = False,
           now: datetime | None = None, settings: Settings | None = None) -> dict:
    """Make the message a ticket of ``client_id`` -- or, when its subject names a ticket of that client
    (``[#123]``), a comment on it -- in one commit; ``remember`` registers the sender as the client's contact.
    WorkflowInputError names a bad client."""
    now, settings = utc_now(now), current_settings(settings)
    row = _pending_message(session, message_id)
    valid = isinstance(client_id, int) and not isinstance(client_id, bool) and 0 < client_id <= MAX_ID
    client = session.get(Client, client_id) if valid else None
    if client is None:
        raise WorkflowInputError(f"client {client_id} not found", "client_id")
    message = parse_message(row.raw)
    with unit_of_work(session) as uow:
        replied = _referenced_ticket(session, message, client)
        if replied is not None:
            outcome = stage_reply(uow, replied, message, actor=f"{ACTOR_PREFIX}{message.sender_email}", now=now,
                                  settings=settings, vouched=True)
        else:
            outcome = stage_message_ticket(uow, message, client, actor=actor, now=now, settings=settings)
        remembered = remember and _remember(session, client, message.sender_email, message.sender_name)
        row.status, row.decided_by, row.decided_at, row.ticket_id = "accepted", actor[:200], now, outcome["ticket_id"]
        audit.record(session, entity="quarantine", entity_id=row.id, action="accept", actor=actor,
                     ticket_id=outcome["ticket_id"], client_id=client.id, remembered=remembered)
    return {**outcome, "quarantine_id": row.id, "remembered": remembered}


def _referenced_ticket(session: Session, message: ParsedMessage, client: Client) -> Ticket | None:
    """The ticket of ``client`` the message's subject names, if any."""
    reference = REFERENCE.search(message.subject)
    ticket = session.get(Ticket, int(reference.group(1))) if reference else None
    return ticket if ticket is not None and ticket.client_id == client.id else None


def _remember(session: Session, client: Client, address: str, name: str | None) -> bool:
    """Register the address as the client's contact unless some client has it already."""
    address = address.strip().lower()
    taken = session.scalar(select(ClientContact.id).where(func.lower(ClientContact.email) == address))
    if taken is not None:
        return False
    session.add(ClientContact(client_id=client.id, email=address, name=name))
    return True


def reject(session: Session, *, message_id: int, actor: str, now: datetime | None = None) -> dict:
    """Mark the message rejected (kept, audited; one commit)."""
    now = utc_now(now)
    row = _pending_message(session, message_id)
    with unit_of_work(session):
        row.status, row.decided_by, row.decided_at = "rejected", actor[:200], now
        audit.record(session, entity="quarantine", entity_id=row.id, action="reject", actor=actor,
                     sender=row.sender)
    return {"outcome": "rejected", "quarantine_id": row.id}
