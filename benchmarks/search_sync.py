"""Cost of the search index's once-a-second catch-up with other processes' changes, on an existing store.

Times the two queries ``SearchIndex.sync`` runs per kind when no signal arrived: ``max(updated_at)`` and,
when that moved, the rows changed since the watermark (here: since the newest row, i.e. none changed).

    python benchmarks/search_sync.py --database-url sqlite:////path/precedent.sqlite3 [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.db import make_engine
from kb.models import Ticket
from service.search import service as search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    engine = make_engine(args.database_url)
    result: dict = {}
    with Session(engine) as session:
        result["tickets"] = session.scalar(select(func.count(Ticket.id)))
        for kind in search.KINDS:
            mark = search._watermark(session, kind)
            latest_ms, changed_ms = [], []
            for _ in range(args.repeat):
                started = time.perf_counter()
                search._watermark(session, kind)
                latest_ms.append(1000 * (time.perf_counter() - started))
                started = time.perf_counter()
                search._changed_since(session, kind, mark, search.SYNC_BATCH)
                changed_ms.append(1000 * (time.perf_counter() - started))
            result[kind] = {"max_updated_at_ms_median": round(statistics.median(latest_ms), 3),
                            "changed_rows_ms_median": round(statistics.median(changed_ms), 3)}
    engine.dispose()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
