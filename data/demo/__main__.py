"""``python -m data.demo [--seed N] [--tickets N] [--database-url URL] [--replace] [--no-users] [--no-contracts]``.

The same as ``precedent demo build``, for use straight from a checkout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from kb import migrate
from kb.db import make_engine, make_session_factory
from service.config import load_settings

from . import DEFAULT_SEED, DEFAULT_TICKETS, DemoError, build_demo


def main(argv: list[str] | None = None) -> int:
    """Migrate the database, build the demo into it and print the row counts as JSON."""
    parser = argparse.ArgumentParser(prog="python -m data.demo", description=__doc__)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--tickets", type=int, default=DEFAULT_TICKETS)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--replace", action="store_true")
    parser.add_argument("--no-users", action="store_true")
    parser.add_argument("--no-contracts", action="store_true")
    args = parser.parse_args(argv)
    if args.tickets < 1:
        parser.error("--tickets must be at least 1")
    url = args.database_url or load_settings().resolved_database_url
    migrate.upgrade(url)
    engine = make_engine(url)
    started = time.perf_counter()
    try:
        with make_session_factory(engine)() as session:
            counts = build_demo(session, seed=args.seed, tickets=args.tickets, replace=args.replace,
                                    users=not args.no_users, contracts=not args.no_contracts)
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(json.dumps({"seconds": round(time.perf_counter() - started, 1), **counts}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
