"""The price calculator (seed 000: "введите количество техники … предложение рассчитывается автоматически").

A quote is not priced by a formula of its own: the request and the rate card become contract terms, and the
month's price is the invoice :func:`service.billing.engine.compute_invoice` bills for a month with those seats
and no work yet -- the same engine, the same rounding, so the first invoice of a contract made from the quote
equals the quote. The rates are data (the ``rates`` settings row, editable by an admin); :data:`DEFAULT_RATES`
is what a new installation starts with. Everything here is pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from service.billing.contract import (
    ON_SITE_SURCHARGE_RANGE,
    TIER_COEFFICIENTS,
    BillingInputError,
    _check_keys,
    _object,
    decimal_value,
    month_value,
    parse_terms,
)
from service.billing.engine import Invoice, compute_invoice, invoice_to_dict, money
from service.billing.usage import Usage

#: Plans the calculator offers (seed 000 subscription by seats, seed 002 hour packages and unlimited).
QUOTE_PLANS = ("subscription", "package", "unlimited")
#: How often an engineer comes on site as a matter of routine; the surcharge of each is in the rate card.
VISIT_FREQUENCIES = ("none", "monthly", "biweekly", "weekly")
#: Bounds of the public calculator's input: beyond them a client is quoted by a person, not a form.
MAX_WORKSTATIONS = 2000
MAX_SERVERS = 300
MAX_PREPAYMENT_MONTHS = 36
QUOTE_FIELDS = ("workstations", "servers", "tier", "plan", "package_hours", "on_site_visits",
                "prepayment_months", "month")
SETTINGS_KEY = "rates"
#: Invoice lines that report the month's work (none yet in a quote): left out of the quote's lines.
WORK_REPORT_KINDS = ("included_work", "package_usage", "prepaid_usage")

DEFAULT_RATES: dict[str, Any] = {
    "currency": "RUB",
    "hourly_rate": "2000.00",
    "off_hours_coefficient": "1.5",
    "subscription": {"workstation_rate": "1500.00", "server_rate": "6000.00", "hourly_discount_percent": "10"},
    "package": {"fees": {"10": "18000.00", "15": "26000.00", "25": "42000.00", "40": "64000.00"},
                "hourly_discount_percent": "10"},
    "unlimited": {"workstation_rate": "3500.00", "server_rate": "9000.00", "minimum_fee": "60000.00",
                  "hourly_discount_percent": "50"},
    "visits": {"monthly": "10", "biweekly": "15", "weekly": "20"},
}


@dataclass(frozen=True)
class RateCard:
    """The validated price list of the calculator."""

    currency: str
    hourly_rate: Decimal
    off_hours_coefficient: Decimal
    workstation_rate: Decimal
    server_rate: Decimal
    subscription_discount: Decimal
    package_fees: dict[str, Decimal]
    package_discount: Decimal
    unlimited_workstation_rate: Decimal
    unlimited_server_rate: Decimal
    unlimited_minimum_fee: Decimal
    unlimited_discount: Decimal
    visit_surcharges: dict[str, Decimal]


@dataclass(frozen=True)
class QuoteRequest:
    """What the visitor entered."""

    workstations: int
    servers: int
    tier: str = "bronze"
    plan: str = "subscription"
    package_hours: str | None = None
    on_site_visits: str = "none"
    prepayment_months: int = 1


@dataclass(frozen=True)
class Quote:
    request: QuoteRequest
    month: str
    plan_kind: str
    tier: str
    terms: dict
    invoice: Invoice
    #: Why each plan line costs what it does (kind -> the numbers it was computed from, as strings).
    basis: dict[str, dict[str, str]]


def _section(data: dict, name: str, keys: set[str]) -> dict:
    section = _object(data.get(name), f"rates.{name}")
    _check_keys(section, f"rates.{name}", keys)
    return section


def _rate(data: dict, key: str, path: str, **limits) -> Decimal:
    if data.get(key) is None:
        raise BillingInputError(f"{path}.{key}", "is required")
    return decimal_value(data[key], f"{path}.{key}", **limits)


def parse_rates(data: Any) -> RateCard:
    """Validate a rate card document (the shape of :data:`DEFAULT_RATES`); errors name the field path."""
    data = _object(data, "rates")
    _check_keys(data, "rates", set(DEFAULT_RATES))
    subscription = _section(data, "subscription", {"workstation_rate", "server_rate", "hourly_discount_percent"})
    package = _section(data, "package", {"fees", "hourly_discount_percent"})
    unlimited = _section(data, "unlimited", {"workstation_rate", "server_rate", "minimum_fee",
                                             "hourly_discount_percent"})
    visits = _section(data, "visits", set(VISIT_FREQUENCIES) - {"none"})
    fees = _object(package.get("fees"), "rates.package.fees")
    if not fees:
        raise BillingInputError("rates.package.fees", "must list at least one package: {hours: monthly fee}")
    for hours in fees:
        if not hours.isdigit() or not 0 < int(hours) <= 744:
            raise BillingInputError(f"rates.package.fees.{hours}", "the key must be the package's hours, 1 to 744")
    low, high = ON_SITE_SURCHARGE_RANGE
    off_hours = _rate(data, "off_hours_coefficient", "rates", minimum=Decimal("1.5"), maximum=Decimal("2"))
    currency = data.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise BillingInputError("rates.currency", "must be a three-letter currency code such as RUB")
    return RateCard(
        currency=currency.upper(), hourly_rate=_rate(data, "hourly_rate", "rates"), off_hours_coefficient=off_hours,
        workstation_rate=_rate(subscription, "workstation_rate", "rates.subscription"),
        server_rate=_rate(subscription, "server_rate", "rates.subscription"),
        subscription_discount=_rate(subscription, "hourly_discount_percent", "rates.subscription",
                                    maximum=Decimal("15")),
        package_fees={hours: decimal_value(fee, f"rates.package.fees.{hours}")
                      for hours, fee in sorted(fees.items(), key=lambda item: int(item[0]))},
        package_discount=_rate(package, "hourly_discount_percent", "rates.package", maximum=Decimal("15")),
        unlimited_workstation_rate=_rate(unlimited, "workstation_rate", "rates.unlimited"),
        unlimited_server_rate=_rate(unlimited, "server_rate", "rates.unlimited"),
        unlimited_minimum_fee=_rate(unlimited, "minimum_fee", "rates.unlimited"),
        unlimited_discount=_rate(unlimited, "hourly_discount_percent", "rates.unlimited", maximum=Decimal("50")),
        visit_surcharges={name: _rate(visits, name, "rates.visits", minimum=low, maximum=high)
                          for name in VISIT_FREQUENCIES if name != "none"},
    )


def _count(data: dict, name: str, maximum: int) -> int:
    value = data.get(name, 0)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value.strip()) < 12:
        value = int(value.strip())  # the page's form sends text
    if isinstance(value, bool) or not isinstance(value, int):
        raise BillingInputError(name, "must be a whole number")
    if not 0 <= value <= maximum:
        raise BillingInputError(name, f"must be between 0 and {maximum} (a larger fleet is quoted by a manager)")
    return value


def _choice(data: dict, name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return default
    if not isinstance(value, str) or value.strip() not in allowed:
        raise BillingInputError(name, f"must be one of {', '.join(allowed)}")
    return value.strip()


def parse_quote_request(data: Any, rates: RateCard) -> QuoteRequest:
    """Validate the calculator's input against its bounds and the rate card; errors name the field."""
    data = _object(data, "body")
    _check_keys(data, "", set(QUOTE_FIELDS))
    request = QuoteRequest(
        workstations=_count(data, "workstations", MAX_WORKSTATIONS),
        servers=_count(data, "servers", MAX_SERVERS),
        tier=_choice(data, "tier", tuple(TIER_COEFFICIENTS), "bronze"),
        plan=_choice(data, "plan", QUOTE_PLANS, "subscription"),
        package_hours=_choice(data, "package_hours", tuple(rates.package_fees), None),
        on_site_visits=_choice(data, "on_site_visits", VISIT_FREQUENCIES, "none"),
        prepayment_months=_count(data, "prepayment_months", MAX_PREPAYMENT_MONTHS) or 1,
    )
    if request.plan != "package" and request.workstations + request.servers == 0:
        raise BillingInputError("workstations", "enter how many workstations and servers need support")
    if request.plan == "package" and request.package_hours is None:
        raise BillingInputError("package_hours", f"choose a package: {', '.join(rates.package_fees)} hours")
    if request.plan != "package" and request.package_hours is not None:
        raise BillingInputError("package_hours", "is given only with the package plan")
    if request.plan != "subscription" and request.on_site_visits != "none":
        # The engine's visit surcharge belongs to the per-seat subscription; a package's visits consume its
        # hours and the unlimited plan has no limit on visits (seed 000: "количество выездов не ограничено").
        raise BillingInputError("on_site_visits", "regular visits are priced with the subscription plan only")
    return request


def quote_terms(request: QuoteRequest, rates: RateCard) -> tuple[dict, dict[str, dict[str, str]]]:
    """The contract terms (docs/billing.md) a contract made from the quote gets, and each plan line's basis."""
    terms: dict[str, Any] = {"currency": rates.currency, "hourly_rate": str(rates.hourly_rate),
                             "off_hours_coefficient": str(rates.off_hours_coefficient),
                             "prepayment_months": request.prepayment_months}
    coefficient = str(TIER_COEFFICIENTS[request.tier])
    basis: dict[str, dict[str, str]] = {}
    if request.plan == "subscription":
        surcharge = rates.visit_surcharges.get(request.on_site_visits, Decimal("0"))
        terms["hourly_discount_percent"] = str(rates.subscription_discount)
        terms["subscription"] = {"workstation_rate": str(rates.workstation_rate), "server_rate": str(rates.server_rate),
                                 "on_site_surcharge_percent": str(surcharge)}
        basis["subscription"] = {"workstation_rate": str(rates.workstation_rate),
                                 "server_rate": str(rates.server_rate), "tier_coefficient": coefficient,
                                 "visits": request.on_site_visits, "surcharge_percent": str(surcharge)}
    elif request.plan == "package":
        terms["hourly_discount_percent"] = str(rates.package_discount)
        fee = rates.package_fees[request.package_hours]
        terms["package"] = {"hours": request.package_hours, "monthly_fee": str(fee)}
        basis["package"] = {"hours": request.package_hours, "monthly_fee": str(fee), "tier_coefficient": coefficient}
    else:
        by_seats = (rates.unlimited_workstation_rate * request.workstations
                    + rates.unlimited_server_rate * request.servers)
        fee = money(max(by_seats, rates.unlimited_minimum_fee))
        terms["hourly_discount_percent"] = str(rates.unlimited_discount)
        terms["unlimited"] = {"monthly_fee": str(fee)}
        basis["unlimited"] = {"workstation_rate": str(rates.unlimited_workstation_rate),
                              "server_rate": str(rates.unlimited_server_rate), "by_seats": str(money(by_seats)),
                              "minimum_fee": str(rates.unlimited_minimum_fee), "monthly_fee": str(fee),
                              "tier_coefficient": coefficient}
    return terms, basis


def compute_quote(request: QuoteRequest, rates: RateCard, *, month: str) -> Quote:
    """The monthly price of ``request`` under ``rates``: the engine's invoice of ``month`` with the seats and no
    work (``month`` is the contract's first month; it dates nothing else)."""
    month = month_value(month, "month")
    terms, basis = quote_terms(request, rates)
    contract = parse_terms(request.plan, request.tier, terms)
    usage = Usage(month=month, workstations=request.workstations, servers=request.servers)
    invoice = compute_invoice(contract, usage)
    return Quote(request=request, month=month, plan_kind=request.plan, tier=request.tier, terms=terms,
                 invoice=invoice, basis=basis)


def quote_to_dict(quote: Quote) -> dict:
    """The quote as JSON-ready data: the invoice's lines and totals, what they rest on, and the prepayment."""
    invoice = invoice_to_dict(quote.invoice)
    months = quote.request.prepayment_months
    return {
        "request": {name: getattr(quote.request, name) for name in QuoteRequest.__dataclass_fields__},
        "month": quote.month,
        "plan_kind": quote.plan_kind,
        "tier": quote.tier,
        "tier_coefficient": str(TIER_COEFFICIENTS[quote.tier]),
        "currency": invoice["currency"],
        "lines": [{**line, "basis": quote.basis.get(line["kind"], {})}
                  for line in ({k: v for k, v in row.items() if k != "ticket_id"} for row in invoice["lines"])
                  if line["kind"] not in WORK_REPORT_KINDS],
        "monthly_total": invoice["total"],
        "prepayment": {"months": months,
                       "discount_percent": str(_discount_percent(quote)),
                       "amount_due": str(money(quote.invoice.total * months))},
        "hourly_rate": quote.terms["hourly_rate"],
        "hourly_discount_percent": quote.terms.get("hourly_discount_percent", "0"),
        "off_hours_coefficient": quote.terms["off_hours_coefficient"],
        "terms": quote.terms,
    }


def _discount_percent(quote: Quote) -> Decimal:
    line = next((line for line in quote.invoice.lines if line.kind == "prepayment_discount"), None)
    return line.quantity if line is not None else Decimal("0")


def next_month(month: str) -> str:
    """The month after ``month`` (both YYYY-MM)."""
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def flatten_rates(data: dict, prefix: str = "") -> dict[str, str]:
    """The rate card as ``{"subscription.workstation_rate": "1500.00", ...}``: the admin form's fields."""
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_rates(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def unflatten_rates(flat: dict[str, str], shape: dict) -> dict:
    """The form's fields back into a rate card document of the same ``shape`` (the current card); a field
    missing from the form keeps its current value, so a partial form never drops a rate."""
    document: dict[str, Any] = {}
    for key, value in shape.items():
        if isinstance(value, dict):
            document[key] = unflatten_rates({k[len(key) + 1:]: v for k, v in flat.items()
                                             if k.startswith(f"{key}.")}, value)
        else:
            given = flat.get(key)
            document[key] = given.strip() if isinstance(given, str) and given.strip() else value
    return document
