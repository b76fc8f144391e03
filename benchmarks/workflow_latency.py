"""Time the workflow use cases in a temporary SQLite store; prints JSON.

    python benchmarks/workflow_latency.py [--tickets 200] [--alerts 50]

Each ticket is created with priority and group given (no triage) and walked through
triage → take → request_info → client_replied → resolve → close (a quarter stops after take, a quarter
after resolve); the per-call latency of each use case is
reported (median and 95th percentile, milliseconds). Then one Alertmanager notification with ``--alerts``
distinct alerts on 50 nodes is ingested twice (first creates the incidents with triage in rules-only mode,
second only comments: de-duplication; triage is warmed up first), and the auto-close and time-box checks run over the store.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kb.db import make_engine, make_session_factory
from kb.migrate import upgrade
from kb.models import Client, Node, Specialist
from service.config import load_settings
from service.tickets import alertmanager as alerting
from service.tickets import periodic, workflow


def _summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"calls": len(ordered), "median_ms": round(statistics.median(ordered) * 1000, 2),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--alerts", type=int, default=50)
    args = parser.parse_args()
    settings = replace(load_settings({}), triage_use_search=False, var_dir=Path(tempfile.mkdtemp()))
    start = datetime(2026, 11, 23, 7, tzinfo=UTC)
    timings: dict[str, list[float]] = {}

    def timed(name, call):
        began = time.perf_counter()
        result = call()
        timings.setdefault(name, []).append(time.perf_counter() - began)
        return result

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        upgrade(url)
        with make_session_factory(make_engine(url))() as session:
            client = Client(name="bench", email="it@bench.example", sla_policy="gold")
            session.add(client)
            session.flush()
            nodes = [Node(client_id=client.id, kind="server", name=f"srv-{i:03d}", criticality="high",
                          attributes={"ip": f"10.0.{i // 250}.{i % 250 + 1}"}) for i in range(50)]
            line1, line2 = Specialist(name="L1", line=1), Specialist(name="L2", line=2)
            session.add_all([*nodes, line1, line2])
            session.commit()
            for index in range(args.tickets):
                now = start + timedelta(minutes=index)
                ticket = timed("create_ticket", lambda now=now: workflow.create_ticket(
                    session, actor="bench", now=now, settings=settings, client_id=client.id,
                    subject="Не печатает принтер", priority="standard", group="printers"))
                path = [("triage", {}), ("take", {"specialist_id": line1.id}),
                        ("request_info", {"reason": "?"}), ("client_replied", {}),
                        ("resolve", {"resolution": "готово"}), ("close", {})]
                # a quarter stays at line 1 and a quarter resolved, so the periodic checks have work to do
                path = path[:2] if index % 4 == 0 else path[:5] if index % 4 == 1 else path
                for action, params in path:
                    timed("apply_action", lambda a=action, p=params, t=ticket, now=now: workflow.apply_action(
                        session, ticket_id=t.id, action=a, actor="bench", now=now + timedelta(minutes=1),
                        settings=settings, **p))
            # warm-up: the first triage call imports the classifiers' modules; keep that out of the timings
            from service.triage.service import triage_request

            triage_request(session, subject="warm-up", client_id=client.id, settings=settings)
            payload = {"version": "4", "status": "firing", "alerts": [{
                "status": "firing", "labels": {"alertname": "NodeDown", "severity": "warning",
                                               "instance": f"{nodes[i % 50].attributes['ip']}:9100"},
                "annotations": {"summary": "down"}, "startsAt": "2026-11-23T07:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z", "fingerprint": f"fp{i:05d}"} for i in range(args.alerts)]}
            first = timed("alertmanager_new", lambda: alerting.ingest_alertmanager(
                session, payload=payload, now=start, settings=settings))
            second = timed("alertmanager_duplicate", lambda: alerting.ingest_alertmanager(
                session, payload=payload, now=start, settings=settings))
            later = start + timedelta(days=14)
            closed = timed("autoclose_check", lambda: periodic.autoclose_resolved(session, now=later,
                                                                                  settings=settings))
            flagged = timed("time_box_check", lambda: periodic.flag_time_box_expired(session, now=later,
                                                                                     settings=settings))
    print(json.dumps({
        "tickets": args.tickets, "alerts_per_notification": args.alerts,
        "alertmanager_outcomes": {"first": first["created"], "second_commented": second["commented"]},
        "autoclosed": len(closed), "time_box_flagged": len(flagged),
        **{name: _summary(samples) for name, samples in timings.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
