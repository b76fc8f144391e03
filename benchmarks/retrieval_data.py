"""Write the real-data retrieval evaluation set (Endava help-desk tickets) as corpus and query CSVs.

Relevance: two tickets are relevant to each other when they share the fine-grained label
(category, sub_category1, sub_category2, business_service): the same kind of request about the same
business service, i.e. handled the same way (``--label category`` drops business_service: coarser).
A seeded sample of tickets with at least one such neighbour becomes the queries (split in half: ``dev`` to
tune fusion weights, ``test`` to report); every other ticket is the corpus, so no query finds itself.

    python benchmarks/retrieval_data.py [--out var/eval/endava] [--queries 1000] [--seed 0] [--label service]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "endava_tickets_subset.csv.gz"


LABELS = {"service": ["category", "sub_category1", "sub_category2", "business_service"],
          "category": ["category", "sub_category1", "sub_category2"]}


def build(out: Path, n_queries: int, seed: int, source: Path = DATA, label: str = "service") -> dict:
    """Write corpus.csv, queries_dev.csv and queries_test.csv under ``out``; return a summary."""
    frame = pd.read_csv(source)
    frame["ticket_id"] = [f"E{i:05d}" for i in range(len(frame))]
    frame["title"] = frame["title"].fillna("")
    frame["body"] = frame["body"].fillna("")
    frame["label"] = frame[LABELS[label]].astype(str).agg("/".join, axis=1)
    sizes = frame["label"].map(frame["label"].value_counts())
    eligible = frame.index[sizes >= 2].to_numpy()
    rng = np.random.default_rng(seed)
    chosen = rng.choice(eligible, size=min(n_queries, len(eligible)), replace=False)
    is_query = frame.index.isin(chosen)
    corpus = frame.loc[~is_query, ["ticket_id", "title", "body", "label"]]
    by_label = corpus.groupby("label")["ticket_id"].agg(" ".join)
    queries = frame.loc[chosen, ["ticket_id", "title", "body", "label"]].copy()
    queries["text"] = (queries["title"] + " " + queries["body"]).str.strip()
    queries["relevant"] = queries["label"].map(by_label).fillna("")
    queries = queries[queries["relevant"] != ""]
    half = len(queries) // 2
    out.mkdir(parents=True, exist_ok=True)
    corpus.to_csv(out / "corpus.csv", index=False)
    queries.iloc[:half][["ticket_id", "text", "label", "relevant"]].to_csv(out / "queries_dev.csv", index=False)
    queries.iloc[half:][["ticket_id", "text", "label", "relevant"]].to_csv(out / "queries_test.csv", index=False)
    return {"corpus": len(corpus), "queries_dev": half, "queries_test": len(queries) - half,
            "labels": int(frame["label"].nunique()), "out": str(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/eval/endava"))
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", choices=sorted(LABELS), default="service")
    args = parser.parse_args()
    print(json.dumps(build(args.out, args.queries, args.seed, label=args.label)))


if __name__ == "__main__":
    main()
