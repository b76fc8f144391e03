"""Read helpers of the engineers' workspace pages: specialists' load, a node's incident history, a ticket's
latest triage and its journal as plain facts (the web layer words them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from kb import vocab
from kb.models import Assignment, AuditEvent, Node, Specialist, Ticket, TriagePrediction
from ml.ranking import is_absent, works_at


@dataclass
class SpecialistLoad:
    """A specialist's open tickets against capacity, and whether the specialist works right now."""

    specialist: Specialist
    open_tickets: int
    absent: bool
    working_now: bool

    @property
    def free(self) -> int:
        return max(self.specialist.capacity - self.open_tickets, 0)

    @property
    def over_capacity(self) -> bool:
        return self.open_tickets >= max(self.specialist.capacity, 1)


def open_load(session: Session) -> dict[int, int]:
    """Open tickets per specialist (active assignments on tickets not resolved or closed)."""
    rows = session.execute(
        select(Assignment.specialist_id, func.count(func.distinct(Assignment.ticket_id)))
        .join(Ticket, Ticket.id == Assignment.ticket_id)
        .where(Assignment.released_at.is_(None), Ticket.status.in_(vocab.OPEN_STATUSES))
        .group_by(Assignment.specialist_id))
    return {specialist_id: count for specialist_id, count in rows}


def specialists_load(session: Session, *, now: datetime | None = None,
                     ids: list[int] | None = None) -> list[SpecialistLoad]:
    """Active specialists (or those of ``ids``, in that order) with their load; busiest share first otherwise."""
    now = now or datetime.now(UTC)
    query = select(Specialist).where(Specialist.active.is_(True)).options(
        selectinload(Specialist.absences), selectinload(Specialist.skills))
    if ids is not None:
        query = query.where(Specialist.id.in_(ids))
    load = open_load(session)
    result = []
    for specialist in session.scalars(query):
        absent = is_absent([(a.starts_at, a.ends_at) for a in specialist.absences], now)
        result.append(SpecialistLoad(specialist, load.get(specialist.id, 0), absent,
                                     not absent and works_at(specialist.calendar, specialist.timezone, now)))
    if ids is not None:
        order = {value: index for index, value in enumerate(ids)}
        return sorted(result, key=lambda row: order[row.specialist.id])
    return sorted(result, key=lambda row: (-row.open_tickets / max(row.specialist.capacity, 1),
                                           row.specialist.name))


def latest_prediction(session: Session, ticket_id: int) -> TriagePrediction | None:
    """The ticket's most recent triage prediction."""
    return session.scalar(select(TriagePrediction).where(TriagePrediction.ticket_id == ticket_id)
                          .order_by(TriagePrediction.at.desc(), TriagePrediction.id.desc()).limit(1))


def ticket_journal(session: Session, ticket_id: int) -> list[AuditEvent]:
    """The ticket's audit events, oldest first."""
    return list(session.scalars(select(AuditEvent).where(AuditEvent.entity == "ticket",
                                                         AuditEvent.entity_id == ticket_id)
                                .order_by(AuditEvent.at, AuditEvent.id)))


def node_with_history(session: Session, node_id: int, *, limit: int = 50) -> tuple[Node | None, list[Ticket]]:
    """A node with its dependencies, and its tickets newest first."""
    node = session.scalar(select(Node).where(Node.id == node_id).options(selectinload(Node.depends_on),
                                                                          selectinload(Node.client)))
    if node is None:
        return None, []
    tickets = session.scalars(select(Ticket).where(Ticket.nodes.any(Node.id == node_id))
                              .order_by(Ticket.created_at.desc()).limit(limit)).all()
    return node, list(tickets)


def dependents_of(session: Session, node_id: int) -> list[Node]:
    """Nodes that depend on ``node_id`` (what breaks with it)."""
    return list(session.scalars(select(Node).where(Node.depends_on.any(Node.id == node_id)).order_by(Node.name)))


def specialist_names(session: Session, ids) -> dict[int, str]:
    """Names of the specialists of ``ids``."""
    wanted = {int(value) for value in ids if isinstance(value, int) and not isinstance(value, bool)}
    if not wanted:
        return {}
    return dict(session.execute(select(Specialist.id, Specialist.name).where(Specialist.id.in_(wanted))).all())


def portal_tickets(session: Session, *, client_id: int, statuses=None, requester: tuple[str, str | None] | None = None,
                   text: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[Ticket], int]:
    """A client's tickets, newest first, and their count: only those ``requester`` (username, e-mail) asked
    for when given, of ``statuses`` when given, containing ``text`` in subject or description when given."""
    query = select(Ticket).where(Ticket.client_id == client_id)
    if statuses:
        query = query.where(Ticket.status.in_([statuses] if isinstance(statuses, str) else list(statuses)))
    if requester is not None:
        username, email = requester
        mine = [Ticket.requester_name == username]
        if email:
            mine.append(func.lower(Ticket.requester_email) == email.lower())
        query = query.where(or_(*mine))
    if text:
        from service.tickets.queue import text_conditions

        query = query.where(or_(*text_conditions([Ticket.subject, Ticket.description], text)))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.options(selectinload(Ticket.pauses))
                           .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), int(total or 0)
