"""The desk's history as pandas frames, for analysts (notebooks/01_explore_history.ipynb).

Plain tables, one row per ticket, per SLA breach and per specialist, read from the store with the same SLA
clocks the service runs (``evaluate_ticket``): a ticket's "met" or "breached" here is what the SLA report
and the dashboard say, not a recomputation with other rules.  Instants are UTC; ``created_month`` is the
month in the client's own time zone, as invoices and SLA reports count it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from kb.models import Assignment, Client, SlaEvent, Specialist, Ticket, TimeEntry
from kb.vocab import OPEN_STATUSES
from service.config import Settings, current_settings
from service.sla.calendar import month_of
from service.sla.service import client_calendar, client_policy, ticket_times

TICKET_COLUMNS = (
    "ticket_id", "client_id", "client", "sla_policy", "type", "channel", "priority", "group", "status",
    "created_at", "created_month", "reacted_at", "resolved_at", "reaction_due", "resolution_due",
    "reaction_hours", "resolution_hours", "reaction_state", "resolution_state", "sla_state",
)


def _hours(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds() / 3600, 3)


def _ticket_row(ticket: Ticket, client: Client, now: datetime, settings: Settings) -> dict:
    from service.sla.clock import ticket_clock

    policy = client_policy(client)
    clock = ticket_clock(ticket_times(ticket), policy, client_calendar(client, policy), now,
                         at_risk_fraction=settings.sla_at_risk_fraction)
    reaction, resolution = clock.targets.get("reaction"), clock.targets.get("resolution")
    resolved_at = ticket.resolved_at or ticket.closed_at
    return {
        "ticket_id": ticket.id, "client_id": client.id, "client": client.name, "sla_policy": policy.key,
        "type": ticket.type, "channel": ticket.channel, "priority": ticket.priority, "group": ticket.group,
        "status": ticket.status, "created_at": ticket.created_at,
        "created_month": month_of(ticket.created_at, client.zone),
        "reacted_at": ticket.reacted_at, "resolved_at": resolved_at,
        "reaction_due": reaction.due_at if reaction else None,
        "resolution_due": resolution.due_at if resolution else None,
        "reaction_hours": _hours(ticket.created_at, ticket.reacted_at),
        "resolution_hours": _hours(ticket.created_at, resolved_at),
        "reaction_state": reaction.state if reaction else None,
        "resolution_state": resolution.state if resolution else None,
        "sla_state": clock.state,
    }


def ticket_history(session: Session, *, now: datetime | None = None, since: datetime | None = None,
                   limit: int | None = None, settings: Settings | None = None) -> pd.DataFrame:
    """One row per ticket (``TICKET_COLUMNS``) with its SLA outcome at ``now``, oldest first.

    ``since`` keeps tickets created at or after it; ``limit`` the most recent ``limit`` of those."""
    settings = current_settings(settings)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    query = select(Ticket).options(selectinload(Ticket.pauses), selectinload(Ticket.client))
    if since is not None:
        query = query.where(Ticket.created_at >= since)
    query = query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
    if limit is not None:
        query = query.limit(limit)
    rows = [_ticket_row(t, t.client, now, settings) for t in session.scalars(query)]
    frame = pd.DataFrame(rows, columns=list(TICKET_COLUMNS))
    for column in ("created_at", "reacted_at", "resolved_at", "reaction_due", "resolution_due"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.iloc[::-1].reset_index(drop=True)


def breach_history(session: Session, *, since: datetime | None = None) -> pd.DataFrame:
    """One row per recorded SLA breach: client, ticket, target, due, minutes overdue and the penalty (₽)."""
    query = (select(SlaEvent, Ticket.client_id, Client.name, Ticket.priority)
             .join(Ticket, Ticket.id == SlaEvent.ticket_id).join(Client, Client.id == Ticket.client_id)
             .where(SlaEvent.state == "breached").order_by(SlaEvent.due_at))
    if since is not None:
        query = query.where(SlaEvent.due_at >= since)
    rows = [{"ticket_id": event.ticket_id, "client_id": client_id, "client": name, "priority": priority,
             "target": event.target, "due_at": event.due_at, "overdue_minutes": event.overdue_minutes,
             "penalty_rub": float(event.penalty or 0)}
            for event, client_id, name, priority in session.execute(query)]
    frame = pd.DataFrame(rows, columns=["ticket_id", "client_id", "client", "priority", "target", "due_at",
                                        "overdue_minutes", "penalty_rub"])
    frame["due_at"] = pd.to_datetime(frame["due_at"], utc=True)
    return frame


def specialist_load(session: Session, *, since: datetime | None = None) -> pd.DataFrame:
    """Per active specialist: open assignments now, their capacity, tickets taken and hours logged since ``since``."""
    open_work = dict(session.execute(
        select(Assignment.specialist_id, func.count()).join(Ticket, Ticket.id == Assignment.ticket_id)
        .where(Assignment.released_at.is_(None), Ticket.status.in_(OPEN_STATUSES))
        .group_by(Assignment.specialist_id)).all())
    taken_query = select(Assignment.specialist_id, func.count()).group_by(Assignment.specialist_id)
    minutes_query = select(TimeEntry.specialist_id, func.sum(TimeEntry.minutes)).group_by(TimeEntry.specialist_id)
    if since is not None:
        taken_query = taken_query.where(Assignment.assigned_at >= since)
        minutes_query = minutes_query.where(TimeEntry.started_at >= since)
    taken, minutes = dict(session.execute(taken_query).all()), dict(session.execute(minutes_query).all())
    rows = [{"specialist_id": s.id, "specialist": s.name, "line": s.line, "partner": s.partner,
             "open_tickets": int(open_work.get(s.id, 0)), "capacity": s.capacity,
             "tickets_taken": int(taken.get(s.id, 0)), "hours_logged": round((minutes.get(s.id) or 0) / 60, 2)}
            for s in session.scalars(select(Specialist).where(Specialist.active.is_(True)).order_by(Specialist.name))]
    frame = pd.DataFrame(rows, columns=["specialist_id", "specialist", "line", "partner", "open_tickets",
                                        "capacity", "tickets_taken", "hours_logged"])
    frame["utilisation"] = (frame["open_tickets"] / frame["capacity"].clip(lower=1)).round(3)
    return frame
