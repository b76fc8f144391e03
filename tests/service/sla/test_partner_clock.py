"""The partner's own SLA clock: due instants in the partner's working calendar, and met/breached states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.sla.calendar import BusinessCalendar
from service.sla.partner_clock import PartnerTerms, partner_clock, partner_due

NSK = "Asia/Novosibirsk"  # UTC+7 all year


def terms(calendar: str, *, reaction=2, onsite=8, resolution=24, zone=NSK) -> PartnerTerms:
    return PartnerTerms(reaction, onsite, resolution, BusinessCalendar(calendar, zone, "RU"))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# assigned (UTC), calendar, expected due (UTC) of reaction / on-site / resolution
CASES = [
    # Wed 2026-11-18 10:00 NSK (03:00 UTC), 10x5 09-19 NSK: 2h -> 12:00; 8h -> 18:00; 24h = 2.4 days
    (utc(2026, 11, 18, 3), "10x5", utc(2026, 11, 18, 5), utc(2026, 11, 18, 11), utc(2026, 11, 20, 7)),
    # Friday 18:00 NSK: 1h left Friday, the rest on Monday 09:00 NSK (02:00 UTC)
    (utc(2026, 11, 20, 11), "10x5", utc(2026, 11, 23, 3), utc(2026, 11, 23, 9), utc(2026, 11, 25, 5)),
    # assigned at night (Tue 23:00 NSK): the clock starts Wed 09:00 NSK; 8x5 days have 9 hours
    (utc(2026, 11, 17, 16), "8x5", utc(2026, 11, 18, 4), utc(2026, 11, 18, 10), utc(2026, 11, 20, 8)),
    # Nov 4 is a public holiday in Russia: an assignment on Tue Nov 3 18:30 NSK waits until Thu Nov 5
    (utc(2026, 11, 3, 11, 30), "10x5", utc(2026, 11, 5, 3, 30), utc(2026, 11, 5, 9, 30), utc(2026, 11, 9, 5, 30)),
    # 24x7 ignores nights, weekends and holidays
    (utc(2026, 11, 20, 11), "24x7", utc(2026, 11, 20, 13), utc(2026, 11, 20, 19), utc(2026, 11, 21, 11)),
]


@pytest.mark.parametrize(("assigned", "calendar", "reaction", "onsite", "resolution"), CASES)
def test_due_instants_run_in_the_partners_calendar(assigned, calendar, reaction, onsite, resolution):
    assert partner_due(terms(calendar), assigned) == {"reaction": reaction, "onsite": onsite,
                                                      "resolution": resolution}


# reached offsets from the assignment (None: not yet), now offset -> states
STATES = [
    ({"reaction": 1, "onsite": 7, "resolution": 20}, 30, ("met", "met", "met")),
    ({"reaction": 3, "onsite": None, "resolution": None}, 5, ("breached", "running", "running")),
    ({"reaction": 2, "onsite": None, "resolution": None}, 9, ("met", "overdue", "running")),
    # resolved remotely: the on-site target was never owed, however late it is now
    ({"reaction": None, "onsite": None, "resolution": 25}, 26, ("overdue", "not_needed", "breached")),
    ({"reaction": 1, "onsite": None, "resolution": 5}, 40, ("met", "not_needed", "met")),
]


@pytest.mark.parametrize(("reached_after", "now_after", "states"), STATES)
def test_each_target_is_met_breached_running_overdue_or_not_needed(reached_after, now_after, states):
    assigned = utc(2026, 11, 16, 0)
    hour = timedelta(hours=1)
    reached = {k: None if v is None else assigned + v * hour for k, v in reached_after.items()}
    clock = partner_clock(terms("24x7"), assigned, reached, assigned + now_after * hour)
    assert tuple(clock[t]["state"] for t in ("reaction", "onsite", "resolution")) == states
    assert clock["onsite"]["due"] == assigned + 8 * hour
