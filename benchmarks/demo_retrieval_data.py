"""Write a retrieval evaluation set from the demo knowledge base (Russian), with scenario ground truth.

The demo generator (data/demo) writes each ticket from one of its problem scenarios in a random voice;
two tickets are relevant to each other when they come from the same scenario (the generator records this
in its context, not in the store). The generator's own steps are replayed here with the same seed so the
mapping is exact. A seeded sample of resolved tickets becomes the queries (subject + description, without
the resolution), split in halves ``dev`` and ``test``; the other resolved tickets are the corpus
(subject | description + resolution, like the service indexes them).

A second set in ``<out>/articles`` asks the same queries of the knowledge articles (title | body; the
generator writes one article per scenario, external id ``DEMO-KB-<scenario>``): the relevant article is
the one of the query's scenario. Short titles and long bodies make it the demo's FAQ-like case.

    python benchmarks/demo_retrieval_data.py [--tickets 6000] [--seed 42] [--queries 1000] [--out var/eval/demo]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("var/eval/demo"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import select

    from data.demo import generator as gen
    from kb import migrate
    from kb.db import make_engine, make_session_factory
    from kb.models import Article, Ticket

    args.out.mkdir(parents=True, exist_ok=True)
    database = args.out / "demo-eval.sqlite3"
    database.unlink(missing_ok=True)
    url = f"sqlite:///{database}"
    migrate.upgrade(url)
    with make_session_factory(make_engine(url))() as session:
        # The steps of gen.build_demo up to the tickets, keeping the context that knows each ticket's scenario.
        # The generator records scenarios only for those with a known problem; listing every scenario key as
        # one makes it record all of them (the condition draws no random numbers, so the data is unchanged).
        gen.EXTRA_PROBLEMS = {**{s["key"]: None for s in gen.SCENARIOS}, **gen.EXTRA_PROBLEMS}
        ctx = gen.DemoContext(rng=random.Random(args.seed), tickets=args.tickets)
        gen.build_specialists(session, ctx)
        gen.build_clients(session, ctx)
        gen.build_nodes(session, ctx)
        gen.build_tickets(session, ctx)
        gen.build_articles(session, ctx)
        session.commit()
        scenario_of = {tid: key for key, ids in ctx.scenario_tickets.items() for tid in ids}
        rows = session.execute(select(Ticket.id, Ticket.subject, Ticket.description, Ticket.resolution)
                               .where(Ticket.status.in_(("resolved", "closed")))).all()
        articles = pd.DataFrame(session.execute(select(Article.external_id, Article.title, Article.body)).all(),
                                columns=["article_id", "title", "body"])
    frame = pd.DataFrame(rows, columns=["ticket_id", "subject", "description", "resolution"]).fillna("")
    frame["scenario"] = frame["ticket_id"].map(scenario_of)
    frame = frame[frame["scenario"].notna()]
    sizes = frame["scenario"].map(frame["scenario"].value_counts())
    rng = np.random.default_rng(0)
    chosen = rng.choice(frame.index[sizes >= 2].to_numpy(), size=min(args.queries, int((sizes >= 2).sum())),
                        replace=False)
    is_query = frame.index.isin(chosen)
    corpus = frame.loc[~is_query].copy()
    corpus["body"] = (corpus["description"] + "\n" + corpus["resolution"]).str.strip()
    by_scenario = corpus.groupby("scenario")["ticket_id"].agg(lambda ids: " ".join(map(str, ids)))
    queries = frame.loc[chosen].copy()
    queries["text"] = (queries["subject"] + "\n" + queries["description"]).str.strip()
    queries["relevant"] = queries["scenario"].map(by_scenario).fillna("")
    queries = queries[queries["relevant"] != ""]
    half = len(queries) // 2
    corpus[["ticket_id", "subject", "body", "scenario"]].to_csv(args.out / "corpus.csv", index=False)
    columns = ["ticket_id", "text", "scenario", "relevant"]
    queries.iloc[:half][columns].to_csv(args.out / "queries_dev.csv", index=False)
    queries.iloc[half:][columns].to_csv(args.out / "queries_test.csv", index=False)
    (args.out / "articles").mkdir(exist_ok=True)
    articles.to_csv(args.out / "articles" / "corpus.csv", index=False)
    queries["relevant"] = "DEMO-KB-" + queries["scenario"]
    queries = queries[queries["relevant"].isin(set(articles["article_id"]))]
    queries.iloc[:half][columns].to_csv(args.out / "articles" / "queries_dev.csv", index=False)
    queries.iloc[half:][columns].to_csv(args.out / "articles" / "queries_test.csv", index=False)
    print(json.dumps({"corpus": len(corpus), "queries_dev": half, "queries_test": len(queries) - half,
                      "articles": len(articles), "scenarios": int(frame["scenario"].nunique()),
                      "out": str(args.out)}))


if __name__ == "__main__":
    main()
