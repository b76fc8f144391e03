"""Billing benchmark: every monthly invoice of every client of a knowledge store, and the pure engine on a
large synthetic month. Prints one JSON object.

    python benchmarks/billing_invoices.py --database-url sqlite:///var/precedent.sqlite3 [--engine-entries 5000]

The store part loads each client's contract, time entries, tickets, operations and SLA breaches per month
(prepaid contracts replay every earlier month for the carried balance) and computes the invoice, exactly as
``GET /api/v1/clients/<id>/invoices/<YYYY-MM>`` does. It also counts the invoice line kinds seen.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import Counter
from decimal import Decimal


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def store_invoices(url: str) -> dict:
    from sqlalchemy import func, select

    from kb.db import make_engine, make_session_factory
    from kb.models import Client, Contract, TimeEntry
    from service.billing import service as billing_service
    from service.sla.calendar import previous_month

    session = make_session_factory(make_engine(url))()
    first, last = session.execute(select(func.min(TimeEntry.started_at), func.max(TimeEntry.started_at))).one()
    months = []
    cursor = last.strftime("%Y-%m")
    while cursor >= first.strftime("%Y-%m"):
        months.append(cursor)
        cursor = previous_month(cursor)
    clients = session.scalars(select(Client.id).where(Client.id.in_(select(Contract.client_id)))).all()
    timings: list[float] = []
    kinds: Counter[str] = Counter()
    totals: list[Decimal] = []
    capped = 0
    started = time.perf_counter()
    for client_id in clients:
        for month in reversed(months):
            tick = time.perf_counter()
            try:
                invoice, _ = billing_service.client_invoice(session, client_id=client_id, month=month)
            except billing_service.NotFound:
                continue
            timings.append(time.perf_counter() - tick)
            kinds.update(line.kind for line in invoice.lines)
            totals.append(invoice.total)
            capped += invoice.penalties_capped
    return {
        "clients": len(clients), "months": len(months), "invoices": len(timings),
        "seconds": round(time.perf_counter() - started, 2),
        "median_ms": round(statistics.median(timings) * 1000, 1), "p95_ms": round(_percentile(timings, 0.95) * 1000, 1),
        "max_ms": round(max(timings) * 1000, 1),
        "negative_invoices": sum(1 for t in totals if t < 0), "penalties_capped": capped,
        "total_min": str(min(totals)), "total_median": str(sorted(totals)[len(totals) // 2]), "total_max": str(max(totals)),
        "line_kinds": dict(kinds.most_common()),
    }


def engine_month(entries: int, seed: int = 1) -> dict:
    from service.billing import compute_invoice, parse_contract, parse_usage

    rng = random.Random(seed)
    contract = parse_contract({"plan_kind": "package", "tier": "gold", "terms": {
        "hourly_rate": "2000", "hourly_discount_percent": "10", "package": {"hours": 40, "monthly_fee": "70000"},
        "penalties": {"per_breach": "500", "per_overdue_hour": "50", "cap_percent": "15"}}})
    tickets = [{"id": i, "billing_mode": rng.choice(["included", "included", "hourly"])} for i in range(1, 501)]
    usage = parse_usage({
        "month": "2026-11", "tickets": tickets,
        "entries": [{"ticket_id": rng.randint(1, 500), "minutes": rng.randint(5, 240),
                     "started_at": f"2026-11-{rng.randint(1, 30):02d}T{rng.randint(0, 23):02d}:00:00+03:00",
                     "off_hours": rng.random() < 0.2, "work_kind": "included"} for _ in range(entries)],
        "sla_breaches": [{"ticket_id": rng.randint(1, 500), "overdue_minutes": rng.randint(1, 600)}
                         for _ in range(entries // 50)],
    })
    runs = []
    for _ in range(5):
        tick = time.perf_counter()
        invoice = compute_invoice(contract, usage)
        runs.append(time.perf_counter() - tick)
    return {"entries": entries, "lines": len(invoice.lines), "median_ms": round(statistics.median(runs) * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="knowledge store to bill (omit to benchmark the engine only)")
    parser.add_argument("--engine-entries", type=int, default=5000)
    args = parser.parse_args()
    result = {"engine": engine_month(args.engine_entries)}
    if args.database_url:
        result["store"] = store_invoices(args.database_url)
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
