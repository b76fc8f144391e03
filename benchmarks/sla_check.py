"""Time `sla_check` over synthetic tickets in a temporary SQLite database; prints JSON.

    python benchmarks/sla_check.py [--tickets 5000] [--seed 1]

Tickets are opened uniformly over the two years before a fixed instant, 95 % reacted and resolved within
days, across four clients (gold 10x5 Moscow, bronze 8x5 Novosibirsk, platinum 24x7, kit_package 10x5
Kaliningrad). The first check settles every ticket; the second only rechecks the open ones.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kb.db import make_engine, make_session_factory
from kb.models import Base, Client, Ticket
from service.config import load_settings
from service.sla import service as sla_service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rnd = random.Random(args.seed)
    now = datetime(2026, 11, 22, 21, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        Base.metadata.create_all(engine)
        with make_session_factory(engine)() as session:
            clients = [Client(name=f"client {i}", sla_policy=policy, calendar=calendar, timezone=zone)
                       for i, (policy, calendar, zone) in enumerate([
                           ("gold", "10x5", "Europe/Moscow"), ("bronze", "8x5", "Asia/Novosibirsk"),
                           ("platinum", "24x7", "Europe/Moscow"), ("kit_package", "10x5", "Europe/Kaliningrad")])]
            session.add_all(clients)
            session.flush()
            for _ in range(args.tickets):
                opened = now - timedelta(minutes=rnd.randint(0, 2 * 365 * 24 * 60))
                ticket = Ticket(client_id=rnd.choice(clients).id, subject="benchmark", created_at=opened,
                                priority=rnd.choice(["low", "standard", "high", "highest"]), status="in_progress")
                if rnd.random() < 0.95:
                    ticket.reacted_at = opened + timedelta(minutes=rnd.randint(1, 600))
                    resolved = opened + timedelta(minutes=rnd.randint(60, 6000))
                    if resolved <= now:
                        ticket.resolved_at, ticket.status = resolved, "closed"
                session.add(ticket)
            session.commit()
            settings = load_settings({})
            started = time.perf_counter()
            first = sla_service.sla_check(session, now=now, settings=settings)
            first_seconds = time.perf_counter() - started
            started = time.perf_counter()
            second = sla_service.sla_check(session, now=now, settings=settings)
            second_seconds = time.perf_counter() - started
        engine.dispose()
    print(json.dumps({"tickets": args.tickets, "first_check": {"seconds": round(first_seconds, 2),
                      "checked": first["checked"], "states": first["states"], "events": first["events_created"]},
                      "second_check": {"seconds": round(second_seconds, 2), "checked": second["checked"]}}))


if __name__ == "__main__":
    main()
