"""Outgoing e-mail over SMTP, shared by SLA and workflow notifications.

Settings (kb/config.py): ``smtp_host`` (empty: sending is switched off and the message is only logged),
``smtp_port``, ``smtp_username`` / ``smtp_password`` (login when set), ``smtp_starttls``, ``mail_from``,
``smtp_timeout_seconds``.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from email.message import EmailMessage

from service.config import Settings

log = logging.getLogger(__name__)


class MailError(RuntimeError):
    """The SMTP server refused the message or could not be reached."""


def build_message(settings: Settings, to: str | Iterable[str], subject: str, body: str, *,
                  html: str | None = None) -> EmailMessage:
    """A UTF-8 message from ``settings.mail_from``; ``html`` adds an HTML alternative."""
    recipients = [to] if isinstance(to, str) else list(to)
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def send_mail(settings: Settings, to: str | Iterable[str], subject: str, body: str, *,
              html: str | None = None) -> bool:
    """Send one message; False (logged) when no SMTP host is configured or there is no recipient.

    Raises MailError when the server fails, so that callers can retry later.
    """
    recipients = [to] if isinstance(to, str) else [address for address in to if address]
    recipients = [address for address in recipients if address]
    if not recipients:
        return False
    if not settings.smtp_host:
        log.info("mail not sent (no smtp_host): to=%s subject=%s", recipients, subject)
        return False
    message = build_message(settings, recipients, subject, body, html=html)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}") from exc
    return True
