"""Storable money and hours: the ranges and decimal places every boundary checks (API, use cases, billing)."""

from __future__ import annotations

from decimal import Decimal

#: Largest amount of money accepted (a price, a rate, a fee). kb.models.Money is Numeric(14, 2); this bound
#: leaves room for an invoice's sums of many amounts, and SQLite, which stores it as a double, keeps every
#: kopeck of it.
MAX_MONEY = Decimal("1000000000.00")
#: Largest number of hours accepted for one ticket (Ticket.estimate_hours is Numeric(8, 2)).
MAX_HOURS = Decimal("10000.00")
#: Decimal places of stored money (kopecks) and hours (hundredths): more would be rounded away silently.
AMOUNT_PLACES = 2


def amount_problem(amount: Decimal, *, maximum: Decimal, minimum: Decimal = Decimal("0"),
                   places: int = AMOUNT_PLACES) -> str | None:
    """Why ``amount`` cannot be stored as money or hours (not finite, out of range, too many decimal
    places), as a phrase to follow the field's name; None when it can."""
    if not amount.is_finite():
        return "must be a finite number"
    if not minimum <= amount <= maximum:
        return f"must be between {minimum} and {maximum}"
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        return f"must have at most {places} decimal places"
    return None
