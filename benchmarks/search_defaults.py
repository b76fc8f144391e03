"""Choose the search defaults over every labelled set: fusion weights, text cleaning and encoder.

For each set (directories written by ``benchmarks/retrieval_data.py`` and ``benchmarks/demo_retrieval_data.py``),
each encoder and cleaning off/on, the corpus is indexed once with every signal (title and whole-document
embeddings, BM25 words, BM25 character n-grams), each dev and test query's candidate pools are computed
once, and every candidate of ``ml.retrieval_tuning.candidate_configs`` (each signal alone and the weighted
combinations) is scored by re-ranking them. Writes one JSON line per (set, encoder, cleaning, candidate) to
``--out`` and prints a summary: per encoder and cleaning, the candidate with the best mean dev MRR over the
sets among those at least as good on every set's dev split as that set's best single signal, with its test
numbers next to each set's best single signal on test. No floor applies here (benchmarks/relevance_floor.py).

    PYTHONPATH=. python benchmarks/search_defaults.py --out var/eval/defaults.jsonl \
        [--sets var/eval/endava,var/eval/demo,var/eval/demo/articles] [--embedders use-multilingual-v3]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from ml.embedders import CachedEmbedder, make_embedder
from ml.retrieval import SIGNALS, FusionConfig, HybridRetriever
from ml.retrieval_evaluation import corpus_documents, parse_relevant, retrieval_metrics
from ml.retrieval_tuning import candidate_configs


def run_set(directory: Path, embedder, clean: bool, dense_max_chars: int) -> list[dict]:
    corpus = pd.read_csv(directory / "corpus.csv", dtype=str, keep_default_na=False)
    id_column, text_columns = corpus.columns[0], list(corpus.columns[1:3])
    documents = corpus_documents(corpus, id_column=id_column, text_columns=text_columns)
    ids = corpus[id_column].tolist()
    everything = FusionConfig(weights=dict.fromkeys(SIGNALS, 1.0))
    retriever = HybridRetriever(embedder, everything, dense_max_chars=dense_max_chars, clean=clean)
    started = time.perf_counter()
    retriever.fit(documents)
    index_seconds = time.perf_counter() - started
    pools, relevant = {}, {}
    for split in ("dev", "test"):
        frame = pd.read_csv(directory / f"queries_{split}.csv", dtype=str, keep_default_na=False)
        pools[split] = [retriever.signals(text) for text in frame["text"]]
        relevant[split] = [parse_relevant(r) for r in frame["relevant"]]
    rows = []
    for name, config in {"default": FusionConfig(), **candidate_configs(FusionConfig(), SIGNALS)}.items():
        row = {"set": str(directory), "embedder": embedder.name, "clean": clean, "candidate": name,
               "index_seconds": round(index_seconds, 1)}
        for split in ("dev", "test"):
            ranked = [[ids[h.ref] for h in retriever.rank(p, 10, config=config)] for p in pools[split]]
            row[split] = {k: round(v, 4) for k, v in retrieval_metrics(ranked, relevant[split]).items()}
        rows.append(row)
    return rows


def summarise(rows: list[dict]) -> dict:
    """Per (encoder, cleaning): the best mean-dev-MRR candidate that is no worse than any set's best single."""
    out = {}
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["embedder"], row["clean"]), []).append(row)
    for (embedder, clean), group in groups.items():
        sets = sorted({r["set"] for r in group})
        table = {(r["set"], r["candidate"]): r for r in group}
        names = [c for c in dict.fromkeys(r["candidate"] for r in group) if all((s, c) in table for s in sets)]
        singles = [c for c in names if c.endswith(" only")]
        best_single = {s: max(singles, key=lambda c: table[(s, c)]["dev"]["mrr"]) for s in sets}

        def mean_dev(c, table=table, sets=sets):
            return sum(table[(s, c)]["dev"]["mrr"] for s in sets) / len(sets)
        fair = [c for c in names if all(table[(s, c)]["dev"]["mrr"] >= table[(s, best_single[s])]["dev"]["mrr"]
                                        for s in sets)]
        chosen = max(fair or names, key=mean_dev)
        out[f"{embedder} clean={clean}"] = {
            "chosen": chosen, "mean_dev_mrr": round(mean_dev(chosen), 4),
            "beats_every_best_single_on_dev": bool(fair),
            "default_mean_dev_mrr": round(mean_dev("default"), 4) if "default" in names else None,
            "per_set": {s: {"chosen_test": table[(s, chosen)]["test"], "default_test": table[(s, "default")]["test"],
                            "best_single_on_dev": best_single[s],
                            "best_single_test": table[(s, best_single[s])]["test"],
                            "index_seconds": table[(s, chosen)]["index_seconds"]} for s in sets},
            "runners_up": [{"candidate": c, "mean_dev_mrr": round(mean_dev(c), 4)}
                           for c in sorted(fair or names, key=mean_dev, reverse=True)[1:4]]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="var/eval/endava,var/eval/demo,var/eval/demo/articles")
    parser.add_argument("--embedders", default="use-multilingual-v3")
    parser.add_argument("--clean", default="0,1", help="Cleaning settings to try: 0, 1 or 0,1.")
    parser.add_argument("--dense-max-chars", type=int, default=200)
    parser.add_argument("--cache", type=Path, default=Path("var/cache/embeddings"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--summary-only", action="store_true", help="Only summarise an existing --out file.")
    args = parser.parse_args()
    if not args.summary_only:
        for name in args.embedders.split(","):
            embedder = CachedEmbedder(make_embedder(name), args.cache)
            for clean in (bool(int(c)) for c in args.clean.split(",")):
                for directory in args.sets.split(","):
                    rows = run_set(Path(directory), embedder, clean, args.dense_max_chars)
                    with args.out.open("a", encoding="utf-8") as out:
                        out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
                    print(json.dumps({"done": directory, "embedder": name, "clean": clean,
                                      "index_seconds": rows[0]["index_seconds"]}), flush=True)
    rows = [json.loads(line) for line in args.out.read_text(encoding="utf-8").splitlines()]
    print(json.dumps(summarise(rows), indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
