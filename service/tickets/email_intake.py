"""E-mail intake: an RFC 822 message becomes a ticket, or a comment on the ticket its subject names.

Parsing uses the standard ``email`` package with the modern policy, so encoded headers (RFC 2047), any
declared charset (KOI8-R, Windows-1251, UTF-8...), multipart/alternative and HTML-only bodies all
work; HTML is reduced to text.

- A subject carrying a ticket reference such as ``[#123]`` (our notifications put it there) appends a
  public comment to ticket 123 when the sender belongs to that ticket's client; if the ticket waits for
  the client, the reply also resumes it ("client_replied").
- A new message whose Message-ID was already ingested is reported as ``duplicate`` (the ticket's
  ``external_id`` is ``email:<Message-ID>``).
- Otherwise the sender is matched to a client by what the client registered: a contact's or a client
  user's address, then the client's mail domains (``email_domains`` and the domain of its ``email``).
  A requester address stored on some ticket is never evidence: anyone could have typed it. No match, or a
  domain shared by several clients, is an :class:`IntakeError` (nothing written).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.models import Client, ClientContact, Ticket, User
from service.config import Settings, current_settings
from service.platform.unit_of_work import UnitOfWork, unit_of_work
from service.tickets.actions import stage_action, stage_comment
from service.tickets.errors import WorkflowInputError
from service.tickets.staging import utc_now
from service.tickets.workflow import stage_ticket

REFERENCE = re.compile(r"\[#(\d{1,9})\]")
ACTOR_PREFIX = "client:"


class IntakeError(WorkflowInputError):
    """The message cannot become a ticket; ``field`` names the header or part at fault."""


@dataclass(frozen=True)
class ParsedMessage:
    """What the intake needs from one message."""

    sender_name: str | None
    sender_email: str
    subject: str
    body: str
    message_id: str | None
    sent_at: datetime | None


class _TextExtractor(HTMLParser):
    """HTML to plain text: block elements become line breaks, scripts and styles vanish."""

    _BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = [" ".join(line.split()) for line in "".join(extractor.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):
        # an unknown or lying charset: decode the bytes leniently rather than lose the request
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        return html_to_text(content)
    return content.replace("\r\n", "\n").strip()


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse an RFC 822 message; IntakeError names the missing or malformed header."""
    if not isinstance(raw, bytes | bytearray) or not raw.strip():
        raise IntakeError("the message is empty", "message")
    message = message_from_bytes(bytes(raw), policy=policy.default)
    try:
        from_header = message["From"]
    except (ValueError, IndexError):
        from_header = None
    addresses = [(name, address) for name, address in getaddresses([str(from_header or "")]) if "@" in address]
    if not addresses:
        raise IntakeError("the message has no sender address (From)", "From")
    name, address = addresses[0]
    subject = " ".join(str(message["Subject"] or "").split())
    body = _body(message)
    if not subject and not body:
        raise IntakeError("the message has neither a subject nor a text body", "Subject")
    sent_at = None
    if message["Date"]:
        try:
            sent_at = parsedate_to_datetime(str(message["Date"]))
        except (TypeError, ValueError):
            sent_at = None
    return ParsedMessage(sender_name=name.strip() or None, sender_email=address.strip().lower(),
                         subject=subject or body.splitlines()[0][:200], body=body,
                         message_id=str(message["Message-ID"]).strip() if message["Message-ID"] else None,
                         sent_at=sent_at)


def _domain(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return address.rsplit("@", 1)[1].strip().lower().rstrip(">") or None


def match_client(session: Session, sender_email: str) -> Client:
    """The client a sender is registered with: a contact's or client user's address first, then one of the
    client's mail domains. Never an address some ticket stored (anyone could have typed it there)."""
    address = sender_email.strip().lower()
    contact = session.scalar(select(ClientContact).where(func.lower(ClientContact.email) == address))
    if contact is not None:
        return contact.client
    user = session.scalar(select(User).where(func.lower(User.email) == address, User.role == "client",
                                             User.active.is_(True), User.client_id.is_not(None)))
    if user is not None:
        return session.get(Client, user.client_id)
    domain = _domain(address)
    clients = [c for c in session.scalars(select(Client).order_by(Client.id)) if domain in client_domains(c)]
    if len(clients) > 1:
        names = ", ".join(c.name for c in clients)
        raise IntakeError(f"the sender's domain {domain} belongs to several clients ({names})", "From")
    if not clients:
        raise IntakeError(f"no client matches the sender {sender_email} (neither a registered contact nor a "
                          "client's mail domain)", "From")
    return clients[0]


def client_domains(client: Client) -> set[str]:
    """The mail domains registered as the client's: ``email_domains`` and the domain of its ``email``."""
    domains = {str(d).strip().lower().lstrip("@") for d in (client.email_domains or []) if str(d).strip()}
    own = _domain(client.email)
    return domains | ({own} if own else set())


def _sender_belongs(session: Session, ticket: Ticket, sender_email: str) -> bool:
    """A reply is taken from the ticket's requester (set by staff or by this intake, never by a client user)
    or from an address registered with the ticket's client."""
    if ticket.requester_email and ticket.requester_email.strip().lower() == sender_email:
        return True
    try:
        return match_client(session, sender_email).id == ticket.client_id
    except IntakeError:
        return False


def message_external_id(message: ParsedMessage) -> str | None:
    """``email:<Message-ID>`` (hashed when long): the ticket's external id, so a message is taken once."""
    if not message.message_id:
        return None
    key = message.message_id.strip("<> ")
    if len(key) > 90:
        key = hashlib.sha256(key.encode()).hexdigest()[:64]
    return f"email:{key}"


def _already_ingested(session: Session, message: ParsedMessage) -> Ticket | None:
    external_id = message_external_id(message)
    if external_id is None:
        return None
    return session.scalar(select(Ticket).where(Ticket.external_id == external_id))


def ingest_email(session: Session, *, raw: bytes, now: datetime | None = None,
                 settings: Settings | None = None) -> dict:
    """Turn one message into a ticket (channel "email") or a comment; returns what happened."""
    message = parse_message(raw)
    now, settings = utc_now(now), current_settings(settings)
    actor = f"{ACTOR_PREFIX}{message.sender_email}"
    reference = REFERENCE.search(message.subject)
    ticket = session.get(Ticket, int(reference.group(1))) if reference else None
    with unit_of_work(session) as uow:
        if ticket is not None:
            outcome = _stage_reply(uow, ticket, message, actor=actor, now=now, settings=settings)
        elif (duplicate := _already_ingested(session, message)) is not None:
            outcome = {"outcome": "duplicate", "ticket_id": duplicate.id}
        else:
            outcome = _stage_new_ticket(uow, message, actor=actor, now=now, settings=settings)
    return {**outcome, "sender": message.sender_email, "message_id": message.message_id}


def _stage_reply(uow: UnitOfWork, ticket: Ticket, message: ParsedMessage, *, actor: str, now: datetime,
                 settings: Settings) -> dict:
    """A public comment by the sender on the ticket the subject names; a ticket waiting for the client resumes."""
    if not _sender_belongs(uow.session, ticket, message.sender_email):
        raise IntakeError(f"the sender {message.sender_email} does not belong to the client of "
                          f"ticket #{ticket.id}", "From")
    body = message.body or message.subject
    stage_comment(uow, ticket, author=message.sender_email, body=body, public=True, actor=actor, now=now,
                  settings=settings)
    resumed = ticket.status == "waiting_for_client"
    if resumed:
        stage_action(uow, ticket, action="client_replied", actor=actor, now=now, settings=settings,
                     params={"reason": "the client answered by e-mail"})
    return {"outcome": "commented", "ticket_id": ticket.id, "resumed": resumed}


def _stage_new_ticket(uow: UnitOfWork, message: ParsedMessage, *, actor: str, now: datetime,
                      settings: Settings) -> dict:
    """A new ticket (channel "email") of the client the sender is registered with."""
    client = match_client(uow.session, message.sender_email)
    subject = REFERENCE.sub("", message.subject).strip() or message.subject
    ticket = stage_ticket(uow, actor=actor, now=now, settings=settings,
                          fields={"client_id": client.id, "subject": subject[:500], "description": message.body,
                                  "channel": "email", "requester_name": message.sender_name,
                                  "requester_email": message.sender_email,
                                  "external_id": message_external_id(message)})
    return {"outcome": "created", "ticket_id": ticket.id, "client_id": client.id}
