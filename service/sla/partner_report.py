"""The monthly partner report: tasks, the partner's SLA met/breached, time spent, what we owe, remote vs on site.

:func:`partner_month` is pure over plain rows; :func:`build_partner_report` reads them from the store.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import MAX_ID, Assignment, Client, Partner, Specialist, Ticket, utcnow
from service.platform.serializers import iso
from service.sla.calendar import month_bounds, parse_month
from service.sla.partner_clock import PARTNER_TARGETS, partner_clock, terms_of
from service.sla.partner_service import reached_targets


class PartnerReportError(ValueError):
    """The report cannot be built as asked; ``field`` names what is wrong."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class PartnerTask:
    """A ticket the partner worked in the month: its clock states and the partner engineers' minutes."""

    ticket_id: int
    client: str
    region: str | None
    states: dict[str, str]
    minutes: int
    on_site: bool


@dataclass(frozen=True)
class RegionalTicket:
    """A ticket resolved in the month in one of the partner's regions: solved on site or remotely."""

    client: str
    region: str
    on_site: bool


@dataclass
class _Share:
    remote: int = 0
    on_site: int = 0


def partner_month(*, partner: dict, month: str, hourly_rate: Decimal, tasks: Sequence[PartnerTask],
                  regional: Sequence[RegionalTicket]) -> dict:
    """The report: per-target met/breached counts, minutes and the amount owed (hours × rate, to kopecks)."""
    outcomes = {t: Counter(task.states[t] for task in tasks) for t in PARTNER_TARGETS}
    minutes = sum(task.minutes for task in tasks)
    owed = (Decimal(minutes) / 60 * hourly_rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    shares: dict[tuple[str, str], _Share] = defaultdict(_Share)
    for ticket in regional:
        share = shares[(ticket.client, ticket.region)]
        share.on_site += ticket.on_site
        share.remote += not ticket.on_site
    return {
        "partner": partner, "month": month, "tasks": len(tasks),
        "sla": {t: {s: outcomes[t].get(s, 0) for s in ("met", "breached", "running", "overdue", "not_needed")}
                for t in PARTNER_TARGETS},
        "minutes": minutes, "hourly_rate": str(hourly_rate), "owed": str(owed),
        "items": [{"ticket_id": t.ticket_id, "client": t.client, "region": t.region, "minutes": t.minutes,
                   "on_site": t.on_site, "sla": t.states} for t in tasks],
        "remote_vs_on_site": [
            {"client": client, "region": region, "remote": s.remote, "on_site": s.on_site,
             "remote_share": round(s.remote / (s.remote + s.on_site), 4)}
            for (client, region), s in sorted(shares.items())],
    }


def _region_of(ticket: Ticket, client: Client) -> str | None:
    return next((n.region for n in ticket.nodes if n.region), None) or client.region


def build_partner_report(session: Session, *, partner_id: int, month: str, now: datetime | None = None) -> dict:
    """The partner's report for ``month`` (YYYY-MM, in the partner's time zone) from the store."""
    partner = session.get(Partner, partner_id) if 0 < partner_id <= MAX_ID else None
    if partner is None:
        raise PartnerReportError(f"partner {partner_id} not found", "partner")
    try:
        parse_month(month)
    except ValueError as exc:
        raise PartnerReportError(str(exc), "month") from None
    now, terms = now or utcnow(), terms_of(partner)
    start, end = month_bounds(month, terms.calendar.zone)
    engineers = {s.id for s in session.scalars(select(Specialist).where(Specialist.partner_id == partner.id))}
    first = {}
    for a in session.scalars(select(Assignment).where(Assignment.specialist_id.in_(engineers))
                             .order_by(Assignment.assigned_at)):
        first.setdefault(a.ticket_id, a.assigned_at)
    tasks = []
    for ticket_id, assigned_at in sorted(first.items()):
        if not start <= assigned_at < end:
            continue
        ticket = session.get(Ticket, ticket_id)
        client = session.get(Client, ticket.client_id)
        clock = partner_clock(terms, assigned_at, reached_targets(ticket, engineers, assigned_at), now)
        own = [e for e in ticket.time_entries if e.specialist_id in engineers]
        tasks.append(PartnerTask(ticket.id, client.name, _region_of(ticket, client),
                                 {t: c["state"] for t, c in clock.items()}, sum(e.minutes for e in own),
                                 any(e.on_site for e in own)))
    regions = {r.lower() for r in partner.regions or []}
    regional = []
    for ticket in session.scalars(select(Ticket).where(Ticket.resolved_at >= start, Ticket.resolved_at < end)):
        client = session.get(Client, ticket.client_id)
        region = _region_of(ticket, client)
        if region and region.lower() in regions:
            regional.append(RegionalTicket(client.name, region, any(e.on_site for e in ticket.time_entries)))
    return partner_month(partner={"id": partner.id, "name": partner.name, "contract_ref": partner.contract_ref},
                         month=month, hourly_rate=partner.hourly_rate, tasks=tasks, regional=regional) | {
        "generated_at": iso(now)}
