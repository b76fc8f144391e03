"""Choose fusion weights and the relevance floor on a desk's own labelled query → document pairs.

One retriever with every signal is built once; each query's candidate pools are computed once; every
candidate configuration (each single signal alone, and weighted combinations of all of them) is then only a
re-ranking of those pools. The choice is made by k-fold cross-validation over the queries: on each fold the
candidate with the best mean reciprocal rank on the other folds is picked and scored on the held-out fold,
so the reported number is what the *procedure* reaches on queries it did not choose on. The configuration
finally kept is the best over all queries, but only if the procedure beat the current setting out-of-fold;
otherwise the current setting stays, and the report says so.

The relevance floor is calibrated on the same pools plus seeded gibberish queries: the lowest cosine floor at
which no gibberish query gets a hit (one grid step of margin), and for hits sharing a word with the query the
highest floor up to it that costs the labelled queries no recall@10 (see docs/search.md).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import asdict, replace

import numpy as np

from ml.retrieval import DENSE_SIGNALS, SIGNALS, FusionConfig, HybridRetriever, SignalResults

GRID = (0.0, 1.0, 2.0)
FLOOR_GRID = tuple(round(0.05 * i, 2) for i in range(0, 20))
MRR_DEPTH = 10
TYPED_GIBBERISH = ("ываываыва qwzx", "asdfghjkl", "qwzx", "фывапролд", "йцукен", "zxcvbnm", "ккккк ллллл",
                   "xyzzy plugh", "ыва ыва ыва", "ghjk lkjh")


def gibberish(n: int, seed: int = 0) -> list[str]:
    """``n`` queries that mean nothing: a few typed by hand, then seeded random Cyrillic/Latin 'words'."""
    rng = random.Random(seed)
    alphabets = ["абвгдеёжзийклмнопрстуфхцчшщъыьэюя", "abcdefghijklmnopqrstuvwxyz"]
    out = list(TYPED_GIBBERISH)[:n]
    while len(out) < n:
        out.append(" ".join("".join(rng.choice(rng.choice(alphabets)) for _ in range(rng.randint(3, 12)))
                            for _ in range(rng.randint(1, 3))))
    return out


def describe(config: FusionConfig) -> dict:
    """The tunable part of a configuration as plain data."""
    return {"method": config.method, "weights": {s: float(config.weight(s)) for s in SIGNALS},
            "rrf_k": config.rrf_k, "min_similarity": config.min_similarity,
            "min_similarity_shared_words": config.min_similarity_shared_words}


def candidate_configs(base: FusionConfig, available: Sequence[str]) -> dict[str, FusionConfig]:
    """Named candidates over the ``available`` signals: each alone, then every weighted combination of
    weights 0/1/2, then equal reciprocal-rank fusion; floors off (they are calibrated afterwards)."""
    plain = replace(base, min_similarity=0.0, min_similarity_shared_words=None)
    out: dict[str, FusionConfig] = {}
    for signal in available:
        out[f"{signal} only"] = replace(plain, method="weighted", weights={signal: 1.0})
    for combo in itertools.product(GRID, repeat=len(available)):
        if sum(1 for w in combo if w) < 2 or (min(w for w in combo if w) == 2.0):
            continue  # single signals are above; all-2 combinations equal their all-1 twins
        weights = dict(zip(available, combo, strict=True))
        label = "weighted " + " + ".join(f"{s} {w:g}" for s, w in weights.items() if w)
        out[label] = replace(plain, method="weighted", weights=weights)
    if len(available) > 1:
        out["rrf equal"] = replace(plain, method="rrf", weights=dict.fromkeys(available, 1.0))
    return out


def reciprocal_ranks(retriever: HybridRetriever, pools: Sequence[SignalResults], relevant: Sequence[set[int]],
                     config: FusionConfig, depth: int = MRR_DEPTH,
                     exclude: Sequence[set[int]] | None = None) -> np.ndarray:
    """Per query: 1 / rank of the first relevant document within ``depth`` (0 when none); ``exclude[i]``
    are refs query ``i`` never sees (the ticket itself, as the service does)."""
    out = np.zeros(len(pools))
    exclude = exclude or [set()] * len(pools)
    for i, (pool, wanted) in enumerate(zip(pools, relevant, strict=True)):
        for rank, hit in enumerate(retriever.rank(pool, depth, config=config, exclude=exclude[i]), start=1):
            if hit.ref in wanted:
                out[i] = 1.0 / rank
                break
    return out


def _folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[i::k] for i in range(k)]


def cross_validate(scores: dict[str, np.ndarray], current: str, folds: int, seed: int) -> dict:
    """Out-of-fold MRR of "pick the best candidate on the other folds", of the current setting and of each
    single signal; which candidate each fold picked."""
    names = list(scores)
    n = len(scores[current])
    held_out = np.zeros(n)
    picks = []
    for test in _folds(n, folds, seed):
        train = np.setdiff1d(np.arange(n), test)
        # Ties go to the current setting, then to the earlier (simpler) candidate.
        best = max(names, key=lambda c: (round(float(scores[c][train].mean()), 6), c == current, -names.index(c)))
        picks.append(best)
        held_out[test] = scores[best][test]
    return {"tuned": round(float(held_out.mean()), 4), "current": round(float(scores[current].mean()), 4),
            "singles": {c: round(float(scores[c].mean()), 4) for c in names if c.endswith(" only")},
            "fold_picks": picks}


def calibrate_floor(retriever: HybridRetriever, config: FusionConfig, pools: Sequence[SignalResults],
                    relevant: Sequence[set[int]], noise_pools: Sequence[SignalResults],
                    exclude: Sequence[set[int]] | None = None) -> tuple[float, float | None]:
    """``(min_similarity, min_similarity_shared_words)`` for ``config`` (0 and None without a dense signal)."""
    if not any(config.weight(s) > 0 for s in DENSE_SIGNALS):
        return 0.0, None

    def recall(floor: float, word_floor: float) -> float:
        trial = replace(config, min_similarity=floor, min_similarity_shared_words=word_floor)
        return float((reciprocal_ranks(retriever, pools, relevant, trial, exclude=exclude) > 0).mean())

    silent = None
    for floor in FLOOR_GRID:
        trial = replace(config, min_similarity=floor, min_similarity_shared_words=floor)
        if not any(retriever.rank(p, 1, config=trial) for p in noise_pools):
            silent = floor
            break
    if silent is None:
        return 0.0, None  # no floor of the grid silences gibberish: a floor would only cost recall
    floor = FLOOR_GRID[min(FLOOR_GRID.index(silent) + 1, len(FLOOR_GRID) - 1)]
    baseline = recall(floor, 0.0)
    word_floor = 0.0
    for candidate in (w for w in FLOOR_GRID if 0 < w <= floor):
        if recall(floor, candidate) >= baseline:
            word_floor = candidate
    return floor, word_floor


def tune_fusion(retriever: HybridRetriever | None, queries: Sequence[str], relevant: Sequence[set[int]], *,
                current: FusionConfig, folds: int = 5, seed: int = 0, min_queries: int = 20,
                n_gibberish: int = 100, exclude: Sequence[set[int]] | None = None) -> dict:
    """Choose fusion and floor for ``retriever``'s collection on labelled ``queries`` (relevant refs each).

    ``retriever`` must have been fitted with every signal to be considered (None is fine when there are too
    few queries: the answer is then known without it). Returns a JSON-ready report with
    ``status`` ``tuned`` (``config`` is the choice) or ``kept`` (too few pairs, or tuning did not beat the
    current setting out-of-fold; ``config`` is then ``current``) and every number behind the decision."""
    usable = [i for i, wanted in enumerate(relevant) if wanted and queries[i].strip()]
    report: dict = {"n_queries": len(usable), "n_pairs": int(sum(len(relevant[i]) for i in usable)),
                    "folds": folds, "current": describe(current)}
    if len(usable) < max(min_queries, folds):
        return {**report, "status": "kept", "config": describe(current),
                "reason": f"{len(usable)} labelled queries, at least {max(min_queries, folds)} needed"}
    queries = [queries[i] for i in usable]
    relevant = [set(relevant[i]) for i in usable]
    exclude = [set(exclude[i]) for i in usable] if exclude is not None else None
    pools = [retriever.signals(text) for text in queries]
    available = [s for s in SIGNALS if s in pools[0]]
    candidates = candidate_configs(current, available)
    current_plain = replace(current, min_similarity=0.0, min_similarity_shared_words=None)
    candidates = {"current": current_plain, **candidates}
    scores = {name: reciprocal_ranks(retriever, pools, relevant, config, exclude=exclude)
              for name, config in candidates.items()}
    cv = cross_validate(scores, "current", min(folds, len(queries)), seed)
    ranked = sorted(scores, key=lambda c: (-round(float(scores[c].mean()), 6), c != "current"))
    report.update(cv=cv, top=[{"candidate": c, "mrr": round(float(scores[c].mean()), 4)} for c in ranked[:5]])
    tuned = cv["tuned"] > cv["current"] and ranked[0] != "current"
    chosen = candidates[ranked[0]] if tuned else current_plain
    noise_pools = [retriever.signals(text) for text in gibberish(n_gibberish, seed)]
    floor, word_floor = calibrate_floor(retriever, chosen, pools, relevant, noise_pools, exclude)
    chosen = replace(chosen, min_similarity=floor, min_similarity_shared_words=word_floor)
    with_floor = float((reciprocal_ranks(retriever, pools, relevant, chosen, exclude=exclude) > 0).mean())
    report.update(status="tuned" if tuned else "kept", chosen=ranked[0] if tuned else "current",
                  config=describe(chosen), recall_at_10_with_floor=round(with_floor, 4),
                  gibberish_answered=round(sum(1 for p in noise_pools if retriever.rank(p, 1, config=chosen))
                                           / len(noise_pools), 4))
    if not tuned:
        report["reason"] = "no candidate beat the current setting out-of-fold; it stays (floor recalibrated)"
    return report


def config_from(described: dict, base: FusionConfig) -> FusionConfig:
    """A configuration from :func:`describe`'s output over ``base`` (boosts and pool stay ``base``'s)."""
    known = {k: v for k, v in described.items() if k in asdict(base)}
    return replace(base, **known)
