"""Comparing triage pipelines like with like, and the rule for publishing a candidate.

A published model was refitted on all the data it had, so scoring it on today's held-out rows would
flatter it.  :func:`holdout_comparison` instead fits each *recipe* (an unfitted estimator, e.g.
``sklearn.base.clone`` of the published model and of the candidate) on the same training split and scores
all of them on the same held-out rows (``ml.training.split_indices``: the split ``train_model`` measures
on).  :func:`publish_decision` is the rule notebooks/02_retrain_triage.ipynb applies before calling the
registry's ``publish``, the function behind ``precedent models publish``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ml.classify import TicketSignals, ticket_frame
from ml.training import classification_metrics, split_indices


@dataclass
class HoldoutResult:
    """One recipe fitted on the training split and scored on the held-out rows."""

    name: str
    y_true: np.ndarray
    proba: np.ndarray
    classes: np.ndarray
    metrics: dict[str, Any]

    @property
    def predicted(self) -> np.ndarray:
        return self.classes[np.argmax(self.proba, axis=1)]

    @property
    def confidence(self) -> np.ndarray:
        return self.proba.max(axis=1)

    @property
    def correct(self) -> np.ndarray:
        return self.predicted == self.y_true


def _fit(recipe, frame, labels, weights):
    if hasattr(recipe, "named_steps") and "classifier" in recipe.named_steps:
        return recipe.fit(frame, labels, classifier__sample_weight=weights)
    return recipe.fit(frame, labels, sample_weight=weights)


def holdout_comparison(recipes: Mapping[str, Any], signals: Sequence[TicketSignals | Mapping],
                       labels: Sequence[str], weights: Sequence[float] | None = None, *,
                       test_size: float = 0.2, random_state: int = 0) -> dict[str, HoldoutResult]:
    """Fit every unfitted recipe on the same training split, score each on the same held-out rows."""
    if not recipes:
        raise ValueError("give at least one recipe to compare")
    labels = np.asarray([str(label) for label in labels])
    weights = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=np.float64)
    frame = ticket_frame(signals)
    train, test = split_indices(labels, test_size=test_size, random_state=random_state)
    results = {}
    for name, recipe in recipes.items():
        started = time.perf_counter()
        model = _fit(recipe, frame.iloc[train], labels[train], weights[train])
        fit_seconds = time.perf_counter() - started
        proba = model.predict_proba(frame.iloc[test])
        classes = np.asarray(model.classes_).astype(str)
        results[name] = HoldoutResult(name, labels[test], proba, classes,
                                      classification_metrics(labels[test], proba, classes, fit_seconds=fit_seconds))
    return results


def reliability_table(confidence: Sequence[float], correct: Sequence[bool], *, bins: int = 10) -> list[dict]:
    """Per confidence bin: its bounds, how many predictions fell in it, their mean confidence and accuracy.

    A calibrated model has accuracy close to mean confidence in every populated bin."""
    confidence, correct = np.asarray(confidence, dtype=np.float64), np.asarray(correct, dtype=bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows = []
    for b in range(bins):
        members = which == b
        rows.append({"low": round(float(edges[b]), 3), "high": round(float(edges[b + 1]), 3),
                     "count": int(members.sum()),
                     "mean_confidence": round(float(confidence[members].mean()), 4) if members.any() else None,
                     "accuracy": round(float(correct[members].mean()), 4) if members.any() else None})
    return rows


def publish_decision(candidate: Mapping[str, Any], published: Mapping[str, Any] | None, *,
                     min_macro_f1_gain: float = 0.0, max_accuracy_loss: float = 0.005) -> tuple[bool, str]:
    """Whether to publish the candidate, and why, from held-out metrics of the same split.

    Publish when nothing is published yet, or when the candidate's macro-F1 is at least the published
    recipe's plus ``min_macro_f1_gain`` and its accuracy is at most ``max_accuracy_loss`` lower."""
    if published is None:
        return True, "nothing is published yet"
    gain = candidate["macro_f1"] - published["macro_f1"]
    accuracy_change = candidate["accuracy"] - published["accuracy"]
    numbers = f"macro-F1 {gain:+.4f}, accuracy {accuracy_change:+.4f}"
    if gain < min_macro_f1_gain:
        return False, f"{numbers}: macro-F1 gain below the required {min_macro_f1_gain:+.4f}"
    if accuracy_change < -max_accuracy_loss:
        return False, f"{numbers}: accuracy falls more than {max_accuracy_loss:.4f}"
    return True, f"{numbers}: at least as good by the rule"


def stratified_sample(signals: Sequence, labels: Sequence[str], weights: Sequence[float] | None, size: int | None,
                      *, random_state: int = 0) -> tuple[list, list[str], list[float]]:
    """At most ``size`` rows, each label keeping its share (and at least one row); None keeps everything."""
    labels = [str(label) for label in labels]
    weights = [1.0] * len(labels) if weights is None else [float(w) for w in weights]
    if size is None or size >= len(labels):
        return list(signals), labels, weights
    if size < 1:
        raise ValueError(f"sample size must be at least 1, got {size}")
    rng = np.random.default_rng(random_state)
    y = np.asarray(labels)
    keep = [rng.choice(np.flatnonzero(y == label), replace=False,
                       size=max(1, int(round(size * np.mean(y == label)))))
            for label in np.unique(y)]
    rows = np.sort(np.concatenate(keep))
    return [signals[i] for i in rows], [labels[i] for i in rows], [weights[i] for i in rows]
