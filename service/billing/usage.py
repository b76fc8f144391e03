"""A client's usage in one month (work done, seats, operations, SLA breaches) as validated dataclasses.

The usage document is the second input of ``precedent bill`` (docs/billing.md); the knowledge store
path (``service.billing_service``) builds the same structure from tickets and time entries.
Whether (and how much of) an entry lies outside the client's support calendar is decided by whoever
builds the usage (it needs the calendar and holidays) and passed here as ``off_hours_minutes`` (or the
``off_hours`` flag for the whole entry).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from service.billing.contract import (
    BillingInputError,
    _check_keys,
    _object,
    _required,
    bool_value,
    decimal_value,
    int_value,
    month_value,
    str_value,
)

WORK_KINDS = ("included", "hourly", "fixed")
BILLING_MODES = ("included", "hourly", "fixed")


@dataclass(frozen=True)
class ChangeRequestData:
    """An agreed change of a fixed-price work: the price before and after."""

    old_price: Decimal | None
    new_price: Decimal
    agreed_at: datetime | None = None
    agreed_by: str | None = None
    scope: str | None = None


@dataclass(frozen=True)
class TicketData:
    id: int
    subject: str = ""
    billing_mode: str = "included"
    estimate_hours: Decimal | None = None
    #: The price agreed when the fixed-price work was accepted (before any change request).
    fixed_price: Decimal | None = None
    #: Fixed-price work completed this month: its final price is billed this month.
    completed: bool = False
    #: The client stopped hourly work at this instant: entries started later are not billed.
    stopped_at: datetime | None = None
    change_requests: tuple[ChangeRequestData, ...] = ()

    @property
    def final_price(self) -> Decimal | None:
        """The price after the last agreed change request, else the agreed price."""
        if self.change_requests:
            return self.change_requests[-1].new_price
        return self.fixed_price


@dataclass(frozen=True)
class EntryData:
    ticket_id: int
    started_at: datetime
    minutes: int
    work_kind: str = "included"
    on_site: bool = False
    #: Done outside the client's support calendar (weekend, holiday, outside working hours): all of it.
    off_hours: bool = False
    #: How many of the minutes lie outside the calendar (overrides ``off_hours`` when given).
    off_hours_minutes: int | None = None
    #: The off-hours work was agreed in advance: billed as ordinary work, no coefficient.
    off_hours_agreed: bool = False
    specialist: str | None = None
    note: str | None = None
    id: int | None = None

    @property
    def outside_minutes(self) -> int:
        """Minutes of this entry outside the client's calendar."""
        if self.off_hours_minutes is not None:
            return self.off_hours_minutes
        return self.minutes if self.off_hours else 0


@dataclass(frozen=True)
class OperationData:
    """Typical operations done on one visit (e.g. 4 new workplaces commissioned)."""

    kind: str
    quantity: int
    visit: str
    ticket_id: int | None = None


@dataclass(frozen=True)
class BreachData:
    ticket_id: int
    target: str
    overdue_minutes: int
    #: Amount recorded by the SLA check (authoritative, zero included); None: computed from the contract's
    #: penalty terms (per_breach once per ticket, per_overdue_hour on every breach).
    penalty: Decimal | None = None


@dataclass(frozen=True)
class Usage:
    month: str
    client_id: int | None = None
    client_name: str | None = None
    workstations: int = 0
    servers: int = 0
    tickets: tuple[TicketData, ...] = ()
    entries: tuple[EntryData, ...] = ()
    operations: tuple[OperationData, ...] = ()
    breaches: tuple[BreachData, ...] = ()
    #: Prepaid hours carried over from previous months (prepaid plan only).
    prepaid_opening_hours: Decimal | None = None

    @cached_property
    def _tickets_by_id(self) -> dict[int, TicketData]:
        return {ticket.id: ticket for ticket in self.tickets}

    def ticket(self, ticket_id: int) -> TicketData | None:
        return self._tickets_by_id.get(ticket_id)


def instant_value(value: Any, path: str) -> datetime:
    """An ISO 8601 instant with a UTC offset."""
    text = str_value(value, path)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BillingInputError(path, f"must be an ISO 8601 date-time, got {text!r}") from None
    if moment.tzinfo is None:
        raise BillingInputError(path, "must carry a UTC offset, e.g. 2026-11-05T10:00:00+03:00")
    return moment


def _optional(data: dict, key: str, path: str, reader, **kwargs):
    value = data.get(key)
    return None if value is None else reader(value, f"{path}.{key}" if path else key, **kwargs)


def _list(data: dict, key: str) -> list:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BillingInputError(key, "must be a list")
    return value


def _change_request(data: Any, path: str) -> ChangeRequestData:
    data = _object(data, path)
    _check_keys(data, path, {"old_price", "new_price", "agreed_at", "agreed_by", "scope"})
    return ChangeRequestData(
        old_price=_optional(data, "old_price", path, decimal_value),
        new_price=decimal_value(_required(data, "new_price", f"{path}.new_price"), f"{path}.new_price"),
        agreed_at=_optional(data, "agreed_at", path, instant_value),
        agreed_by=_optional(data, "agreed_by", path, str_value),
        scope=data.get("scope") if isinstance(data.get("scope"), str) else None,
    )


def _ticket(data: Any, path: str) -> TicketData:
    data = _object(data, path)
    _check_keys(data, path, {"id", "subject", "billing_mode", "estimate_hours", "fixed_price", "completed",
                             "stopped_at", "change_requests"})
    mode = str_value(data.get("billing_mode", "included"), f"{path}.billing_mode", allowed=BILLING_MODES)
    changes_raw = data.get("change_requests") or []
    if not isinstance(changes_raw, list):
        raise BillingInputError(f"{path}.change_requests", "must be a list")
    ticket = TicketData(
        id=int_value(_required(data, "id", f"{path}.id"), f"{path}.id", minimum=1),
        subject=data.get("subject") if isinstance(data.get("subject"), str) else "",
        billing_mode=mode,
        estimate_hours=_optional(data, "estimate_hours", path, decimal_value),
        fixed_price=_optional(data, "fixed_price", path, decimal_value),
        completed=bool_value(data.get("completed", False), f"{path}.completed"),
        stopped_at=_optional(data, "stopped_at", path, instant_value),
        change_requests=tuple(_change_request(c, f"{path}.change_requests[{i}]") for i, c in enumerate(changes_raw)),
    )
    if mode == "fixed" and ticket.final_price is None:
        raise BillingInputError(f"{path}.fixed_price", "is required for fixed-price work")
    return ticket


def _entry(data: Any, path: str, month: str, ticket_ids: set[int]) -> EntryData:
    data = _object(data, path)
    _check_keys(data, path, {"id", "ticket_id", "started_at", "minutes", "work_kind", "on_site", "off_hours",
                             "off_hours_minutes", "off_hours_agreed", "specialist", "note"})
    ticket_id = int_value(_required(data, "ticket_id", f"{path}.ticket_id"), f"{path}.ticket_id", minimum=1)
    if ticket_id not in ticket_ids:
        raise BillingInputError(f"{path}.ticket_id", f"ticket {ticket_id} is not listed in tickets")
    started_at = instant_value(_required(data, "started_at", f"{path}.started_at"), f"{path}.started_at")
    if started_at.strftime("%Y-%m") != month:
        raise BillingInputError(f"{path}.started_at", f"{started_at.isoformat()} is outside the month {month}")
    minutes = int_value(_required(data, "minutes", f"{path}.minutes"), f"{path}.minutes", minimum=1)
    outside = _optional(data, "off_hours_minutes", path, int_value)
    if outside is not None and outside > minutes:
        raise BillingInputError(f"{path}.off_hours_minutes", f"must be <= minutes ({minutes})")
    return EntryData(
        id=_optional(data, "id", path, int_value),
        ticket_id=ticket_id,
        started_at=started_at,
        minutes=minutes,
        off_hours_minutes=outside,
        work_kind=str_value(data.get("work_kind", "included"), f"{path}.work_kind", allowed=WORK_KINDS),
        on_site=bool_value(data.get("on_site", False), f"{path}.on_site"),
        off_hours=bool_value(data.get("off_hours", False), f"{path}.off_hours"),
        off_hours_agreed=bool_value(data.get("off_hours_agreed", False), f"{path}.off_hours_agreed"),
        specialist=_optional(data, "specialist", path, str_value),
        note=data.get("note") if isinstance(data.get("note"), str) else None,
    )


def _operation(data: Any, path: str) -> OperationData:
    data = _object(data, path)
    _check_keys(data, path, {"kind", "quantity", "visit", "ticket_id"})
    return OperationData(
        kind=str_value(_required(data, "kind", f"{path}.kind"), f"{path}.kind"),
        quantity=int_value(_required(data, "quantity", f"{path}.quantity"), f"{path}.quantity", minimum=1),
        visit=str_value(_required(data, "visit", f"{path}.visit"), f"{path}.visit"),
        ticket_id=_optional(data, "ticket_id", path, int_value),
    )


def _breach(data: Any, path: str) -> BreachData:
    data = _object(data, path)
    _check_keys(data, path, {"ticket_id", "target", "overdue_minutes", "penalty"})
    return BreachData(
        ticket_id=int_value(_required(data, "ticket_id", f"{path}.ticket_id"), f"{path}.ticket_id", minimum=1),
        target=str_value(data.get("target", "resolution"), f"{path}.target",
                         allowed=("reaction", "work_start", "resolution")),
        overdue_minutes=int_value(data.get("overdue_minutes", 0), f"{path}.overdue_minutes"),
        penalty=_optional(data, "penalty", path, decimal_value),
    )


USAGE_FIELDS = {"month", "client", "seats", "tickets", "entries", "operations", "sla_breaches",
                "prepaid_opening_hours"}


def parse_usage(data: Any) -> Usage:
    """Validate a usage document (see docs/billing.md); errors name the field path."""
    data = _object(data, "usage")
    _check_keys(data, "", USAGE_FIELDS)
    month = month_value(_required(data, "month", "month"), "month")
    client = _object(data.get("client") or {}, "client")
    _check_keys(client, "client", {"id", "name"})
    seats = _object(data.get("seats") or {}, "seats")
    _check_keys(seats, "seats", {"workstations", "servers"})

    tickets = tuple(_ticket(t, f"tickets[{i}]") for i, t in enumerate(_list(data, "tickets")))
    ids = [t.id for t in tickets]
    if len(ids) != len(set(ids)):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise BillingInputError(f"tickets[{ids.index(duplicate, ids.index(duplicate) + 1)}].id",
                                f"ticket {duplicate} is listed twice")
    return Usage(
        month=month,
        client_id=_optional(client, "id", "client", int_value),
        client_name=_optional(client, "name", "client", str_value),
        workstations=int_value(seats.get("workstations", 0), "seats.workstations"),
        servers=int_value(seats.get("servers", 0), "seats.servers"),
        tickets=tickets,
        entries=tuple(_entry(e, f"entries[{i}]", month, set(ids)) for i, e in enumerate(_list(data, "entries"))),
        operations=tuple(_operation(o, f"operations[{i}]") for i, o in enumerate(_list(data, "operations"))),
        breaches=tuple(_breach(b, f"sla_breaches[{i}]") for i, b in enumerate(_list(data, "sla_breaches"))),
        prepaid_opening_hours=_optional(data, "prepaid_opening_hours", "", decimal_value),
    )
