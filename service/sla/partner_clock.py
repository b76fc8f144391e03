"""The partner's own SLA clock: when a partner's engineer must react, be on site and resolve.

Assigning a ticket to a partner's engineer starts this clock next to the client's: the partner's targets
towards us (hours of working time) run in the partner's calendar from the instant of the assignment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.sla.calendar import BusinessCalendar

#: Target name -> the instant that meets it (None: not reached yet).
PARTNER_TARGETS = ("reaction", "onsite", "resolution")


@dataclass(frozen=True)
class PartnerTerms:
    """A partner's SLA towards us: target hours and the calendar they run in."""

    reaction_hours: float
    onsite_hours: float
    resolution_hours: float
    calendar: BusinessCalendar

    def hours(self, target: str) -> float:
        return {"reaction": self.reaction_hours, "onsite": self.onsite_hours,
                "resolution": self.resolution_hours}[target]


def partner_due(terms: PartnerTerms, assigned_at: datetime) -> dict[str, datetime]:
    """The due instant (UTC) of each target, counted in the partner's working time from ``assigned_at``."""
    return {target: terms.calendar.add_working_time(assigned_at, timedelta(hours=terms.hours(target)))
            for target in PARTNER_TARGETS}


def partner_clock(terms: PartnerTerms, assigned_at: datetime, reached: Mapping[str, datetime | None],
                  now: datetime) -> dict[str, dict]:
    """Per target: due instant, the instant reached (if any), and state ``met``/``breached``/``running``/
    ``overdue`` (overdue: not reached and past due at ``now``), or ``not_needed`` for the on-site target of a
    ticket resolved without anyone going on site (about 80 % are solved remotely: nothing was owed there)."""
    clock = {}
    for target, due in partner_due(terms, assigned_at).items():
        at = reached.get(target)
        if at is not None:
            state = "met" if at <= due else "breached"
        elif target == "onsite" and reached.get("resolution") is not None:
            state = "not_needed"
        else:
            state = "overdue" if now > due else "running"
        clock[target] = {"due": due, "reached_at": at, "state": state}
    return clock


def terms_of(partner) -> PartnerTerms:
    """The clock terms of a stored partner (``kb.models.Partner``): its targets in its own calendar."""
    calendar = BusinessCalendar(partner.calendar or "10x5", partner.timezone or "Europe/Moscow",
                                partner.country or None)
    return PartnerTerms(partner.reaction_hours, partner.onsite_hours, partner.resolution_hours, calendar)
