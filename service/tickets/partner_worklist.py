"""A regional partner's worklist: the tickets assigned to its company's engineers, by the partner's own SLA.

Reads only (the web workspace of a partner engineer shows them); the clock itself is
``service.sla.partner_service.partner_clocks``, the same the ticket JSON's ``partner_sla`` is made of.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from kb import vocab
from kb.models import Partner, Specialist, Ticket, utcnow
from service.platform.auth import partner_ticket_ids
from service.sla.partner_clock import PARTNER_TARGETS
from service.sla.partner_service import partner_clocks

#: The list's status filter: every status, or "open" (not resolved, not closed).
OPEN = "open"


@dataclass
class WorklistRow:
    """One ticket of the worklist with the partner's next target: due instant and state."""

    ticket: Ticket
    targets: dict[str, dict] = field(default_factory=dict)
    next_target: str | None = None
    due: datetime | None = None
    state: str | None = None

    @property
    def is_open(self) -> bool:
        return self.ticket.status in vocab.OPEN_STATUSES


@dataclass
class Worklist:
    rows: list[WorklistRow]
    total: int
    counts: dict[str, int]


def next_target(targets: dict[str, dict]) -> tuple[str | None, dict | None]:
    """The first target not reached yet (reaction, on site, resolution); once the ticket is resolved, the
    resolution itself (on site is not owed for work done remotely)."""
    if not targets:
        return None, None
    if targets["resolution"]["reached_at"] is not None:
        return "resolution", targets["resolution"]
    for name in PARTNER_TARGETS:
        if targets[name]["reached_at"] is None:
            return name, targets[name]
    return "resolution", targets["resolution"]


def worklist_row(session: Session, ticket: Ticket, partner_id: int, now: datetime) -> WorklistRow:
    clocks = partner_clocks(session, ticket, now=now, partner_id=partner_id)
    targets = clocks[0]["targets"] if clocks else {}
    name, target = next_target(targets)
    return WorklistRow(ticket, targets, name, target["due"] if target else None, target["state"] if target else None)


def partner_worklist(session: Session, *, partner_id: int, status: str | None = None, page: int = 1,
                     page_size: int = 50, now: datetime | None = None) -> Worklist:
    """The partner's tickets: open ones first by the partner's next due instant (the most urgent first), then
    the others newest first; ``status`` is a status or :data:`OPEN`; counts per status of every ticket."""
    now = now or utcnow()
    mine = select(Ticket).where(Ticket.id.in_(partner_ticket_ids(partner_id)))
    counts = dict(session.execute(select(Ticket.status, func.count()).where(Ticket.id.in_(partner_ticket_ids(
        partner_id))).group_by(Ticket.status)).all())
    wanted = vocab.OPEN_STATUSES if status == OPEN else (status,) if status else vocab.STATUSES
    loading = (selectinload(Ticket.nodes), selectinload(Ticket.assignees), selectinload(Ticket.time_entries),
               selectinload(Ticket.client))
    opened = session.scalars(mine.where(Ticket.status.in_([s for s in wanted if s in vocab.OPEN_STATUSES]))
                             .options(*loading)).all()
    open_rows = sorted((worklist_row(session, t, partner_id, now) for t in opened),
                       key=lambda r: (r.due is None, r.due or now, r.ticket.id))
    done = mine.where(Ticket.status.in_([s for s in wanted if s not in vocab.OPEN_STATUSES]))
    done_total = session.scalar(select(func.count()).select_from(done.subquery()))
    start = max(page - 1, 0) * page_size
    rows = open_rows[start:start + page_size]
    if len(rows) < page_size:
        skip = max(start - len(open_rows), 0)
        older = session.scalars(done.options(*loading).order_by(Ticket.created_at.desc(), Ticket.id.desc())
                                .offset(skip).limit(page_size - len(rows))).all()
        rows += [worklist_row(session, t, partner_id, now) for t in older]
    return Worklist(rows, len(open_rows) + done_total, counts)


def company_engineers(session: Session, partner_id: int) -> list[Specialist]:
    """The partner's own active engineers, by name (whom its logins may log work for)."""
    return list(session.scalars(select(Specialist).where(Specialist.partner_id == partner_id,
                                                         Specialist.active.is_(True)).order_by(Specialist.name)))


def partner_of(session: Session, partner_id: int) -> Partner | None:
    return session.get(Partner, partner_id)
