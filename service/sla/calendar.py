"""Business calendars and calendar months: the one calendar of SLA clocks and billing's off-hours work.

A calendar is weekly working hours in the client's time zone, minus the public holidays of the client's
country (the ``holidays`` package, which also lists substituted days off, e.g. RU 2026-01-09 and
2026-12-31), plus the weekend days that the country's government turned into working days
(``holidays``' ``weekend_workdays``, e.g. RU Saturday 2027-02-20). ``24x7`` runs always and ignores
holidays. Working hours are wall-clock hours in the zone, so a DST change moves them in UTC; working
time is measured in real elapsed time (a working day of 09:00-19:00 is 10 hours on both sides of DST).

Months (``YYYY-MM``) are the periods of invoices and SLA reports: :func:`parse_month` checks one,
:func:`month_bounds` gives its instants in a client's zone, :func:`month_of` and :func:`previous_month` step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_package

#: Named weekly calendars: working hours per weekday (Monday first), None = day off.
WEEKLY_HOURS: dict[str, tuple[tuple[time, time] | None, ...]] = {
    "10x5": ((time(9), time(19)),) * 5 + (None, None),
    "8x5": ((time(9), time(18)),) * 5 + (None, None),
}
ALWAYS_OPEN = "24x7"
CALENDAR_NAMES = (*WEEKLY_HOURS, ALWAYS_OPEN)

#: How far ahead a computation may look for working time before giving up (guards bad calendars).
_MAX_DAYS = 3 * 366


class CalendarError(ValueError):
    """An unknown calendar, time zone or country."""


@lru_cache(maxsize=256)
def _country_holidays(country: str, year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(days off, weekend working days) of ``country`` in ``year``."""
    table = holidays_package.country_holidays(country, years=year)
    days_off = frozenset(table)
    workdays = frozenset(getattr(table, "weekend_workdays", ()) or ())
    return days_off, workdays


def check_country(country: str) -> str:
    """Return the upper-case country code, or raise CalendarError if ``holidays`` does not know it."""
    code = country.upper()
    try:
        holidays_package.country_holidays(code, years=2026)
    except (NotImplementedError, KeyError, AttributeError):
        raise CalendarError(f"unknown country {country!r} (ISO 3166-1 alpha-2 code expected)") from None
    return code


def check_timezone(name: str) -> ZoneInfo:
    """Return the ZoneInfo for ``name`` or raise CalendarError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"unknown time zone {name!r}") from None


@dataclass(frozen=True)
class BusinessCalendar:
    """A support calendar: ``name`` (10x5, 8x5, 24x7), IANA ``timezone`` and ``country`` (None: no holidays)."""

    name: str = "10x5"
    timezone: str = "Europe/Moscow"
    country: str | None = "RU"

    def __post_init__(self) -> None:
        if self.name not in CALENDAR_NAMES:
            raise CalendarError(f"unknown calendar {self.name!r} (one of {', '.join(CALENDAR_NAMES)})")
        check_timezone(self.timezone)
        if self.country:
            object.__setattr__(self, "country", check_country(self.country))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def always_open(self) -> bool:
        return self.name == ALWAYS_OPEN

    def is_working_day(self, day: date) -> bool:
        """True when ``day`` (a local date) has working hours."""
        if self.always_open:
            return True
        if self.country:
            days_off, workdays = _country_holidays(self.country, day.year)
            if day in days_off:
                return False
            if day in workdays:
                return True
        return WEEKLY_HOURS[self.name][day.weekday()] is not None

    def _hours_of(self, day: date) -> tuple[time, time] | None:
        if not self.is_working_day(day):
            return None
        hours = WEEKLY_HOURS[self.name][day.weekday()]
        # A transferred working Saturday has the hours of an ordinary weekday.
        return hours or WEEKLY_HOURS[self.name][0]

    def day_interval(self, day: date) -> tuple[datetime, datetime] | None:
        """The working interval of local date ``day`` in UTC, or None on a day off."""
        hours = self._hours_of(day)
        if hours is None:
            return None
        zone = self.zone
        start = datetime.combine(day, hours[0], tzinfo=zone).astimezone(UTC)
        end = datetime.combine(day, hours[1], tzinfo=zone).astimezone(UTC)
        return start, end

    def intervals(self, start: datetime, end: datetime | None = None) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals (UTC, clipped) from ``start`` up to ``end`` (None: without end, bounded by years)."""
        start = _utc(start)
        end = None if end is None else _utc(end)
        if self.always_open:
            yield start, end if end is not None else start + timedelta(days=_MAX_DAYS)
            return
        day = start.astimezone(self.zone).date()
        # With an end the walk is bounded by it; without one, by _MAX_DAYS (a calendar without working days).
        last_day = None if end is None else end.astimezone(self.zone).date()
        steps = _MAX_DAYS if last_day is None else (last_day - day).days + 1
        for _ in range(max(steps, 0)):
            interval = self.day_interval(day)
            day += timedelta(days=1)
            if interval is None:
                continue
            lo, hi = max(interval[0], start), interval[1]
            if end is not None:
                if lo >= end:
                    return
                hi = min(hi, end)
            if lo < hi:
                yield lo, hi
        if end is None:
            raise CalendarError(f"calendar {self.name} has no working time within {_MAX_DAYS} days")

    def is_working_time(self, instant: datetime) -> bool:
        """True when ``instant`` lies in working time (the end of a working day counts as inside)."""
        instant = _utc(instant)
        if self.always_open:
            return True
        day = instant.astimezone(self.zone).date()
        interval = self.day_interval(day)
        return interval is not None and interval[0] <= instant <= interval[1]

    def add_working_time(self, start: datetime, duration: timedelta,
                         pauses: Iterable[tuple[datetime, datetime]] = ()) -> datetime:
        """The instant when ``duration`` of working time outside ``pauses`` has run from ``start`` (UTC)."""
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        remaining = duration
        for lo, hi in _subtract(self.intervals(start), merge_intervals(pauses)):
            if remaining == timedelta(0):
                return lo
            span = hi - lo
            if span >= remaining:
                return lo + remaining
            remaining -= span
        raise CalendarError(f"calendar {self.name} has no working time within {_MAX_DAYS} days")

    def working_time_between(self, start: datetime, end: datetime,
                             pauses: Iterable[tuple[datetime, datetime]] = ()) -> timedelta:
        """Working time from ``start`` to ``end`` outside ``pauses`` (zero when end <= start)."""
        if _utc(end) <= _utc(start):
            return timedelta(0)
        total = timedelta(0)
        for lo, hi in _subtract(self.intervals(start, end), merge_intervals(pauses)):
            total += hi - lo
        return total


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError(f"instant {instant.isoformat()} has no UTC offset")
    return instant.astimezone(UTC)


def merge_intervals(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Sorted, non-overlapping union of ``intervals`` (empty ones dropped), in UTC."""
    result: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted((_utc(a), _utc(b)) for a, b in intervals):
        if hi <= lo:
            continue
        if result and lo <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], hi))
        else:
            result.append((lo, hi))
    return result


def _subtract(intervals: Iterable[tuple[datetime, datetime]],
              holes: list[tuple[datetime, datetime]]) -> Iterator[tuple[datetime, datetime]]:
    """``intervals`` (sorted) minus ``holes`` (sorted, merged)."""
    index = 0
    for lo, hi in intervals:
        while index < len(holes) and holes[index][1] <= lo:
            index += 1
        cursor = lo
        probe = index
        while probe < len(holes) and holes[probe][0] < hi:
            hole_lo, hole_hi = holes[probe]
            if hole_lo > cursor:
                yield cursor, hole_lo
            cursor = max(cursor, hole_hi)
            if cursor >= hi:
                break
            probe += 1
        if cursor < hi:
            yield cursor, hi


# --- calendar months ------------------------------------------------------------------------------

#: Years a month (YYYY-MM) may name: month arithmetic and time-zone conversion stay far inside the range of
#: ``datetime`` ("0001-01" in Moscow would start before year 1 in UTC).
MIN_MONTH_YEAR, MAX_MONTH_YEAR = 2000, 2100

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


class MonthError(ValueError):
    """Not a month written YYYY-MM of the supported years (the message says which; callers add the field)."""


def parse_month(text: object) -> tuple[int, int]:
    """(year, month) of ``text`` written YYYY-MM with a year from MIN_MONTH_YEAR to MAX_MONTH_YEAR."""
    match = _MONTH.fullmatch(text) if isinstance(text, str) else None
    if match is None or not 1 <= int(match[2]) <= 12:
        raise MonthError(f"must be a month written YYYY-MM, got {text!r}")
    year = int(match[1])
    if not MIN_MONTH_YEAR <= year <= MAX_MONTH_YEAR:
        raise MonthError(f"must be a month of the years {MIN_MONTH_YEAR}-{MAX_MONTH_YEAR}, got {text!r}")
    return year, int(match[2])


def month_bounds(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The first instant of ``month`` (YYYY-MM, already checked) and of the next month in ``zone``, as UTC."""
    year, number = _year_and_number(month)
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def month_of(instant: datetime, zone: ZoneInfo) -> str:
    """'YYYY-MM' of the month containing ``instant`` in ``zone``."""
    return instant.astimezone(zone).strftime("%Y-%m")


def previous_month(month: str) -> str:
    """The month before ``month`` (both YYYY-MM)."""
    year, number = _year_and_number(month)
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def _year_and_number(month: str) -> tuple[int, int]:
    year, number = month.split("-")
    return int(year), int(number)
