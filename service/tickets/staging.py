"""What every staged change of a ticket shares: the instant and settings, loading the ticket, its audit event,
the SLA refresh, the signals registered on the unit of work (sent once it is committed) and the e-mail, written to
the outbox in the same transaction (service/platform/outbox.py delivers it later)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from kb.models import MAX_ID, Client, Comment, Specialist, Ticket, User
from kb.queries import audit
from service.config import Settings
from service.platform import signals
from service.platform.unit_of_work import UnitOfWork, signal_sender
from service.sla.service import client_calendar, client_policy
from service.tickets.errors import TicketNotFound, WorkflowInputError
from service.tickets.notifications import client_language, queue_assigned, queue_comment, queue_status_change


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


#: Phases of the effects after the commit, as the workflow always sent them: every ``ticket_created``, then
#: every ``ticket_changed``, then the e-mail.
CREATED, CHANGED, MAIL = 0, 1, 2


def notify_created(uow: UnitOfWork, ticket: Ticket) -> None:
    """Send ``ticket_created`` for ``ticket`` once the unit of work is committed."""
    ticket_id = ticket.id
    uow.after_commit("ticket_created", lambda: signals.ticket_created.send(signal_sender(), ticket_id=ticket_id),
                     phase=CREATED)


def notify_changed(uow: UnitOfWork, ticket: Ticket, action: str, *, from_status: str | None = None) -> None:
    """Send ``ticket_changed`` (action, from and to status) once the unit of work is committed; ``from_status``
    defaults to the status the ticket has now (a change that does not move it)."""
    facts = {"ticket_id": ticket.id, "action": action,
             "from_status": ticket.status if from_status is None else from_status, "to_status": ticket.status}
    uow.after_commit("ticket_changed", lambda: signals.ticket_changed.send(signal_sender(), **facts), phase=CHANGED)


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


def mail_status(uow: UnitOfWork, settings: Settings, ticket: Ticket, *, from_status: str | None,
                reason: str | None, actor: str) -> None:
    """Queue the requester's mail of the ticket's new status in this transaction (when enabled and known)."""
    if not (settings.workflow_notify_requester and ticket.requester_email):
        return
    uow.session.flush()  # the ticket's id and due instants
    queue_status_change(uow.session, settings, mail_facts(ticket), from_status=from_status, reason=reason,
                        actor=actor)


def mail_comment(uow: UnitOfWork, settings: Settings, ticket: Ticket, comment: Comment) -> None:
    """Queue the requester's mail of a public comment in this transaction, unless the requester wrote it."""
    if not (settings.workflow_notify_requester and ticket.requester_email and comment.public):
        return
    if comment.author.strip().lower() == ticket.requester_email.strip().lower():
        return  # the requester wrote it: no echo
    queue_comment(uow.session, settings, mail_facts(ticket), author=comment.author, body=comment.body)


def mail_new_assignees(uow: UnitOfWork, settings: Settings, ticket: Ticket, before: set[int]) -> None:
    """Queue a mail to every specialist who became an active assignee (``before``: the active ones until now)."""
    facts = None
    for assignment in ticket.assignees:
        if assignment.released_at is not None or assignment.specialist_id in before:
            continue
        specialist = uow.session.get(Specialist, assignment.specialist_id)
        facts = facts or mail_facts(ticket)
        queue_assigned(uow.session, settings, facts, email=specialist.email if specialist else None,
                       role=assignment.role, language=_specialist_language(uow.session, assignment.specialist_id))


def active_assignees(ticket: Ticket) -> set[int]:
    """Specialist ids working the ticket now."""
    return {a.specialist_id for a in ticket.assignees if a.released_at is None}


def mail_facts(ticket: Ticket) -> dict[str, Any]:
    """A session-independent snapshot of what the templates show (sent after the session may be gone)."""
    return {
        "id": ticket.id, "subject": ticket.subject, "status": ticket.status, "priority": ticket.priority,
        "requester_name": ticket.requester_name, "requester_email": ticket.requester_email,
        "resolution": ticket.resolution, "client_name": ticket.client.name if ticket.client else None,
        "resolution_due": ticket.resolution_due,
        "language": _requester_language(ticket),
    }


def _requester_language(ticket: Ticket) -> str:
    """The language of mail to the requester: the one a login with the requester's address chose, else the
    client's (service.tickets.notifications.client_language)."""
    session = object_session(ticket)
    if ticket.requester_email and session is not None:
        chosen = session.scalar(select(User.language).where(func.lower(User.email) == ticket.requester_email.lower(),
                                                            User.active.is_(True), User.language.is_not(None))
                                .limit(1))
        if chosen:
            return chosen
    return client_language(ticket.client.language, ticket.client.country) if ticket.client else "ru"


def _specialist_language(session: Session, specialist_id: int) -> str | None:
    """The language the specialist's login chose, None when it chose none."""
    return session.scalar(select(User.language).where(User.specialist_id == specialist_id, User.active.is_(True),
                                                      User.language.is_not(None)).limit(1))
