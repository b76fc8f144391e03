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
  A requester address stored on some ticket is never evidence: anyone could have typed it. No match, a
  domain shared by several clients, or a reply from someone outside the ticket's client puts the whole
  message in the **quarantine** (service/tickets/quarantine.py) for staff to accept or reject: never dropped.
- The body keeps only the sender's newest text: quoted replies and the signature are trimmed
  (service/tickets/reply_text.py); attachments are stored on the ticket or with the reply's comment
  (``intake_max_attachments``, ``intake_max_attachment_bytes``: a file left out is named in the text).
- A message that cannot be read (no sender, nothing in it) is an :class:`IntakeError`; the SMTP intake
  answers it with an error code (service/tickets/smtp_intake.py), the Maildir command flags it.
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

from kb.models import Client, ClientContact, Comment, QuarantinedMessage, Ticket, User
from service.config import Settings, current_settings
from service.platform.unit_of_work import UnitOfWork, unit_of_work
from service.tickets.actions import stage_action, stage_comment
from service.tickets.attachments import ParsedAttachment, safe_filename, stage_attachments
from service.tickets.errors import WorkflowInputError
from service.tickets.reply_text import latest_reply
from service.tickets.staging import utc_now
from service.tickets.workflow import stage_ticket

REFERENCE = re.compile(r"\[#(\d{1,9})\]")
ACTOR_PREFIX = "client:"


class IntakeError(WorkflowInputError):
    """The message cannot become a ticket; ``field`` names the header or part at fault."""


class UnknownSender(IntakeError):
    """No client (or not the ticket's client) matches the sender: the message goes to the quarantine."""


@dataclass(frozen=True)
class ParsedMessage:
    """What the intake needs from one message."""

    sender_name: str | None
    sender_email: str
    subject: str
    body: str
    message_id: str | None
    sent_at: datetime | None
    attachments: tuple[ParsedAttachment, ...] = ()
    #: The text before trimming (the quarantine and the audit keep the whole message anyway).
    full_body: str = ""


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


def _attachments(message: EmailMessage) -> tuple[ParsedAttachment, ...]:
    """Every part that is a file (a filename or ``Content-Disposition: attachment``), in message order."""
    found = []
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if not filename and part.get_content_disposition() != "attachment":
            continue
        try:
            content = part.get_payload(decode=True) or b""
        except (ValueError, AssertionError):  # a broken transfer encoding: keep what the bytes are
            content = str(part.get_payload()).encode("utf-8", "replace")
        found.append(ParsedAttachment(filename=safe_filename(filename), content_type=part.get_content_type()[:100],
                                      content=content))
    return tuple(found)


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
    try:
        subject = " ".join(str(message["Subject"] or "").split())
    except (ValueError, IndexError):  # an undecodable encoded word: keep the raw header
        subject = " ".join(str(message.get_all("Subject", [""])[0]).split())
    full_body = _body(message)
    body = latest_reply(full_body)
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
                         message_id=_message_id(message), sent_at=sent_at, attachments=_attachments(message),
                         full_body=full_body)


def _message_id(message: EmailMessage) -> str | None:
    try:
        value = message["Message-ID"]
    except (ValueError, IndexError):
        return None
    return str(value).strip()[:500] if value else None


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
        raise UnknownSender(f"the sender's domain {domain} belongs to several clients ({names})", "From")
    if not clients:
        raise UnknownSender(f"no client matches the sender {sender_email} (neither a registered contact nor a "
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
    """Turn one message into a ticket (channel "email"), a comment, or a quarantined message; what happened.

    IntakeError (nothing written) only for a message that cannot be read; an unknown sender is quarantined.
    """
    message = parse_message(raw)
    now, settings = utc_now(now), current_settings(settings)
    try:
        outcome = _ingest_parsed(session, message, now=now, settings=settings)
    except UnknownSender as exc:
        outcome = quarantine(session, raw=raw, message=message, reason=str(exc), now=now)
    return {**outcome, "sender": message.sender_email, "message_id": message.message_id}


def _ingest_parsed(session: Session, message: ParsedMessage, *, now: datetime, settings: Settings) -> dict:
    actor = f"{ACTOR_PREFIX}{message.sender_email}"
    reference = REFERENCE.search(message.subject)
    ticket = session.get(Ticket, int(reference.group(1))) if reference else None
    with unit_of_work(session) as uow:
        if ticket is not None:
            outcome = stage_reply(uow, ticket, message, actor=actor, now=now, settings=settings)
        elif (duplicate := _already_ingested(session, message)) is not None:
            outcome = {"outcome": "duplicate", "ticket_id": duplicate.id}
        else:
            client = match_client(uow.session, message.sender_email)
            outcome = stage_message_ticket(uow, message, client, actor=actor, now=now, settings=settings)
    return outcome


def quarantine(session: Session, *, raw: bytes, message: ParsedMessage, reason: str, now: datetime) -> dict:
    """Keep the whole message for staff to accept or reject (one commit); a duplicate Message-ID is kept once."""
    with unit_of_work(session):
        row = QuarantinedMessage(sender=message.sender_email[:200], subject=message.subject[:500] or "-",
                                 reason=reason[:500], raw=bytes(raw), received_at=now, status="pending")
        session.add(row)
        session.flush()
    return {"outcome": "quarantined", "quarantine_id": row.id, "reason": reason}


def stage_reply(uow: UnitOfWork, ticket: Ticket, message: ParsedMessage, *, actor: str, now: datetime,
                settings: Settings, vouched: bool = False) -> dict:
    """A public comment by the sender on the ticket the subject names; a ticket waiting for the client resumes.
    ``vouched``: staff accepted the sender (from the quarantine), so it need not belong to the ticket's client."""
    if not vouched and not _sender_belongs(uow.session, ticket, message.sender_email):
        raise UnknownSender(f"the sender {message.sender_email} does not belong to the client of "
                            f"ticket #{ticket.id}", "From")
    body = message.body or message.subject
    skipped = _skipped_note(message, settings)
    comment = stage_comment(uow, ticket, author=message.sender_email, body=body + skipped, public=True,
                            actor=actor, now=now, settings=settings)
    stored = store_attachments(uow.session, ticket, message, settings, comment=comment, now=now)
    resumed = ticket.status == "waiting_for_client"
    if resumed:
        stage_action(uow, ticket, action="client_replied", actor=actor, now=now, settings=settings,
                     params={"reason": "the client answered by e-mail"})
    return {"outcome": "commented", "ticket_id": ticket.id, "resumed": resumed, "attachments": stored}


def stage_message_ticket(uow: UnitOfWork, message: ParsedMessage, client: Client, *, actor: str, now: datetime,
                         settings: Settings) -> dict:
    """A new ticket (channel "email") of ``client`` from the message, with its attachments (no commit)."""
    subject = REFERENCE.sub("", message.subject).strip() or message.subject
    description = (message.body or "") + _skipped_note(message, settings)
    ticket = stage_ticket(uow, actor=actor, now=now, settings=settings,
                          fields={"client_id": client.id, "subject": subject[:500], "description": description,
                                  "channel": "email", "requester_name": message.sender_name,
                                  "requester_email": message.sender_email,
                                  "external_id": message_external_id(message)})
    stored = store_attachments(uow.session, ticket, message, settings, comment=None, now=now)
    return {"outcome": "created", "ticket_id": ticket.id, "client_id": client.id, "attachments": stored}


def kept_attachments(message: ParsedMessage, settings: Settings) -> tuple[list[ParsedAttachment], list[str]]:
    """(the files stored, the names of those left out with why): at most ``intake_max_attachments`` files of
    at most ``intake_max_attachment_bytes`` each."""
    kept, skipped = [], []
    for attachment in message.attachments:
        if len(attachment.content) > settings.intake_max_attachment_bytes:
            skipped.append(f"{attachment.filename} ({len(attachment.content)} bytes > "
                           f"{settings.intake_max_attachment_bytes})")
        elif len(kept) >= settings.intake_max_attachments:
            skipped.append(f"{attachment.filename} (more than {settings.intake_max_attachments} files)")
        else:
            kept.append(attachment)
    return kept, skipped


def _skipped_note(message: ParsedMessage, settings: Settings) -> str:
    _, skipped = kept_attachments(message, settings)
    return ("\n\n[Вложения не сохранены / attachments not stored: " + "; ".join(skipped) + "]") if skipped else ""


def store_attachments(session: Session, ticket: Ticket, message: ParsedMessage, settings: Settings, *,
                      comment: Comment | None, now: datetime) -> int:
    """Add the message's kept attachments to the ticket (no commit); how many."""
    kept, _ = kept_attachments(message, settings)
    return stage_attachments(session, ticket, kept, comment=comment, now=now)
