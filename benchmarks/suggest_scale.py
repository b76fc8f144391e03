"""End-to-end ``suggest`` at scale: a knowledge store of N resolved tickets, full index build, query latency.

Builds a temporary SQLite store (migrated with the project's migrations), fills it with N resolved tickets
plus articles and known problems, runs ``precedent index build``'s code path (``service.search.build_index``)
with a fresh embedding cache, then times ``service.search.suggest`` (the function behind the API, the CLI
and the web page: retrieval, DB reads and reasons) for held-out queries, one at a time.

Ticket sources:
- ``demo`` (default): the demo knowledge-base generator (``data/demo``, as ``precedent demo build --tickets N``);
  queries are the texts of a sample of the generated tickets;
- ``endava``: real Endava help-desk tickets, cycled to N with a per-ticket tag so every text is distinct
  and must be embedded (no cache hits).

    python benchmarks/suggest_scale.py --tickets 100000 [--source demo|endava] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "endava_tickets_subset.csv.gz"


def fill_from_endava(session, n: int, seed: int) -> list[str]:
    """Insert n resolved tickets built from real Endava texts; return held-out query texts."""
    import pandas as pd
    from sqlalchemy import insert

    from kb.models import Article, Client, KnownProblem, Ticket

    frame = pd.read_csv(DATA).fillna("")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))
    held_out, pool = order[:300], order[300:]
    clients = [Client(name=f"Client {i}") for i in range(20)]
    session.add_all(clients)
    session.flush()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    batch = []
    for k in range(n):
        row = frame.iloc[pool[k % len(pool)]]
        tag = f"[{k // len(pool)}-{k}]"  # distinct text per ticket: nothing comes from the cache
        moment = start + timedelta(minutes=7 * k)
        batch.append({"client_id": clients[k % len(clients)].id, "subject": f"{row['title'] or 'ticket'} {tag}",
                      "description": row["body"], "resolution": f"resolved per category {row['category']}",
                      "status": "resolved", "created_at": moment, "updated_at": moment, "resolved_at": moment})
        if len(batch) == 5000:
            session.execute(insert(Ticket), batch)
            batch = []
    if batch:
        session.execute(insert(Ticket), batch)
    session.add_all([Article(title=f"Article {i}: {frame.iloc[pool[i]]['title']}", body=frame.iloc[pool[i]]["body"])
                     for i in range(200)])
    session.add_all([KnownProblem(title=f"Problem {i}: {frame.iloc[pool[-i]]['title']}",
                                  symptoms=frame.iloc[pool[-i]]["body"]) for i in range(1, 51)])
    session.commit()
    return [f"{frame.iloc[i]['title']} {frame.iloc[i]['body']}".strip() for i in held_out]


def fill_from_demo(session, n: int, seed: int, n_queries: int) -> list[str]:
    """Generate n demo tickets (data/demo, Russian); return the texts of a sample of them as queries."""
    import random
    import sys

    from sqlalchemy import select

    from kb.models import Ticket

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from data.demo import generator

    generator.build_demo(session, seed=seed, tickets=n, users=False, contracts=False)
    rows = session.execute(select(Ticket.subject, Ticket.description)).all()
    picks = random.Random(seed).sample(rows, min(n_queries, len(rows)))
    return [f"{subject}\n{description}" for subject, description in picks]


def time_queries(session, queries: list[str]) -> dict:
    """p50/p95 of suggest() over the queries, one at a time."""
    from service.search import service as search

    millis = []
    for text in queries:
        started = time.perf_counter()
        result = search.suggest(session, text=text, k=5)
        millis.append((time.perf_counter() - started) * 1000.0)
        assert result["incidents"], "every query should find incidents"
    return {"suggest_ms_p50": round(float(np.percentile(millis, 50)), 2),
            "suggest_ms_p95": round(float(np.percentile(millis, 95)), 2), "queries": len(millis)}


def query_only(settings, url: str, args) -> None:
    from sqlalchemy import select

    from kb.db import make_engine, make_session_factory
    from kb.models import Ticket
    from service.search import service as search

    began = time.perf_counter()
    search.get_index(make_session_factory(make_engine(url))(), settings)
    report = {"tickets_in_store": None, "index_load_seconds": round(time.perf_counter() - began, 2)}
    with make_session_factory(make_engine(url))() as session:
        rows = session.execute(select(Ticket.subject, Ticket.description)).all()
        report["tickets_in_store"] = len(rows)
        queries = [f"{a}\n{b}" for a, b in random.Random(args.seed).sample(rows, args.queries)]
        report.update(time_queries(session, queries))
    print(json.dumps(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--source", choices=("demo", "endava"), default="demo")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reuse", action="store_true",
                        help="--workdir already holds a filled store and a built index: only time the queries.")
    args = parser.parse_args()

    from kb import migrate
    from kb.db import make_engine, make_session_factory
    from service.config import load_settings
    from service.search import service as search

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="precedent-suggest-"))
    url = f"sqlite:///{workdir / 'precedent.sqlite3'}"
    # suggest() resolves its settings from the environment outside a Flask app: point it at this store.
    os.environ["PRECEDENT_DATABASE_URL"] = url
    os.environ["PRECEDENT_VAR_DIR"] = str(workdir / "var")
    settings = replace(load_settings(), var_dir=workdir / "var", database_url=url)
    if args.reuse:
        query_only(settings, url, args)
        return
    migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    report: dict = {"tickets": args.tickets, "source": args.source, "embedder": settings.search_embedder}
    with factory() as session:
        began = time.perf_counter()
        if args.source == "demo":
            queries = fill_from_demo(session, args.tickets, args.seed, args.queries)
        else:
            queries = fill_from_endava(session, args.tickets, args.seed)[: args.queries]
        report["fill_seconds"] = round(time.perf_counter() - began, 1)
        began = time.perf_counter()
        built = search.build_index(session, settings)
        report["index_build_seconds"] = round(time.perf_counter() - began, 1)
        report["index_kind"] = built.retrievers["incident"].dense_kind
        report["counts"] = {kind: len(r) for kind, r in built.retrievers.items()}
        search.forget_loaded()
        began = time.perf_counter()
        loaded = search.load_index(settings)
        report["index_load_seconds"] = round(time.perf_counter() - began, 2)
        search._loaded[search._key(settings)] = loaded
        millis = []
        for text in queries:
            started = time.perf_counter()
            result = search.suggest(session, text=text, k=5)
            millis.append((time.perf_counter() - started) * 1000.0)
            assert result["incidents"], "every query should find incidents"
        report["suggest_ms_p50"] = round(float(np.percentile(millis, 50)), 2)
        report["suggest_ms_p95"] = round(float(np.percentile(millis, 95)), 2)
        report["queries"] = len(millis)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
