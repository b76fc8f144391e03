"""The one month helper (service.sla.calendar): YYYY-MM checked, bounded in a zone, stepped back."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from service.sla.calendar import MonthError, month_bounds, month_of, parse_month, previous_month

MSK = ZoneInfo("Europe/Moscow")


def test_parse_month():
    assert parse_month("2026-11") == (2026, 11)
    for bad in ("2026-13", "2026-00", "2026-1", "26-11", "2026/11", "２０２６-１１", "", None, 202611):
        with pytest.raises(MonthError, match="YYYY-MM"):
            parse_month(bad)
    for out_of_range in ("1999-12", "2101-01", "0001-01"):
        with pytest.raises(MonthError, match="2000-2100"):
            parse_month(out_of_range)


def test_month_bounds_in_the_clients_zone():
    assert month_bounds("2026-11", MSK) == (datetime(2026, 10, 31, 21, tzinfo=UTC), datetime(2026, 11, 30, 21, tzinfo=UTC))
    assert month_bounds("2026-12", MSK)[1] == datetime(2026, 12, 31, 21, tzinfo=UTC)


def test_month_of_and_previous_month():
    assert month_of(datetime(2026, 10, 31, 21, 30, tzinfo=UTC), MSK) == "2026-11"  # already November in Moscow
    assert previous_month("2026-11") == "2026-10"
    assert previous_month("2027-01") == "2026-12"
