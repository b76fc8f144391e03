"""Calculator and audit benchmark over a freshly built demo (temporary SQLite). Prints one JSON object.

    python benchmarks/quote_audit.py [--tickets 6000] [--quotes 300]

Quote: ``POST /api/v1/quote`` through the app (anonymous, the stored rate card read each time) for a mix of
plans, and the pure ``compute_quote``. Audit: ``client_audit`` of every demo client, 5 rounds, as
``GET /api/v1/clients/<id>/audit`` computes it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REQUESTS = [
    {"workstations": 25, "servers": 3, "tier": "gold", "on_site_visits": "biweekly", "prepayment_months": 13},
    {"plan": "package", "package_hours": "15", "workstations": 8},
    {"plan": "unlimited", "workstations": 40, "servers": 4, "tier": "platinum", "prepayment_months": 3},
]


def _ms(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"median_ms": round(statistics.median(ordered) * 1000, 3),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=6000)
    parser.add_argument("--quotes", type=int, default=300)
    args = parser.parse_args()
    from data.demo import build_demo
    from kb import migrate
    from kb.db import make_engine, make_session_factory
    from kb.models import Client
    from service import create_app
    from service.billing.quote import DEFAULT_RATES, compute_quote, parse_quote_request, parse_rates
    from service.directory.audit import client_audit

    folder = Path(tempfile.mkdtemp())
    url = f"sqlite:///{folder / 'demo.sqlite3'}"
    migrate.upgrade(url)
    session = make_session_factory(make_engine(url))()
    started = time.perf_counter()
    build_demo(session, tickets=args.tickets, users=False, contracts=False)
    build_seconds = time.perf_counter() - started

    app = create_app({"DATABASE_URL": url, "VAR_DIR": str(folder / "var")})
    api = app.test_client()
    http = []
    for number in range(args.quotes):
        begin = time.perf_counter()
        response = api.post("/api/v1/quote", json=REQUESTS[number % len(REQUESTS)])
        http.append(time.perf_counter() - begin)
        assert response.status_code == 200
    rates = parse_rates(DEFAULT_RATES)
    pure = []
    for number in range(args.quotes):
        begin = time.perf_counter()
        compute_quote(parse_quote_request(REQUESTS[number % len(REQUESTS)], rates), rates, month="2027-01")
        pure.append(time.perf_counter() - begin)

    audits, findings = [], {}
    now = datetime(2026, 11, 25, tzinfo=UTC)
    clients = session.query(Client).order_by(Client.id).all()
    for _ in range(5):
        for client in clients:
            begin = time.perf_counter()
            report = client_audit(session, client_id=client.id, now=now)
            audits.append(time.perf_counter() - begin)
            findings[client.name] = report["summary"]
    print(json.dumps({
        "tickets": args.tickets, "demo_build_seconds": round(build_seconds, 1),
        "quote_http": {"requests": len(http), **_ms(http)}, "quote_pure": {"calls": len(pure), **_ms(pure)},
        "audit": {"clients": len(clients), "rounds": 5, **_ms(audits)}, "audit_summaries": findings,
    }, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    import logging

    logging.disable(logging.INFO)  # the request log of 300 calls is not what is measured
    main()
