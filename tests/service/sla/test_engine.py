"""SLA engine (pure): due instants for every tier x priority, calendars, holidays, time zones, DST, pauses,
priority changes, clock states and penalties."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from service.sla.calendar import BusinessCalendar, CalendarError
from service.sla.clock import Pause, TicketTimes, due_instants, ticket_clock
from service.sla.penalties import PenaltyTerms, PenaltyTermsError, breach_penalty, penalty_terms
from service.sla.policies import POLICIES, PolicyError, get_policy

MSK = timezone(timedelta(hours=3))
MOSCOW = BusinessCalendar("10x5", "Europe/Moscow", "RU")


def msk(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=MSK)


def due(policy, priority, opened, calendar=MOSCOW, pauses=()):
    instants = due_instants(TicketTimes(opened, priority, pauses=tuple(pauses)), get_policy(policy), calendar,
                            now=opened)
    return {k: None if v is None else v.astimezone(calendar.zone).isoformat() for k, v in instants.items()}


# Opened Monday 2026-11-23 09:00 Moscow; working days Nov 23-27, Nov 30-Dec 4 (no holidays), 10 h a day.
MONDAY = msk(2026, 11, 23, 9)
TIER_TABLE = [
    # policy, priority, reaction due, resolution due (seed 000 table, hours of a 10x5 calendar)
    ("bronze", "low", "2026-11-26T19:00", "2026-12-02T19:00"),       # 40 h, 80 h
    ("bronze", "standard", "2026-11-23T17:00", "2026-11-26T11:00"),  # 8 h, 32 h
    ("bronze", "high", "2026-11-23T11:00", "2026-11-24T15:00"),      # 2 h, 16 h
    ("bronze", "highest", "2026-11-23T10:00", "2026-11-23T17:00"),   # 1 h, 8 h
    ("silver", "low", "2026-11-26T11:00", "2026-12-01T13:00"),       # 32 h, 64 h
    ("silver", "standard", "2026-11-23T15:00", "2026-11-25T13:00"),  # 6 h, 24 h
    ("silver", "high", "2026-11-23T11:00", "2026-11-24T11:00"),      # 2 h, 12 h
    ("silver", "highest", "2026-11-23T10:00", "2026-11-23T17:00"),   # 1 h, 8 h
    ("gold", "low", "2026-11-26T11:00", "2026-12-01T13:00"),         # 32 h, 64 h
    ("gold", "standard", "2026-11-23T13:00", "2026-11-24T15:00"),    # 4 h, 16 h
    ("gold", "high", "2026-11-23T10:00", "2026-11-23T17:00"),        # 1 h, 8 h
    ("gold", "highest", "2026-11-23T09:30", "2026-11-23T15:00"),     # 0.5 h, 6 h
    ("platinum", "low", "2026-11-25T13:00", "2026-11-27T17:00"),     # 24 h, 48 h
    ("platinum", "standard", "2026-11-23T11:00", "2026-11-24T11:00"),  # 2 h, 12 h
    ("platinum", "high", "2026-11-23T10:00", "2026-11-23T17:00"),    # 1 h, 8 h
    ("platinum", "highest", "2026-11-23T09:30", "2026-11-23T13:00"),  # 0.5 h, 4 h
]


@pytest.mark.parametrize(("policy", "priority", "reaction", "resolution"), TIER_TABLE)
def test_every_tier_and_priority(policy, priority, reaction, resolution):
    result = due(policy, priority, MONDAY)
    assert result == {"reaction": reaction + ":00+03:00", "work_start": None, "resolution": resolution + ":00+03:00"}


def test_tier_coefficients_and_reports():
    assert [POLICIES[k].coefficient for k in ("bronze", "silver", "gold", "platinum")] == [
        Decimal("1"), Decimal("1.25"), Decimal("1.5"), Decimal("2")]
    assert [k for k, p in POLICIES.items() if p.sends_monthly_report] == ["gold", "platinum", "24x7x4"]


@pytest.mark.parametrize(("policy", "reaction", "work_start"), [
    # seed 002: reaction 2 / 1 / 3 h, maximum time to start work 4 / 3 / 6 h, 10/5 09:00-19:00
    ("kit_package", "2026-11-23T11:00:00+03:00", "2026-11-23T13:00:00+03:00"),
    ("kit_unlimited", "2026-11-23T10:00:00+03:00", "2026-11-23T12:00:00+03:00"),
    ("kit_prepaid", "2026-11-23T12:00:00+03:00", "2026-11-23T15:00:00+03:00"),
])
@pytest.mark.parametrize("priority", ["low", "highest"])
def test_seed_002_plans_have_work_start(policy, reaction, work_start, priority):
    result = due(policy, priority, MONDAY)
    assert (result["reaction"], result["work_start"]) == (reaction, work_start)


CASES = [
    # id, policy, priority, opened, calendar, expected {target: due}
    ("before-hours", "gold", "high", msk(2026, 11, 23, 7), MOSCOW, {"reaction": "2026-11-23T10:00:00+03:00"}),
    ("after-hours", "gold", "high", msk(2026, 11, 23, 20), MOSCOW, {"reaction": "2026-11-24T10:00:00+03:00"}),
    ("friday-evening", "gold", "high", msk(2026, 11, 20, 18, 30), MOSCOW,
     {"reaction": "2026-11-23T09:30:00+03:00", "resolution": "2026-11-23T16:30:00+03:00"}),
    ("saturday", "gold", "high", msk(2026, 11, 21, 12), MOSCOW, {"reaction": "2026-11-23T10:00:00+03:00"}),
    ("unity-day", "gold", "high", msk(2026, 11, 3, 18, 30), MOSCOW, {"reaction": "2026-11-05T09:30:00+03:00"}),
    ("8x5-ends-at-18", "gold", "high", msk(2026, 11, 23, 17, 30), BusinessCalendar("8x5"),
     {"reaction": "2026-11-24T09:30:00+03:00"}),
    # New Year: 2025-12-31 is a day off transferred from 2025-01-05, 1-8 Jan holidays, 9 Jan 2026 a day off
    # transferred from Saturday 3 Jan, then the weekend.
    ("new-year", "gold", "high", msk(2025, 12, 31, 10), MOSCOW, {"reaction": "2026-01-12T10:00:00+03:00"}),
    ("new-year-2027", "gold", "high", msk(2026, 12, 30, 18), MOSCOW,  # 31 Dec 2026: day off from 4 Jan
     {"reaction": "2026-12-30T19:00:00+03:00", "resolution": "2027-01-11T16:00:00+03:00"}),
    # 2027: Saturday 20 Feb is a working day, its day off moves to Monday 22 Feb; 23 Feb is a holiday.
    ("working-saturday", "bronze", "high", msk(2027, 2, 19, 18), MOSCOW, {"reaction": "2027-02-20T10:00:00+03:00"}),
    ("substituted-day-off", "gold", "standard", msk(2027, 2, 20, 18, 30), MOSCOW,
     {"reaction": "2027-02-24T12:30:00+03:00"}),
    ("novosibirsk", "gold", "high", datetime(2026, 11, 23, 5, tzinfo=MSK),
     BusinessCalendar("10x5", "Asia/Novosibirsk", "RU"), {"reaction": "2026-11-23T10:00:00+07:00"}),
    ("berlin-no-ru-holiday", "gold", "high", datetime(2026, 11, 4, 9, tzinfo=timezone(timedelta(hours=1))),
     BusinessCalendar("10x5", "Europe/Berlin", "DE"), {"reaction": "2026-11-04T10:00:00+01:00"}),
    ("berlin-christmas", "gold", "high", datetime(2026, 12, 24, 18, 30, tzinfo=timezone(timedelta(hours=1))),
     BusinessCalendar("10x5", "Europe/Berlin", "DE"), {"reaction": "2026-12-28T09:30:00+01:00"}),
    # DST ends in Berlin on Sunday 25 Oct 2026: Friday 18:00 CEST, Monday starts 09:00 CET.
    ("berlin-dst-autumn", "gold", "high", datetime(2026, 10, 23, 18, tzinfo=timezone(timedelta(hours=2))),
     BusinessCalendar("10x5", "Europe/Berlin", "DE"),
     {"reaction": "2026-10-23T19:00:00+02:00", "resolution": "2026-10-26T16:00:00+01:00"}),
    ("berlin-dst-spring", "gold", "high", datetime(2026, 3, 27, 18, tzinfo=timezone(timedelta(hours=1))),
     BusinessCalendar("10x5", "Europe/Berlin", "DE"),
     {"reaction": "2026-03-27T19:00:00+01:00", "resolution": "2026-03-30T16:00:00+02:00"}),
    # 24x7 counts real hours, ignores weekends and holidays, and crosses the DST night correctly.
    ("24x7-saturday-night", "gold", "high", msk(2026, 11, 21, 3), BusinessCalendar("24x7"),
     {"reaction": "2026-11-21T04:00:00+03:00", "resolution": "2026-11-21T11:00:00+03:00"}),
    ("24x7-new-year", "bronze", "high", msk(2026, 1, 1, 0), BusinessCalendar("24x7"),
     {"reaction": "2026-01-01T02:00:00+03:00"}),
    ("24x7-berlin-dst", "platinum", "highest", datetime(2026, 10, 25, 0, 30, tzinfo=timezone(timedelta(hours=2))),
     BusinessCalendar("24x7", "Europe/Berlin", "DE"),
     {"reaction": "2026-10-25T01:00:00+02:00", "resolution": "2026-10-25T03:30:00+01:00"}),
    ("24x7x4", "24x7x4", "low", msk(2026, 11, 21, 22), BusinessCalendar("24x7"),
     {"reaction": "2026-11-21T22:30:00+03:00", "resolution": "2026-11-22T02:00:00+03:00"}),
]


@pytest.mark.parametrize(("policy", "priority", "opened", "calendar", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_calendars_holidays_zones(policy, priority, opened, calendar, expected):
    result = due(policy, priority, opened, calendar)
    assert {k: result[k] for k in expected} == expected


PAUSE_CASES = [
    ("no-pause", "standard", [], "2026-11-23T13:00:00+03:00", "2026-11-24T15:00:00+03:00"),
    ("one-pause", "standard", [(msk(2026, 11, 23, 10), msk(2026, 11, 23, 11))],
     "2026-11-23T14:00:00+03:00", "2026-11-24T16:00:00+03:00"),
    # Paused working time: Mon 10-11, 12-12:30, 18-19 and Tue 09-10 (the night is not working time) = 3.5 h.
    ("several-pauses", "standard", [(msk(2026, 11, 23, 10), msk(2026, 11, 23, 11)),
                                    (msk(2026, 11, 23, 12), msk(2026, 11, 23, 12, 30)),
                                    (msk(2026, 11, 23, 18), msk(2026, 11, 24, 10))],
     "2026-11-23T14:30:00+03:00", "2026-11-24T18:30:00+03:00"),
    ("overlapping-pauses", "standard", [(msk(2026, 11, 23, 10), msk(2026, 11, 23, 11)),
                                        (msk(2026, 11, 23, 10, 30), msk(2026, 11, 23, 11, 30))],
     "2026-11-23T14:30:00+03:00", "2026-11-24T16:30:00+03:00"),
    ("pause-on-weekend-costs-nothing", "standard", [(msk(2026, 11, 28, 10), msk(2026, 11, 29, 10))],
     "2026-11-23T13:00:00+03:00", "2026-11-24T15:00:00+03:00"),
]


@pytest.mark.parametrize(("priority", "pauses", "reaction", "resolution"), [c[1:] for c in PAUSE_CASES],
                         ids=[c[0] for c in PAUSE_CASES])
def test_pauses_stop_the_clocks(priority, pauses, reaction, resolution):
    result = due("gold", priority, MONDAY, pauses=[Pause(a, b) for a, b in pauses])
    assert (result["reaction"], result["resolution"]) == (reaction, resolution)


def test_priority_change_after_a_pause_keeps_the_pause():
    pause = Pause(msk(2026, 11, 23, 10), msk(2026, 11, 23, 12))
    before = due("gold", "standard", MONDAY, pauses=[pause])
    assert before["resolution"] == "2026-11-24T17:00:00+03:00"  # 16 h + 2 h paused
    # At 13:00 the priority becomes high: targets restart from the opening with 8 h, the 2 h pause still counts.
    after = due("gold", "high", MONDAY, pauses=[pause])
    assert after["reaction"] == "2026-11-23T10:00:00+03:00"
    assert after["resolution"] == "2026-11-23T19:00:00+03:00"
    assert due("gold", "high", MONDAY)["resolution"] == "2026-11-23T17:00:00+03:00"


def test_open_pause_moves_due_with_now():
    times = TicketTimes(MONDAY, "standard", pauses=(Pause(msk(2026, 11, 23, 10)),))
    at_11 = ticket_clock(times, get_policy("gold"), MOSCOW, msk(2026, 11, 23, 11))
    at_12 = ticket_clock(times, get_policy("gold"), MOSCOW, msk(2026, 11, 23, 12))
    assert at_11.state == at_12.state == "paused" and at_11.paused
    assert at_12.due("reaction") - at_11.due("reaction") == timedelta(hours=1)
    assert at_12.targets["reaction"].used == timedelta(hours=1)


@pytest.mark.parametrize(("now", "reacted", "state", "overdue_minutes"), [
    (msk(2026, 11, 23, 11, 59), None, "on_track", 0),
    (msk(2026, 11, 23, 12), None, "at_risk", 0),       # 3 of 4 hours used = 75 %
    (msk(2026, 11, 23, 13), None, "at_risk", 0),       # exactly due
    (msk(2026, 11, 23, 13, 1), None, "breached", 1),
    (msk(2026, 11, 24, 10), None, "breached", 7 * 60),  # 13-19 Monday and 09-10 Tuesday
    (msk(2026, 11, 24, 10), msk(2026, 11, 23, 12, 30), "met", 0),
    (msk(2026, 11, 24, 10), msk(2026, 11, 23, 13, 30), "breached", 30),
])
def test_reaction_states(now, reacted, state, overdue_minutes):
    times = TicketTimes(MONDAY, "standard", reacted_at=reacted)
    clock = ticket_clock(times, get_policy("gold"), MOSCOW, now)
    reaction = clock.targets["reaction"]
    assert (reaction.state, reaction.overdue_minutes) == (state, overdue_minutes)


def test_at_risk_fraction_is_configurable_and_resolution_counts_as_reaction():
    times = TicketTimes(MONDAY, "standard")
    assert ticket_clock(times, get_policy("gold"), MOSCOW, msk(2026, 11, 23, 11), at_risk_fraction=0.5).state == \
        "at_risk"
    assert ticket_clock(times, get_policy("gold"), MOSCOW, msk(2026, 11, 23, 11)).state == "on_track"
    resolved = TicketTimes(MONDAY, "standard", resolved_at=msk(2026, 11, 23, 12))
    clock = ticket_clock(resolved, get_policy("gold"), MOSCOW, msk(2026, 11, 30, 12))
    assert clock.state == "met" and clock.targets["reaction"].done_at == msk(2026, 11, 23, 12)
    with pytest.raises(ValueError):
        ticket_clock(times, get_policy("gold"), MOSCOW, MONDAY, at_risk_fraction=0)


def test_working_time_between_and_validation():
    assert MOSCOW.working_time_between(msk(2026, 11, 20, 18), msk(2026, 11, 23, 10)) == timedelta(hours=2)
    assert MOSCOW.working_time_between(msk(2026, 11, 23, 10), msk(2026, 11, 23, 9)) == timedelta(0)
    assert MOSCOW.is_working_time(msk(2026, 11, 23, 19)) and not MOSCOW.is_working_time(msk(2026, 11, 21, 12))
    for bad in (dict(name="7x3"), dict(timezone="Mars/Base"), dict(country="XX")):
        with pytest.raises(CalendarError):
            BusinessCalendar(**bad)
    with pytest.raises(PolicyError):
        get_policy("diamond")
    with pytest.raises(PolicyError):
        get_policy("gold").target_hours("reaction", "urgent")
    with pytest.raises(ValueError):
        MOSCOW.add_working_time(datetime(2026, 11, 23, 9), timedelta(hours=1))  # no offset


@pytest.mark.parametrize(("terms", "overdue", "first", "amount"), [
    ({"penalties": {"per_breach": "500.00"}}, timedelta(minutes=45), True, Decimal("500.00")),
    ({"penalties": {"per_breach": "500.00"}}, timedelta(minutes=45), False, Decimal("0.00")),  # per ticket
    ({"penalties": {"per_overdue_hour": "1000"}}, timedelta(minutes=45), False, Decimal("750.00")),
    ({"penalties": {"per_breach": 200, "per_overdue_hour": "99.99"}}, timedelta(minutes=20), True, Decimal("233.33")),
    ({}, timedelta(hours=5), True, Decimal("0.00")),
])
def test_penalties(terms, overdue, first, amount):
    assert breach_penalty(penalty_terms(terms), overdue, first_breach_of_ticket=first) == amount


@pytest.mark.parametrize("terms", [{"penalties": {"per_breach": -1}}, {"penalties": {"per_breach": 1.5}},
                                   {"penalties": {"per_overdue_hour": "abc"}}, {"penalties": []}])
def test_bad_penalty_terms(terms):
    with pytest.raises(PenaltyTermsError, match="penalties"):
        penalty_terms(terms)


def test_penalty_terms_default_to_none():
    assert penalty_terms(None) == PenaltyTerms()
