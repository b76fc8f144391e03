"""Fit time of the default (selected) triage pipeline at the issue's budget sizes, with the plain baseline.

    python benchmarks/triage_fit_budget.py [--rows 10000,40000] [--test-rows 2500] [--pipeline selected]

For each N it takes a stratified sample (seed 0) of N rows of ``../shared/data/it_tickets_topics.csv.gz``
as training rows and ``--test-rows`` of the remaining rows as test rows, fits the pipeline through
``ml.training.evaluate_text_classifier`` (what ``precedent evaluate classify`` runs) and the plain word 1-2 +
char_wb 2-5 TF-IDF LinearSVC (C=0.3) on the same rows, and prints one JSON line per N: fit seconds,
CPU seconds of the fit and predict (all threads), accuracy and macro-F1 of both, the winner and the load average before and after (budget on 2 cores:
10,000 rows <= 120 s, 40,000 <= 300 s).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.triage_selection import _baseline  # noqa: E402
from ml.training import evaluate_text_classifier  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "it_tickets_topics.csv.gz"


def main() -> None:
    from sklearn.model_selection import train_test_split

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="10000,40000")
    parser.add_argument("--test-rows", type=int, default=2500)
    parser.add_argument("--pipeline", default="selected")
    args = parser.parse_args()
    data = pd.read_csv(DATA)
    for rows in map(int, args.rows.split(",")):
        train, rest = train_test_split(data, train_size=rows, random_state=0, stratify=data.Topic_group)
        test, _ = train_test_split(rest, train_size=min(args.test_rows, len(rest) - 8), random_state=0,
                                   stratify=rest.Topic_group)
        load_before, cpu_before = os.getloadavg(), time.process_time()
        fitted = (train.Document.tolist(), train.Topic_group.tolist(), test.Document.tolist(), test.Topic_group.tolist())
        result = evaluate_text_classifier(*fitted, pipeline=args.pipeline)
        cpu = time.process_time() - cpu_before  # all threads of this process: fit and predict
        baseline = _baseline(*fitted)
        selection = result.get("selection", {})
        print(json.dumps({
            "rows": rows, "n_test": len(test), "pipeline": args.pipeline,
            "fit_seconds": result["fit_seconds"], "cpu_seconds_fit_and_predict": round(cpu, 1), "accuracy": round(result["accuracy"], 4),
            "macro_f1": round(result["macro_f1"], 4), "winner": selection.get("winner"),
            "selection_rows": selection.get("rows"), "folds": selection.get("folds"),
            "baseline": {k: round(v, 4) for k, v in baseline.items()},
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        }), flush=True)


if __name__ == "__main__":
    main()
