"""The engineers' queue: open tickets ordered by live SLA urgency, with filters and counts per filter.

The order is computed from the SLA clock (``service.sla.clock``) at the moment the page is asked for, not
from the ``sla_state`` stored at the last periodic check: a ticket ten days past its reaction target is
"breached" here even when no check has run since. Paused tickets (waiting for the client) come after the
running ones, whose clocks can still run out. Facet counts (status, priority, group, client, SLA state)
count the tickets matching every *other* filter, so each number says what choosing that value would show.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from kb import vocab
from kb.models import Assignment, Client, Ticket, TriagePrediction
from service.config import Settings, current_settings
from service.sla.clock import STATES as SLA_STATES
from service.sla.clock import TicketClock, ticket_clock
from service.sla.service import client_calendar, client_policy, ticket_times

#: The facets whose values the queue counts; each is also a filter.
FACETS = ("status", "priority", "group", "client_id", "sla_state")
#: Targets in the order a ticket reaches them.
TARGET_ORDER = ("reaction", "work_start", "resolution")


@dataclass(frozen=True)
class QueueFilters:
    """What the engineer asked for; None (or False) means "any"."""

    status: str | None = None
    priority: str | None = None
    group: str | None = None
    client_id: int | None = None
    sla_state: str | None = None
    mine: bool = False
    needs_triage: bool = False
    text: str | None = None


@dataclass
class QueueRow:
    """One ticket of the queue with its live clock: the next target still running, its due instant and
    the wall-clock seconds left until then (negative: overdue)."""

    ticket: Ticket
    state: str
    paused: bool
    next_target: str | None = None
    due_at: datetime | None = None
    seconds_left: float | None = None
    assignees: list[str] = field(default_factory=list)
    needs_triage: bool = False

    def facet(self, name: str):
        """The row's value of facet ``name``."""
        return self.state if name == "sla_state" else getattr(self.ticket, name)


@dataclass
class QueuePage:
    """One page of the queue, the number of rows before paging and the counts per facet value."""

    rows: list[QueueRow]
    total: int
    counts: dict[str, Counter]
    needs_triage_count: int = 0


def next_due(clock: TicketClock, now: datetime) -> tuple[str | None, datetime | None, float | None]:
    """The first target not yet done (in the order tickets reach them), its due instant and the seconds left."""
    for target in TARGET_ORDER:
        target_clock = clock.targets.get(target)
        if target_clock is not None and target_clock.done_at is None:
            return target, target_clock.due_at, (target_clock.due_at - now).total_seconds()
    return None, None, None


def urgency_key(row: QueueRow) -> tuple:
    """Running clocks first, the least time left first; tickets without a running target last, oldest first."""
    no_target = row.seconds_left is None
    return (row.paused, no_target, row.seconds_left if not no_target else 0.0, row.ticket.created_at, row.ticket.id)


def matches(row: QueueRow, filters: QueueFilters, *, skip: str | None = None) -> bool:
    """Whether ``row`` passes the facet filters (``skip``: leave that facet's filter out, for its counts)."""
    for name in FACETS:
        wanted = getattr(filters, name)
        if name != skip and wanted is not None and row.facet(name) != wanted:
            return False
    return True


def facet_counts(rows: Sequence[QueueRow], filters: QueueFilters) -> dict[str, Counter]:
    """For each facet, how many rows each of its values would show with the other filters kept."""
    return {name: Counter(row.facet(name) for row in rows if matches(row, filters, skip=name)) for name in FACETS}


def _needs_triage_ids(session: Session, ticket_ids: Iterable[int]) -> set[int]:
    """Tickets whose latest triage prediction was not sure enough."""
    ids = list(ticket_ids)
    if not ids:
        return set()
    latest = (select(func.max(TriagePrediction.id)).where(TriagePrediction.ticket_id.in_(ids))
              .group_by(TriagePrediction.ticket_id))
    return set(session.scalars(select(TriagePrediction.ticket_id)
                               .where(TriagePrediction.id.in_(latest.scalar_subquery()),
                                      TriagePrediction.needs_human.is_(True))))


def text_conditions(columns, text: str) -> list:
    """Conditions "column contains ``text``", regardless of case in both databases: PostgreSQL's ILIKE folds
    every letter, SQLite's only ASCII ones, so there the usual spellings of a Cyrillic word (as typed, lower,
    Capitalised, UPPER) are tried as well."""
    spellings = dict.fromkeys((text, text.lower(), text.capitalize(), text.upper()))
    return [*(column.ilike(f"%{text}%") for column in columns),
            *(column.like(f"%{spelling}%") for column in columns for spelling in spellings)]


def _base_query(filters: QueueFilters, *, statuses: Sequence[str], specialist_id: int | None):
    """The SQL part of the filters: status set, text, and "mine" (an active assignment of the specialist)."""
    query = (select(Ticket).where(Ticket.status.in_(list(statuses)))
             .options(selectinload(Ticket.pauses), selectinload(Ticket.client),
                      selectinload(Ticket.assignees).selectinload(Assignment.specialist)))
    text = (filters.text or "").strip()
    if text:
        number = text.lstrip("#")
        conditions = text_conditions([Ticket.subject, Ticket.description, Ticket.requester_name], text)
        if number.isdigit() and len(number) < 10:
            conditions.append(Ticket.id == int(number))
        query = query.where(or_(*conditions))
    if filters.mine:
        mine = select(Assignment.ticket_id).where(Assignment.specialist_id == (specialist_id or -1),
                                                  Assignment.released_at.is_(None))
        query = query.where(Ticket.id.in_(mine))
    return query


def _live_rows(session: Session, tickets: Sequence[Ticket], *, now: datetime, settings: Settings) -> list[QueueRow]:
    """Each ticket's clock at ``now`` (one policy and calendar per client)."""
    calendars: dict[int, tuple] = {}
    triage_ids = _needs_triage_ids(session, [t.id for t in tickets if t.status == "new"])
    rows = []
    for ticket in tickets:
        client: Client = ticket.client
        if client.id not in calendars:
            policy = client_policy(client)
            calendars[client.id] = (policy, client_calendar(client, policy))
        policy, calendar = calendars[client.id]
        clock = ticket_clock(ticket_times(ticket), policy, calendar, now,
                             at_risk_fraction=settings.sla_at_risk_fraction)
        target, due_at, left = next_due(clock, now)
        assignees = [a.specialist.name for a in sorted(ticket.assignees, key=lambda a: a.role != "primary")
                     if a.released_at is None and a.specialist is not None]
        # a new ticket nobody could route (no group: triage failed or had no model) needs a human as well
        needs_triage = ticket.status == "new" and (ticket.id in triage_ids or ticket.group is None)
        rows.append(QueueRow(ticket, clock.state, clock.paused, target, due_at, left, assignees, needs_triage))
    return rows


def queue_page(session: Session, filters: QueueFilters, *, specialist_id: int | None = None, page: int = 1,
               page_size: int = 50, now: datetime | None = None, settings: Settings | None = None) -> QueuePage:
    """The open tickets (or those of ``filters.status``) matching ``filters``, most urgent first, one page."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    settings = current_settings(settings)
    statuses = vocab.OPEN_STATUSES if filters.status in (None, *vocab.OPEN_STATUSES) else (filters.status,)
    query = _base_query(filters, statuses=statuses, specialist_id=specialist_id)
    rows = _live_rows(session, session.scalars(query).all(), now=now, settings=settings)
    triage_count = sum(1 for row in rows if row.needs_triage and matches(row, filters))
    if filters.needs_triage:  # before the counts: they keep every other filter, this one too
        rows = [row for row in rows if row.needs_triage]
    counts = facet_counts(rows, filters)
    selected = sorted((row for row in rows if matches(row, filters)), key=urgency_key)
    start = (max(page, 1) - 1) * page_size
    return QueuePage(selected[start:start + page_size], len(selected), counts, triage_count)


__all__ = ["FACETS", "SLA_STATES", "QueueFilters", "QueuePage", "QueueRow", "facet_counts", "matches",
           "next_due", "queue_page", "urgency_key"]
