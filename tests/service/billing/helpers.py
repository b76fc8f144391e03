"""Small builders for billing documents used by the billing tests."""

from __future__ import annotations

import copy
from decimal import Decimal

from service.billing import compute_invoice, parse_contract, parse_usage

BASE_TERMS = {
    "subscription": {"workstation_rate": "1500.00", "server_rate": "5000.00"},
    "package": {"hours": 10, "monthly_fee": "20000.00"},
    "prepaid": {"hour_price": "2000.00"},
    "unlimited": {"monthly_fee": "90000.00"},
    "hourly": None,
}


def contract(plan_kind: str = "package", tier: str = "bronze", **terms) -> dict:
    """A contract document for ``plan_kind`` with an hourly rate of 2000 unless overridden."""
    body: dict = {"hourly_rate": "2000.00"}
    if BASE_TERMS[plan_kind] is not None:
        body[plan_kind] = copy.deepcopy(BASE_TERMS[plan_kind])
    for key, value in terms.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key].update(value)
        else:
            body[key] = value
    return {"plan_kind": plan_kind, "tier": tier, "terms": body}


def entry(ticket_id: int = 1, day: int = 3, hour: int = 10, minutes: int = 60, **fields) -> dict:
    return {"ticket_id": ticket_id, "started_at": f"2026-11-{day:02d}T{hour:02d}:00:00+03:00", "minutes": minutes,
            **fields}


def usage(*entries: dict, tickets: list[dict] | None = None, **fields) -> dict:
    """A usage document of November 2026; tickets default to one included ticket per id used by entries."""
    if tickets is None:
        ids = sorted({e["ticket_id"] for e in entries}) or []
        tickets = [{"id": i, "subject": f"Заявка {i}"} for i in ids]
    return {"month": "2026-11", "tickets": tickets, "entries": list(entries), **fields}


def bill(contract_doc: dict, usage_doc: dict):
    return compute_invoice(parse_contract(contract_doc), parse_usage(usage_doc))


def amounts(invoice, kind: str) -> list[Decimal]:
    return [line.amount for line in invoice.lines if line.kind == kind]


def D(text: str) -> Decimal:  # noqa: N802 - reads like a literal in the tables
    return Decimal(text)
