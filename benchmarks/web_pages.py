"""Web page latency: every main page of the workspace and the portal over a demo knowledge base.

Logs in as the demo users (password ``demo-password``) through Flask's test client (no network), asks each
page ``--rounds`` times after one warm-up request (the first loads models and the search index) and prints
one JSON object with p50/p95/max milliseconds per page.

    PRECEDENT_VAR_DIR=var python benchmarks/web_pages.py [--var-dir var] [--rounds 30]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

from sqlalchemy import select

from kb.models import Node, Ticket
from service import create_app
from service.platform import db


def _login(app, username: str):
    web = app.test_client()
    page = web.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert web.post("/login", data={"username": username, "password": "demo-password", "csrf": csrf}).status_code == 302
    return web


def _pages(app) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    with app.app_context():
        session = db.session()
        working = session.scalar(select(Ticket.id).where(Ticket.status == "in_progress").order_by(Ticket.id))
        client_id = session.get(Ticket, working).client_id
        node_id = session.scalar(select(Node.id).where(Node.client_id == client_id).order_by(Node.id))
        own = session.scalar(select(Ticket.id).where(Ticket.client_id == 1).order_by(Ticket.id.desc()))
    staff = [("queue", "/queue"), ("queue_filtered", "/queue?sla_state=breached&q=сервер"),
             ("needs_triage", "/queue?needs_triage=1"), ("ticket", f"/tickets/{working}"), ("sla", "/sla"),
             ("specialists", "/specialists"), ("client", f"/clients/{client_id}"), ("node", f"/nodes/{node_id}")]
    portal = [("portal", "/portal"), ("portal_company", "/portal?scope=company&status=open"),
              ("portal_ticket", f"/portal/tickets/{own}")]
    return staff, portal


def measure(web, path: str, rounds: int) -> dict:
    """Milliseconds of ``rounds`` requests for ``path`` after one warm-up."""
    assert web.get(path).status_code == 200, path
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        response = web.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, path
    times.sort()
    return {"path": path, "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[max(int(len(times) * 0.95) - 1, 0)], 1), "max_ms": round(times[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--var-dir", default="var")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    var_dir = Path(args.var_dir)
    app = create_app({"VAR_DIR": str(var_dir), "DATABASE_URL": f"sqlite:///{var_dir / 'precedent.sqlite3'}"})
    staff, portal = _pages(app)
    results = {}
    engineer, client = _login(app, "engineer1"), _login(app, "client-vektor")
    for name, path in staff:
        results[name] = measure(engineer, path, args.rounds)
    for name, path in portal:
        results[name] = measure(client, path, args.rounds)
    print(json.dumps({"rounds": args.rounds, "database": "sqlite (demo)", "pages": results}, ensure_ascii=False,
                     indent=2))


if __name__ == "__main__":
    main()
