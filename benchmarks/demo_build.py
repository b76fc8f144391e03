"""Time the demo generator: build the demo into fresh databases and print one JSON line per size.

    python benchmarks/demo_build.py --tickets 6000 100000 [--database-url postgresql+psycopg://.../scratch]

Without --database-url each size builds into a new SQLite file in a temporary folder; with it, the given
(scratch!) database is migrated and replaced for each size.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data.demo import build_demo  # noqa: E402
from kb import migrate  # noqa: E402
from kb.db import make_engine, make_session_factory  # noqa: E402


def measure(url: str, tickets: int, seed: int) -> dict:
    """Migrate ``url``, build the demo with ``tickets`` (replacing what is there) and time the build."""
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            started = time.perf_counter()
            counts = build_demo(session, seed=seed, tickets=tickets, replace=True)
            seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    return {"backend": engine.dialect.name, "tickets": tickets, "seed": seed, "seconds": round(seconds, 1),
            "rows": sum(v for v in counts.values() if isinstance(v, int))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, nargs="+", default=[6000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for tickets in args.tickets:
            url = args.database_url or f"sqlite:///{Path(folder) / f'demo-{tickets}.sqlite3'}"
            print(json.dumps(measure(url, tickets, args.seed)), flush=True)


if __name__ == "__main__":
    main()
