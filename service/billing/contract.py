"""Contract terms: the documented JSON document (docs/billing.md) parsed into frozen dataclasses.

Parsing is strict: every problem raises :class:`BillingInputError` naming the field by its path
(``terms.package.hours``), so the CLI can exit 2 and the API can answer 422 with that field.
Money and rates are ``Decimal``; a float is refused because it has already lost kopecks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from service.platform.money import AMOUNT_PLACES, MAX_HOURS, MAX_MONEY, amount_problem  # noqa: F401 - re-exported
from service.sla.calendar import MonthError, parse_month

PLAN_KINDS = ("subscription", "package", "prepaid", "unlimited", "hourly")

#: Seed 000: every tier above Bronze multiplies the contract's price.
TIER_COEFFICIENTS = {
    "bronze": Decimal("1"),
    "silver": Decimal("1.25"),
    "gold": Decimal("1.5"),
    "platinum": Decimal("2"),
}

#: Seed 002: the plan's discount on a specialist's hour is "up to 15 %", and "up to 50 %" when unlimited.
MAX_HOURLY_DISCOUNT = {
    "subscription": Decimal("15"),
    "package": Decimal("15"),
    "prepaid": Decimal("15"),
    "unlimited": Decimal("50"),
    "hourly": Decimal("0"),
}

#: Seed 001: work outside the calendar not agreed in advance is paid "with a coefficient of 1.5-2".
OFF_HOURS_COEFFICIENT_RANGE = (Decimal("1.5"), Decimal("2"))
#: Seed 001: regular on-site visits make the subscription "10-20 % dearer".
ON_SITE_SURCHARGE_RANGE = (Decimal("10"), Decimal("20"))

#: Hours of the standard plans of seed 002 (documentation and demo; other values are allowed).
STANDARD_PACKAGE_HOURS = (10, 15, 25, 40)
STANDARD_PREPAID_HOURS = (10, 15, 30, 50)

#: Plans whose recurring fee the prepayment discount applies to.
PREPAYMENT_DISCOUNT_PLANS = ("subscription", "package", "unlimited")


class BillingInputError(ValueError):
    """A contract or usage document is invalid; ``field`` is the path of the offending value."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- parsed terms -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionTerms:
    """Per-seat subscription: a monthly rate per workstation and per server."""

    workstation_rate: Decimal
    server_rate: Decimal
    #: Regular on-site visits surcharge in percent (0 when the client has no regular visits).
    on_site_surcharge_percent: Decimal = Decimal("0")


@dataclass(frozen=True)
class PackageTerms:
    """Monthly hour package; hours left at the end of the month burn."""

    hours: Decimal
    monthly_fee: Decimal


@dataclass(frozen=True)
class PrepaidPurchase:
    month: str
    hours: Decimal


@dataclass(frozen=True)
class PrepaidTerms:
    """Prepaid hours that do not burn: bought in blocks, balance carried over month to month."""

    hour_price: Decimal
    purchases: tuple[PrepaidPurchase, ...] = ()
    #: Balance at the contract's start (hours carried over from a previous contract).
    opening_balance_hours: Decimal = Decimal("0")


@dataclass(frozen=True)
class UnlimitedTerms:
    monthly_fee: Decimal


@dataclass(frozen=True)
class FreeOperation:
    """A typical operation included for free up to ``free_per_visit`` per visit, then ``unit_price`` each."""

    kind: str
    title: str
    free_per_visit: int
    unit_price: Decimal


@dataclass(frozen=True)
class PenaltyTerms:
    """How SLA breaches reduce the invoice."""

    #: Used for a breach recorded without an amount: per_breach + per_overdue_hour x overdue hours.
    per_breach: Decimal = Decimal("0")
    per_overdue_hour: Decimal = Decimal("0")
    #: False (default): penalties never take the invoice below zero; the excess is not deducted.
    allow_negative_invoice: bool = False
    #: At most this percentage of the month's charges is deducted as penalties (None: no such limit).
    cap_percent: Decimal | None = None


@dataclass(frozen=True)
class Contract:
    """A client's contract terms, validated."""

    plan_kind: str
    tier: str
    tier_coefficient: Decimal
    hourly_rate: Decimal
    currency: str = "RUB"
    hourly_discount_percent: Decimal = Decimal("0")
    off_hours_coefficient: Decimal = Decimal("1.5")
    subscription: SubscriptionTerms | None = None
    package: PackageTerms | None = None
    prepaid: PrepaidTerms | None = None
    unlimited: UnlimitedTerms | None = None
    prepayment_months: int = 1
    free_operations: tuple[FreeOperation, ...] = ()
    penalties: PenaltyTerms = field(default_factory=PenaltyTerms)
    vat_percent: Decimal = Decimal("0")

    @property
    def prepayment_discount_percent(self) -> Decimal:
        """Seed 002: 5 % when prepaid for more than 6 months, 10 % for more than 12; unlimited: 10 % from 3."""
        return prepayment_discount_percent(self.plan_kind, self.prepayment_months)

    def free_operation(self, kind: str) -> FreeOperation | None:
        return next((op for op in self.free_operations if op.kind == kind), None)


def prepayment_discount_percent(plan_kind: str, months: int) -> Decimal:
    """The prepayment discount of seed 002 for a plan prepaid ``months`` ahead."""
    if plan_kind not in PREPAYMENT_DISCOUNT_PLANS:
        return Decimal("0")
    if plan_kind == "unlimited":
        return Decimal("10") if months >= 3 else Decimal("0")
    if months > 12:
        return Decimal("10")
    if months > 6:
        return Decimal("5")
    return Decimal("0")


# --- field readers ------------------------------------------------------------------------------


def _object(data: Any, path: str) -> dict:
    if not isinstance(data, dict):
        raise BillingInputError(path, "must be a JSON object")
    return data


def _check_keys(data: dict, path: str, allowed: set[str]) -> None:
    # Unknown keys are refused: a misspelt "hourly_rte" silently ignored would bill the wrong amount.
    for key in data:
        if key not in allowed:
            where = f"{path}.{key}" if path else key
            raise BillingInputError(where, f"unknown field (allowed: {', '.join(sorted(allowed))})")


def decimal_value(value: Any, path: str, *, minimum: Decimal | None = Decimal("0"),
                  maximum: Decimal = MAX_MONEY, positive: bool = False) -> Decimal:
    """A Decimal from a string, an int or a Decimal (a float is refused: it has lost precision), at most
    ``maximum`` (by default ``MAX_MONEY``: "1e400" would overflow every invoice computed from it)."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise BillingInputError(path, 'must be a decimal number written as a string, e.g. "1500.00"')
    try:
        amount = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise BillingInputError(path, f"must be a decimal number, got {value!r}") from None
    if not amount.is_finite():
        raise BillingInputError(path, "must be a finite number")
    if positive and amount <= 0:
        raise BillingInputError(path, "must be greater than 0")
    if minimum is not None and amount < minimum:
        raise BillingInputError(path, f"must be >= {minimum}")
    if amount > maximum:
        raise BillingInputError(path, f"must be <= {maximum}")
    return amount



def int_value(value: Any, path: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BillingInputError(path, "must be an integer")
    if value < minimum:
        raise BillingInputError(path, f"must be >= {minimum}")
    return value


def bool_value(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise BillingInputError(path, "must be true or false")
    return value


def str_value(value: Any, path: str, *, allowed: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BillingInputError(path, "must be a non-empty string")
    value = value.strip()
    if allowed is not None and value not in allowed:
        raise BillingInputError(path, f"must be one of {', '.join(allowed)}")
    return value


def month_value(value: Any, path: str) -> str:
    """A month written YYYY-MM of the supported years (service.sla.calendar.parse_month)."""
    text = str_value(value, path)
    try:
        parse_month(text)
    except MonthError as exc:
        raise BillingInputError(path, str(exc)) from None
    return text


def _required(data: dict, key: str, path: str) -> Any:
    if key not in data or data[key] is None:
        raise BillingInputError(path, "is required")
    return data[key]


# --- parsing ------------------------------------------------------------------------------------


def _subscription(data: Any, path: str) -> SubscriptionTerms:
    data = _object(data, path)
    _check_keys(data, path, {"workstation_rate", "server_rate", "on_site_surcharge_percent"})
    surcharge = Decimal("0")
    if data.get("on_site_surcharge_percent") is not None:
        low, high = ON_SITE_SURCHARGE_RANGE
        surcharge = decimal_value(data["on_site_surcharge_percent"], f"{path}.on_site_surcharge_percent")
        if surcharge != 0 and not low <= surcharge <= high:
            raise BillingInputError(f"{path}.on_site_surcharge_percent",
                                    f"must be 0 (no regular visits) or between {low} and {high}")
    return SubscriptionTerms(
        workstation_rate=decimal_value(_required(data, "workstation_rate", f"{path}.workstation_rate"),
                                       f"{path}.workstation_rate"),
        server_rate=decimal_value(_required(data, "server_rate", f"{path}.server_rate"), f"{path}.server_rate"),
        on_site_surcharge_percent=surcharge,
    )


def _package(data: Any, path: str) -> PackageTerms:
    data = _object(data, path)
    _check_keys(data, path, {"hours", "monthly_fee"})
    return PackageTerms(
        hours=decimal_value(_required(data, "hours", f"{path}.hours"), f"{path}.hours", positive=True),
        monthly_fee=decimal_value(_required(data, "monthly_fee", f"{path}.monthly_fee"), f"{path}.monthly_fee"),
    )


def _prepaid(data: Any, path: str) -> PrepaidTerms:
    data = _object(data, path)
    _check_keys(data, path, {"hour_price", "purchases", "opening_balance_hours"})
    purchases_raw = data.get("purchases") or []
    if not isinstance(purchases_raw, list):
        raise BillingInputError(f"{path}.purchases", "must be a list of {month, hours}")
    purchases = []
    for index, item in enumerate(purchases_raw):
        item_path = f"{path}.purchases[{index}]"
        item = _object(item, item_path)
        _check_keys(item, item_path, {"month", "hours"})
        purchases.append(PrepaidPurchase(
            month=month_value(_required(item, "month", f"{item_path}.month"), f"{item_path}.month"),
            hours=decimal_value(_required(item, "hours", f"{item_path}.hours"), f"{item_path}.hours", positive=True),
        ))
    opening = Decimal("0")
    if data.get("opening_balance_hours") is not None:
        opening = decimal_value(data["opening_balance_hours"], f"{path}.opening_balance_hours")
    return PrepaidTerms(
        hour_price=decimal_value(_required(data, "hour_price", f"{path}.hour_price"), f"{path}.hour_price"),
        purchases=tuple(purchases),
        opening_balance_hours=opening,
    )


def _unlimited(data: Any, path: str) -> UnlimitedTerms:
    data = _object(data, path)
    _check_keys(data, path, {"monthly_fee"})
    return UnlimitedTerms(
        monthly_fee=decimal_value(_required(data, "monthly_fee", f"{path}.monthly_fee"), f"{path}.monthly_fee"),
    )


def _free_operations(data: Any, path: str) -> tuple[FreeOperation, ...]:
    if not isinstance(data, list):
        raise BillingInputError(path, "must be a list of {kind, title, free_per_visit, unit_price}")
    operations = []
    seen: set[str] = set()
    for index, item in enumerate(data):
        item_path = f"{path}[{index}]"
        item = _object(item, item_path)
        _check_keys(item, item_path, {"kind", "title", "free_per_visit", "unit_price"})
        kind = str_value(_required(item, "kind", f"{item_path}.kind"), f"{item_path}.kind")
        if kind in seen:
            raise BillingInputError(f"{item_path}.kind", f"operation {kind!r} is listed twice")
        seen.add(kind)
        operations.append(FreeOperation(
            kind=kind,
            title=str_value(item["title"], f"{item_path}.title") if item.get("title") is not None else kind,
            free_per_visit=int_value(_required(item, "free_per_visit", f"{item_path}.free_per_visit"),
                                     f"{item_path}.free_per_visit"),
            unit_price=decimal_value(_required(item, "unit_price", f"{item_path}.unit_price"),
                                     f"{item_path}.unit_price"),
        ))
    return tuple(operations)


def _penalties(data: Any, path: str) -> PenaltyTerms:
    data = _object(data, path)
    _check_keys(data, path, {"per_breach", "per_overdue_hour", "allow_negative_invoice", "cap_percent"})
    cap = data.get("cap_percent")
    return PenaltyTerms(
        per_breach=decimal_value(data.get("per_breach", "0"), f"{path}.per_breach"),
        per_overdue_hour=decimal_value(data.get("per_overdue_hour", "0"), f"{path}.per_overdue_hour"),
        allow_negative_invoice=bool_value(data.get("allow_negative_invoice", False),
                                          f"{path}.allow_negative_invoice"),
        cap_percent=None if cap is None else decimal_value(cap, f"{path}.cap_percent", maximum=Decimal("100")),
    )


_PLAN_SECTIONS = {"subscription": _subscription, "package": _package, "prepaid": _prepaid,
                  "unlimited": _unlimited}

TERMS_FIELDS = {
    "currency", "tier_coefficient", "hourly_rate", "hourly_discount_percent", "off_hours_coefficient",
    "subscription", "package", "prepaid", "unlimited", "prepayment_months", "free_operations", "penalties",
    "vat_percent",
}


def parse_terms(plan_kind: str, tier: str, terms: Any, *, path: str = "terms") -> Contract:
    """Validate the ``terms`` JSON of a stored contract (plan kind and tier come from its columns)."""
    plan_kind = str_value(plan_kind, "plan_kind", allowed=PLAN_KINDS)
    tier = str_value(tier, "tier", allowed=tuple(TIER_COEFFICIENTS))
    terms = _object(terms, path)
    _check_keys(terms, path, TERMS_FIELDS)

    def p(name: str) -> str:
        return f"{path}.{name}"

    coefficient = TIER_COEFFICIENTS[tier]
    if terms.get("tier_coefficient") is not None:
        coefficient = decimal_value(terms["tier_coefficient"], p("tier_coefficient"), minimum=Decimal("1"))

    max_discount = MAX_HOURLY_DISCOUNT[plan_kind]
    discount = decimal_value(terms.get("hourly_discount_percent", "0"), p("hourly_discount_percent"),
                             maximum=max_discount)

    low, high = OFF_HOURS_COEFFICIENT_RANGE
    off_hours = decimal_value(terms.get("off_hours_coefficient", "1.5"), p("off_hours_coefficient"),
                              minimum=low, maximum=high)

    sections: dict[str, Any] = {}
    for name, parser in _PLAN_SECTIONS.items():
        if terms.get(name) is not None:
            if name != plan_kind:
                raise BillingInputError(p(name), f"does not belong to a {plan_kind!r} contract")
            sections[name] = parser(terms[name], p(name))
    if plan_kind in _PLAN_SECTIONS and plan_kind not in sections:
        raise BillingInputError(p(plan_kind), f"is required for a {plan_kind!r} contract")

    currency = str_value(terms.get("currency", "RUB"), p("currency"))
    if len(currency) != 3 or not currency.isalpha():
        raise BillingInputError(p("currency"), "must be a three-letter currency code such as RUB")

    return Contract(
        plan_kind=plan_kind,
        tier=tier,
        tier_coefficient=coefficient,
        hourly_rate=decimal_value(_required(terms, "hourly_rate", p("hourly_rate")), p("hourly_rate")),
        currency=currency.upper(),
        hourly_discount_percent=discount,
        off_hours_coefficient=off_hours,
        prepayment_months=int_value(terms.get("prepayment_months", 1), p("prepayment_months"), minimum=1),
        free_operations=_free_operations(terms.get("free_operations") or [], p("free_operations")),
        penalties=_penalties(terms.get("penalties") or {}, p("penalties")),
        vat_percent=decimal_value(terms.get("vat_percent", "0"), p("vat_percent"), maximum=Decimal("100")),
        **sections,
    )


def parse_contract(data: Any) -> Contract:
    """Validate a contract document ``{"plan_kind", "tier", "terms"}`` (the file of ``precedent bill``)."""
    data = _object(data, "contract")
    _check_keys(data, "", {"plan_kind", "tier", "terms", "client_id", "valid_from", "valid_to"})
    return parse_terms(_required(data, "plan_kind", "plan_kind"), data.get("tier", "bronze"),
                       _required(data, "terms", "terms"))
