"""The partner's SLA clock of a stored ticket: what the pure clock needs, read from the ticket's records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from kb.models import Partner, Specialist, Ticket, utcnow
from service.platform.serializers import iso
from service.sla.partner_clock import partner_clock, terms_of


def reached_targets(ticket: Ticket, engineer_ids: set[int], since: datetime) -> dict[str, datetime | None]:
    """Reaction: the partner's first work entry; on site: its first on-site entry; resolution: the ticket's."""
    entries = [e for e in ticket.time_entries if e.specialist_id in engineer_ids and e.started_at >= since]
    on_site = [e.started_at for e in entries if e.on_site]
    return {"reaction": min((e.started_at for e in entries), default=None),
            "onsite": min(on_site, default=None),
            "resolution": ticket.resolved_at if ticket.resolved_at and ticket.resolved_at >= since else None}


def partner_clocks(session: Session, ticket: Ticket, *, now: datetime | None = None,
                   partner_id: int | None = None) -> list[dict]:
    """One clock per partner whose engineer works ``ticket`` (started at that engineer's assignment), as
    instants: ``partner`` (the row), ``assigned_at`` and ``targets`` (target -> due, reached_at, state).
    ``partner_id`` keeps only that partner's clock."""
    now = now or utcnow()
    clocks = []
    for assignment in sorted(ticket.assignees, key=lambda a: a.assigned_at):
        engineer = session.get(Specialist, assignment.specialist_id)
        partner = session.get(Partner, engineer.partner_id) if engineer and engineer.partner_id else None
        if partner is None or any(c["partner"].id == partner.id for c in clocks):
            continue
        if partner_id is not None and partner.id != partner_id:
            continue
        engineer_ids = {s.id for s in session.query(Specialist).filter_by(partner_id=partner.id)}
        clocks.append({"partner": partner, "assigned_at": assignment.assigned_at,
                       "targets": partner_clock(terms_of(partner), assignment.assigned_at,
                                                reached_targets(ticket, engineer_ids, assignment.assigned_at), now)})
    return clocks


def partner_sla(session: Session, ticket: Ticket, *, now: datetime | None = None) -> list[dict]:
    """:func:`partner_clocks` as JSON: partner id and name, ISO instants."""
    return [{"partner_id": c["partner"].id, "partner": c["partner"].name, "assigned_at": iso(c["assigned_at"]),
             "targets": {name: {"due": iso(t["due"]), "reached_at": iso(t["reached_at"]), "state": t["state"]}
                         for name, t in c["targets"].items()}}
            for c in partner_clocks(session, ticket, now=now)]
