"""The calculator over the store: the rate card (the ``rates`` settings row), its edit by an admin, and a quote
turned into a draft contract for a new client. Each change is one unit of work, audited."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.models import DEFAULT_TIMEZONE, AuditEvent, Client, Node, Setting
from kb.models import Contract as ContractRow
from service.billing.contract import BillingInputError
from service.billing.quote import (
    DEFAULT_RATES,
    SETTINGS_KEY,
    Quote,
    RateCard,
    compute_quote,
    next_month,
    parse_quote_request,
    parse_rates,
)
from service.platform.unit_of_work import unit_of_work
from service.sla.calendar import month_bounds, month_of

RATES_ACTION = "billing.rates_changed"
DRAFT_ACTION = "billing.contract_from_quote"


def rates_document(session: Session) -> dict:
    """The stored rate card document, or the defaults when an admin has not set one."""
    row = session.get(Setting, SETTINGS_KEY)
    return row.value if row is not None and row.value else DEFAULT_RATES


def current_rates(session: Session) -> RateCard:
    """The validated rate card the calculator prices with."""
    return parse_rates(rates_document(session))


def save_rates(session: Session, *, document: dict, actor: str) -> RateCard:
    """Replace the rate card (committed, audited with the old and new values); BillingInputError naming the
    field when the document is invalid, and nothing is stored."""
    with unit_of_work(session):
        rates = parse_rates(document)
        row = session.get(Setting, SETTINGS_KEY)
        before = row.value if row is not None else DEFAULT_RATES
        if row is None:
            row = Setting(key=SETTINGS_KEY, value=document, updated_by=actor)
            session.add(row)
        else:
            row.value, row.updated_by = document, actor
        session.add(AuditEvent(entity="settings", entity_id=0, action=RATES_ACTION, actor=actor,
                               data={"key": SETTINGS_KEY, "from": before, "to": document}))
    return rates


def quote_for(session: Session, data: dict, *, now: datetime) -> Quote:
    """Validate the calculator's input ``data`` and price it with the current rate card (BillingInputError naming
    the field); the quote's month is by default the next one (a contract signed today starts on its first day)."""
    rates = current_rates(session)
    request = parse_quote_request({k: v for k, v in data.items() if k != "month"}, rates)
    month = data.get("month") or next_month(month_of(now, ZoneInfo(DEFAULT_TIMEZONE)))
    return compute_quote(request, rates, month=month)


def _seat_nodes(client_id: int, workstations: int, servers: int) -> list[Node]:
    """The counted equipment as the client's first nodes (refined later, when the infrastructure is surveyed)."""
    width = len(str(max(workstations, servers, 1)))
    nodes = [Node(client_id=client_id, kind="workstation", name=f"ws-{n:0{width}d}", criticality="low")
             for n in range(1, workstations + 1)]
    nodes += [Node(client_id=client_id, kind="server", name=f"srv-{n:0{width}d}", criticality="high")
              for n in range(1, servers + 1)]
    return nodes


def draft_contract(session: Session, *, quote: Quote, client_name: str, actor: str,
                   client_email: str | None = None) -> ContractRow:
    """A new client with the quoted seats as nodes and a contract with the quote's terms from the quote's
    month (committed, audited). BillingInputError naming the field when the name is taken or empty."""
    with unit_of_work(session):
        name = (client_name or "").strip()
        if not name or len(name) > 200:
            raise BillingInputError("client_name", "enter the new client's name (at most 200 characters)")
        if session.scalar(select(func.count()).select_from(Client).where(Client.name == name)):
            raise BillingInputError("client_name", f"a client named {name!r} already exists")
        client = Client(name=name, email=client_email, sla_policy=quote.tier)
        session.add(client)
        session.flush()
        session.add_all(_seat_nodes(client.id, quote.request.workstations, quote.request.servers))
        valid_from, _ = month_bounds(quote.month, client.zone)
        row = ContractRow(client_id=client.id, plan_kind=quote.plan_kind, tier=quote.tier, valid_from=valid_from,
                          valid_to=None, terms=quote.terms)
        session.add(row)
        session.flush()
        session.add(AuditEvent(entity="contract", entity_id=row.id, action=DRAFT_ACTION, actor=actor,
                               data={"client_id": client.id, "quote": quote_summary(quote)}))
    return row


def quote_summary(quote: Quote) -> dict:
    """What the quote was made of and came to, for the audit trail."""
    request = quote.request
    return {"workstations": request.workstations, "servers": request.servers, "tier": request.tier,
            "plan": request.plan, "package_hours": request.package_hours, "on_site_visits": request.on_site_visits,
            "prepayment_months": request.prepayment_months, "month": quote.month,
            "monthly_total": str(quote.invoice.total)}

