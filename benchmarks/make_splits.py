"""Write the standard train/test CSV splits of the real data sets used in docs/benchmarks.md.

it_tickets_topics: train_test_split(test_size=0.2, random_state=0, stratify=Topic_group) (data README).
endava subset: for category and urgency each, ml.training.split_indices (stratified 80/20, random_state=0;
a class with a single row stays in train).  Usage: python benchmarks/make_splits.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from ml.training import split_indices

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    topics = pd.read_csv(DATA / "it_tickets_topics.csv.gz")
    train, test = train_test_split(topics, test_size=0.2, random_state=0, stratify=topics.Topic_group)
    train.to_csv(out / "topics_train.csv", index=False)
    test.to_csv(out / "topics_test.csv", index=False)
    endava = pd.read_csv(DATA / "endava_tickets_subset.csv.gz")
    written = {"topics": [len(train), len(test)]}
    for label in ("category", "urgency"):
        train_idx, test_idx = split_indices(endava[label].astype(str).tolist())
        endava.iloc[train_idx].to_csv(out / f"endava_{label}_train.csv", index=False)
        endava.iloc[test_idx].to_csv(out / f"endava_{label}_test.csv", index=False)
        written[label] = [len(train_idx), len(test_idx)]
    print(json.dumps(written))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "var/bench")
