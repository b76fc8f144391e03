"""The billing engine: (contract, month's usage) -> invoice with lines and totals. Pure, Decimal only.

Rules (seeds 000-002, docs/billing.md has the worked examples):

* plan fees: subscription per workstation and server, hour package, unlimited fee, prepaid hours bought
  this month -- each multiplied by the tier coefficient (x1, x1.25, x1.5, x2); a subscription with
  regular on-site visits is 10-20 % dearer;
* prepayment discount on the recurring fee (subscription, package, unlimited);
* included work is covered by the subscription or the unlimited plan, consumes the package (unused hours
  burn) or the prepaid balance (carried over); once those run out the rest is billed as overage hours;
* hourly work is billed per ticket at the hourly rate for the time actually spent, and not after the
  client stopped it; fixed-price work is billed at its final price (after change requests) in the month
  it is completed;
* work outside the client's calendar not agreed in advance is billed as project work at the hourly rate
  x the off-hours coefficient (1.5-2), whatever its kind (fixed-price work excepted: its price is fixed);
* the plan's discount on the hourly rate (up to 15 %, 50 % on the unlimited plan) is one negative line;
* typical operations are free up to N per visit, each one beyond costs its unit price;
* SLA penalties are negative lines; penalties beyond the contract's cap (a percentage of the month's
  charges, if set) and -- unless the contract allows a negative invoice -- beyond the month's charges are
  written back by a "penalty_cap" line, so that the invoice total is never below 0 by default;
* VAT (0 % by default) on the subtotal.

Every line's amount is rounded half-up to kopecks exactly once; totals are sums of line amounts.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from service.billing.contract import BillingInputError, Contract
from service.billing.usage import EntryData, TicketData, Usage

KOPECK = Decimal("0.01")
HUNDRED = Decimal("100")
SIXTY = Decimal("60")
ZERO = Decimal("0")

TIER_NAMES = {"bronze": "Бронзовый", "silver": "Серебряный", "gold": "Золотой", "platinum": "Платиновый"}
TARGET_NAMES = {"reaction": "время реакции", "work_start": "начало работ", "resolution": "время решения"}
PLAN_NAMES = {
    "subscription": "абонентское обслуживание по рабочим местам",
    "package": "пакет часов (неизрасходованные часы сгорают)",
    "prepaid": "предоплаченные часы без сгорания",
    "unlimited": "безлимитное обслуживание",
    "hourly": "почасовая оплата",
}


def money(value: Decimal) -> Decimal:
    """Round half-up to kopecks (the only rounding an amount ever gets)."""
    return value.quantize(KOPECK, rounding=ROUND_HALF_UP)


def hours(minutes: Decimal | int) -> Decimal:
    """Minutes as hours with two decimals, for display (amounts are computed from exact minutes)."""
    return money(Decimal(minutes) / SIXTY)


def _number(value: Decimal) -> str:
    """A Decimal written without a trailing exponent or needless zeros (1.50 -> 1.5, 2.00 -> 2)."""
    text = format(value.normalize(), "f")
    return text


@dataclass(frozen=True)
class InvoiceLine:
    """One line of an invoice; ``amount`` is already rounded to kopecks."""

    kind: str
    description: str
    amount: Decimal
    quantity: Decimal | None = None
    unit: str | None = None
    unit_price: Decimal | None = None
    ticket_id: int | None = None


@dataclass(frozen=True)
class HoursSummary:
    """Where the month's hours went (hours, two decimals)."""

    total: Decimal
    covered_by_plan: Decimal
    package: Decimal
    package_burned: Decimal
    prepaid: Decimal
    overage: Decimal
    hourly: Decimal
    off_hours: Decimal
    fixed: Decimal
    not_billed_after_stop: Decimal
    on_site: Decimal
    remote: Decimal


@dataclass(frozen=True)
class PrepaidBalance:
    opening_hours: Decimal
    purchased_hours: Decimal
    consumed_hours: Decimal
    closing_hours: Decimal
    #: When the balance ran out this month (the first entry billed as overage), else None.
    exhausted_at: datetime | None


@dataclass(frozen=True)
class Invoice:
    month: str
    client_id: int | None
    client_name: str | None
    plan_kind: str
    tier: str
    currency: str
    lines: tuple[InvoiceLine, ...]
    subtotal: Decimal
    vat_percent: Decimal
    vat: Decimal
    total: Decimal
    hours: HoursSummary
    prepaid: PrepaidBalance | None
    penalties_capped: bool


class _Lines:
    def __init__(self) -> None:
        self.items: list[InvoiceLine] = []

    def add(self, kind: str, description: str, amount: Decimal, **extra) -> InvoiceLine:
        line = InvoiceLine(kind=kind, description=description, amount=money(amount), **extra)
        self.items.append(line)
        return line

    def total(self, *kinds: str) -> Decimal:
        return sum((line.amount for line in self.items if not kinds or line.kind in kinds), ZERO)


def _ticket_label(usage: Usage, ticket_id: int) -> str:
    ticket = usage.ticket(ticket_id)
    subject = f" «{ticket.subject}»" if ticket is not None and ticket.subject else ""
    return f"заявка #{ticket_id}{subject}"


def _plan_fees(contract: Contract, usage: Usage, lines: _Lines) -> None:
    coefficient = contract.tier_coefficient
    tier_note = f", {TIER_NAMES.get(contract.tier, contract.tier)} уровень ×{_number(coefficient)}" \
        if coefficient != 1 else ""
    if contract.plan_kind == "subscription":
        terms = contract.subscription
        factor = coefficient * (1 + terms.on_site_surcharge_percent / HUNDRED)
        visits = f", регулярные выезды +{_number(terms.on_site_surcharge_percent)} %" \
            if terms.on_site_surcharge_percent else ""
        for count, rate, unit, title in (
            (usage.workstations, terms.workstation_rate, "раб. место", "Обслуживание рабочих мест"),
            (usage.servers, terms.server_rate, "сервер", "Обслуживание серверов"),
        ):
            if count:
                unit_price = money(rate * factor)
                lines.add("subscription", f"{title}{tier_note}{visits}", unit_price * count,
                          quantity=Decimal(count), unit=unit, unit_price=unit_price)
    elif contract.plan_kind == "package":
        unit_price = money(contract.package.monthly_fee * coefficient)
        lines.add("package", f"Пакет {_number(contract.package.hours)} ч в месяц{tier_note}", unit_price,
                  quantity=Decimal(1), unit="мес.", unit_price=unit_price)
    elif contract.plan_kind == "unlimited":
        unit_price = money(contract.unlimited.monthly_fee * coefficient)
        lines.add("unlimited", f"Безлимитное абонентское обслуживание{tier_note}", unit_price,
                  quantity=Decimal(1), unit="мес.", unit_price=unit_price)
    elif contract.plan_kind == "prepaid":
        unit_price = money(contract.prepaid.hour_price * coefficient)
        for purchase in contract.prepaid.purchases:
            if purchase.month == usage.month:
                lines.add("prepaid_purchase", f"Предоплаченные часы (без сгорания){tier_note}",
                          unit_price * purchase.hours, quantity=purchase.hours, unit="ч", unit_price=unit_price)

    percent = contract.prepayment_discount_percent
    fees = lines.total("subscription", "package", "unlimited")
    if percent and fees:
        lines.add("prepayment_discount",
                  f"Скидка за предоплату на {contract.prepayment_months} мес.: {_number(percent)} %",
                  -(fees * percent / HUNDRED), quantity=percent, unit="%")


def compute_invoice(contract: Contract, usage: Usage) -> Invoice:
    """The month's invoice for ``usage`` under ``contract`` (see the module docstring for the rules): first the
    month's minutes are allocated (:func:`allocate_minutes`), then the lines are built in invoice order."""
    allocation = allocate_minutes(contract, usage)
    lines = _Lines()
    _plan_fees(contract, usage, lines)
    _included_work_lines(contract, allocation, lines)
    _hourly_lines(contract, usage, allocation, lines)
    _fixed_price_lines(usage, lines)
    _operations(contract, usage, lines)
    _penalties(contract, usage, lines)
    capped = _cap_penalties(contract, lines)
    subtotal = lines.total()
    vat = ZERO
    if contract.vat_percent:
        vat = lines.add("vat", f"НДС {_number(contract.vat_percent)} %", subtotal * contract.vat_percent / HUNDRED,
                        quantity=contract.vat_percent, unit="%").amount
    return Invoice(
        month=usage.month, client_id=usage.client_id, client_name=usage.client_name, plan_kind=contract.plan_kind,
        tier=contract.tier, currency=contract.currency, lines=tuple(lines.items), subtotal=subtotal,
        vat_percent=contract.vat_percent, vat=vat, total=lines.total(), hours=allocation.summary(),
        prepaid=allocation.prepaid_balance(), penalties_capped=capped,
    )


# --- minute allocation ---------------------------------------------------------------------------


@dataclass
class MinuteAllocation:
    """Where the month's minutes went, entry by entry in chronological order.

    Minutes are exact integers; Decimal minutes appear only through fractional package/prepaid hours.
    """

    plan: str
    #: Minutes of the package still free, and of the prepaid balance (opening + bought this month).
    package_left: Decimal = ZERO
    prepaid_opening: Decimal = ZERO
    prepaid_purchased: Decimal = ZERO
    prepaid_left: Decimal = ZERO
    covered: Decimal = ZERO
    package_used: Decimal = ZERO
    prepaid_used: Decimal = ZERO
    #: When the prepaid balance ran out (the first entry billed as overage), else None.
    exhausted_at: datetime | None = None
    overage: Decimal = ZERO
    #: Minutes per ticket billed by the hour, and off-hours minutes (unagreed, outside the calendar).
    hourly: OrderedDict[int, Decimal] = field(default_factory=OrderedDict)
    off_hours: OrderedDict[int, Decimal] = field(default_factory=OrderedDict)
    fixed: Decimal = ZERO
    after_stop: Decimal = ZERO
    on_site: Decimal = ZERO
    total: Decimal = ZERO

    def add(self, entry: EntryData, ticket: TicketData | None) -> None:
        """Allocate one time entry (entries come in chronological order)."""
        minutes = Decimal(entry.minutes)
        self.total += minutes
        if entry.on_site:
            self.on_site += minutes
        if entry.work_kind == "fixed":
            self.fixed += minutes
            return
        if entry.work_kind == "hourly" and ticket is not None and ticket.stopped_at is not None \
                and entry.started_at >= ticket.stopped_at:
            # The client stopped the work: what was spent up to then is billed, nothing after.
            self.after_stop += minutes
            return
        outside = 0 if entry.off_hours_agreed else entry.outside_minutes
        if outside:
            # The part outside the calendar, not agreed in advance, is project work at the coefficient.
            self.off_hours[entry.ticket_id] = self.off_hours.get(entry.ticket_id, ZERO) + outside
            minutes -= outside
            if not minutes:
                return
        if entry.work_kind == "hourly" or self.plan == "hourly":
            self.hourly[entry.ticket_id] = self.hourly.get(entry.ticket_id, ZERO) + minutes
            return
        self._included(minutes, entry.started_at)

    def _included(self, minutes: Decimal, started_at: datetime) -> None:
        """Included work: covered by the plan, or taken from the package / prepaid balance, the rest overage."""
        if self.plan in ("subscription", "unlimited"):
            self.covered += minutes
        elif self.plan == "package":
            taken = min(minutes, self.package_left)
            self.package_used += taken
            self.package_left -= taken
            self.overage += minutes - taken
        else:  # prepaid
            taken = min(minutes, self.prepaid_left)
            self.prepaid_used += taken
            self.prepaid_left -= taken
            if minutes > taken:
                self.overage += minutes - taken
                if self.exhausted_at is None:
                    self.exhausted_at = started_at

    def summary(self) -> HoursSummary:
        return HoursSummary(
            total=hours(self.total), covered_by_plan=hours(self.covered), package=hours(self.package_used),
            package_burned=hours(self.package_left) if self.plan == "package" else ZERO,
            prepaid=hours(self.prepaid_used), overage=hours(self.overage),
            hourly=hours(sum(self.hourly.values(), ZERO)), off_hours=hours(sum(self.off_hours.values(), ZERO)),
            fixed=hours(self.fixed), not_billed_after_stop=hours(self.after_stop), on_site=hours(self.on_site),
            remote=hours(self.total - self.on_site),
        )

    def prepaid_balance(self) -> PrepaidBalance | None:
        if self.plan != "prepaid":
            return None
        return PrepaidBalance(
            opening_hours=self.prepaid_opening, purchased_hours=self.prepaid_purchased,
            consumed_hours=hours(self.prepaid_used),
            closing_hours=self.prepaid_opening + self.prepaid_purchased - self.prepaid_used / SIXTY,
            exhausted_at=self.exhausted_at,
        )


def allocate_minutes(contract: Contract, usage: Usage) -> MinuteAllocation:
    """Allocate the month's work: fixed-price, after a stop, off-hours, hourly, and included work taken from
    the plan (covered, package, prepaid balance) in chronological order, the rest overage."""
    plan = contract.plan_kind
    allocation = MinuteAllocation(plan=plan)
    if plan == "package":
        allocation.package_left = contract.package.hours * SIXTY
    if plan == "prepaid":
        allocation.prepaid_opening = usage.prepaid_opening_hours if usage.prepaid_opening_hours is not None \
            else contract.prepaid.opening_balance_hours
        allocation.prepaid_purchased = sum((p.hours for p in contract.prepaid.purchases if p.month == usage.month),
                                           ZERO)
    allocation.prepaid_left = (allocation.prepaid_opening + allocation.prepaid_purchased) * SIXTY
    for entry in sorted(usage.entries, key=lambda e: e.started_at):
        allocation.add(entry, usage.ticket(entry.ticket_id))
    return allocation


# --- line building -------------------------------------------------------------------------------


def _included_work_lines(contract: Contract, allocation: MinuteAllocation, lines: _Lines) -> None:
    """Included work covered by the plan, taken from the package or the prepaid balance, and the overage."""
    plan = contract.plan_kind
    covered = allocation.covered
    if covered:
        lines.add("included_work", f"Работы в рамках договора ({PLAN_NAMES[plan]}): {_number(hours(covered))} ч",
                  ZERO, quantity=hours(covered), unit="ч", unit_price=money(ZERO))
    if plan == "package":
        used = allocation.package_used
        lines.add("package_usage",
                  f"Израсходовано из пакета {_number(hours(used))} ч из {_number(contract.package.hours)} ч"
                  f", сгорает {_number(hours(allocation.package_left))} ч", ZERO,
                  quantity=hours(used), unit="ч", unit_price=money(ZERO))
    if plan == "prepaid" and allocation.prepaid_used:
        used = allocation.prepaid_used
        lines.add("prepaid_usage", f"Списано с предоплаченного остатка {_number(hours(used))} ч", ZERO,
                  quantity=hours(used), unit="ч", unit_price=money(ZERO))
    if allocation.overage:
        source = "пакета" if plan == "package" else "предоплаченного остатка"
        exhausted_at = allocation.exhausted_at
        since = f" с {exhausted_at.date().isoformat()}" if exhausted_at is not None else ""
        rate = contract.hourly_rate
        lines.add("overage", f"Часы сверх {source}{since}", rate * allocation.overage / SIXTY,
                  quantity=hours(allocation.overage), unit="ч", unit_price=money(rate))


def _hourly_lines(contract: Contract, usage: Usage, allocation: MinuteAllocation, lines: _Lines) -> None:
    """Hourly work and off-hours work per ticket, then the plan's discount on every hour billed."""
    rate = contract.hourly_rate
    for ticket_id, minutes in allocation.hourly.items():
        ticket = usage.ticket(ticket_id)
        estimate = f" (оценка {_number(ticket.estimate_hours)} ч)" if ticket and ticket.estimate_hours else ""
        lines.add("hourly_work", f"Почасовые работы, {_ticket_label(usage, ticket_id)}{estimate}",
                  rate * minutes / SIXTY, quantity=hours(minutes), unit="ч", unit_price=money(rate), ticket_id=ticket_id)
    off_rate = money(rate * contract.off_hours_coefficient)
    for ticket_id, minutes in allocation.off_hours.items():
        lines.add("off_hours_work",
                  f"Работы вне графика без предварительного согласования ×{_number(contract.off_hours_coefficient)}"
                  f", {_ticket_label(usage, ticket_id)}",
                  off_rate * minutes / SIXTY, quantity=hours(minutes), unit="ч", unit_price=off_rate,
                  ticket_id=ticket_id)
    discount = contract.hourly_discount_percent
    hourly_base = lines.total("overage", "hourly_work", "off_hours_work")
    if discount and hourly_base:
        lines.add("hourly_discount", f"Скидка тарифа на час работы специалиста: {_number(discount)} %",
                  -(hourly_base * discount / HUNDRED), quantity=discount, unit="%")


def _fixed_price_lines(usage: Usage, lines: _Lines) -> None:
    """Fixed-price work completed this month, at its final price."""
    for ticket in usage.tickets:
        if ticket.billing_mode == "fixed" and ticket.completed:
            changes = len(ticket.change_requests)
            agreed = ticket.fixed_price if ticket.fixed_price is not None else ticket.change_requests[0].old_price \
                if changes else None
            note = ""
            if changes:
                before = f"согласовано {money(agreed)}, " if agreed is not None else ""
                note = f" ({before}изменений по запросам: {changes})"
            lines.add("fixed_price", f"Работы с фиксированной стоимостью, {_ticket_label(usage, ticket.id)}{note}",
                      ticket.final_price, quantity=Decimal(1), unit="шт.", unit_price=money(ticket.final_price),
                      ticket_id=ticket.id)


def _operations(contract: Contract, usage: Usage, lines: _Lines) -> None:
    by_kind: OrderedDict[str, OrderedDict[str, int]] = OrderedDict()
    for index, operation in enumerate(usage.operations):
        if contract.free_operation(operation.kind) is None:
            raise BillingInputError(f"operations[{index}].kind",
                                    f"operation {operation.kind!r} is not among the contract's free_operations")
        visits = by_kind.setdefault(operation.kind, OrderedDict())
        visits[operation.visit] = visits.get(operation.visit, 0) + operation.quantity
    for kind, visits in by_kind.items():
        terms = contract.free_operation(kind)
        done = sum(visits.values())
        free = sum(min(quantity, terms.free_per_visit) for quantity in visits.values())
        charged = done - free
        lines.add("operation",
                  f"{terms.title}: {done} шт. за {len(visits)} выезд(а), бесплатно {free}"
                  f" (до {terms.free_per_visit} за выезд)",
                  terms.unit_price * charged, quantity=Decimal(charged), unit="шт.", unit_price=money(terms.unit_price))


def _penalties(contract: Contract, usage: Usage, lines: _Lines) -> None:
    terms = contract.penalties
    penalised: set[int] = set()
    for breach in usage.breaches:
        amount = breach.penalty
        if amount is None:
            # Same rule as the SLA check (service/sla/penalties.py): the fixed amount once per overdue ticket,
            # the hourly amount on every breached target.
            amount = terms.per_overdue_hour * Decimal(breach.overdue_minutes) / SIXTY
            if breach.ticket_id not in penalised:
                amount += terms.per_breach
        penalised.add(breach.ticket_id)
        if money(amount) == 0:
            continue
        lines.add("sla_penalty",
                  f"Штраф за нарушение SLA ({TARGET_NAMES.get(breach.target, breach.target)}), "
                  f"{_ticket_label(usage, breach.ticket_id)}, "
                  f"просрочка {_number(hours(breach.overdue_minutes))} ч",
                  -amount, quantity=Decimal(1), ticket_id=breach.ticket_id)


def _cap_penalties(contract: Contract, lines: _Lines) -> bool:
    """Add back penalties beyond the contract's limits in one "penalty_cap" line; True if one was needed.

    Two limits: ``cap_percent`` of the month's charges (when the contract sets one), and -- unless the
    contract allows a negative invoice -- the charges themselves, so that the total never goes below 0.
    """
    terms = contract.penalties
    penalties = -lines.total("sla_penalty")
    if not penalties:
        return False
    charges = lines.total() + penalties
    allowed = penalties
    reasons = []
    if terms.cap_percent is not None and penalties > money(charges * terms.cap_percent / HUNDRED):
        allowed = max(ZERO, money(charges * terms.cap_percent / HUNDRED))
        reasons.append(f"не более {_number(terms.cap_percent)} % суммы за месяц")
    if not terms.allow_negative_invoice and charges - allowed < 0:
        allowed = max(ZERO, charges)
        reasons.append("счёт не бывает отрицательным")
    if allowed == penalties:
        return False
    lines.add("penalty_cap", f"Штрафы сверх лимита договора не вычитаются ({'; '.join(reasons)})",
              penalties - allowed)
    return True


# --- rendering ----------------------------------------------------------------------------------


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def invoice_to_dict(invoice: Invoice) -> dict:
    """The invoice as JSON-ready data: every amount a decimal string such as "1500.00"."""
    data = {
        "month": invoice.month,
        "client": {"id": invoice.client_id, "name": invoice.client_name},
        "plan_kind": invoice.plan_kind,
        "tier": invoice.tier,
        "currency": invoice.currency,
        "lines": [
            {
                "kind": line.kind,
                "description": line.description,
                "quantity": _text(line.quantity),
                "unit": line.unit,
                "unit_price": _text(line.unit_price),
                "amount": _text(line.amount),
                "ticket_id": line.ticket_id,
            }
            for line in invoice.lines
        ],
        "subtotal": _text(invoice.subtotal),
        "vat_percent": _text(invoice.vat_percent),
        "vat": _text(money(invoice.vat)),
        "total": _text(invoice.total),
        "penalties_capped": invoice.penalties_capped,
        "hours": {name: _text(getattr(invoice.hours, name)) for name in HoursSummary.__dataclass_fields__},
        "prepaid": None,
    }
    if invoice.prepaid is not None:
        p = invoice.prepaid
        data["prepaid"] = {
            "opening_hours": _text(money(p.opening_hours)),
            "purchased_hours": _text(money(p.purchased_hours)),
            "consumed_hours": _text(p.consumed_hours),
            "closing_hours": _text(money(p.closing_hours)),
            "exhausted_at": p.exhausted_at.isoformat() if p.exhausted_at else None,
        }
    return data


def work_report(usage: Usage) -> dict:
    """Every ticket worked this month: who, when, how long, on site or remote (hours as decimal strings)."""
    tickets: OrderedDict[int, dict] = OrderedDict()
    on_site_total = remote_total = 0
    for entry in sorted(usage.entries, key=lambda e: (e.ticket_id, e.started_at)):
        ticket = usage.ticket(entry.ticket_id)
        row = tickets.setdefault(entry.ticket_id, {
            "ticket_id": entry.ticket_id,
            "subject": ticket.subject if ticket else "",
            "billing_mode": ticket.billing_mode if ticket else "included",
            "estimate_hours": _text(ticket.estimate_hours) if ticket else None,
            "entries": [],
            "_minutes": 0,
            "_on_site": 0,
        })
        row["entries"].append({
            "started_at": entry.started_at.isoformat(),
            "specialist": entry.specialist,
            "hours": _text(hours(entry.minutes)),
            "minutes": entry.minutes,
            "place": "on_site" if entry.on_site else "remote",
            "work_kind": entry.work_kind,
            "off_hours": entry.outside_minutes > 0,
            "off_hours_minutes": entry.outside_minutes,
            "off_hours_agreed": entry.off_hours_agreed,
            "note": entry.note,
        })
        row["_minutes"] += entry.minutes
        if entry.on_site:
            row["_on_site"] += entry.minutes
            on_site_total += entry.minutes
        else:
            remote_total += entry.minutes
    rows = []
    for row in tickets.values():
        minutes, on_site = row.pop("_minutes"), row.pop("_on_site")
        row["hours"] = _text(hours(minutes))
        row["on_site_hours"] = _text(hours(on_site))
        row["remote_hours"] = _text(hours(minutes - on_site))
        row["specialists"] = sorted({e["specialist"] for e in row["entries"] if e["specialist"]})
        rows.append(row)
    return {
        "month": usage.month,
        "client": {"id": usage.client_id, "name": usage.client_name},
        "tickets": rows,
        "total_hours": _text(hours(on_site_total + remote_total)),
        "on_site_hours": _text(hours(on_site_total)),
        "remote_hours": _text(hours(remote_total)),
    }
