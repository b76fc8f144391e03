"""Billing over the knowledge store: load a client's contract, time entries, tickets and SLA penalties for a
month, build the usage document, and hand both to the pure engine (service.billing.engine).

Also the use cases that change money matters, each one unit of work (validate, change, audit, commit once):
adding a contract, stopping hourly work, an agreed change request on fixed-price work, typical operations
done on a visit. The API and the CLI only parse, call and serialize; the reads here never commit.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.models import AuditEvent, ChangeRequest, Client, Node, SlaEvent, Ticket, TimeEntry
from kb.models import Contract as ContractRow
from service.billing.contract import (
    MAX_MONEY,
    BillingInputError,
    Contract,
    amount_problem,
    month_value,
    parse_terms,
)
from service.billing.engine import SIXTY, Invoice, compute_invoice, money
from service.billing.usage import Usage, parse_usage
from service.platform.unit_of_work import unit_of_work
from service.sla.calendar import (
    ALWAYS_OPEN,
    WEEKLY_HOURS,
    BusinessCalendar,
    CalendarError,
    month_bounds,
    month_of,
    previous_month,
)

STOP_WORK_ACTION = "billing.stop_work"
CHANGE_REQUEST_ACTION = "billing.change_request"
OPERATION_ACTION = "billing.operation"

#: Node kinds billed as a workstation seat or a server seat of the per-seat subscription.
WORKSTATION_KINDS = ("workstation",)
SERVER_KINDS = ("server", "virtualization_host")

#: How far back the prepaid balance is replayed at most (months).
MAX_REPLAY_MONTHS = 120


class NotFound(LookupError):
    """The client, ticket or contract does not exist; ``field`` names the argument that pointed at it."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


class Conflict(ValueError):
    """The action does not apply in the object's current state (e.g. stopping fixed-price work)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class FutureMonth(ValueError):
    """An invoice or work report was asked for a month that has not begun in the client's time zone."""

    field = "month"

    def __init__(self, month: str, current: str):
        super().__init__(f"the month {month} has not begun yet (the current month is {current}): "
                         "its invoice does not exist")
        self.month, self.current = month, current


def month_is_draft(month: str, current: str) -> bool:
    """Whether the invoice of ``month`` is a draft: the current month (``current``) is; earlier months are final;
    FutureMonth for a later one."""
    if month > current:
        raise FutureMonth(month, current)
    return month == current


def invoice_is_draft(session: Session, *, client_id: int, month: str, now: datetime | None = None) -> bool:
    """Whether the client's invoice of ``month`` is a draft (its current month, in the client's zone);
    NotFound for no such client, FutureMonth for a month not begun, BillingInputError for a malformed month."""
    month = month_value(month, "month")
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"client {client_id} not found", "client")
    current = month_of(now or datetime.now(UTC), client.zone)
    if month > current and _first_month_of_a_coming_contract(session, client, month):
        return True  # the forecast of a new contract's first invoice (a quote turned into a contract)
    return month_is_draft(month, current)


def _first_month_of_a_coming_contract(session: Session, client: Client, month: str) -> bool:
    """Whether ``month`` is the first month of a contract that starts after today and follows no other."""
    row = active_contract(session, client_id=client.id, month=month)
    if row is None or _contract_start_month(row, client.zone) != month:
        return False
    return session.scalar(select(func.count()).select_from(ContractRow).where(
        ContractRow.client_id == client.id, ContractRow.valid_from < row.valid_from)) == 0


# --- the support calendar ---------------------------------------------------------------------------


@lru_cache(maxsize=256)
def support_calendar(calendar: str | None, timezone: str, country: str | None) -> BusinessCalendar:
    """The client's support calendar for off-hours work: the one business calendar of the SLA clocks
    (service.sla.calendar: public holidays, transferred days off and working Saturdays of the country).

    A calendar name it does not know counts every hour as a working hour (as 24x7); a country the
    ``holidays`` package does not know has no holidays.
    """
    name = calendar if calendar in WEEKLY_HOURS else ALWAYS_OPEN
    try:
        return BusinessCalendar(name, timezone, country or None)
    except CalendarError:
        return BusinessCalendar(name, timezone, None)


def client_calendar(client: Client) -> BusinessCalendar:
    """The support calendar of ``client`` (its calendar, time zone and country)."""
    return support_calendar(client.calendar, str(client.zone), client.country)


def outside_calendar(instant: datetime, *, calendar: BusinessCalendar) -> bool:
    """Whether ``instant`` lies outside the support calendar: a weekend, a public holiday, or outside the
    working hours (the end of the working day is already outside)."""
    if calendar.always_open:
        return False
    window = calendar.day_interval(instant.astimezone(calendar.zone).date())
    return window is None or not window[0] <= instant.astimezone(UTC) < window[1]


def minutes_outside_calendar(start: datetime, minutes: int, *, calendar: BusinessCalendar) -> int:
    """How many of the ``minutes`` of work starting at ``start`` fall outside the support calendar
    (whole minutes, half a minute rounds up)."""
    if calendar.always_open or minutes <= 0:
        return 0
    inside = calendar.working_time_between(start, start + timedelta(minutes=minutes))
    inside_minutes = (inside + timedelta(seconds=30)) // timedelta(minutes=1)
    return max(0, minutes - inside_minutes)


# --- contracts ------------------------------------------------------------------------------------


def active_contract(session: Session, *, client_id: int, month: str) -> ContractRow | None:
    """The client's contract in force during ``month`` (the latest one starting before the month ends)."""
    client = session.get(Client, client_id)
    if client is None:
        return None
    start, end = month_bounds(month, client.zone)
    rows = session.scalars(
        select(ContractRow)
        .where(ContractRow.client_id == client_id, ContractRow.valid_from < end)
        .order_by(ContractRow.valid_from.desc(), ContractRow.id.desc())
    ).all()
    return next((row for row in rows if row.valid_to is None or row.valid_to > start), None)


def contract_terms(row: ContractRow) -> Contract:
    """The stored contract's validated terms (BillingInputError naming the field when they are invalid)."""
    return parse_terms(row.plan_kind, row.tier, row.terms)


def create_contract(session: Session, *, client: Client, plan_kind: str, tier: str, valid_from: datetime,
                    valid_to: datetime | None, terms: object) -> ContractRow:
    """Add a contract to ``client`` (committed); BillingInputError naming the field when the period or the
    terms (docs/billing.md) are invalid, and nothing is stored."""
    with unit_of_work(session):
        if valid_to is not None and valid_to <= valid_from:
            raise BillingInputError("valid_to", "must be after valid_from")
        parse_terms(plan_kind, tier, terms)
        row = ContractRow(client_id=client.id, plan_kind=plan_kind, tier=tier, valid_from=valid_from,
                          valid_to=valid_to, terms=terms)
        session.add(row)
    return row


# --- usage ----------------------------------------------------------------------------------------

#: Workflow actions that complete a ticket (their audit events date a fixed-price work's first completion).
COMPLETING_ACTIONS = ("resolve", "confirm", "close")


def _iso(value: datetime | None, zone: ZoneInfo) -> str | None:
    return value.astimezone(zone).isoformat() if value is not None else None


def _money_text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def stopped_at(session: Session, *, ticket_id: int) -> datetime | None:
    """When the client stopped the ticket's hourly work, or None."""
    return session.scalar(
        select(AuditEvent.at)
        .where(AuditEvent.entity == "ticket", AuditEvent.entity_id == ticket_id,
               AuditEvent.action == STOP_WORK_ACTION)
        .order_by(AuditEvent.at.desc())
        .limit(1)
    )


def change_requests(session: Session, *, ticket_id: int) -> list[ChangeRequest]:
    return list(session.scalars(
        select(ChangeRequest).where(ChangeRequest.ticket_id == ticket_id)
        .order_by(ChangeRequest.agreed_at, ChangeRequest.id)
    ))


def _ticket_document(session: Session, ticket: Ticket, zone: ZoneInfo, *, completed: bool) -> dict:
    changes = change_requests(session, ticket_id=ticket.id) if ticket.billing_mode == "fixed" else []
    agreed = changes[0].old_price if changes and changes[0].old_price is not None else ticket.fixed_price
    return {
        "id": ticket.id,
        "subject": ticket.subject,
        "billing_mode": ticket.billing_mode,
        "estimate_hours": _money_text(ticket.estimate_hours),
        "fixed_price": _money_text(agreed),
        "completed": completed,
        "stopped_at": _iso(stopped_at(session, ticket_id=ticket.id), zone) if ticket.billing_mode == "hourly"
        else None,
        "change_requests": [
            {"old_price": _money_text(c.old_price), "new_price": _money_text(c.new_price),
             "agreed_at": _iso(c.agreed_at, zone), "agreed_by": c.agreed_by, "scope": c.scope}
            for c in changes
        ],
    }


def effective_work_kind(entry: TimeEntry, ticket: Ticket) -> str:
    """How an entry is billed: all work on an hourly or fixed-price ticket is billed that way (whatever the
    entry says, so a default "included" cannot leak project work into the package); on an ordinary ticket
    the entry may itself be hourly or fixed (extra work agreed on the spot)."""
    return ticket.billing_mode if ticket.billing_mode in ("hourly", "fixed") else entry.work_kind


def build_usage_document(session: Session, *, client: Client, month: str,
                         prepaid_opening_hours: Decimal | None = None) -> dict:
    """The month's usage of ``client`` as a usage document (the format of ``precedent bill --usage``)."""
    zone = client.zone
    start, end = month_bounds(month, zone)
    entries = _month_entries(session, client=client, start=start, end=end)
    completed_fixed = _completed_fixed_tickets(session, client=client, start=start, end=end)
    breaches = _month_breaches(session, client=client, start=start, end=end)
    operations = _month_operations(session, client=client, start=start, end=end)
    # Every ticket the month's lines refer to: worked on, completed at a fixed price, or breached.
    tickets: dict[int, Ticket] = {ticket.id: ticket for _, ticket in entries}
    tickets.update((ticket.id, ticket) for ticket in completed_fixed)
    tickets.update((ticket.id, ticket) for _, ticket in breaches)
    completed_ids = {t.id for t in completed_fixed}
    calendar = client_calendar(client)
    document = {
        "month": month,
        "client": {"id": client.id, "name": client.name},
        "seats": _seats(session, client=client),
        "tickets": [_ticket_document(session, t, zone, completed=t.id in completed_ids)
                    for t in sorted(tickets.values(), key=lambda t: t.id)],
        "entries": [_entry_document(entry, ticket, zone, calendar) for entry, ticket in entries if entry.minutes > 0],
        "operations": [_operation_document(event, zone) for event in operations],
        "sla_breaches": [_breach_document(event) for event, _ in breaches],
    }
    if prepaid_opening_hours is not None:
        document["prepaid_opening_hours"] = format(prepaid_opening_hours, "f")
    return document


def _month_entries(session: Session, *, client: Client, start: datetime, end: datetime) -> list:
    """The client's time entries started in [start, end), with their tickets, in order."""
    return list(session.execute(
        select(TimeEntry, Ticket)
        .join(Ticket, TimeEntry.ticket_id == Ticket.id)
        .where(Ticket.client_id == client.id, TimeEntry.started_at >= start, TimeEntry.started_at < end)
        .order_by(TimeEntry.started_at, TimeEntry.id)
    ).all())


def _completed_fixed_tickets(session: Session, *, client: Client, start: datetime, end: datetime) -> list[Ticket]:
    """Fixed-price work first completed in [start, end).

    It is billed once, in the month it was first completed: a reopen is rework under the agreed price, so a
    completion after an earlier resolve/close (audited) bills nothing more.
    """
    completed_at = func.coalesce(Ticket.resolved_at, Ticket.closed_at)
    completed_before = (select(AuditEvent.id)
                        .where(AuditEvent.entity == "ticket", AuditEvent.entity_id == Ticket.id,
                               AuditEvent.action.in_(COMPLETING_ACTIONS), AuditEvent.at < start)
                        .exists())
    return list(session.scalars(
        select(Ticket).where(Ticket.client_id == client.id, Ticket.billing_mode == "fixed",
                             completed_at >= start, completed_at < end, ~completed_before)
    ).all())


def _month_breaches(session: Session, *, client: Client, start: datetime, end: datetime) -> list:
    """The breaches the SLA check recorded in [start, end), with their tickets, in order."""
    return list(session.execute(
        select(SlaEvent, Ticket)
        .join(Ticket, SlaEvent.ticket_id == Ticket.id)
        .where(Ticket.client_id == client.id, SlaEvent.state == "breached",
               SlaEvent.recorded_at >= start, SlaEvent.recorded_at < end)
        .order_by(SlaEvent.recorded_at, SlaEvent.id)
    ).all())


def _month_operations(session: Session, *, client: Client, start: datetime, end: datetime) -> list[AuditEvent]:
    """The typical operations recorded in [start, end) on the client's tickets, in order."""
    return list(session.scalars(
        select(AuditEvent)
        .join(Ticket, AuditEvent.entity_id == Ticket.id)
        .where(AuditEvent.entity == "ticket", AuditEvent.action == OPERATION_ACTION,
               Ticket.client_id == client.id, AuditEvent.at >= start, AuditEvent.at < end)
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all())


def _seats(session: Session, *, client: Client) -> dict:
    """Workstation and server seats of the per-seat subscription (other nodes are not seats)."""
    node_kinds = session.scalars(select(Node.kind).where(Node.client_id == client.id)).all()
    return {
        "workstations": sum(1 for kind in node_kinds if kind in WORKSTATION_KINDS),
        "servers": sum(1 for kind in node_kinds if kind in SERVER_KINDS),
    }


def _entry_document(entry: TimeEntry, ticket: Ticket, zone: ZoneInfo, calendar: BusinessCalendar) -> dict:
    return {
        "id": entry.id,
        "ticket_id": entry.ticket_id,
        "started_at": _iso(entry.started_at, zone),
        "minutes": entry.minutes,
        "work_kind": effective_work_kind(entry, ticket),
        "on_site": entry.on_site,
        "off_hours_minutes": minutes_outside_calendar(entry.started_at, entry.minutes, calendar=calendar),
        "off_hours_agreed": entry.off_hours_agreed,
        "specialist": entry.specialist.name if entry.specialist is not None else None,
        "note": entry.note,
    }


def _operation_document(event: AuditEvent, zone: ZoneInfo) -> dict:
    return {"ticket_id": event.entity_id, "kind": event.data.get("kind"), "quantity": event.data.get("quantity"),
            "visit": event.data.get("visit") or event.at.astimezone(zone).date().isoformat()}


def _breach_document(event: SlaEvent) -> dict:
    # The SLA check computes every breach's penalty from the same contract terms; its amount (zero included)
    # is authoritative, so the engine's formula never charges a breach twice.
    return {"ticket_id": event.ticket_id, "target": event.target, "overdue_minutes": event.overdue_minutes,
            "penalty": _money_text(event.penalty if event.penalty is not None else Decimal("0"))}


def _contract_start_month(row: ContractRow, zone: ZoneInfo) -> str:
    return month_of(row.valid_from, zone)


def prepaid_opening_hours(session: Session, *, client: Client, row: ContractRow, contract: Contract,
                          month: str) -> Decimal:
    """The prepaid balance carried into ``month``: the contract's opening balance plus purchases minus
    consumption of every earlier month of the contract, replayed through the engine."""
    zone = client.zone
    first = _contract_start_month(row, zone)
    months: list[str] = []
    cursor = previous_month(month)
    while cursor >= first and len(months) < MAX_REPLAY_MONTHS:
        months.append(cursor)
        cursor = previous_month(cursor)
    balance = contract.prepaid.opening_balance_hours
    for earlier in reversed(months):
        usage = parse_usage(build_usage_document(session, client=client, month=earlier,
                                                 prepaid_opening_hours=balance))
        balance = compute_invoice(contract, usage).prepaid.closing_hours
    return balance


def client_usage(session: Session, *, client_id: int, month: str) -> tuple[Client, ContractRow, Contract, Usage]:
    """Load everything the invoice of ``client_id`` for ``month`` needs; NotFound / BillingInputError otherwise."""
    month = month_value(month, "month")
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"client {client_id} not found", "client")
    row = active_contract(session, client_id=client_id, month=month)
    if row is None:
        raise NotFound(f"client {client_id} has no contract in force in {month}", "month")
    contract = contract_terms(row)
    opening = None
    if contract.plan_kind == "prepaid":
        opening = prepaid_opening_hours(session, client=client, row=row, contract=contract, month=month)
    usage = parse_usage(build_usage_document(session, client=client, month=month, prepaid_opening_hours=opening))
    return client, row, contract, usage


def client_invoice(session: Session, *, client_id: int, month: str) -> tuple[Invoice, Usage]:
    """The invoice of ``client_id`` for ``month`` (YYYY-MM) and the usage it was computed from."""
    _, _, contract, usage = client_usage(session, client_id=client_id, month=month)
    return compute_invoice(contract, usage), usage


# --- hourly work: running balance and stop ---------------------------------------------------------


def _current_contract(session: Session, ticket: Ticket, now: datetime) -> Contract | None:
    zone = ticket.client.zone
    row = active_contract(session, client_id=ticket.client_id, month=month_of(now, zone))
    if row is None:
        return None
    try:
        return contract_terms(row)
    except BillingInputError:
        return None


def ticket_balance(session: Session, *, ticket: Ticket, now: datetime | None = None) -> dict:
    """The running balance of a ticket's hourly work against its estimate, as the client sees it.

    Amounts use the contract in force now: the hourly rate less the plan's discount, with the off-hours
    coefficient on unagreed work outside the calendar. The monthly invoice stays the authoritative bill.
    """
    now = now or datetime.now(UTC)
    calendar = client_calendar(ticket.client)
    stop = stopped_at(session, ticket_id=ticket.id)
    normal = off = after = 0
    for entry in ticket.time_entries:
        if effective_work_kind(entry, ticket) != "hourly":
            continue
        if stop is not None and entry.started_at >= stop:
            after += entry.minutes
            continue
        outside = 0 if entry.off_hours_agreed else minutes_outside_calendar(
            entry.started_at, entry.minutes, calendar=calendar)
        off += outside
        normal += entry.minutes - outside
    spent = normal + off
    contract = _current_contract(session, ticket, now)
    rate = spent_amount = estimate_amount = remaining_amount = None
    if contract is not None:
        factor = 1 - contract.hourly_discount_percent / 100
        rate = money(contract.hourly_rate * factor)
        spent_amount = money(contract.hourly_rate * factor * (normal + off * contract.off_hours_coefficient) / SIXTY)
        if ticket.estimate_hours is not None:
            estimate_amount = money(rate * ticket.estimate_hours)
            remaining_amount = estimate_amount - spent_amount
    spent_hours = money(Decimal(spent) / SIXTY)
    estimate = ticket.estimate_hours
    return {
        "ticket_id": ticket.id,
        "billing_mode": ticket.billing_mode,
        "currency": contract.currency if contract is not None else None,
        "estimate_hours": _money_text(estimate),
        "spent_hours": format(spent_hours, "f"),
        "off_hours_hours": format(money(Decimal(off) / SIXTY), "f"),
        "remaining_hours": format(estimate - spent_hours, "f") if estimate is not None else None,
        "over_estimate": estimate is not None and spent_hours > estimate,
        "hourly_rate": _money_text(rate),
        "spent_amount": _money_text(spent_amount),
        "estimate_amount": _money_text(estimate_amount),
        "remaining_amount": _money_text(remaining_amount),
        "stopped": stop is not None,
        "stopped_at": stop.isoformat() if stop is not None else None,
        "not_billed_after_stop_hours": format(money(Decimal(after) / SIXTY), "f"),
    }


def stop_work(session: Session, *, ticket: Ticket, actor: str, now: datetime | None = None) -> dict:
    """Stop a ticket's hourly work at the client's request: what was spent is billed, nothing after.

    One unit of work: the audit event ``billing.stop_work`` is committed; Conflict when the ticket is not
    hourly work or is already stopped. Returns the balance after the stop.
    """
    now = now or datetime.now(UTC)
    with unit_of_work(session):
        if ticket.billing_mode != "hourly":
            raise Conflict(f"ticket {ticket.id} is not hourly work (billing mode {ticket.billing_mode})",
                           "billing_mode")
        if stopped_at(session, ticket_id=ticket.id) is not None:
            raise Conflict(f"the work on ticket {ticket.id} is already stopped")
        balance = ticket_balance(session, ticket=ticket, now=now)
        session.add(AuditEvent(entity="ticket", entity_id=ticket.id, action=STOP_WORK_ACTION, actor=actor, at=now,
                               data={"spent_hours": balance["spent_hours"], "spent_amount": balance["spent_amount"]}))
        session.flush()
        stopped = ticket_balance(session, ticket=ticket, now=now)
    return stopped


# --- fixed-price work: change requests ---------------------------------------------------------------


def add_change_request(session: Session, *, ticket: Ticket, new_price: Decimal, agreed_by: str, actor: str,
                       scope: str | None = None, deadline: datetime | None = None,
                       now: datetime | None = None) -> ChangeRequest:
    """Record an agreed change of a fixed-price work and its new price (the only way the price changes).

    One unit of work: the change request, its audit event and the ticket's new price are committed together.
    An unstorable price (infinite, above ``MAX_MONEY``, fractions of a kopeck) raises BillingInputError
    naming ``new_price``: once stored it would break every later invoice and work report of the client.
    Conflict when the ticket is not fixed-price work.
    """
    now = now or datetime.now(UTC)
    with unit_of_work(session):
        problem = (amount_problem(new_price, maximum=MAX_MONEY) if isinstance(new_price, Decimal)
                   else "must be a Decimal")
        if problem is not None:
            raise BillingInputError("new_price", problem)
        if ticket.billing_mode != "fixed":
            raise Conflict(f"ticket {ticket.id} is not fixed-price work (billing mode {ticket.billing_mode})",
                           "billing_mode")
        change = ChangeRequest(ticket_id=ticket.id, old_price=ticket.fixed_price, new_price=new_price, scope=scope,
                               deadline=deadline, agreed_by=agreed_by, agreed_at=now)
        session.add(change)
        session.add(AuditEvent(entity="ticket", entity_id=ticket.id, action=CHANGE_REQUEST_ACTION, actor=actor,
                               at=now, data={"old_price": _money_text(ticket.fixed_price),
                                             "new_price": _money_text(new_price), "scope": scope,
                                             "deadline": deadline.isoformat() if deadline else None,
                                             "agreed_by": agreed_by}))
        ticket.fixed_price = new_price
    return change


def record_operation(session: Session, *, ticket: Ticket, kind: str, quantity: int, actor: str,
                     visit: date | None = None, now: datetime | None = None) -> AuditEvent:
    """Record typical operations done on a visit (e.g. new workplaces commissioned), checked against the
    client's contract so that the invoice can price them.

    One unit of work: the audit event ``billing.operation`` is committed; Conflict (field ``kind``) when the
    client has no valid contract in force or the contract does not list the operation.
    """
    now = now or datetime.now(UTC)
    with unit_of_work(session):
        contract = _current_contract(session, ticket, now)
        if contract is None:
            raise Conflict(f"client {ticket.client_id} has no valid contract in force", "kind")
        if contract.free_operation(kind) is None:
            known = ", ".join(op.kind for op in contract.free_operations) or "none"
            raise Conflict(f"the contract does not list the operation {kind!r} (it lists: {known})", "kind")
        visit = visit or now.astimezone(ticket.client.zone).date()
        event = AuditEvent(entity="ticket", entity_id=ticket.id, action=OPERATION_ACTION, actor=actor, at=now,
                           data={"kind": kind, "quantity": quantity, "visit": visit.isoformat()})
        session.add(event)
    return event

