"""Retrieval quality on any labelled set: corpus and queries as DataFrames, metrics as a dict.

``recall@k`` is the share of queries with at least one relevant document among the first ``k`` results
(the usual "success@k" of similar-ticket search: an engineer needs one precedent that fits, not all of
them); ``mrr`` is the mean reciprocal rank of the first relevant result within the first 10 (0 if none).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ml.embedders import Embedder
from ml.retrieval import Document, FusionConfig, HybridRetriever

_SEPARATORS = re.compile(r"[|;,\s]+")
MRR_DEPTH = 10


class EvaluationInputError(ValueError):
    """The corpus or the queries are unusable; the message names the file part that is wrong."""


def parse_relevant(value: object) -> set[str]:
    """Relevant corpus ids from one cell: separated by ``|``, ``;``, ``,`` or whitespace."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return set()
    return {part for part in _SEPARATORS.split(str(value).strip()) if part}


def retrieval_metrics(ranked: Sequence[Sequence[str]], relevant: Sequence[set[str]],
                      ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """``recall@k`` for each k and ``mrr`` of ranked id lists against sets of relevant ids."""
    if len(ranked) != len(relevant):
        raise ValueError("ranked and relevant differ in length")
    n = len(ranked)
    if n == 0:
        return {**{f"recall@{k}": 0.0 for k in ks}, "mrr": 0.0}
    first_hit = []
    for results, wanted in zip(ranked, relevant, strict=True):
        position = next((i for i, ref in enumerate(results, start=1) if ref in wanted), None)
        first_hit.append(position)
    metrics = {f"recall@{k}": sum(1 for p in first_hit if p is not None and p <= k) / n for k in ks}
    metrics["mrr"] = sum(1.0 / p for p in first_hit if p is not None and p <= MRR_DEPTH) / n
    return metrics


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if frame.empty:
        raise EvaluationInputError(f"{what} has no rows")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise EvaluationInputError(
            f"{what} has no column {missing[0]!r} (columns: {', '.join(map(str, frame.columns))})")


def corpus_documents(corpus: pd.DataFrame, *, id_column: str, text_columns: Sequence[str]) -> list[Document]:
    """Documents from a corpus table: the first text column is the title, the rest the body."""
    _require_columns(corpus, [id_column, *text_columns], "corpus")
    if not text_columns:
        raise EvaluationInputError("corpus: at least one text column is needed")
    ids = corpus[id_column].astype(str)
    if ids.duplicated().any():
        raise EvaluationInputError(f"corpus column {id_column!r} has duplicate id {ids[ids.duplicated()].iloc[0]!r}")
    texts = corpus[list(text_columns)].fillna("").astype(str)
    title_column, body_columns = text_columns[0], list(text_columns[1:])
    documents = []
    for row, (title, body) in enumerate(zip(texts[title_column], texts[body_columns].agg("\n".join, axis=1)
                                            if body_columns else [""] * len(texts), strict=True)):
        documents.append(Document(ref=row, title=title.strip(), body=body.strip()))
    return documents


def query_signals(retriever: HybridRetriever, texts: Sequence[str], *, pool: int | None = None,
                  batch_size: int = 256) -> tuple[list[dict], list[float]]:
    """Every query's signal pools (for tuning fusion without re-searching) and per-query milliseconds."""
    results, millis = [], []
    for start in range(0, len(texts), batch_size):
        chunk = list(texts[start:start + batch_size])
        for text in chunk:
            began = time.perf_counter()
            results.append(retriever.signals(text, pool=pool))
            millis.append((time.perf_counter() - began) * 1000.0)
    return results, millis


def evaluate_retrieval(corpus: pd.DataFrame, queries: pd.DataFrame, *, id_column: str,
                       text_columns: Sequence[str], query_column: str, relevant_column: str,
                       embedder: Embedder, config: FusionConfig | None = None, k: int = 10,
                       dense_max_chars: int = 600, hnsw_threshold: int = 20_000, clean: bool = False) -> dict:
    """Index the corpus with the service's retriever, run every query, and report quality and speed."""
    if k < 1:
        raise EvaluationInputError("k must be at least 1")
    documents = corpus_documents(corpus, id_column=id_column, text_columns=text_columns)
    _require_columns(queries, [query_column, relevant_column], "queries")
    query_texts = queries[query_column].fillna("").astype(str).tolist()
    relevant = [parse_relevant(v) for v in queries[relevant_column].tolist()]
    corpus_ids = corpus[id_column].astype(str).tolist()
    known = set(corpus_ids)
    usable = [i for i, (text, wanted) in enumerate(zip(query_texts, relevant, strict=True))
              if text.strip() and wanted & known]
    if not usable:
        raise EvaluationInputError(
            f"queries: no row has a non-empty {query_column!r} and a {relevant_column!r} naming a corpus id")

    retriever = HybridRetriever(embedder, config, dense_max_chars=dense_max_chars, hnsw_threshold=hnsw_threshold,
                                clean=clean)
    started = time.perf_counter()
    retriever.fit(documents)
    index_seconds = time.perf_counter() - started

    depth = max(k, 10)
    ranked, millis = [], []
    for i in usable:
        began = time.perf_counter()
        hits = retriever.search(query_texts[i], depth)
        millis.append((time.perf_counter() - began) * 1000.0)
        ranked.append([corpus_ids[h.ref] for h in hits])
    metrics = retrieval_metrics(ranked, [relevant[i] for i in usable], ks=sorted({1, 5, 10, k}))
    return {
        **{name: round(value, 4) for name, value in metrics.items()},
        "n_corpus": len(documents),
        "n_queries": len(usable),
        "n_queries_skipped": len(query_texts) - len(usable),
        "index_seconds": round(index_seconds, 3),
        "query_ms_p50": round(float(np.percentile(millis, 50)), 2),
        "query_ms_p95": round(float(np.percentile(millis, 95)), 2),
        "k": k,
        "embedder": embedder.name,
        "clean_text": clean,
        "fusion": {"method": retriever.config.method, "weights": dict(retriever.config.weights),
                   "rrf_k": retriever.config.rrf_k, "pool": retriever.config.pool,
                   "min_similarity": retriever.config.min_similarity,
                   "min_similarity_shared_words": retriever.config.min_similarity_shared_words},
    }
