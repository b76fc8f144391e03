"""SLA policies as data.

Targets are working hours of the client's calendar, per priority (low, standard, high, highest).
Sources:

* seed 000 — the tier table (Bronze default, price coefficients 1 / 1.25 / 1.5 / 2), reaction and
  resolution per priority;
* seed 002 — three support plans of a 10/5 09:00–19:00 calendar with a reaction time and a "maximum time
  to start work" on incidents (2 h / 4 h, 1 h / 3 h, 3 h / 6 h). The seed gives no resolution time, so they
  take Bronze's resolution targets (the default tier of seed 000) — a documented choice, see docs/sla.md;
* seed 003 — 24×7×4: support around the clock, full restoration within 4 calendar hours. The seed gives no
  reaction time; we use 30 minutes (the fastest reaction of seed 000).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kb.vocab import PRIORITIES

TARGETS = ("reaction", "work_start", "resolution")


class PolicyError(ValueError):
    """An unknown policy or priority."""


@dataclass(frozen=True)
class SlaPolicy:
    """One SLA policy: targets in working hours per priority; ``calendar`` fixes the calendar if set."""

    key: str
    title: str
    #: Price coefficient of seed 000's tiers; None for plans priced on their own (seed 002, seed 003).
    coefficient: Decimal | None
    reaction_hours: dict[str, float]
    resolution_hours: dict[str, float]
    work_start_hours: dict[str, float] | None = None
    #: None: the client's calendar; "24x7" for a round-the-clock contract.
    calendar: str | None = None
    #: Seed 000: SLA reports are sent from Gold up.
    sends_monthly_report: bool = False

    def target_hours(self, target: str, priority: str) -> float | None:
        """Working hours allowed for ``target`` at ``priority`` (None: the policy has no such target)."""
        if priority not in PRIORITIES:
            raise PolicyError(f"unknown priority {priority!r} (one of {', '.join(PRIORITIES)})")
        table = {"reaction": self.reaction_hours, "work_start": self.work_start_hours,
                 "resolution": self.resolution_hours}[target]
        return None if table is None else table[priority]


def _per_priority(low: float, standard: float, high: float, highest: float) -> dict[str, float]:
    return dict(zip(PRIORITIES, (low, standard, high, highest), strict=True))


def _flat(hours: float) -> dict[str, float]:
    return dict.fromkeys(PRIORITIES, hours)


_BRONZE_RESOLUTION = _per_priority(80, 32, 16, 8)

POLICIES: dict[str, SlaPolicy] = {
    policy.key: policy
    for policy in (
        SlaPolicy("bronze", "Бронзовый", Decimal("1"), _per_priority(40, 8, 2, 1), _BRONZE_RESOLUTION),
        SlaPolicy("silver", "Серебряный", Decimal("1.25"), _per_priority(32, 6, 2, 1), _per_priority(64, 24, 12, 8)),
        SlaPolicy("gold", "Золотой", Decimal("1.5"), _per_priority(32, 4, 1, 0.5), _per_priority(64, 16, 8, 6),
                  sends_monthly_report=True),
        SlaPolicy("platinum", "Платиновый", Decimal("2"), _per_priority(24, 2, 1, 0.5), _per_priority(48, 12, 8, 4),
                  sends_monthly_report=True),
        SlaPolicy("kit_package", "Пакет часов (сгорающие)", None, _flat(2), _BRONZE_RESOLUTION,
                  work_start_hours=_flat(4), calendar="10x5"),
        SlaPolicy("kit_unlimited", "Безлимитный", None, _flat(1), _BRONZE_RESOLUTION,
                  work_start_hours=_flat(3), calendar="10x5"),
        SlaPolicy("kit_prepaid", "Предоплаченные часы (без сгорания)", None, _flat(3), _BRONZE_RESOLUTION,
                  work_start_hours=_flat(6), calendar="10x5"),
        SlaPolicy("24x7x4", "24×7, восстановление за 4 часа", None, _flat(0.5), _flat(4),
                  calendar="24x7", sends_monthly_report=True),
    )
}
DEFAULT_POLICY = "bronze"


def get_policy(key: str) -> SlaPolicy:
    """The policy named ``key`` (case-insensitive) or PolicyError."""
    policy = POLICIES.get((key or "").strip().lower())
    if policy is None:
        raise PolicyError(f"unknown SLA policy {key!r} (one of {', '.join(POLICIES)})")
    return policy
