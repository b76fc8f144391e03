"""Russian word forms for triage: surface words, Snowball stems or pymorphy3 lemmas, with and without char n-grams.

    PRECEDENT_VAR_DIR=... python benchmarks/triage_russian.py [--splits SPLITS_DIR] [--topics-rows N]

Each view feeds the plain baseline of ml.selection (word 1-2-gram TF-IDF, + char_wb 2-5-grams where said, ->
LinearSVC C=0.3); the words are lower-cased tokens (``\\w+``) replaced by their Snowball stem (Russian for
Cyrillic words, English otherwise, PyStemmer) or their first pymorphy3 normal form (Cyrillic words only).
Sets: the demo store's routing and priority labels (text only, ``ml.training.split_indices`` 80/20), and with
``--splits`` the real sets of ``benchmarks/make_splits.py`` (English: the lemmas leave them unchanged).  One
JSON line per set: accuracy and macro-F1 per view, and the seconds the word normalisation took.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml.selection import WordCharLinearSVC  # noqa: E402

TOKEN = re.compile(r"\w+")
CYRILLIC = re.compile(r"[а-яё]")


def normaliser(kind: str):
    """A function text -> text with every word replaced by its stem or lemma (or left as it is)."""
    if kind == "surface":
        return lambda text: text.lower()
    if kind == "stems":
        import Stemmer

        russian, english = Stemmer.Stemmer("russian"), Stemmer.Stemmer("english")

        @cache
        def form(word):
            return (russian if CYRILLIC.search(word) else english).stemWord(word)
    else:
        import pymorphy3

        morph = pymorphy3.MorphAnalyzer()

        @cache
        def form(word):
            return morph.parse(word)[0].normal_form if CYRILLIC.search(word) else word
    return lambda text: " ".join(form(word) for word in TOKEN.findall(text.lower()))


def _score(train_texts, train_labels, test_texts, test_labels, with_chars: bool) -> dict:
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import f1_score
    from sklearn.svm import LinearSVC

    if with_chars:
        model = WordCharLinearSVC(C=0.3).fit(pd.DataFrame({"text": train_texts}), np.asarray(train_labels))
        predicted = model.predict(pd.DataFrame({"text": test_texts}))
    else:
        words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_df=0.9).fit(train_texts)
        svm = LinearSVC(C=0.3, random_state=0).fit(hstack([words.transform(train_texts)]).tocsr(), train_labels)
        predicted = svm.predict(words.transform(test_texts))
    return {"accuracy": round(float(np.mean(predicted == np.asarray(test_labels))), 4),
            "macro_f1": round(float(f1_score(test_labels, predicted, average="macro", zero_division=0)), 4)}


def compare(name, train_texts, train_labels, test_texts, test_labels) -> dict:
    out = {"set": name, "n_train": len(train_texts), "n_test": len(test_texts), "views": {}, "normalise_seconds": {}}
    for kind in ("surface", "stems", "lemmas"):
        started = time.perf_counter()
        normalise = normaliser(kind)
        train, test = [normalise(t) for t in train_texts], [normalise(t) for t in test_texts]
        out["normalise_seconds"][kind] = round(time.perf_counter() - started, 2)
        for with_chars in (False, True):
            label = f"{kind} words" + (" + char n-grams" if with_chars else "")
            out["views"][label] = _score(train, train_labels, test, test_labels, with_chars)
    return out


def demo_sets():
    from kb.db import make_engine, make_session_factory
    from ml.training import MODEL_NAMES, split_indices
    from service.config import load_settings
    from service.triage.training_data import tickets_from_store

    engine = make_engine(load_settings().resolved_database_url)
    with make_session_factory(engine)() as session:
        data = tickets_from_store(session)
    engine.dispose()
    for model in MODEL_NAMES:
        signals, labels, _ = data.for_model(model)
        texts = [s.text for s in signals]
        train, test = split_indices(labels)
        yield (f"demo_{model}", [texts[i] for i in train], [labels[i] for i in train],
               [texts[i] for i in test], [labels[i] for i in test])


def real_sets(root: Path, topics_rows: int):
    from sklearn.model_selection import train_test_split

    specs = {"endava_category": (["title", "body"], "category"), "endava_urgency": (["title", "body"], "urgency"),
             "topics": (["Document"], "Topic_group")}
    for name, (columns, label) in specs.items():
        train = pd.read_csv(root / f"{name}_train.csv", dtype=str)
        test = pd.read_csv(root / f"{name}_test.csv", dtype=str)
        if name == "topics" and topics_rows:
            train, _ = train_test_split(train, train_size=topics_rows, random_state=0, stratify=train[label])
        train_texts, test_texts = (f[columns].fillna("").agg("\n".join, axis=1).tolist() for f in (train, test))
        yield name, train_texts, train[label].str.strip().tolist(), test_texts, test[label].str.strip().tolist()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--splits", default=None)
    parser.add_argument("--topics-rows", type=int, default=10000)
    args = parser.parse_args()
    sets = list(demo_sets())
    if args.splits:
        sets += list(real_sets(Path(args.splits), args.topics_rows))
    for data in sets:
        print(json.dumps(compare(*data), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
