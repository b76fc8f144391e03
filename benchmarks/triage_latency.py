"""Latency of POST /api/v1/triage on the knowledge store configured by PRECEDENT_* (the demo KB).

Sends N real requests (subjects, descriptions, clients and nodes of stored tickets, seeded sample) through
the Flask app in-process, after a warm-up, and prints one JSON object with p50/p95/p99 in milliseconds.
Creates (once) an analyst user ``benchmark-triage`` to carry the API token.

    python benchmarks/triage_latency.py [N]
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload


def main(n: int = 300, seed: int = 0) -> dict:
    from kb.models import Ticket, User
    from service import create_app
    from service.platform import db
    from service.platform.auth import create_user, issue_token

    app = create_app()
    with app.app_context():
        session = db.session_factory()()
        total = session.scalar(select(func.count()).select_from(Ticket))
        if not total:
            raise SystemExit("the store has no tickets: run `precedent demo build` first")
        ids = list(session.scalars(select(Ticket.id)))
        random.Random(seed).shuffle(ids)
        tickets = session.scalars(select(Ticket).where(Ticket.id.in_(ids[:n])).options(selectinload(Ticket.nodes)))
        payloads = [{"subject": t.subject, "description": t.description or "", "client_id": t.client_id,
                     "channel": t.channel, "node_ids": [node.id for node in t.nodes]} for t in tickets]
        user = session.scalar(select(User).where(User.username == "benchmark-triage"))
        if user is None:
            user = create_user(session, username="benchmark-triage", password="benchmark-triage-only",
                               role="analyst")
        token = issue_token(session, user=user, name="triage latency benchmark")
        session.commit()
        session.close()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for payload in payloads[:20]:  # warm-up: models load, caches fill
        client.post("/api/v1/triage", json=payload, headers=headers)
    timings, last = [], None
    for payload in payloads:
        started = time.perf_counter()
        response = client.post("/api/v1/triage", json=payload, headers=headers)
        timings.append(1000 * (time.perf_counter() - started))
        if response.status_code != 200:
            raise SystemExit(f"triage answered {response.status_code}: {response.get_data(as_text=True)}")
        last = response.get_json()
    timings.sort()

    def pct(q: float) -> float:
        return round(timings[min(len(timings) - 1, int(q * len(timings)))], 2)

    return {"requests": len(timings), "tickets_in_store": total, "p50_ms": pct(0.5), "p95_ms": pct(0.95),
            "p99_ms": pct(0.99), "mean_ms": round(statistics.fmean(timings), 2),
            "model_versions": last["model_versions"], "nearest_incidents_from": last["nearest_incidents_from"]}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300), ensure_ascii=False))
