"""SLA clocks of one ticket, computed from plain data.

Every target (reaction, work start, resolution) runs from the ticket's opening instant in the calendar's
working time, stopped while the ticket is paused (waiting for the client). The computation is stateless:
a priority change simply recomputes everything from the opening instant with the new priority and the
same pauses, so time already spent paused is never lost.

States of a target: ``met`` (done by the due instant), ``breached`` (done late, or not done and past due),
``at_risk`` (not done, at least ``at_risk_fraction`` of the target used), ``on_track``. A ticket's state is
the worst of its targets' states (breached > at_risk > on_track > met); ``paused`` when it is waiting for
the client and every running target is on track.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from service.sla.calendar import BusinessCalendar
from service.sla.policies import TARGETS, SlaPolicy

STATES = ("met", "on_track", "paused", "at_risk", "breached")
_SEVERITY = {state: rank for rank, state in enumerate(STATES)}
DEFAULT_AT_RISK_FRACTION = 0.75


@dataclass(frozen=True)
class Pause:
    """A pause of the clocks; ``end`` None while it lasts."""

    start: datetime
    end: datetime | None = None


@dataclass(frozen=True)
class TicketTimes:
    """What the clocks need of a ticket (instants tz-aware)."""

    opened_at: datetime
    priority: str
    reacted_at: datetime | None = None
    work_started_at: datetime | None = None
    resolved_at: datetime | None = None
    pauses: Sequence[Pause] = field(default_factory=tuple)

    def done_at(self, target: str) -> datetime | None:
        """When ``target`` was reached; resolving a ticket also counts as reaction and work start."""
        candidates = {"reaction": (self.reacted_at, self.work_started_at, self.resolved_at),
                      "work_start": (self.work_started_at, self.resolved_at),
                      "resolution": (self.resolved_at,)}[target]
        present = [instant for instant in candidates if instant is not None]
        return min(present) if present else None


@dataclass(frozen=True)
class TargetClock:
    """One target of one ticket at instant ``now``."""

    target: str
    target_time: timedelta
    due_at: datetime
    done_at: datetime | None
    used: timedelta
    remaining: timedelta
    overdue: timedelta
    state: str
    #: When the target became at risk (the at-risk share of its working time used), given the pauses so far.
    at_risk_from: datetime | None = None

    @property
    def overdue_minutes(self) -> int:
        return int(self.overdue.total_seconds() // 60)


@dataclass(frozen=True)
class TicketClock:
    """All targets of one ticket at ``now`` and the ticket's overall state."""

    targets: dict[str, TargetClock]
    state: str
    paused: bool

    def due(self, target: str) -> datetime | None:
        clock = self.targets.get(target)
        return None if clock is None else clock.due_at


def pause_intervals(pauses: Sequence[Pause], now: datetime) -> list[tuple[datetime, datetime]]:
    """Pauses as closed intervals; an open pause lasts until ``now`` (the due instants then assume the clock
    restarts now, and move on as the pause goes on)."""
    intervals = []
    for pause in pauses:
        end = pause.end if pause.end is not None else max(now, pause.start)
        intervals.append((pause.start, end))
    return intervals


def due_instants(times: TicketTimes, policy: SlaPolicy, calendar: BusinessCalendar,
                 now: datetime | None = None) -> dict[str, datetime | None]:
    """Due instant of each target (None where the policy has no such target), in UTC."""
    now = now or datetime.now(UTC)
    pauses = pause_intervals(times.pauses, now)
    result: dict[str, datetime | None] = {}
    for target in TARGETS:
        hours = policy.target_hours(target, times.priority)
        result[target] = None if hours is None else calendar.add_working_time(
            times.opened_at, timedelta(hours=hours), pauses)
    return result


def ticket_clock(times: TicketTimes, policy: SlaPolicy, calendar: BusinessCalendar,
                 now: datetime | None = None, *, at_risk_fraction: float = DEFAULT_AT_RISK_FRACTION) -> TicketClock:
    """Evaluate every target of the ticket at ``now`` (default: the current instant)."""
    if not 0 < at_risk_fraction <= 1:
        raise ValueError("at_risk_fraction must be in (0, 1]")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    pauses = pause_intervals(times.pauses, now)
    paused = any(p.end is None and p.start <= now for p in times.pauses)
    targets: dict[str, TargetClock] = {}
    for target in TARGETS:
        hours = policy.target_hours(target, times.priority)
        if hours is None:
            continue
        allowed = timedelta(hours=hours)
        due = calendar.add_working_time(times.opened_at, allowed, pauses)
        done = times.done_at(target)
        # A target done after "now" (recomputing history) is judged as not yet done.
        if done is not None and done > now:
            done = None
        used = calendar.working_time_between(times.opened_at, done or now, pauses)
        overdue = max(used - allowed, timedelta(0))
        if done is not None:
            state = "met" if done <= due else "breached"
        elif overdue > timedelta(0) or now > due:
            state = "breached"
        elif used >= allowed * at_risk_fraction:
            state = "at_risk"
        else:
            state = "on_track"
        at_risk_from = calendar.add_working_time(times.opened_at, allowed * at_risk_fraction, pauses)
        targets[target] = TargetClock(target, allowed, due, done, used, max(allowed - used, timedelta(0)),
                                      overdue, state, at_risk_from)
    states = [clock.state for clock in targets.values()]
    overall = max(states, key=_SEVERITY.__getitem__) if states else "met"
    if paused and overall == "on_track":
        overall = "paused"
    return TicketClock(targets, overall, paused)
