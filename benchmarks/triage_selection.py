"""The selected default triage against the plain baseline, same run, on the standard splits.

    python benchmarks/triage_selection.py SPLITS_DIR [--topics-train-rows N] [--topics-test-rows M]

SPLITS_DIR is what ``benchmarks/make_splits.py`` writes.  For each set it fits the production pipeline
(``ml.training.evaluate_text_classifier``, the default selected pipeline) and the plain word
1-2 + char_wb 2-5 TF-IDF LinearSVC (C=0.3, unweighted) on the same train split and prints one JSON line
per set: accuracy, macro-F1, fit seconds of both, the selection and the precision reached on test at the
90 % threshold found on the training rows.  ``--topics-train-rows`` takes a stratified sample (seed 0)
of the it_tickets training split to keep the run short.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml.selection import WordCharLinearSVC  # noqa: E402
from ml.training import classification_metrics, evaluate_text_classifier  # noqa: E402


def _texts(frame, columns):
    return frame[columns].fillna("").astype(str).agg("\n".join, axis=1).tolist()


def _sample(frame, label, rows):
    from sklearn.model_selection import train_test_split

    if not rows or rows >= len(frame):
        return frame
    kept, _ = train_test_split(frame, train_size=rows, random_state=0, stratify=frame[label])
    return kept


def _baseline(train_texts, train_labels, test_texts, test_labels) -> dict:
    started = time.perf_counter()
    model = WordCharLinearSVC(C=0.3).fit(pd.DataFrame({"text": train_texts}), np.asarray(train_labels))
    fit = time.perf_counter() - started
    proba = model.predict_proba(pd.DataFrame({"text": test_texts}))
    metrics = classification_metrics(test_labels, proba, model.classes_, fit_seconds=fit)
    return {key: metrics[key] for key in ("accuracy", "macro_f1", "fit_seconds")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("splits")
    parser.add_argument("--topics-train-rows", type=int, default=0)
    parser.add_argument("--topics-test-rows", type=int, default=0)
    parser.add_argument("--sets", default="endava_category,endava_urgency,topics")
    args = parser.parse_args()
    root = Path(args.splits)
    specs = {"endava_category": (["title", "body"], "category"), "endava_urgency": (["title", "body"], "urgency"),
             "topics": (["Document"], "Topic_group")}
    for name in args.sets.split(","):
        columns, label = specs[name]
        train = pd.read_csv(root / f"{name}_train.csv", dtype=str)
        test = pd.read_csv(root / f"{name}_test.csv", dtype=str)
        if name == "topics":
            train = _sample(train, label, args.topics_train_rows)
            test = _sample(test, label, args.topics_test_rows)
        train, test = train[train[label].notna()], test[test[label].notna()]
        data = (_texts(train, columns), train[label].str.strip().tolist(),
                _texts(test, columns), test[label].str.strip().tolist())
        selected = evaluate_text_classifier(*data, pipeline="selected")
        baseline = _baseline(*data)
        selection = selected["selection"]
        print(json.dumps({
            "set": name, "n_train": len(train), "n_test": len(test),
            "selected": {"winner": selection["winner"], "C": selection["C"], "accuracy": round(selected["accuracy"], 4),
                         "macro_f1": round(selected["macro_f1"], 4), "fit_seconds": selected["fit_seconds"],
                         "coverage_at_90_precision": round(selected["coverage_at_90_precision"], 4),
                         "at_training_threshold": selected["at_training_threshold"],
                         "calibration": selection["calibration"]["method"]},
            "baseline": {k: round(v, 4) for k, v in baseline.items()},
            "cv": {k: {"macro_f1": v["macro_f1"], "accuracy": v["accuracy"]} for k, v in selection["candidates"].items()},
        }), flush=True)


if __name__ == "__main__":
    main()
