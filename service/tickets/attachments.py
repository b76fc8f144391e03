"""Files that come with a ticket: from an e-mail (service/tickets/email_intake.py) or the portal's request form.

Both paths store through :func:`stage_attachments` into the ``attachments`` table (the bytes live in the row,
size-limited by ``intake_max_attachment_bytes``, at most ``intake_max_attachments`` files) under a name made
safe by :func:`safe_filename`. The e-mail intake leaves an unfit file out and names it in the text (a mail
cannot be answered with a form); the portal refuses the whole request instead (:func:`check_uploads`), so the
client can fix it: besides the limits, a portal file must be of a type we accept, and its first bytes must
match the type its name claims.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from kb.models import Attachment, Comment, Ticket
from service.config import Settings
from service.tickets.errors import WorkflowInputError

#: Types a client may attach on the portal (by extension), with the content type stored and, where the format
#: has one, the signature its first bytes must carry. Executables, scripts and HTML are not among them.
ACCEPTED_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "gif": ("image/gif", (b"GIF87a", b"GIF89a")),
    "webp": ("image/webp", (b"RIFF",)),
    "pdf": ("application/pdf", (b"%PDF-",)),
    "txt": ("text/plain", ()),
    "log": ("text/plain", ()),
    "csv": ("text/csv", ()),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (b"PK\x03\x04",)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (b"PK\x03\x04",)),
    "odt": ("application/vnd.oasis.opendocument.text", (b"PK\x03\x04",)),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", (b"PK\x03\x04",)),
    "zip": ("application/zip", (b"PK\x03\x04",)),
    "eml": ("message/rfc822", ()),
}


@dataclass(frozen=True)
class ParsedAttachment:
    """One attached file."""

    filename: str
    content_type: str
    content: bytes


class AttachmentRefused(WorkflowInputError):
    """A portal file cannot be taken (too big, too many, an unaccepted type); ``field`` is "attachments"."""

    def __init__(self, message: str):
        super().__init__(message, "attachments")


def safe_filename(name: str | None) -> str:
    """A name that is safe to store and to offer for download: no directories, no control characters, no
    leading dots, whitespace collapsed, at most 255 characters; "attachment" when nothing is left."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = text.replace("/", "_").replace("\\", "_")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = " ".join(text.split()).lstrip(". ")
    return text[:255] or "attachment"


def extension(filename: str) -> str:
    """The lower-case extension of a name ("" without one)."""
    stem, dot, ext = filename.rpartition(".")
    return ext.lower() if dot and stem else ""


def check_uploads(files: Sequence[ParsedAttachment], settings: Settings) -> list[ParsedAttachment]:
    """The portal's files with safe names and the stored content type; AttachmentRefused names the first that
    is too big, one too many, of a type not accepted, or whose bytes are not what its name says."""
    if len(files) > settings.intake_max_attachments:
        raise AttachmentRefused(f"at most {settings.intake_max_attachments} files can be attached")
    checked = []
    for upload in files:
        name = safe_filename(upload.filename)
        if len(upload.content) > settings.intake_max_attachment_bytes:
            raise AttachmentRefused(f"file {name} is larger than {settings.intake_max_attachment_bytes} bytes")
        if not upload.content:
            raise AttachmentRefused(f"file {name} is empty")
        accepted = ACCEPTED_TYPES.get(extension(name))
        if accepted is None:
            raise AttachmentRefused(f"file {name} is of a type not accepted "
                                    f"(accepted: {', '.join(sorted(ACCEPTED_TYPES))})")
        content_type, signatures = accepted
        if signatures and not upload.content.startswith(signatures):
            raise AttachmentRefused(f"file {name} is not a {extension(name)} file")
        checked.append(ParsedAttachment(filename=name, content_type=content_type, content=upload.content))
    return checked


def stage_attachments(session: Session, ticket: Ticket, files: Sequence[ParsedAttachment], *,
                      comment: Comment | None, now: datetime) -> int:
    """Add ``files`` to the ticket (with the comment they came with, if any); no commit; how many."""
    for upload in files:
        session.add(Attachment(ticket_id=ticket.id, comment_id=comment.id if comment else None,
                               filename=safe_filename(upload.filename), content_type=upload.content_type[:100],
                               size=len(upload.content), sha256=hashlib.sha256(upload.content).hexdigest(),
                               content=upload.content, created_at=now))
    return len(files)
