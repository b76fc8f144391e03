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
One fit per candidate, not one per fold: the TF-IDF vocabularies are fitted once on the selection rows and
shared; the stack is fitted once with its base learners out-of-fold on the selection's folds, and its
out-of-fold logits come from blends fitted on the other folds' base scores; the baseline's C ladder runs on
the same matrices and folds (a slightly optimistic estimate for both, docs/triage.md).  The winner's fit on
the selection rows is the model when they are all rows (the baseline is refitted with its C).  Its
out-of-fold scores calibrate the confidence (temperature scaling or isotonic regression of the top
probability, chosen by held-out log loss) and give the threshold for each target precision;
``selection_`` holds every candidate's scores, the winner, the calibration and the thresholds (the
manifest stores it).
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
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
    drop_signals,
    text_vectorizer,
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
    """The plain baseline: word 1-2-gram + char_wb 2-5-gram TF-IDF (+ one-hot signals) -> LinearSVC.

    The signals get the stack's dropout (``signal_dropout`` of the training rows read "none", seeded): without
    it the demo routing baseline fell from 0.90 to 0.75 held-out accuracy on tickets that came without them."""

    def __init__(self, meta_columns: Sequence[str] = (), C: float = 0.3, class_weight=None,
                 signal_dropout: float = 0.3, random_state: int = 0):
        self.meta_columns = meta_columns
        self.C = C
        self.class_weight = class_weight
        self.signal_dropout = signal_dropout
        self.random_state = random_state

    def fit_features(self, X, vectorizers=None) -> WordCharLinearSVC:
        """Fit the vectorizers (or take ``vectorizers``, a fitted (word, char) pair) and the signals' vocabulary."""
        text = X[TEXT_COLUMN]
        if vectorizers is not None:  # shared with the stack: the same settings, fitted on the same rows
            self.word_vectorizer_, self.char_vectorizer_ = vectorizers
        else:
            self.word_vectorizer_ = text_vectorizer("word", text)[0]
            self.char_vectorizer_ = text_vectorizer("char", text)[0]
        self.meta_vocabulary_ = {f"{c}={v}": 0 for c in self.meta_columns for v in sorted(set(map(str, X[c])))}
        self.meta_vocabulary_ = {key: i for i, key in enumerate(self.meta_vocabulary_)}
        return self

    def features(self, X, text_matrices=None):
        """The feature matrix of ``X``; ``text_matrices`` (word, char), if given, are its TF-IDF parts."""
        from scipy.sparse import csr_matrix, hstack

        text = X[TEXT_COLUMN]
        parts = list(text_matrices or (self.word_vectorizer_.transform(text), self.char_vectorizer_.transform(text)))
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
        (word_vectorizer, word), (char_vectorizer, char) = (text_vectorizer(kind, X[TEXT_COLUMN])
                                                            for kind in ("word", "char"))
        X = drop_signals(X, self.meta_columns, self.signal_dropout, self.random_state)
        self.fit_features(X, (word_vectorizer, char_vectorizer))
        self.svm_ = self.learner().fit(self.features(X, (word, char)), y, sample_weight=sample_weight)
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


def _svm_scores(svm: LinearSVC, F, y, weights, train, test, classes) -> np.ndarray:
    """Logits of ``svm`` fitted on the ``train`` rows of ``F`` for its ``test`` rows."""
    svm.fit(F[train], y[train], sample_weight=None if weights is None else weights[train])
    return _on_classes(svm.classes_, svm.decision_function(F[test]), classes)


def _score(y, predicted) -> dict[str, float]:
    """Macro-F1 over the classes of ``y`` (a class only predicted, never held out, is not averaged) and accuracy."""
    from sklearn.metrics import f1_score

    f1 = f1_score(y, predicted, labels=np.unique(y), average="macro", zero_division=0)
    return {"macro_f1": round(float(f1), 4),
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
    """The candidate that cross-validates best on the training rows, fitted on all of them, calibrated.

    Input is the DataFrame of :func:`ml.classify.ticket_frame` (``text`` and the ``meta_columns``).
    ``cv`` folds at most (fewer when no class has that many rows), grouped so that equal texts share a
    fold; ``n_jobs`` threads (the stack beside the baseline's SVM fits).  See the module docstring for the candidates and criterion.
    Time box: above ``large_rows`` rows ``large_cv`` folds, and above ``max_selection_rows`` the selection runs
    on a stratified sample of that many rows (the winner is then refitted on all rows).
    """

    def __init__(self, meta_columns: Sequence[str] = (), candidates: Sequence[str] = CANDIDATES,
                 C_grid: Sequence[float] = (0.1, 0.3, 1.0, 3.0), bases: Sequence[str] = CHAR_STACK,
                 cv: int = 5, large_cv: int = 3, large_rows: int = 4000, max_selection_rows: int = 10000,
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
        """Grouped stratified folds; rows of classes rarer than the fold count are never held out.

        Every fold model then knows every class (as in the stack), so a rare class can be named out-of-fold
        and the prior correction judged; a row whose text also occurs in such a row stays in training too."""
        from sklearn.model_selection import StratifiedGroupKFold

        values, counts = np.unique(y, return_counts=True)
        k = int(min(self.cv if len(y) <= self.large_rows else self.large_cv, max(2, counts.max())))
        groups = text_groups(X[TEXT_COLUMN])
        always = np.isin(groups, groups[~np.isin(y, values[counts >= k])])
        rest, kept = np.flatnonzero(~always), np.flatnonzero(always)
        k = min(k, len(np.unique(groups[rest])))
        if k < 2:
            raise ValueError("too few distinct texts to cross-validate the candidates (need two or more "
                             "texts of a class that has as many rows as folds)")
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=self.random_state)
        with warnings.catch_warnings():  # classes with few rows are expected
            warnings.simplefilter("ignore", UserWarning)
            return [(np.sort(np.r_[rest[train], kept]), rest[test])
                    for train, test in splitter.split(np.zeros(len(rest)), y[rest], groups=groups[rest])]

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

    def _out_of_fold(self, X, y, weights, folds) -> tuple[dict[str, np.ndarray], dict]:
        """Out-of-fold logits per candidate (and per baseline C) on ``folds``, and the fitted parts to reuse.

        The TF-IDF vocabularies are fitted once on all rows of ``X`` (labels unused) and shared by both.  The
        stack is fitted once, its base learners out-of-fold on ``folds``; its candidates' logits come from blends
        fitted on the other folds' base scores.  The baseline's C grid runs beside it in ``n_jobs`` threads
        (liblinear releases the GIL)."""
        from concurrent.futures import ThreadPoolExecutor

        unknown = [c for c in self.candidates if c not in CANDIDATES]
        if unknown or not self.candidates:
            raise ValueError(f"unknown candidates {unknown}; choose from {', '.join(CANDIDATES)}")
        (word_vectorizer, word), (char_vectorizer, char) = (text_vectorizer(kind, X[TEXT_COLUMN])
                                                            for kind in ("word", "char"))
        oof: dict[str, np.ndarray] = {}
        fitted: dict = {}
        with ThreadPoolExecutor(max_workers=max(1, self.n_jobs)) as pool:
            stack_job = None
            if {"stack", "stack_prior"} & set(self.candidates):
                stack_job = pool.submit(self._stack_out_of_fold, X, y, weights, folds,
                                        (word_vectorizer, char_vectorizer, word, char))
            if "baseline" in self.candidates:
                base = WordCharLinearSVC(meta_columns=tuple(self.meta_columns), random_state=self.random_state)
                dropped = drop_signals(X, self.meta_columns, base.signal_dropout, self.random_state)
                F = base.fit_features(dropped, (word_vectorizer, char_vectorizer)).features(dropped, (word, char))
                oof.update(self._baseline_out_of_fold(pool, base, F, y, weights, folds))
                fitted["baseline"] = (base, F)
            if stack_job is not None:
                fitted["stack"], stack_oof = stack_job.result()
                oof.update(stack_oof)
        return oof, fitted

    def _baseline_out_of_fold(self, pool, base, F, y, weights, folds) -> dict[str, np.ndarray]:
        """Out-of-fold logits of the baseline per C, searching ``C_grid`` as a ladder.

        The two middle values first, then one step at a time towards the better one while it keeps
        improving (a larger C costs more to fit: on 10,000 it_tickets rows C=3 took 2x the time of C=1)."""
        grid = sorted(self.C_grid)
        out: dict[str, np.ndarray] = {}

        def run(values):
            jobs = [(C, train, test) for C in values for train, test in folds]
            futures = [pool.submit(_svm_scores, base.learner(C), F, y, weights, train, test, self.classes_)
                       for C, train, test in jobs]
            for (C, _, test), future in zip(jobs, futures, strict=True):
                out.setdefault(f"baseline@{C:g}", np.zeros((len(y), len(self.classes_))))[test] = future.result()

        def score(i):
            held = np.concatenate([test for _, test in folds])
            return _score(y[held], self.classes_[np.argmax(out[f"baseline@{grid[i]:g}"][held], axis=1)])

        low = max(0, (len(grid) - 1) // 2)
        run(grid[low:low + 2])
        if len(grid) > 1:
            step = 1 if _better(score(low + 1), score(low), self.tie_margin) else -1
            best = low + 1 if step == 1 else low
            while 0 <= best + step < len(grid):
                run([grid[best + step]])
                if not _better(score(best + step), score(best), self.tie_margin):
                    break
                best += step
        return out

    def _stack_out_of_fold(self, X, y, weights, folds, text_features) -> tuple:
        """The stack fitted once on ``folds``, and the out-of-fold logits of ``stack`` (and ``stack_prior``)."""
        prior = "stack_prior" in self.candidates
        stack = StackedTicketClassifier(meta_columns=tuple(self.meta_columns), bases=tuple(self.bases),
                                        random_state=self.random_state, **({} if prior else {"prior_grid": ()}))
        learned = stack.fit_on_folds(X, y, weights, folds, text_features)
        logits = _on_classes(stack.classes_, learned["logits"], self.classes_)
        out = {"stack": logits} if "stack" in self.candidates else {}
        if prior:
            out["stack_prior"] = logits - stack.prior_correction_ * _on_classes(
                stack.classes_, stack.log_prior_[None, :], self.classes_)
        return stack, out

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

    def _final(self, winner: str, C: float | None, fitted: dict, X, y, weights, every_row: bool):
        """The winner fitted on all rows: the selection's own fit when it saw every row, else a refit."""
        if winner == "baseline":
            if every_row:
                base, F = fitted["baseline"]
                base.classes_ = self.classes_
                base.C = C
                base.svm_ = base.learner().fit(F, y, sample_weight=weights)
                return base
            return WordCharLinearSVC(meta_columns=tuple(self.meta_columns), C=C,
                                     random_state=self.random_state).fit(X, y, sample_weight=weights)
        tau = fitted["stack"].prior_correction_ if winner == "stack_prior" else 0.0
        stack = fitted["stack"] if every_row else StackedTicketClassifier(
            meta_columns=tuple(self.meta_columns), bases=tuple(self.bases), random_state=self.random_state,
            prior_grid=()).fit(X, y, sample_weight=weights)
        stack.prior_correction_ = tau  # the correction the selection judged (none for "stack")
        return stack

    def fit(self, X, y, sample_weight=None):
        """Cross-validate the candidates, keep (or refit) the winner on all rows, calibrate on its out-of-fold logits."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):  # see StackedTicketClassifier.fit_on_folds
            return self._fit(X, y, sample_weight)

    def _fit(self, X, y, sample_weight):
        y = np.asarray(y)
        self.classes_ = unique_labels(y)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least two classes to learn from, got {len(self.classes_)}")
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        rows = self._selection_rows(y)
        X_sel, y_sel, w_sel = _rows(X, rows), y[rows], None if weights is None else weights[rows]
        folds = self._folds(X_sel, y_sel)
        oof, fitted = self._out_of_fold(X_sel, y_sel, w_sel, folds)
        held = np.concatenate([test for _, test in folds])
        fold_of = np.concatenate([np.full(len(test), number) for number, (_, test) in enumerate(folds)])
        oof = {name: block[held] for name, block in oof.items()}
        winner, C, table = self._select(oof, y_sel[held])
        winner_oof = oof[f"baseline@{C:g}"] if winner == "baseline" else oof[winner]
        codes = np.searchsorted(self.classes_, y_sel[held])
        self.calibration_ = choose_calibration(winner_oof, codes, fold_of)
        proba = calibrated_proba(winner_oof, self.calibration_)
        confidence, correct = proba.max(axis=1), np.argmax(proba, axis=1) == codes
        self.thresholds_ = {f"{t:g}": threshold_for_precision(confidence, correct, t) for t in TARGETS}
        tau = float(fitted["stack"].prior_correction_) if "stack_prior" in self.candidates else None
        self.estimator_ = self._final(winner, C, fitted, X, y, weights, every_row=len(rows) == len(y))
        self.selection_ = {
            "criterion": f"macro_f1, accuracy breaks ties within {self.tie_margin:g}",
            "folds": len(folds), "grouped_by": "normalised text hash", "rows": int(len(rows)),
            "held_out_rows": int(len(held)), "rows_always_in_training": int(len(rows) - len(held)),
            "candidates": table, "winner": winner, "C": C,
            "prior_correction": tau,
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
