"""Property tests of the SLA engine: a due instant is never before opening, grows with the target, and lies in
working time unless the calendar is 24/7."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from service.sla.calendar import BusinessCalendar

CALENDARS = [
    BusinessCalendar("10x5", "Europe/Moscow", "RU"),
    BusinessCalendar("8x5", "Asia/Novosibirsk", "RU"),
    BusinessCalendar("10x5", "Europe/Berlin", "DE"),
    BusinessCalendar("8x5", "America/New_York", None),
    BusinessCalendar("24x7", "Europe/Berlin", "DE"),
]

instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 1),
                        timezones=st.just(UTC))
minutes = st.integers(min_value=0, max_value=100 * 60)
calendars = st.sampled_from(CALENDARS)


@settings(max_examples=150, deadline=None)
@given(calendar=calendars, opened=instants, first=minutes, second=minutes)
def test_due_not_before_opening_and_monotone(calendar, opened, first, second):
    short, long = sorted((first, second))
    due_short = calendar.add_working_time(opened, timedelta(minutes=short))
    due_long = calendar.add_working_time(opened, timedelta(minutes=long))
    assert opened <= due_short <= due_long
    # The working time between opening and the due instant is exactly the target.
    assert calendar.working_time_between(opened, due_long) == timedelta(minutes=long)


@settings(max_examples=150, deadline=None)
@given(calendar=calendars, opened=instants, target=st.integers(min_value=1, max_value=100 * 60))
def test_due_lies_in_working_time(calendar, opened, target):
    due = calendar.add_working_time(opened, timedelta(minutes=target))
    if not calendar.always_open:
        assert calendar.is_working_time(due)
        assert calendar.is_working_time(due - timedelta(seconds=1))


@settings(max_examples=100, deadline=None)
@given(calendar=calendars, opened=instants, target=minutes,
       pauses=st.lists(st.tuples(st.integers(0, 20 * 24 * 60), st.integers(0, 3 * 24 * 60)), max_size=4))
def test_pauses_never_bring_due_forward(calendar, opened, target, pauses):
    intervals = [(opened + timedelta(minutes=a), opened + timedelta(minutes=a + b)) for a, b in pauses]
    plain = calendar.add_working_time(opened, timedelta(minutes=target))
    paused = calendar.add_working_time(opened, timedelta(minutes=target), intervals)
    assert paused >= plain
    assert calendar.working_time_between(opened, paused, intervals) == timedelta(minutes=target)
