"""Tune the fusion weights of the hybrid retriever on a dev query split; report them on the test split.

Reads the CSVs written by ``benchmarks/retrieval_data.py`` (or any corpus/queries in the same shape),
indexes the corpus once per embedder with every signal, computes each query's candidate pools once, then
grid-searches fusion method and weights on dev (by MRR) and prints one JSON object with dev and test
numbers for the single-signal baselines and the chosen fusion.

    python benchmarks/tune_fusion.py --data var/eval/endava [--embedders use-multilingual-v3,all-MiniLM-L6-v2]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ml.embedders import CachedEmbedder, make_embedder
from ml.retrieval import FusionConfig, HybridRetriever
from ml.retrieval_evaluation import corpus_documents, parse_relevant, retrieval_metrics

GRID = (0.0, 1.0, 2.0)
BASELINES = {
    "document embedding only": {"document": 1.0},
    "title embedding only": {"title": 1.0},
    "bm25 words only": {"lexical": 1.0},
    "bm25 char n-grams only": {"char": 1.0},
}


def score(retriever, pools, ids, relevant, config, depth=10):
    ranked = [[ids[h.ref] for h in retriever.rank(p, depth, config=config)] for p in pools]
    return retrieval_metrics(ranked, relevant)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("var/eval/endava"))
    parser.add_argument("--embedders", default="use-multilingual-v3,all-MiniLM-L6-v2")
    parser.add_argument("--text", default="title,body")
    parser.add_argument("--id", default="ticket_id")
    parser.add_argument("--cache", type=Path, default=Path("var/cache/embeddings"))
    parser.add_argument("--dense-max-chars", type=int, default=600)
    parser.add_argument("--grid-out", type=Path, default=None,
                        help="Write every configuration's dev and test metrics here (JSON lines).")
    args = parser.parse_args()

    corpus = pd.read_csv(args.data / "corpus.csv", dtype=str, keep_default_na=False)
    splits = {name: pd.read_csv(args.data / f"queries_{name}.csv", dtype=str, keep_default_na=False)
              for name in ("dev", "test")}
    documents = corpus_documents(corpus, id_column=args.id, text_columns=args.text.split(","))
    ids = corpus[args.id].tolist()
    report: dict = {"data": str(args.data), "n_corpus": len(documents),
                    "n_dev": len(splits["dev"]), "n_test": len(splits["test"]), "embedders": {}}
    # Chance level: a random ranking's recall@10, from each query's share of relevant corpus documents.
    shares = [len(parse_relevant(r)) / len(ids) for r in splits["test"]["relevant"]]
    report["random_recall@10_test"] = round(float(np.mean([1 - (1 - s) ** 10 for s in shares])), 4)
    for name in args.embedders.split(","):
        embedder = CachedEmbedder(make_embedder(name), args.cache)
        everything = FusionConfig(weights={"title": 1, "document": 1, "lexical": 1, "char": 1})
        retriever = HybridRetriever(embedder, everything, dense_max_chars=args.dense_max_chars)
        started = time.perf_counter()
        retriever.fit(documents)
        entry = {"index_seconds": round(time.perf_counter() - started, 1), "embedded_texts": embedder.misses}
        pools, relevant = {}, {}
        for split, frame in splits.items():
            began = time.perf_counter()
            pools[split] = [retriever.signals(t) for t in frame["text"]]
            entry[f"signals_ms_per_query_{split}"] = round((time.perf_counter() - began) * 1000 / len(frame), 2)
            relevant[split] = [parse_relevant(r) for r in frame["relevant"]]
        for label, weights in BASELINES.items():
            config = FusionConfig(weights=weights)
            entry[label] = {s: score(retriever, pools[s], ids, relevant[s], config) for s in ("dev", "test")}
        best = None
        grid_lines = []
        for method, rrf_k in (("rrf", 60.0), ("weighted", 60.0)):
            for combo in itertools.product(GRID, repeat=4):
                if not any(combo):
                    continue
                weights = dict(zip(("title", "document", "lexical", "char"), combo, strict=True))
                config = FusionConfig(method=method, weights=weights, rrf_k=rrf_k)
                metrics = score(retriever, pools["dev"], ids, relevant["dev"], config)
                if args.grid_out is not None:
                    grid_lines.append({"embedder": name, "method": method, "rrf_k": rrf_k, "weights": weights,
                                       "dev": metrics,
                                       "test": score(retriever, pools["test"], ids, relevant["test"], config)})
                key = (metrics["mrr"], metrics["recall@5"])
                if best is None or key > best[0]:
                    best = (key, config, metrics)
        _, config, dev_metrics = best
        entry["tuned"] = {"method": config.method, "rrf_k": config.rrf_k, "weights": dict(config.weights),
                          "dev": dev_metrics,
                          "test": score(retriever, pools["test"], ids, relevant["test"], config)}
        equal = FusionConfig(weights={"title": 1, "document": 1, "lexical": 1, "char": 0})
        entry["equal rrf title+document+bm25"] = {
            s: score(retriever, pools[s], ids, relevant[s], equal) for s in ("dev", "test")}
        report["embedders"][name] = entry
        if args.grid_out is not None:
            with args.grid_out.open("a", encoding="utf-8") as out:
                out.writelines(json.dumps(line) + "\n" for line in grid_lines)
        print(json.dumps({name: entry}), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
