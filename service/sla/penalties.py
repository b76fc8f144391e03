"""SLA penalties from a contract's terms (seed 000: "Каждый случай просрочки SLA штрафуется на определенную
согласованную сторонами сумму пропорциональную упущенному времени или количеству просроченных задач").

The terms are the ``penalties`` object of ``kb.models.Contract.terms`` (the keys are shared with billing,
docs/billing.md): ``per_breach`` — a fixed amount per overdue ticket, charged on the ticket's first breached
target only; ``per_overdue_hour`` — an amount per hour of overdue working time, charged on every breached
target. Either may be zero. Amounts are Decimal, rounded to kopecks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

KOPECK = Decimal("0.01")


class PenaltyTermsError(ValueError):
    """Malformed penalty terms; the message names the key."""


@dataclass(frozen=True)
class PenaltyTerms:
    """Fixed amount per overdue ticket and amount per overdue working hour."""

    per_breach: Decimal = Decimal("0")
    per_overdue_hour: Decimal = Decimal("0")


def _money(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        raise PenaltyTermsError(f"penalties.{name}: a decimal string or an integer expected, got {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise PenaltyTermsError(f"penalties.{name}: not a number: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise PenaltyTermsError(f"penalties.{name}: must be a non-negative amount, got {value!r}")
    return amount


def penalty_terms(contract_terms: Mapping[str, Any] | None) -> PenaltyTerms:
    """Read the ``penalties`` object of a contract's terms (missing: no penalties)."""
    data = (contract_terms or {}).get("penalties")
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise PenaltyTermsError("penalties: an object expected")
    return PenaltyTerms(per_breach=_money(data.get("per_breach", "0"), "per_breach"),
                        per_overdue_hour=_money(data.get("per_overdue_hour", "0"), "per_overdue_hour"))


def breach_penalty(terms: PenaltyTerms, overdue: timedelta, *, first_breach_of_ticket: bool) -> Decimal:
    """Penalty of one breached target overdue by ``overdue`` working time."""
    hours = Decimal(int(max(overdue, timedelta(0)).total_seconds())) / Decimal(3600)
    amount = terms.per_overdue_hour * hours
    if first_breach_of_ticket:
        amount += terms.per_breach
    return amount.quantize(KOPECK, rounding=ROUND_HALF_UP)
