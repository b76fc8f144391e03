"""Ticket queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from kb.models import Ticket


def get_ticket(session: Session, *, ticket_id: int) -> Ticket | None:
    """One ticket with its nodes, assignees, comments and time entries loaded."""
    return session.scalar(
        select(Ticket)
        .where(Ticket.id == ticket_id)
        .options(
            selectinload(Ticket.nodes),
            selectinload(Ticket.assignees),
            selectinload(Ticket.comments),
            selectinload(Ticket.time_entries),
            selectinload(Ticket.pauses),
        )
    )


def get_ticket_by_external_id(session: Session, *, external_id: str) -> Ticket | None:
    """The ticket imported under ``external_id``, if any."""
    return session.scalar(select(Ticket).where(Ticket.external_id == external_id))


def list_tickets(
    session: Session,
    *,
    client_id: int | None = None,
    status: str | Sequence[str] | None = None,
    group: str | None = None,
    priority: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
    ticket_ids=None,
) -> tuple[list[Ticket], int]:
    """Tickets matching the filters, newest first, and the total count before paging; ``ticket_ids`` (ids
    or a select of ids) limits them further."""
    query = select(Ticket)
    if ticket_ids is not None:
        query = query.where(Ticket.id.in_(ticket_ids))
    if client_id is not None:
        query = query.where(Ticket.client_id == client_id)
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        query = query.where(Ticket.status.in_(statuses))
    if group is not None:
        query = query.where(Ticket.group == group)
    if priority is not None:
        query = query.where(Ticket.priority == priority)
    if created_from is not None:
        query = query.where(Ticket.created_at >= created_from)
    if created_to is not None:
        query = query.where(Ticket.created_at < created_to)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(
        query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), int(total or 0)


def resolved_tickets(session: Session, *, since_id: int = 0, batch_size: int = 1000):
    """Iterate over resolved or closed tickets in id order, in batches (for indexing and training)."""
    last_id = since_id
    while True:
        batch = session.scalars(
            select(Ticket)
            .where(Ticket.id > last_id, Ticket.status.in_(("resolved", "closed")))
            .order_by(Ticket.id)
            .limit(batch_size)
        ).all()
        if not batch:
            return
        yield from batch
        last_id = batch[-1].id
