"""Leases: at most one holder of a named job at a time, across processes and hosts sharing the database."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kb.models import Lease


def acquire(session: Session, *, name: str, holder: str, now: datetime, ttl_seconds: float) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``; False while another holds it.

    Commits: the lease must be visible to the other processes at once. One conditional UPDATE (or the
    first INSERT) decides, so two processes can never both win."""
    expires_at = now + timedelta(seconds=ttl_seconds)
    taken = session.execute(
        update(Lease).where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at <= now))
        .values(holder=holder, expires_at=expires_at)
    ).rowcount
    if taken:
        session.commit()
        return True
    if session.get(Lease, name) is not None:
        session.rollback()
        return False
    session.add(Lease(name=name, holder=holder, expires_at=expires_at))
    try:
        session.commit()
    except IntegrityError:  # another process inserted it first
        session.rollback()
        return False
    return True


def release(session: Session, *, name: str, holder: str) -> None:
    """Give the lease up early (only when ``holder`` holds it)."""
    session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
    session.commit()
