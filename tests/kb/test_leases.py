"""Leases: one holder at a time, renewal, expiry and release (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kb.queries import leases

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


def test_one_holder_at_a_time_until_the_lease_expires(db_session):
    def take(holder, at):
        return leases.acquire(db_session, name="job", holder=holder, now=at, ttl_seconds=60)

    assert take("a", NOW) is True
    assert take("b", NOW + timedelta(seconds=30)) is False      # a holds it
    assert take("a", NOW + timedelta(seconds=50)) is True       # a renews: now valid until +110 s
    assert take("b", NOW + timedelta(seconds=100)) is False
    assert take("b", NOW + timedelta(seconds=110)) is True      # expired: b takes over
    assert take("a", NOW + timedelta(seconds=120)) is False
    leases.release(db_session, name="job", holder="a")          # not a's to release
    assert take("a", NOW + timedelta(seconds=130)) is False
    leases.release(db_session, name="job", holder="b")
    assert take("a", NOW + timedelta(seconds=131)) is True


def test_leases_are_independent_by_name(db_session):
    assert leases.acquire(db_session, name="one", holder="a", now=NOW, ttl_seconds=60)
    assert leases.acquire(db_session, name="two", holder="b", now=NOW, ttl_seconds=60)
