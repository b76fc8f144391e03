"""Demo contracts: give every client of the demo knowledge base a contract, cycling through every plan kind,
with terms sized from the client's own infrastructure and history so that its invoices are plausible.

Called by the demo generator's ``build_contracts`` step after tickets and time entries exist. It also
turns a few tickets of each client into hourly work (with an estimate, one of them stopped by the client)
and fixed-price work (with an agreed change request), and records commissioning of new workplaces, so
that every invoice line kind appears somewhere in the demo. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kb.models import AuditEvent, ChangeRequest, Client, Contract, Node, Ticket, TimeEntry
from service.billing.contract import (
    STANDARD_PACKAGE_HOURS,
    STANDARD_PREPAID_HOURS,
    TIER_COEFFICIENTS,
    parse_terms,
)
from service.billing.service import (
    OPERATION_ACTION,
    SERVER_KINDS,
    STOP_WORK_ACTION,
    WORKSTATION_KINDS,
)

PLAN_CYCLE = ("subscription", "package", "prepaid", "unlimited", "hourly")
DEMO_ACTOR = "demo-generator"

COMMISSIONING = {"kind": "workplace_commissioning", "title": "Ввод в эксплуатацию новых рабочих мест",
                 "free_per_visit": 3, "unit_price": "1500.00"}


def _money(value: Decimal | int) -> str:
    return format(Decimal(value).quantize(Decimal("0.01")), "f")


def _round_to(value: Decimal, step: int) -> Decimal:
    return max(Decimal(step), (value / step).to_integral_value() * step)


def _monthly_hours(session: Session, client: Client) -> tuple[dict[str, Decimal], Decimal]:
    """Hours of included work per month with work (client time zone), and their average."""
    zone = client.zone
    rows = session.execute(
        select(TimeEntry.started_at, TimeEntry.minutes).join(Ticket, TimeEntry.ticket_id == Ticket.id)
        .where(Ticket.client_id == client.id, Ticket.billing_mode == "included", TimeEntry.work_kind == "included")
    ).all()
    per_month: Counter[str] = Counter()
    for started_at, minutes in rows:
        per_month[started_at.astimezone(zone).strftime("%Y-%m")] += minutes
    if not per_month:
        return {}, Decimal("0")
    average = Decimal(sum(per_month.values())) / len(per_month) / 60
    return {month: Decimal(per_month[month]) / 60 for month in sorted(per_month)}, average


def _first_instant(session: Session, client: Client) -> datetime:
    """Start of the first month with any activity of the client: a ticket opened or work logged."""
    zone = client.zone
    candidates = [
        session.scalar(select(func.min(Ticket.created_at)).where(Ticket.client_id == client.id)),
        session.scalar(select(func.min(TimeEntry.started_at)).join(Ticket, TimeEntry.ticket_id == Ticket.id)
                       .where(Ticket.client_id == client.id)),
    ]
    starts = []
    for instant in candidates:
        if instant is not None:
            local = instant.astimezone(zone)
            starts.append(datetime(local.year, local.month, 1, tzinfo=zone))
    if starts:
        return min(starts)
    now = datetime.now(zone)
    return datetime(now.year, now.month, 1, tzinfo=zone)


def prepaid_purchases(hours_per_month: dict[str, Decimal], block: int) -> list[dict]:
    """Buy a block whenever the balance carried into a month is below the block: the balance carries over,
    and runs out now and then in a busy month."""
    purchases = []
    balance = Decimal("0")
    for month, used in hours_per_month.items():
        if balance < block:
            purchases.append({"month": month, "hours": block})
            balance += block
        balance = max(Decimal("0"), balance - used)
    return purchases


def demo_terms(plan_kind: str, *, workstations: int, servers: int, monthly_hours: Decimal,
               hours_per_month: dict[str, Decimal],
               has_field_engineer: bool, rng: random.Random) -> tuple[dict, int]:
    """Plausible terms for a plan sized from the client (returns the terms and the prepayment months)."""
    hourly_rate = Decimal(rng.choice([1800, 2000, 2200, 2500, 2800]))
    prepayment = rng.choice([1, 3, 6, 7, 12, 13])
    terms: dict = {
        "currency": "RUB",
        "hourly_rate": _money(hourly_rate),
        "off_hours_coefficient": rng.choice(["1.5", "1.75", "2"]),
        "prepayment_months": prepayment,
        "free_operations": [dict(COMMISSIONING)],
        # Penalties are material but bounded, as real contracts bound them: at most 10-20 % of the month.
        "penalties": {"per_breach": _money(rng.choice([300, 500, 1000])),
                      "per_overdue_hour": _money(rng.choice([0, 25, 50])),
                      "cap_percent": rng.choice(["10", "15", "20"]),
                      "allow_negative_invoice": False},
        "vat_percent": "0",
    }
    if plan_kind == "subscription":
        terms["hourly_discount_percent"] = str(rng.choice([0, 5, 10, 15]))
        terms["subscription"] = {
            "workstation_rate": _money(rng.choice([1200, 1500, 1800])),
            "server_rate": _money(rng.choice([4500, 6000, 7500])),
            "on_site_surcharge_percent": str(rng.choice([10, 15, 20])) if has_field_engineer else "0",
        }
    elif plan_kind == "package":
        # The smallest standard package that covers an average month; a larger client gets a package
        # rounded up to 10 h (the seeds' tariffs are the usual ones, not the only ones).
        hours = next((h for h in STANDARD_PACKAGE_HOURS if h >= monthly_hours),
                     int(_round_to(monthly_hours + 5, 10)))
        terms["hourly_discount_percent"] = str(rng.choice([5, 10, 15]))
        terms["package"] = {"hours": hours, "monthly_fee": _money(_round_to(hourly_rate * hours * Decimal("0.9"),
                                                                             500))}
    elif plan_kind == "prepaid":
        block = next((h for h in STANDARD_PREPAID_HOURS if h >= monthly_hours), int(_round_to(monthly_hours, 10)))
        purchases = prepaid_purchases(hours_per_month, block)
        terms["hourly_discount_percent"] = str(rng.choice([5, 10, 15]))
        terms["prepaid"] = {"hour_price": _money(hourly_rate * Decimal("0.9")), "purchases": purchases,
                            "opening_balance_hours": "0"}
    elif plan_kind == "unlimited":
        fee = max(Decimal(60000), Decimal(3500) * workstations + Decimal(9000) * servers)
        terms["hourly_discount_percent"] = str(rng.choice([25, 40, 50]))
        terms["unlimited"] = {"monthly_fee": _money(_round_to(fee, 1000))}
    else:  # hourly: one-off work, no plan discount, no prepayment
        terms["prepayment_months"] = 1
    return terms, prepayment


def _mark_project_work(session: Session, client: Client, rng: random.Random) -> dict:
    """Turn a few resolved tickets into hourly and fixed-price work, with a stop and a change request."""
    tickets = session.scalars(
        select(Ticket).where(Ticket.client_id == client.id, Ticket.type.in_(("service_request", "change_request")))
        .order_by(Ticket.id)
    ).all() or session.scalars(select(Ticket).where(Ticket.client_id == client.id).order_by(Ticket.id)).all()
    with_work = [t for t in tickets if t.time_entries]
    rng.shuffle(with_work)
    hourly, fixed = with_work[:4], with_work[4:6]
    counts = {"hourly": 0, "fixed": 0, "change_requests": 0, "stopped": 0}
    for index, ticket in enumerate(hourly):
        spent = Decimal(sum(e.minutes for e in ticket.time_entries)) / 60
        ticket.billing_mode = "hourly"
        # Estimates a bit above or below what was spent: the final hours "may grow or shrink" (seed 000).
        ticket.estimate_hours = max(Decimal("1"), (spent * Decimal(rng.choice(["0.8", "1.0", "1.25", "1.5"])))
                                    .quantize(Decimal("0.5")))
        for entry in ticket.time_entries:
            entry.work_kind = "hourly"
        counts["hourly"] += 1
        if index == 0 and len(ticket.time_entries) >= 2:
            # The client stopped this one before its last entry: that entry is reported, not billed.
            last = max(ticket.time_entries, key=lambda e: e.started_at)
            session.add(AuditEvent(entity="ticket", entity_id=ticket.id, action=STOP_WORK_ACTION, actor=DEMO_ACTOR,
                                   at=last.started_at - timedelta(minutes=1), data={"demo": True}))
            counts["stopped"] += 1
    for index, ticket in enumerate(fixed):
        price = Decimal(rng.choice([15000, 25000, 40000, 60000]))
        first = min(ticket.time_entries, key=lambda e: e.started_at)
        ticket.billing_mode = "fixed"
        ticket.fixed_price = price
        for entry in ticket.time_entries:
            entry.work_kind = "fixed"
        if ticket.resolved_at is None:
            ticket.resolved_at = max(e.started_at for e in ticket.time_entries) + timedelta(hours=2)
        if index == 0:
            new_price = price + Decimal(rng.choice([5000, 10000, 12000]))
            session.add(ChangeRequest(ticket_id=ticket.id, old_price=price, new_price=new_price,
                                      scope="Расширение объёма работ по согласованию с заказчиком",
                                      agreed_by=client.manager or "Руководитель заказчика",
                                      agreed_at=first.started_at + timedelta(minutes=30)))
            ticket.fixed_price = new_price
            counts["change_requests"] += 1
        counts["fixed"] += 1
    return counts


def _record_commissioning(session: Session, client: Client, rng: random.Random) -> int:
    """Commissioning of new workplaces on some on-site visits (3 free per visit, more now and then)."""
    visits = session.scalars(
        select(TimeEntry).join(Ticket, TimeEntry.ticket_id == Ticket.id)
        .where(Ticket.client_id == client.id, TimeEntry.on_site.is_(True), TimeEntry.work_kind == "included")
        .order_by(TimeEntry.started_at)
    ).all()
    zone = client.zone
    recorded = 0
    for entry in visits[:: max(1, len(visits) // 4 or 1)][:4]:
        session.add(AuditEvent(entity="ticket", entity_id=entry.ticket_id, action=OPERATION_ACTION,
                               actor=DEMO_ACTOR, at=entry.started_at,
                               data={"kind": COMMISSIONING["kind"], "quantity": rng.choice([1, 2, 3, 4, 5]),
                                     "visit": entry.started_at.astimezone(zone).date().isoformat()}))
        recorded += 1
    return recorded


def plans_by_size(count: int) -> list[str]:
    """Plan kinds for ``count`` clients ranked from the busiest to the quietest: the busiest takes the
    unlimited plan, the quietest pays by the hour, hour packages and prepaid hours go to the small ones,
    per-seat subscriptions (the seeds' usual contract) fill the middle. Every kind appears from 5 clients."""
    if count < len(PLAN_CYCLE):
        return list(PLAN_CYCLE[:count])
    return ["unlimited"] + ["subscription"] * (count - 4) + ["package", "prepaid", "hourly"]


def build_contracts(session: Session, *, seed: int = 6) -> dict:
    """Give every client a contract (every plan kind covered once there are five clients, sized to the
    client's infrastructure and history) and the project work that exercises it; replaces earlier demo
    contracts. No commit."""
    rng = random.Random(seed)
    clients = session.scalars(select(Client).order_by(Client.id)).all()
    session.execute(delete(Contract).where(Contract.client_id.in_([c.id for c in clients])))
    summary: dict = {"contracts": {}, "project_work": {}}
    history: dict[int, tuple[list[str], Decimal]] = {}
    for client in clients:
        summary["project_work"][client.id] = _mark_project_work(session, client, rng)
        session.flush()
        history[client.id] = _monthly_hours(session, client)
    ranked = sorted(clients, key=lambda c: (-history[c.id][1], c.id))
    for client, plan_kind in zip(ranked, plans_by_size(len(ranked)), strict=True):
        hours_per_month, monthly_hours = history[client.id]
        kinds = session.scalars(select(Node.kind).where(Node.client_id == client.id)).all()
        workstations = sum(1 for k in kinds if k in WORKSTATION_KINDS)
        servers = sum(1 for k in kinds if k in SERVER_KINDS)
        terms, _ = demo_terms(plan_kind, workstations=workstations, servers=servers, monthly_hours=monthly_hours,
                              hours_per_month=hours_per_month, has_field_engineer=client.field_engineer_id is not None, rng=rng)
        tier = client.sla_policy if client.sla_policy in TIER_COEFFICIENTS else "bronze"
        parse_terms(plan_kind, tier, terms)  # the demo must hold only valid contracts
        session.add(Contract(client_id=client.id, plan_kind=plan_kind, tier=tier,
                             valid_from=_first_instant(session, client), terms=terms))
        summary["project_work"][client.id]["operations"] = _record_commissioning(session, client, rng)
        summary["contracts"][client.id] = f"{plan_kind}/{tier}"
    session.flush()
    return summary
