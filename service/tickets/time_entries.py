"""Correcting and deleting recorded work: only its author (the specialist who logged it) or a manager may,
only while the ticket is not closed, and every change leaves an audit event with the old and new values."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from kb.models import TimeEntry
from service.config import Settings, current_settings
from service.platform.unit_of_work import unit_of_work
from service.tickets.errors import IllegalTransition, WorkflowInputError
from service.tickets.staging import audit_event, notify_changed, utc_now
from service.tickets.transitions import allowed_actions


class TimeEntryNotFound(LookupError):
    """No such time entry on that ticket (or not the caller's to see)."""


def may_change(entry: TimeEntry, *, specialist_id: int | None, is_manager: bool) -> bool:
    """Whether a user (its specialist record, its role) may correct or delete ``entry``."""
    return is_manager or (specialist_id is not None and entry.specialist_id == specialist_id)


def _entry(session: Session, *, ticket_id: int, entry_id: int, specialist_id: int | None,
           is_manager: bool) -> TimeEntry:
    entry = session.get(TimeEntry, entry_id)
    if entry is None or entry.ticket_id != ticket_id:
        raise TimeEntryNotFound(f"time entry {entry_id} not found")
    if not may_change(entry, specialist_id=specialist_id, is_manager=is_manager):
        raise WorkflowInputError("only the author of the entry or a manager may change it", "time_entry")
    if entry.ticket.status == "closed":
        raise IllegalTransition(entry.ticket.status, "correct_time_entry", allowed_actions(entry.ticket.status))
    return entry


def correct_time_entry(session: Session, *, ticket_id: int, entry_id: int, actor: str, specialist_id: int | None,
                       is_manager: bool, started_at: datetime, minutes: int, note: str | None,
                       off_hours_agreed: bool, reason: str | None = None, now: datetime | None = None,
                       settings: Settings | None = None) -> TimeEntry:
    """Change the start, duration, note or off-hours agreement of an entry; audited with before and after."""
    now, settings = utc_now(now), current_settings(settings)
    with unit_of_work(session) as uow:
        entry = _entry(session, ticket_id=ticket_id, entry_id=entry_id, specialist_id=specialist_id,
                       is_manager=is_manager)
        if started_at.tzinfo is None or started_at > now + timedelta(minutes=5):
            raise WorkflowInputError("started_at must be an instant with a UTC offset, not in the future",
                                     "started_at")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 24 * 60:
            raise WorkflowInputError("minutes must be an integer between 1 and 1440", "minutes")
        before = {"started_at": entry.started_at.isoformat(), "minutes": entry.minutes, "note": entry.note,
                  "off_hours_agreed": entry.off_hours_agreed}
        entry.started_at, entry.minutes, entry.note = started_at, minutes, (note or None)
        entry.off_hours_agreed = bool(off_hours_agreed)
        after = {"started_at": started_at.isoformat(), "minutes": minutes, "note": entry.note,
                 "off_hours_agreed": entry.off_hours_agreed}
        changed = {key: {"from": before[key], "to": after[key]} for key in before if before[key] != after[key]}
        audit_event(session, entry.ticket, "time_entry_corrected", actor, now, time_entry_id=entry.id,
                    reason=reason, **changed)
        notify_changed(uow, entry.ticket, "time_entry")
    return entry


def delete_time_entry(session: Session, *, ticket_id: int, entry_id: int, actor: str, specialist_id: int | None,
                      is_manager: bool, reason: str | None = None, now: datetime | None = None) -> None:
    """Delete an entry recorded by mistake; the audit event keeps what it said."""
    now = utc_now(now)
    with unit_of_work(session) as uow:
        entry = _entry(session, ticket_id=ticket_id, entry_id=entry_id, specialist_id=specialist_id,
                       is_manager=is_manager)
        ticket = entry.ticket
        audit_event(session, ticket, "time_entry_deleted", actor, now, time_entry_id=entry.id,
                    specialist_id=entry.specialist_id, minutes=entry.minutes, reason=reason,
                    started_at=entry.started_at.isoformat(), note=entry.note)
        session.delete(entry)
        notify_changed(uow, ticket, "time_entry")
