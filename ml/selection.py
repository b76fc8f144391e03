"""Choosing the triage pipeline on the desk's own training data, and calibrating its confidence.

:class:`SelectedTicketClassifier` (``build_pipeline(kind="selected")``, the default of ``precedent train``
and ``precedent evaluate classify``) runs a stratified k-fold cross-validation on the training rows only
(duplicate texts stay in one fold: the groups are hashes of the normalised text) among

- ``baseline``: a plain word 1-2-gram + char_wb 2-5-gram TF-IDF LinearSVC (:class:`WordCharLinearSVC`),
  its ``C`` chosen from ``C_grid`` by the same folds;
- ``stack``: the stacked learners with a character-n-gram SVM (``wordchar_svm``), no prior correction;
- ``stack_prior``: the same stack with the prior correction of rare classes (one more candidate, never
  applied unless it wins).

The criterion is macro-F1, accuracy breaking ties (macro-F1 within ``tie_margin``); docs/triage.md says why.
The winner is refitted on all rows.  Its out-of-fold scores calibrate the confidence (temperature scaling
or isotonic regression of the top probability, chosen by held-out log loss) and give the threshold for
each target precision; ``selection_`` holds every candidate's scores, the winner, the calibration and
the thresholds (the manifest stores it).
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted

from ml.classify import (
    DEFAULT_STACK,
    TEXT_COLUMN,
    StackedTicketClassifier,
    _as_matrix,
    _softmax,
    coverage_at_precision,
    threshold_for_precision,
)

CANDIDATES = ("baseline", "stack", "stack_prior")
#: The stack candidate: the production blend with the SVM on words and character n-grams.
CHAR_STACK = tuple("wordchar_svm" if b == "word_svm" else b for b in DEFAULT_STACK)
TARGETS = (0.8, 0.85, 0.9, 0.95)


def char_aware(bases: Sequence[str]) -> tuple[str, ...]:
    """``bases`` with a character-n-gram learner: ``word_svm`` becomes ``wordchar_svm`` if none has one."""
    bases = tuple(bases)
    if any(b.startswith(("char", "wordchar")) for b in bases):
        return bases
    swapped = tuple("wordchar_svm" if b == "word_svm" else b for b in bases)
    return swapped if swapped != bases else (*bases, "char_svm")


def text_groups(texts) -> np.ndarray:
    """One group id per text: equal after lower-casing and collapsing whitespace means equal group."""
    ids: dict[str, int] = {}
    out = np.empty(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        key = hashlib.sha1(re.sub(r"\s+", " ", str(text).lower()).strip().encode("utf-8")).hexdigest()
        out[i] = ids.setdefault(key, len(ids))
    return out


def _on_classes(model_classes, raw: np.ndarray, classes) -> np.ndarray:
    """Scores laid out on ``classes``; a class the model never saw scores lowest."""
    raw = _as_matrix(raw)
    if len(model_classes) == len(classes) and np.array_equal(model_classes, classes):
        return raw
    out = np.full((raw.shape[0], len(classes)), raw.min() - 1.0)
    out[:, np.searchsorted(classes, model_classes)] = raw
    return out


class WordCharLinearSVC(ClassifierMixin, BaseEstimator):
    """The plain baseline: word 1-2-gram + char_wb 2-5-gram TF-IDF (+ one-hot signals) -> LinearSVC."""

    def __init__(self, meta_columns: Sequence[str] = (), C: float = 0.3, class_weight=None, random_state: int = 0):
        self.meta_columns = meta_columns
        self.C = C
        self.class_weight = class_weight
        self.random_state = random_state

    def fit_features(self, X) -> WordCharLinearSVC:
        """Fit the vectorizers (and the signals' vocabulary) only."""
        text = X[TEXT_COLUMN]
        self.word_vectorizer_ = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_df=0.9).fit(text)
        self.char_vectorizer_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                                min_df=2, max_df=0.9).fit(text)
        self.meta_vocabulary_ = {f"{c}={v}": 0 for c in self.meta_columns for v in sorted(set(map(str, X[c])))}
        self.meta_vocabulary_ = {key: i for i, key in enumerate(self.meta_vocabulary_)}
        return self

    def features(self, X):
        from scipy.sparse import csr_matrix, hstack

        text = X[TEXT_COLUMN]
        parts = [self.word_vectorizer_.transform(text), self.char_vectorizer_.transform(text)]
        if self.meta_vocabulary_:
            rows, cols = [], []
            for column in self.meta_columns:
                for row, value in enumerate(map(str, X[column])):
                    if (index := self.meta_vocabulary_.get(f"{column}={value}")) is not None:
                        rows.append(row)
                        cols.append(index)
            parts.append(csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(X), len(self.meta_vocabulary_))))
        return hstack(parts).tocsr()

    def learner(self, C: float | None = None) -> LinearSVC:
        return LinearSVC(C=self.C if C is None else C, class_weight=self.class_weight, random_state=self.random_state)

    def fit(self, X, y, sample_weight=None):
        y = np.asarray(y)
        self.classes_ = unique_labels(y)
        self.fit_features(X)
        self.svm_ = self.learner().fit(self.features(X), y, sample_weight=sample_weight)
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self, "svm_")
        return _on_classes(self.svm_.classes_, self.svm_.decision_function(self.features(X)), self.classes_)

    def predict_proba(self, X) -> np.ndarray:
        return _softmax(self.decision_function(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


def _rows(X, index):
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def _fold_scores(X, y, weights, train_idx, test_idx, classes, settings: dict) -> dict[str, np.ndarray]:
    """Logits of every candidate (``baseline@C`` per C) for the rows of one fold they did not see."""
    X_train, y_train, X_test = _rows(X, train_idx), y[train_idx], _rows(X, test_idx)
    w = None if weights is None else weights[train_idx]
    out = {}
    if "baseline" in settings["candidates"]:
        base = WordCharLinearSVC(meta_columns=settings["meta_columns"]).fit_features(X_train)
        F_train, F_test = base.features(X_train), base.features(X_test)
        for C in settings["C_grid"]:
            svm = base.learner(C).fit(F_train, y_train, sample_weight=w)
            out[f"baseline@{C:g}"] = _on_classes(svm.classes_, svm.decision_function(F_test), classes)
    if {"stack", "stack_prior"} & set(settings["candidates"]):
        prior = "stack_prior" in settings["candidates"]
        stack = StackedTicketClassifier(meta_columns=settings["meta_columns"], bases=settings["bases"],
                                        **({} if prior else {"prior_grid": ()}))
        stack.fit(X_train, y_train, sample_weight=w)
        logits = _on_classes(stack.classes_, stack.decision_function(X_test), classes)
        if "stack" in settings["candidates"]:  # undo the correction: the plain stack's logits
            log_prior = _on_classes(stack.classes_, stack.log_prior_[None, :], classes)
            out["stack"] = logits + stack.prior_correction_ * log_prior
        if prior:
            out["stack_prior"] = logits
    return out


def _score(y, predicted) -> dict[str, float]:
    from sklearn.metrics import f1_score

    return {"macro_f1": round(float(f1_score(y, predicted, average="macro", zero_division=0)), 4),
            "accuracy": round(float(np.mean(predicted == y)), 4)}


def _better(a: dict, b: dict, margin: float) -> bool:
    """Whether scores ``a`` beat ``b``: higher macro-F1, or within ``margin`` of it and more accurate."""
    if abs(a["macro_f1"] - b["macro_f1"]) <= margin:
        return a["accuracy"] > b["accuracy"]
    return a["macro_f1"] > b["macro_f1"]


def _fit_temperature(scores: np.ndarray, codes: np.ndarray) -> float:
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(codes))

    def loss(log_t):
        p = _softmax(scores / np.exp(log_t))
        return -np.mean(np.log(np.clip(p[rows, codes], 1e-12, None)))

    return float(np.exp(minimize_scalar(loss, bounds=(-5, 5), method="bounded").x))


def _isotonic(confidence: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots (x, y) of the isotonic regression of correctness on confidence (read with np.interp)."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(confidence, correct.astype(float))
    return np.asarray(iso.X_thresholds_, dtype=np.float64), np.asarray(iso.y_thresholds_, dtype=np.float64)


def _binary_log_loss(p, correct) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(np.where(correct, np.log(p), np.log(1 - p))))


def choose_calibration(scores: np.ndarray, codes: np.ndarray, folds: np.ndarray) -> dict:
    """Temperature or isotonic, by the log loss of "the top class is right" on the other half of the folds.

    Returns the method, its parameters fitted on all rows and both held-out log losses."""
    correct = np.argmax(scores, axis=1) == codes
    halves = folds % 2 == 0
    losses = {"temperature": [], "isotonic": []}
    if halves.any() and (~halves).any():
        for fit_rows in (halves, ~halves):
            test_rows = ~fit_rows
            t = _fit_temperature(scores[fit_rows], codes[fit_rows])
            losses["temperature"].append(_binary_log_loss(_softmax(scores[test_rows] / t).max(axis=1),
                                                          correct[test_rows]))
            x, y = _isotonic(_softmax(scores[fit_rows] / t).max(axis=1), correct[fit_rows])
            losses["isotonic"].append(_binary_log_loss(np.interp(_softmax(scores[test_rows] / t).max(axis=1), x, y),
                                                       correct[test_rows]))
    mean = {k: round(float(np.mean(v)), 5) if v else None for k, v in losses.items()}
    method = "isotonic" if mean["isotonic"] is not None and mean["isotonic"] < mean["temperature"] else "temperature"
    temperature = _fit_temperature(scores, codes)
    x, y = _isotonic(_softmax(scores / temperature).max(axis=1), correct)
    return {"method": method, "temperature": temperature, "isotonic_x": x, "isotonic_y": y, "log_loss": mean}


def calibrated_proba(scores: np.ndarray, calibration: dict) -> np.ndarray:
    """Probabilities whose top value is the calibrated confidence; the arg-max stays that of ``scores``."""
    p = _softmax(scores / calibration["temperature"])
    if calibration["method"] != "isotonic" or p.shape[1] < 2:
        return p
    rows = np.arange(len(p))
    top = np.argmax(p, axis=1)
    p_top = p[rows, top]
    rest = 1.0 - p_top
    second = np.partition(p, -2, axis=1)[:, -2]
    floor = second / np.maximum(rest + second, 1e-12) + 1e-9  # the top stays the arg-max
    new_top = np.clip(np.maximum(np.interp(p_top, calibration["isotonic_x"], calibration["isotonic_y"]), floor),
                      0.0, 1.0)
    scale = np.where(rest > 1e-12, (1.0 - new_top) / np.maximum(rest, 1e-12), 0.0)
    out = p * scale[:, None]
    out[rows, top] = new_top
    return out


class SelectedTicketClassifier(ClassifierMixin, BaseEstimator):
    """The candidate that cross-validates best on the training rows, refitted on all of them, calibrated.

    Input is the DataFrame of :func:`ml.classify.ticket_frame` (``text`` and the ``meta_columns``).
    ``cv`` folds at most (fewer when no class has that many rows), grouped so that equal texts share a
    fold; ``n_jobs`` folds run in parallel.  See the module docstring for the candidates and criterion.
    Time box: above ``large_rows`` rows ``large_cv`` folds, and the selection runs on a stratified sample
    of ``max_selection_rows`` rows (the winner is then refitted on all rows).
    """

    def __init__(self, meta_columns: Sequence[str] = (), candidates: Sequence[str] = CANDIDATES,
                 C_grid: Sequence[float] = (0.1, 0.3, 1.0, 3.0), bases: Sequence[str] = CHAR_STACK,
                 cv: int = 5, large_cv: int = 3, large_rows: int = 4000, max_selection_rows: int = 6000,
                 tie_margin: float = 0.002, n_jobs: int = 1, random_state: int = 0):
        self.meta_columns = meta_columns
        self.candidates = candidates
        self.C_grid = C_grid
        self.bases = bases
        self.cv = cv
        self.large_cv = large_cv
        self.large_rows = large_rows
        self.max_selection_rows = max_selection_rows
        self.tie_margin = tie_margin
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _folds(self, X, y) -> list[tuple[np.ndarray, np.ndarray]]:
        from sklearn.model_selection import StratifiedGroupKFold

        counts = np.unique(y, return_counts=True)[1]
        k = int(min(self.cv if len(y) <= self.large_rows else self.large_cv, max(2, counts.max())))
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=self.random_state)
        with warnings.catch_warnings():  # classes rarer than k are expected
            warnings.simplefilter("ignore", UserWarning)
            return list(splitter.split(np.zeros(len(y)), y, groups=text_groups(X[TEXT_COLUMN])))

    def _selection_rows(self, y) -> np.ndarray:
        """All rows, or a stratified sample of ``max_selection_rows`` (every class keeps a row)."""
        if not self.max_selection_rows or len(y) <= self.max_selection_rows:
            return np.arange(len(y))
        rng = np.random.default_rng(self.random_state)
        share = self.max_selection_rows / len(y)
        keep = []
        for label in self.classes_:
            members = np.flatnonzero(y == label)
            keep.append(rng.choice(members, size=max(1, int(round(share * len(members)))), replace=False))
        return np.sort(np.concatenate(keep))

    def _out_of_fold(self, X, y, weights) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Out-of-fold logits per candidate (and per baseline C) and each row's fold number."""
        from joblib import Parallel, delayed

        unknown = [c for c in self.candidates if c not in CANDIDATES]
        if unknown or not self.candidates:
            raise ValueError(f"unknown candidates {unknown}; choose from {', '.join(CANDIDATES)}")
        settings = {"candidates": tuple(self.candidates), "C_grid": tuple(self.C_grid),
                    "bases": tuple(self.bases), "meta_columns": tuple(self.meta_columns)}
        folds = self._folds(X, y)
        jobs = min(self.n_jobs, len(folds)) if len(y) >= 2000 else 1
        results = Parallel(n_jobs=jobs)(delayed(_fold_scores)(X, y, weights, train, test, self.classes_, settings)
                                        for train, test in folds)
        fold_of = np.zeros(len(y), dtype=np.int64)
        oof: dict[str, np.ndarray] = {}
        for number, ((_, test), scores) in enumerate(zip(folds, results, strict=True)):
            fold_of[test] = number
            for name, block in scores.items():
                oof.setdefault(name, np.zeros((len(y), len(self.classes_))))[test] = block
        return oof, fold_of

    def _select(self, oof: dict[str, np.ndarray], y) -> tuple[str, float | None, dict]:
        """(winner, its C or None, the scores of every candidate) by the criterion."""
        scores = {name: _score(y, self.classes_[np.argmax(block, axis=1)]) for name, block in oof.items()}
        table: dict[str, dict] = {}
        best_C = None
        for name in self.candidates:
            if name == "baseline":
                by_C = {key: scores[key] for key in scores if key.startswith("baseline@")}
                best_key = next(iter(by_C))
                for key in by_C:
                    best_key = key if _better(by_C[key], by_C[best_key], self.tie_margin) else best_key
                best_C = float(best_key.split("@")[1])
                table[name] = {**by_C[best_key], "C": best_C, "by_C": by_C}
            else:
                table[name] = scores[name]
        winner = next(iter(table))
        for name in table:
            winner = name if _better(table[name], table[winner], self.tie_margin) else winner
        return winner, best_C if winner == "baseline" else None, table

    def _winner_estimator(self, winner: str, C: float | None):
        if winner == "baseline":
            return WordCharLinearSVC(meta_columns=tuple(self.meta_columns), C=C, random_state=self.random_state)
        return StackedTicketClassifier(meta_columns=tuple(self.meta_columns), bases=tuple(self.bases),
                                       random_state=self.random_state,
                                       **({} if winner == "stack_prior" else {"prior_grid": ()}))

    def fit(self, X, y, sample_weight=None):
        """Cross-validate the candidates, refit the winner on all rows, calibrate on its out-of-fold logits."""
        y = np.asarray(y)
        self.classes_ = unique_labels(y)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least two classes to learn from, got {len(self.classes_)}")
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        rows = self._selection_rows(y)
        y_sel, w_sel = y[rows], None if weights is None else weights[rows]
        oof, fold_of = self._out_of_fold(_rows(X, rows), y_sel, w_sel)
        winner, C, table = self._select(oof, y_sel)
        winner_oof = oof[f"baseline@{C:g}"] if winner == "baseline" else oof[winner]
        codes = np.searchsorted(self.classes_, y_sel)
        self.calibration_ = choose_calibration(winner_oof, codes, fold_of)
        proba = calibrated_proba(winner_oof, self.calibration_)
        confidence, correct = proba.max(axis=1), np.argmax(proba, axis=1) == codes
        self.thresholds_ = {f"{t:g}": threshold_for_precision(confidence, correct, t) for t in TARGETS}
        self.estimator_ = self._winner_estimator(winner, C).fit(X, y, sample_weight=weights)
        self.selection_ = {
            "criterion": f"macro_f1, accuracy breaks ties within {self.tie_margin:g}",
            "folds": int(fold_of.max() + 1), "grouped_by": "normalised text hash", "rows": int(len(rows)),
            "candidates": table, "winner": winner, "C": C,
            "calibration": {"method": self.calibration_["method"],
                            "temperature": round(self.calibration_["temperature"], 4),
                            "held_out_log_loss": self.calibration_["log_loss"]},
            "thresholds": {key: {"threshold": value, "coverage_out_of_fold":
                                 round(coverage_at_precision(confidence, correct, float(key)), 4)}
                           for key, value in self.thresholds_.items()},
        }
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return _on_classes(self.estimator_.classes_, self.estimator_.decision_function(X), self.classes_)

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probabilities, columns in ``classes_`` order."""
        return calibrated_proba(self.decision_function(X), self.calibration_)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


def precision_at_threshold(confidence, correct, threshold: float | None) -> dict:
    """Precision and coverage of the items whose confidence is at least ``threshold`` (None: none routed)."""
    confidence, correct = np.asarray(confidence), np.asarray(correct, dtype=bool)
    routed = confidence >= threshold if threshold is not None else np.zeros(len(confidence), dtype=bool)
    return {"threshold": threshold, "coverage": round(float(routed.mean()), 4) if len(routed) else 0.0,
            "precision": round(float(correct[routed].mean()), 4) if routed.any() else None}
