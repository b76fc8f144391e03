"""The monthly SLA report of one client, built from plain per-ticket data.

Seed 000: from Gold up, reports on SLA compliance let the client "следить за качеством обслуживания,
мониторить простои": tickets by priority, targets met and missed, overdue time, penalties, the longest
outages (incidents by time from opening to resolution).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from kb.vocab import PRIORITIES
from service.sla.policies import TARGETS

REPORTED_TARGETS = TARGETS


@dataclass(frozen=True)
class TargetOutcome:
    """How one target of a ticket ended (or stands) for the report."""

    due_at: datetime
    state: str  # met, breached, on_track, at_risk
    overdue_minutes: int = 0


@dataclass(frozen=True)
class ReportTicket:
    """One ticket opened in the month."""

    id: int
    subject: str
    priority: str
    type: str
    opened_at: datetime
    resolved_at: datetime | None
    targets: dict[str, TargetOutcome]
    penalty: Decimal = Decimal("0")
    node_names: Sequence[str] = field(default_factory=tuple)


def _iso(instant: datetime | None, zone) -> str | None:
    return None if instant is None else instant.astimezone(zone).isoformat()


def monthly_report(*, client: dict, month: str, policy: dict, tickets: Sequence[ReportTicket],
                   period_end: datetime, zone, longest: int = 5) -> dict:
    """The report document (JSON-ready) for ``tickets`` opened in ``month``.

    ``period_end`` bounds open outages (month end, or now for the running month); ``zone`` is the client's.
    """
    by_priority = {p: {"tickets": 0, "resolved": 0} for p in PRIORITIES}
    targets = {t: {"met": 0, "missed": 0, "running": 0, "overdue_minutes": 0} for t in REPORTED_TARGETS}
    penalties = Decimal("0")
    breaches = []
    outages = []
    for ticket in tickets:
        row = by_priority.setdefault(ticket.priority, {"tickets": 0, "resolved": 0})
        row["tickets"] += 1
        row["resolved"] += ticket.resolved_at is not None
        penalties += ticket.penalty
        for target, outcome in ticket.targets.items():
            summary = targets[target]
            if outcome.state == "met":
                summary["met"] += 1
            elif outcome.state == "breached":
                summary["missed"] += 1
                summary["overdue_minutes"] += outcome.overdue_minutes
                breaches.append({"ticket_id": ticket.id, "subject": ticket.subject, "priority": ticket.priority,
                                 "target": target, "due_at": _iso(outcome.due_at, zone),
                                 "overdue_minutes": outcome.overdue_minutes})
            else:
                summary["running"] += 1
        if ticket.type == "incident":
            end = ticket.resolved_at or period_end
            outages.append({"ticket_id": ticket.id, "subject": ticket.subject, "priority": ticket.priority,
                            "nodes": list(ticket.node_names), "opened_at": _iso(ticket.opened_at, zone),
                            "resolved_at": _iso(ticket.resolved_at, zone),
                            "minutes": max(int((end - ticket.opened_at).total_seconds() // 60), 0)})
    for summary in targets.values():
        decided = summary["met"] + summary["missed"]
        summary["met_percent"] = None if decided == 0 else round(100.0 * summary["met"] / decided, 1)
    outages.sort(key=lambda o: (-o["minutes"], o["ticket_id"]))
    return {
        "client": client,
        "month": month,
        "policy": policy,
        "tickets": len(tickets),
        "by_priority": by_priority,
        "targets": targets,
        "breaches": sorted(breaches, key=lambda b: (-b["overdue_minutes"], b["ticket_id"], b["target"])),
        "overdue_minutes": sum(s["overdue_minutes"] for s in targets.values()),
        "penalties": f"{penalties.quantize(Decimal('0.01'))}",
        "downtime_minutes": sum(o["minutes"] for o in outages),
        "longest_outages": outages[:longest],
    }
