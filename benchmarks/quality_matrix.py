"""Every labelled set through the product's own evaluation and through plain baselines, in one run.

Classification (the code path of ``precedent evaluate classify``: ``ml.training.evaluate_text_classifier``
with the configured pipeline) against a plain word (1–2) + char_wb (2–5) TF-IDF LinearSVC whose C is chosen
by 3-fold cross-validation on the training rows: it_tickets topics (standard split), Endava category and
urgency (``ml.training.split_indices``), and the demo tickets' group and priority (text only).
Retrieval (the code path of ``precedent evaluate retrieve``: ``ml.retrieval_evaluation.evaluate_retrieval``
with the service's embedder, fusion and the collection's relevance floor) against BM25 alone and one
document embedding alone (no floor): the test queries of the Endava, demo-incident and demo-article sets.
Prints one JSON object: the table, the "done when" checks, the load average before and after.

    PYTHONPATH=. python benchmarks/quality_matrix.py [--max-rows 10000] [--only classify|retrieve]
        [--retrieval-sets incident=var/eval/endava,incident=var/eval/demo,article=var/eval/demo/articles]
        [--demo-db var/eval/demo/demo-eval.sqlite3]

``--max-rows`` subsamples each classification set (stratified, seeded) before its split, and the queries of
each retrieval set, for speed; the output says which sizes ran.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import time
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _subsample(frame: pd.DataFrame, label: str, max_rows: int | None, seed: int = 0) -> pd.DataFrame:
    if not max_rows or len(frame) <= max_rows:
        return frame
    from sklearn.model_selection import train_test_split

    counts = frame[label].value_counts()
    keep = frame[frame[label].isin(counts[counts >= 2].index)]
    sample, _ = train_test_split(keep, train_size=max_rows, random_state=seed, stratify=keep[label])
    return sample


def classification_sets(max_rows: int | None, demo_db: Path | None) -> dict:
    """``{name: (train_texts, train_labels, test_texts, test_labels)}``."""
    from sklearn.model_selection import train_test_split

    from ml.training import split_indices

    sets = {}
    topics = _subsample(pd.read_csv(DATA / "it_tickets_topics.csv.gz"), "Topic_group", max_rows)
    train, test = train_test_split(topics, test_size=0.2, random_state=0, stratify=topics.Topic_group)
    sets["it_tickets topics"] = (train.Document.tolist(), train.Topic_group.tolist(), test.Document.tolist(),
                                 test.Topic_group.tolist())
    endava = pd.read_csv(DATA / "endava_tickets_subset.csv.gz")
    endava["text"] = endava.title.fillna("") + "\n" + endava.body.fillna("")
    for label in ("category", "urgency"):
        frame = _subsample(endava, label, max_rows).reset_index(drop=True)
        train_idx, test_idx = split_indices(frame[label].astype(str).tolist())
        sets[f"endava {label}"] = (frame.text[train_idx].tolist(), frame[label].astype(str)[train_idx].tolist(),
                                   frame.text[test_idx].tolist(), frame[label].astype(str)[test_idx].tolist())
    if demo_db is not None and demo_db.exists():
        with sqlite3.connect(demo_db) as connection:
            demo = pd.read_sql("SELECT subject, description, \"group\", priority FROM tickets", connection)
        demo["text"] = demo.subject.fillna("") + "\n" + demo.description.fillna("")
        for label in ("group", "priority"):
            frame = _subsample(demo[demo[label].notna()], label, max_rows).reset_index(drop=True)
            train_idx, test_idx = split_indices(frame[label].astype(str).tolist())
            sets[f"demo {label}"] = (frame.text[train_idx].tolist(), frame[label].astype(str)[train_idx].tolist(),
                                     frame.text[test_idx].tolist(), frame[label].astype(str)[test_idx].tolist())
    return sets


def plain_baseline(train_texts, train_labels, test_texts, test_labels) -> dict:
    """Word (1–2) + char_wb (2–5) TF-IDF LinearSVC, C by 3-fold CV on train (macro-F1)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.svm import LinearSVC

    features = FeatureUnion([
        ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2))])
    model = make_pipeline(features, LinearSVC())
    counts = pd.Series(train_labels).value_counts()
    folds = int(min(3, max(2, counts.min()))) if counts.min() >= 2 else 2
    search = GridSearchCV(model, {"linearsvc__C": [0.1, 0.3, 1.0]}, scoring="f1_macro",
                          cv=StratifiedKFold(folds, shuffle=True, random_state=0) if counts.min() >= folds else 3)
    started = time.perf_counter()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # classes with fewer rows than folds
        search.fit(list(train_texts), list(train_labels))
    fit_seconds = time.perf_counter() - started
    predicted = search.predict(list(test_texts))
    return {"accuracy": round(float(accuracy_score(test_labels, predicted)), 4),
            "macro_f1": round(float(f1_score(test_labels, predicted, average="macro", zero_division=0)), 4),
            "fit_seconds": round(fit_seconds, 1), "C": search.best_params_["linearsvc__C"]}


def run_classification(max_rows: int | None, demo_db: Path | None) -> list[dict]:
    from ml.training import evaluate_text_classifier
    from service.config import load_settings

    settings = load_settings()
    rows = []
    for name, (train_x, train_y, test_x, test_y) in classification_sets(max_rows, demo_db).items():
        product = evaluate_text_classifier(train_x, train_y, test_x, test_y, bases=settings.triage_stack_bases,
                                           pipeline=settings.triage_pipeline)
        baseline = plain_baseline(train_x, train_y, test_x, test_y)
        row = {"set": name, "task": "classify", "n_train": len(train_y), "n_test": len(test_y),
               "default": {"pipeline": settings.triage_pipeline, "accuracy": round(product["accuracy"], 4),
                           "macro_f1": round(product["macro_f1"], 4),
                           "fit_seconds": round(product["fit_seconds"], 1)},
               "tfidf_linearsvc": baseline}
        row["default_within_0.3_points"] = bool(
            row["default"]["accuracy"] >= baseline["accuracy"] - 0.003
            and row["default"]["macro_f1"] >= baseline["macro_f1"] - 0.003)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def run_retrieval(specs: list[tuple[str, Path]], max_rows: int | None) -> list[dict]:
    from ml.retrieval import FusionConfig
    from ml.retrieval_evaluation import evaluate_retrieval
    from service.config import load_settings
    from service.search import service as search

    settings = load_settings()
    model = search.embedder(settings)
    rows = []
    for kind, directory in specs:
        corpus = pd.read_csv(directory / "corpus.csv", dtype=str, keep_default_na=False)
        queries = pd.read_csv(directory / "queries_test.csv", dtype=str, keep_default_na=False)
        if max_rows and len(queries) > max_rows:
            queries = queries.sample(max_rows, random_state=0)
        common = {"id_column": corpus.columns[0], "text_columns": list(corpus.columns[1:3]),
                  "query_column": "text", "relevant_column": "relevant", "embedder": model,
                  "dense_max_chars": settings.search_dense_max_chars, "clean": settings.search_clean_text}
        runs = {"default": search.fusion_config(settings, kind), "bm25_alone": FusionConfig(weights={"lexical": 1.0}),
                "dense_alone": FusionConfig(weights={"document": 1.0})}
        row = {"set": str(directory), "task": "retrieve", "kind": kind, "embedder": model.name}
        for name, config in runs.items():
            result = evaluate_retrieval(corpus, queries, config=config, **common)
            row[name] = {m: result[m] for m in ("recall@1", "recall@5", "recall@10", "mrr", "query_ms_p95")}
            row["n_corpus"], row["n_queries"] = result["n_corpus"], result["n_queries"]
        best_single = max(row["bm25_alone"]["mrr"], row["dense_alone"]["mrr"])
        row["default_at_least_best_single"] = bool(row["default"]["mrr"] >= best_single)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-rows", type=int, default=None)
    parser.add_argument("--only", choices=["classify", "retrieve"], default=None)
    parser.add_argument("--retrieval-sets",
                        default="incident=var/eval/endava,incident=var/eval/demo,article=var/eval/demo/articles")
    parser.add_argument("--demo-db", type=Path, default=Path("var/eval/demo/demo-eval.sqlite3"))
    args = parser.parse_args()
    load_before = os.getloadavg()
    started = time.perf_counter()
    rows = []
    if args.only in (None, "retrieve"):
        specs = [(kind, Path(directory)) for kind, directory in
                 (item.split("=", 1) for item in args.retrieval_sets.split(","))]
        rows += run_retrieval(specs, args.max_rows)
    if args.only in (None, "classify"):
        rows += run_classification(args.max_rows, args.demo_db)
    checks = {r["set"] + " " + r["task"]: r.get("default_at_least_best_single", r.get("default_within_0.3_points"))
              for r in rows}
    print(json.dumps({"max_rows": args.max_rows, "rows": rows, "done_when": checks,
                      "all_met": bool(np.all(list(checks.values()))) if checks else None,
                      "seconds": round(time.perf_counter() - started, 1),
                      "load_average_before": [round(x, 2) for x in load_before],
                      "load_average_after": [round(x, 2) for x in os.getloadavg()]}, indent=1))


if __name__ == "__main__":
    main()
