"""Choose the relevance floor (``min_similarity``) per collection on labelled sets and gibberish queries.

For every set (``--sets``: directories written by ``benchmarks/retrieval_data.py`` and
``benchmarks/demo_retrieval_data.py``), index the corpus once with the service's default settings, keep each
query's signal pools, and for every floor of the grid re-rank them: recall@1/5/10 and MRR on the dev and test
queries, and the share of gibberish queries (seeded random strings of Cyrillic and Latin letters, plus a few
typed by hand) that still get any hit. Floors are pairs: ``min_similarity`` for hits sharing no word with
the query and a lower-or-equal ``min_similarity_shared_words`` for those that do; :func:`propose` says how
a collection's pair is chosen on the dev queries of its sets. The test numbers are what to report.

    PYTHONPATH=. python benchmarks/relevance_floor.py --grid var/eval/floor_grid.json
    PYTHONPATH=. python benchmarks/relevance_floor.py --from-grid var/eval/floor_grid.json   # re-choose only
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ml.retrieval_evaluation import corpus_documents, parse_relevant, retrieval_metrics
from service.config import load_settings
from service.search import service as search

TYPED = ["ываываыва qwzx", "asdfghjkl", "qwzx", "фывапролд", "йцукен", "zxcvbnm", "ккккк ллллл", "xyzzy plugh",
         "ыва ыва ыва", "ghjk lkjh"]
GRID = [round(0.05 * i, 2) for i in range(0, 17)]
#: Floors for hits sharing a word with the query (``min_similarity_shared_words``), tried below each floor.
WORD_GRID = [round(0.05 * i, 2) for i in range(0, 11)]


def gibberish(n: int, seed: int = 0) -> list[str]:
    """``n`` random strings: 1–3 'words' of 3–12 letters, Cyrillic or Latin, plus the hand-typed ones."""
    rng = random.Random(seed)
    alphabets = ["абвгдеёжзийклмнопрстуфхцчшщъыьэюя", "abcdefghijklmnopqrstuvwxyz"]
    out = list(TYPED)
    while len(out) < n:
        words = [
            "".join(rng.choice(rng.choice(alphabets)) for _ in range(rng.randint(3, 12)))
            for _ in range(rng.randint(1, 3))]
        out.append(" ".join(words))
    return out


def evaluate_set(directory: Path, noise: list[str], settings) -> dict:
    corpus = pd.read_csv(directory / "corpus.csv", dtype=str, keep_default_na=False)
    id_column = corpus.columns[0]
    text_columns = [c for c in corpus.columns[1:3]]
    documents = corpus_documents(corpus, id_column=id_column, text_columns=text_columns)
    ids = corpus[id_column].tolist()
    retriever = search.new_retriever(settings, search.embedder(settings)).fit(documents)
    pools = {"noise": [retriever.signals(t) for t in noise]}
    relevant = {}
    for split in ("dev", "test"):
        frame = pd.read_csv(directory / f"queries_{split}.csv", dtype=str, keep_default_na=False)
        pools[split] = [retriever.signals(t) for t in frame["text"]]
        relevant[split] = [parse_relevant(r) for r in frame["relevant"]]
    rows = []
    for floor, word_floor in [(f, w) for f in GRID for w in WORD_GRID if w < f] + [(f, f) for f in GRID]:
        config = replace(retriever.config, min_similarity=floor, min_similarity_shared_words=word_floor)
        row = {"floor": floor, "word_floor": word_floor}
        for split in ("dev", "test"):
            ranked = [[ids[h.ref] for h in retriever.rank(p, 10, config=config)] for p in pools[split]]
            row[split] = {name: round(v, 4) for name, v in retrieval_metrics(ranked, relevant[split]).items()}
        answered = sum(1 for p in pools["noise"] if retriever.rank(p, 10, config=config))
        row["gibberish_answered"] = round(answered / len(noise), 4)
        rows.append(row)
    return {"set": str(directory), "n_corpus": len(documents), "rows": rows}


def quick_sets(pairs: list[list[str]], noise: list[str], settings, max_drop: float) -> dict:
    """The same choice as :func:`propose` with far fewer re-rankings: gibberish first (every floor, all
    sets), then the labelled queries only at no floor and at the chosen floor under each word floor."""
    prepared = []
    for collection, directory in pairs:
        corpus = pd.read_csv(Path(directory) / "corpus.csv", dtype=str, keep_default_na=False)
        documents = corpus_documents(corpus, id_column=corpus.columns[0], text_columns=list(corpus.columns[1:3]))
        retriever = search.new_retriever(settings, search.embedder(settings), collection).fit(documents)
        splits = {}
        for split in ("dev", "test"):
            frame = pd.read_csv(Path(directory) / f"queries_{split}.csv", dtype=str, keep_default_na=False)
            splits[split] = ([retriever.signals(t) for t in frame["text"]], [parse_relevant(r) for r in frame["relevant"]])
        prepared.append((collection, directory, retriever, corpus[corpus.columns[0]].tolist(), splits,
                         [retriever.signals(t) for t in noise]))

    def measure(item, floor, word_floor, with_queries=True):
        _, directory, retriever, ids, splits, noise_pools = item
        config = replace(retriever.config, min_similarity=floor, min_similarity_shared_words=word_floor)
        row = {"floor": floor, "word_floor": word_floor, "gibberish_answered": round(
            sum(1 for p in noise_pools if retriever.rank(p, 1, config=config)) / len(noise_pools), 4)}
        if with_queries:
            for split, (pools, relevant) in splits.items():
                ranked = [[ids[h.ref] for h in retriever.rank(p, 10, config=config)] for p in pools]
                row[split] = {name: round(v, 4) for name, v in retrieval_metrics(ranked, relevant).items()}
        return row

    out = {}
    for collection in dict.fromkeys(c for c, _ in pairs):
        items = [item for item in prepared if item[0] == collection]
        silence = {f: [measure(i, f, f, False)["gibberish_answered"] for i in items] for f in GRID}
        silent = [f for f in GRID if not any(silence[f])]
        if not silent:
            raise SystemExit(f"{collection}: no floor of the grid silences every gibberish query")
        floor = GRID[min(GRID.index(silent[0]) + 1, len(GRID) - 1)]
        rows = {i[1]: {"no_floor": measure(i, 0.0, 0.0), **{w: measure(i, floor, w) for w in WORD_GRID if w <= floor}}
                for i in items}
        best = None
        for word_floor in [w for w in WORD_GRID if w <= floor]:
            if all(rows[d][word_floor]["dev"][m] >= rows[d][0.0]["dev"][m]
                   and rows[d]["no_floor"]["dev"][m] - rows[d][word_floor]["dev"][m] <= max_drop
                   for d in rows for m in ("recall@5", "recall@10")):
                best = word_floor
        if best is None:
            best = 0.0
        out[collection] = {"min_similarity": floor, "min_similarity_shared_words": best,
                           "gibberish_by_floor": {str(f): v for f, v in silence.items()},
                           "sets": {d: {"no_floor": r["no_floor"], "chosen": r[best]} for d, r in rows.items()}}
    return out


def _row(result: dict, floor: float, word_floor: float) -> dict:
    return next(r for r in result["rows"] if r["floor"] == floor and r["word_floor"] == word_floor)


def propose(results: list[dict], max_drop: float) -> dict:
    """The floors of one collection from its sets' grids.

    ``min_similarity``: the lowest floor at which no gibberish query gets a hit on any of the sets, plus one
    grid step of margin. ``min_similarity_shared_words``: the highest word floor up to it that costs nothing on
    dev against word floor 0 on every set (recall@5 and recall@10 no lower), provided those stay within
    ``max_drop`` of no floor at all."""
    silent = [f for f in GRID if all(_row(r, f, f)["gibberish_answered"] == 0 for r in results)]
    if not silent:
        raise SystemExit("no floor of the grid silences every gibberish query")
    floor = GRID[min(GRID.index(silent[0]) + 1, len(GRID) - 1)]
    metrics = ("recall@5", "recall@10")
    best = None
    for word_floor in [w for w in WORD_GRID if w <= floor]:
        fine = True
        for result in results:
            base, zero = _row(result, 0.0, 0.0)["dev"], _row(result, floor, 0.0)["dev"]
            here = _row(result, floor, word_floor)["dev"]
            fine &= all(here[m] >= zero[m] and base[m] - here[m] <= max_drop for m in metrics)
        if fine:
            best = word_floor
    if best is None:
        raise SystemExit(f"floor {floor} costs more than {max_drop} of recall on dev even without a word floor")
    return {"min_similarity": floor, "min_similarity_shared_words": best,
            "sets": {r["set"]: {"no_floor": _row(r, 0.0, 0.0), "chosen": _row(r, floor, best)} for r in results}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="incident=var/eval/endava,incident=var/eval/demo,"
                                          "article=var/eval/demo/articles",
                        help="COLLECTION=DIRECTORY pairs, comma-separated; a collection's floors fit all its sets.")
    parser.add_argument("--gibberish", type=int, default=200)
    parser.add_argument("--max-drop", type=float, default=0.005)
    parser.add_argument("--grid", type=Path, default=None, help="Write every floor's numbers here (JSON).")
    parser.add_argument("--from-grid", type=Path, default=None, help="Re-read a grid written before.")
    parser.add_argument("--quick", action="store_true",
                        help="Gibberish at every floor, labelled queries only where the choice needs them.")
    args = parser.parse_args()
    pairs = [item.split("=", 1) for item in args.sets.split(",")]
    if args.quick:
        print(json.dumps(quick_sets(pairs, gibberish(args.gibberish), load_settings(), args.max_drop), indent=1))
        return
    if args.from_grid:
        by_set = {r["set"]: r for r in json.loads(args.from_grid.read_text(encoding="utf-8"))}
        results = [by_set[directory] for _, directory in pairs]
    else:
        settings = load_settings()
        noise = gibberish(args.gibberish)
        results = [evaluate_set(Path(directory), noise, settings) for _, directory in pairs]
    if args.grid:
        args.grid.write_text(json.dumps(results, indent=1), encoding="utf-8")
    collections: dict[str, list[dict]] = {}
    for (collection, _), result in zip(pairs, results, strict=True):
        collections.setdefault(collection, []).append(result)
    print(json.dumps({name: propose(group, args.max_drop) for name, group in collections.items()}, indent=1))

if __name__ == "__main__":
    main()
