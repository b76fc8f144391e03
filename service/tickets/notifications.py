"""E-mail about tickets, written to the outbox in the transaction of the change (service/platform/outbox.py):
the requester on registration, status changes and public comments; a specialist on assignment.

Messages are rendered from Jinja templates in ``service/web/templates/mail/`` in the recipient's language:
``<name>.subject.txt`` / ``<name>.txt`` in Russian, ``<name>.en.subject.txt`` / ``<name>.en.txt`` in English
(names: ``status_changed``, ``comment_added``, ``assigned``). A requester's language is the client's
(``Client.language``, else Russian for RU, BY and KZ and English elsewhere), staff's the
``mail_staff_language`` setting. A file of the same name in the ``mail_templates_dir`` folder overrides the
built-in one. Every subject carries ``[#<id>]`` so that a reply lands on the same ticket
(service/tickets/email_intake.py).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateNotFound
from sqlalchemy.orm import Session

from service.config import Settings
from service.platform import outbox

log = logging.getLogger(__name__)

BUILTIN_TEMPLATES = Path(__file__).parent.parent / "web" / "templates" / "mail"
LANGUAGES = ("ru", "en")
#: Countries whose clients get Russian mail when the client has no language of its own.
RUSSIAN_SPEAKING = frozenset({"RU", "BY", "KZ", "KG"})

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
LABELS_EN = {
    "status": {"new": "new", "triaged": "taken by the first line", "in_progress": "in progress",
               "escalated": "passed to the second line", "with_specialists": "with the specialists",
               "waiting_for_client": "waiting for your answer", "resolved": "resolved", "closed": "closed",
               "reopened": "reopened"},
    "priority": {"low": "low", "standard": "standard", "high": "high", "highest": "highest"},
}


def client_language(language: str | None, country: str | None) -> str:
    """The language of mail to a client's people: its own, else by country (Russian-speaking: ru)."""
    if language in LANGUAGES:
        return language
    return "ru" if (country or "RU").upper() in RUSSIAN_SPEAKING else "en"


@lru_cache(maxsize=8)
def template_environment(override_dir: str = "") -> Environment:
    """A Jinja environment over the override folder (if any) then the built-in mail templates."""
    loaders = [FileSystemLoader(override_dir)] if override_dir else []
    loaders.append(FileSystemLoader(str(BUILTIN_TEMPLATES)))
    # Plain-text mail: no HTML escaping; a missing variable is a template bug, not a blank.
    return Environment(loader=ChoiceLoader(loaders), autoescape=False, undefined=StrictUndefined,
                       keep_trailing_newline=True)


def _template(env: Environment, name: str, part: str, language: str):
    """``name.en.subject.txt`` for English (falling back to the Russian one), ``name.subject.txt`` for Russian."""
    suffix = f".{part}.txt" if part else ".txt"
    if language != "ru":
        try:
            return env.get_template(f"{name}.{language}{suffix}")
        except TemplateNotFound:
            pass
    return env.get_template(f"{name}{suffix}")


def render(settings: Settings, name: str, language: str = "ru", **context: Any) -> tuple[str, str]:
    """(subject, body) of template ``name`` in ``language``."""
    env = template_environment(settings.mail_templates_dir)
    ticket = context["ticket"]
    statuses = STATUS_LABELS if language == "ru" else LABELS_EN["status"]
    priorities = PRIORITY_LABELS if language == "ru" else LABELS_EN["priority"]
    context.setdefault("status_label", statuses.get(ticket["status"], ticket["status"]))
    context.setdefault("priority_label", priorities.get(ticket["priority"], ticket["priority"]))
    if context.get("from_status"):
        context["from_label"] = statuses.get(context["from_status"], context["from_status"])
    subject = _template(env, name, "subject", language).render(**context)
    body = _template(env, name, "", language).render(**context)
    return " ".join(subject.split()), body


def _queue(session: Session, settings: Settings, kind: str, name: str, ticket: dict[str, Any],
           recipients: list[str], language: str, **context: Any) -> bool:
    subject, body = render(settings, name, language, ticket=ticket, **context)
    return outbox.enqueue(session, kind=kind, recipients=recipients, subject=subject, body=body,
                          ticket_id=ticket["id"]) is not None


def queue_status_change(session: Session, settings: Settings, ticket: dict[str, Any], *,
                        from_status: str | None, reason: str | None = None, actor: str | None = None) -> bool:
    """Queue the requester's mail that the ticket was registered (``from_status`` None) or changed status."""
    return _queue(session, settings, "ticket_created" if from_status is None else "status_changed",
                  "status_changed", ticket, [ticket["requester_email"]], ticket["language"],
                  from_status=from_status, from_label=None, reason=reason, actor=actor)


def queue_comment(session: Session, settings: Settings, ticket: dict[str, Any], *, author: str, body: str) -> bool:
    """Queue the requester's mail of a public comment."""
    return _queue(session, settings, "comment_added", "comment_added", ticket, [ticket["requester_email"]],
                  ticket["language"], author=author, body=body)


def queue_assigned(session: Session, settings: Settings, ticket: dict[str, Any], *, email: str | None,
                   role: str, language: str | None = None) -> bool:
    """Queue the mail telling a specialist that the ticket is now theirs (``role`` primary or helper), in the
    language its login chose, else ``mail_staff_language``."""
    if not email:
        return False
    chosen = language if language in LANGUAGES else settings.mail_staff_language
    return _queue(session, settings, "assigned", "assigned", ticket, [email], chosen,
                  role=role)
