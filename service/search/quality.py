"""Retrieval quality per fusion setting and relevance floor, on a collection's labelled pairs.

What notebooks/03_search_quality.ipynb shows before an analyst saves a setting with
:func:`service.search.tuning.tune_search` (the function behind ``precedent search tune``): every candidate
of :func:`ml.retrieval_tuning.candidate_configs` (each signal alone, and weighted combinations), and a sweep of
the relevance floor, each scored with recall@k and MRR on the same pools and the same gibberish queries.
The ticket a query comes from is never counted as its own answer, as in the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from ml.retrieval import SIGNALS, FusionConfig
from ml.retrieval_tuning import FLOOR_GRID, candidate_configs, describe, gibberish
from service.search.tuning import TuningSet

KS = (1, 5, 10)


def first_relevant_ranks(pairs: TuningSet, pools, config: FusionConfig, depth: int) -> np.ndarray:
    """Per query: the rank (1-based) of its first relevant hit within ``depth``, 0 when none shows."""
    ranks = np.zeros(len(pools), dtype=np.int64)
    for i, (pool, wanted) in enumerate(zip(pools, pairs.relevant, strict=True)):
        hits = pairs.retriever.rank(pool, depth, config=config, exclude=pairs.exclude[i])
        ranks[i] = next((rank for rank, hit in enumerate(hits, start=1) if hit.ref in wanted), 0)
    return ranks


def _scores(ranks: np.ndarray, ks: Sequence[int]) -> dict[str, float]:
    found = ranks > 0
    out = {f"recall@{k}": round(float(np.mean(found & (ranks <= k))), 4) for k in ks}
    out["mrr"] = round(float(np.mean(np.where(found, 1.0 / np.maximum(ranks, 1), 0.0))), 4)
    return out


def _answered(pairs: TuningSet, noise_pools, config: FusionConfig) -> float:
    return round(sum(1 for p in noise_pools if pairs.retriever.rank(p, 1, config=config)) / len(noise_pools), 4)


def sample(pairs: TuningSet, size: int | None, *, seed: int = 0) -> TuningSet:
    """At most ``size`` of the labelled queries (seeded); None keeps all."""
    if size is None or size >= len(pairs.queries):
        return pairs
    keep = sorted(np.random.default_rng(seed).choice(len(pairs.queries), size=size, replace=False))
    return replace(pairs, queries=[pairs.queries[i] for i in keep], relevant=[pairs.relevant[i] for i in keep],
                   exclude=[pairs.exclude[i] for i in keep])


def fusion_sweep(pairs: TuningSet, *, ks: Sequence[int] = KS, n_gibberish: int = 50, seed: int = 0) -> pd.DataFrame:
    """One row per setting (the current one first, then each signal alone and the weighted combinations):
    its weights, recall@k, MRR and the share of gibberish queries it answers (floors off), best MRR first."""
    if not pairs.queries:
        raise ValueError(f"{pairs.kind}: no labelled queries to measure on")
    pools = [pairs.retriever.signals(text) for text in pairs.queries]
    noise = [pairs.retriever.signals(text) for text in gibberish(n_gibberish, seed)]
    available = [s for s in SIGNALS if s in pools[0]]
    plain = replace(pairs.current, min_similarity=0.0, min_similarity_shared_words=None)
    settings = {"current": plain, **candidate_configs(pairs.current, available)}
    rows = []
    for name, config in settings.items():
        ranks = first_relevant_ranks(pairs, pools, config, max(ks))
        rows.append({"setting": name, **{f"w_{s}": w for s, w in describe(config)["weights"].items()},
                     **_scores(ranks, ks), "gibberish_answered": _answered(pairs, noise, config)})
    frame = pd.DataFrame(rows)
    return frame.sort_values(["mrr", "setting"], ascending=[False, True], kind="stable").reset_index(drop=True)


def floor_sweep(pairs: TuningSet, config: FusionConfig | None = None, *, floors: Sequence[float] = FLOOR_GRID,
                ks: Sequence[int] = KS, n_gibberish: int = 50, seed: int = 0) -> pd.DataFrame:
    """One row per relevance floor (cosine similarity a hit needs) for ``config`` (default: the current one):
    recall@k and MRR of the labelled queries, and the share of gibberish queries still answered."""
    config = config or pairs.current
    pools = [pairs.retriever.signals(text) for text in pairs.queries]
    noise = [pairs.retriever.signals(text) for text in gibberish(n_gibberish, seed)]
    rows = []
    for floor in floors:
        trial = replace(config, min_similarity=floor, min_similarity_shared_words=floor)
        rows.append({"floor": floor, **_scores(first_relevant_ranks(pairs, pools, trial, max(ks)), ks),
                     "gibberish_answered": _answered(pairs, noise, trial)})
    return pd.DataFrame(rows)
