"""E-mail to the requester when a ticket is registered, changes status or gets a public comment.

Messages are rendered from Jinja templates in ``service/web/templates/mail/``
(``status_changed.subject.txt``, ``status_changed.txt``, ``comment_added.subject.txt``,
``comment_added.txt``); a file of the same name in the folder of the ``mail_templates_dir`` setting
overrides the built-in one. Every subject carries ``[#<id>]`` so that a reply lands on the same ticket
(see service/tickets/email_intake.py). Sending goes through service/platform/mail.py (SMTP settings in
service/config.py).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from service.config import Settings
from service.platform.mail import MailError, send_mail

log = logging.getLogger(__name__)

BUILTIN_TEMPLATES = Path(__file__).parent.parent / "web" / "templates" / "mail"

STATUS_LABELS = {
    "new": "новая",
    "triaged": "принята в работу первой линией",
    "in_progress": "в работе",
    "escalated": "передана второй линии",
    "with_specialists": "в работе у профильных специалистов",
    "waiting_for_client": "ожидает ответа клиента",
    "resolved": "решена",
    "closed": "закрыта",
    "reopened": "открыта повторно",
}
PRIORITY_LABELS = {"low": "низкий", "standard": "стандартный", "high": "высокий", "highest": "наивысший"}


@lru_cache(maxsize=8)
def template_environment(override_dir: str = "") -> Environment:
    """A Jinja environment over the override folder (if any) then the built-in mail templates."""
    loaders = [FileSystemLoader(override_dir)] if override_dir else []
    loaders.append(FileSystemLoader(str(BUILTIN_TEMPLATES)))
    # Plain-text mail: no HTML escaping; a missing variable is a template bug, not a blank.
    return Environment(loader=ChoiceLoader(loaders), autoescape=False, undefined=StrictUndefined,
                       keep_trailing_newline=True)


def render(settings: Settings, name: str, **context: Any) -> tuple[str, str]:
    """(subject, body) of template ``name`` (``status_changed`` or ``comment_added``)."""
    env = template_environment(settings.mail_templates_dir)
    ticket = context["ticket"]
    context.setdefault("status_label", STATUS_LABELS.get(ticket["status"], ticket["status"]))
    context.setdefault("priority_label", PRIORITY_LABELS.get(ticket["priority"], ticket["priority"]))
    subject = env.get_template(f"{name}.subject.txt").render(**context)
    body = env.get_template(f"{name}.txt").render(**context)
    return " ".join(subject.split()), body


def _send(settings: Settings, ticket: dict[str, Any], name: str, **context: Any) -> bool:
    subject, body = render(settings, name, ticket=ticket, **context)
    try:
        return send_mail(settings, ticket["requester_email"], subject, body)
    except MailError:
        log.exception("could not e-mail the requester of ticket %s", ticket["id"])
        return False


def notify_status_change(settings: Settings, ticket: dict[str, Any], *, from_status: str | None,
                         reason: str | None = None, actor: str | None = None) -> bool:
    """E-mail the requester that the ticket was registered (``from_status`` None) or changed status."""
    from_label = STATUS_LABELS.get(from_status, from_status) if from_status else None
    return _send(settings, ticket, "status_changed", from_status=from_status, from_label=from_label,
                 reason=reason, actor=actor)


def notify_comment(settings: Settings, ticket: dict[str, Any], *, author: str, body: str) -> bool:
    """E-mail the requester a public comment."""
    return _send(settings, ticket, "comment_added", author=author, body=body)
