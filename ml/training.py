"""Training the routing (specialist group) and priority models from plain labelled rows or a table.

The rows (:class:`LabelledTickets`: signals, the final group and priority, a weight per row) come from
whoever owns the data: the service builds them from the knowledge store and its audit trail
(``service.triage.training_data``), a benchmark or a test from a table.  A row that corrects the model
(an engineer changed the predicted value) carries ``CORRECTION_WEIGHT`` instead of 1.
"""

from __future__ import annotations

import hashlib
import platform
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ml.classify import (
    DEFAULT_STACK,
    META_COLUMNS,
    MISSING,
    TicketSignals,
    build_pipeline,
    coverage_at_precision,
    per_class_thresholds,
    threshold_for_precision,
    ticket_frame,
)

ROUTING_MODEL = "routing"
PRIORITY_MODEL = "priority"
MODEL_NAMES = (ROUTING_MODEL, PRIORITY_MODEL)
#: Weight of a row whose label an engineer corrected (the model got it wrong).
CORRECTION_WEIGHT = 2.0
#: Target precisions for which thresholds are stored in each manifest.
TARGET_PRECISIONS = (0.8, 0.85, 0.9, 0.95)
_CRITICALITY_ORDER = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def signals_for(*, subject: str, description: str = "", channel: str | None = None, tier: str | None = None,
                nodes: Iterable[Any] = (), alert_severity: str | None = None) -> TicketSignals:
    """The classifier's view of a ticket; of several nodes the most critical one speaks for it."""
    nodes = list(nodes)
    node = max(nodes, key=lambda n: _CRITICALITY_ORDER.get(n.criticality, 0)) if nodes else None
    return TicketSignals(
        subject=subject or "", description=description or "", channel=channel, tier=tier,
        node_kind=node.kind if node else None, node_criticality=node.criticality if node else None,
        alert_severity=alert_severity,
    )


@dataclass
class LabelledTickets:
    """Training rows: signals, the two labels, and a weight per row."""

    signals: list[TicketSignals] = field(default_factory=list)
    groups: list[str | None] = field(default_factory=list)
    priorities: list[str | None] = field(default_factory=list)
    group_weights: list[float] = field(default_factory=list)
    priority_weights: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.signals)

    def for_model(self, name: str) -> tuple[list[TicketSignals], list[str], list[float]]:
        """Rows that have the label of model ``name``."""
        labels = self.groups if name == ROUTING_MODEL else self.priorities
        weights = self.group_weights if name == ROUTING_MODEL else self.priority_weights
        keep = [i for i, label in enumerate(labels) if label]
        return [self.signals[i] for i in keep], [labels[i] for i in keep], [weights[i] for i in keep]

    def append(self, signals: TicketSignals, *, group: str | None, priority: str | None,
               group_weight: float = 1.0, priority_weight: float = 1.0) -> None:
        """Add one ticket's row."""
        self.signals.append(signals)
        self.groups.append(group)
        self.priorities.append(priority)
        self.group_weights.append(group_weight)
        self.priority_weights.append(priority_weight)


def data_hash(texts: Sequence[str], labels: Sequence[str]) -> str:
    """SHA-256 over the training texts and labels (which data a model saw)."""
    digest = hashlib.sha256()
    for text, label in zip(texts, labels, strict=True):
        digest.update(text.encode("utf-8"))
        digest.update(b"\x1f")
        digest.update(str(label).encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    import scipy
    import sklearn
    import skops

    return {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__, "skops": skops.__version__}


def split_indices(labels: Sequence[str], *, test_size: float = 0.2, random_state: int = 0):
    """Stratified train/test indices where every class has 2+ rows; classes with one row train only."""
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    values, counts = np.unique(labels, return_counts=True)
    single = set(values[counts < 2])
    index = np.arange(len(labels))
    lonely = index[np.isin(labels, list(single))]
    rest = index[~np.isin(labels, list(single))]
    if len(rest) < 10 or len(np.unique(labels[rest])) < 2:
        raise ValueError(f"too few labelled tickets to hold out a test split ({len(labels)})")
    n_test = max(int(round(test_size * len(rest))), len(np.unique(labels[rest])))
    stratify = labels[rest] if n_test >= len(np.unique(labels[rest])) else None
    train, test = train_test_split(rest, test_size=n_test, random_state=random_state, stratify=stratify)
    return np.sort(np.r_[train, lonely]), np.sort(test)


def classification_metrics(y_true, proba, classes, *, fit_seconds: float | None = None,
                           predict_seconds: float | None = None) -> dict[str, Any]:
    """Accuracy, F1s, per-class F1 and the precision/coverage thresholds of held-out predictions."""
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    y_true = np.asarray(y_true).astype(str)
    classes = np.asarray(classes).astype(str)
    predicted = classes[np.argmax(proba, axis=1)]
    confidence = np.max(proba, axis=1)
    correct = predicted == y_true
    labels = sorted(set(y_true) | set(predicted))
    precision, recall, per_class, _ = precision_recall_fscore_support(
        y_true, predicted, labels=labels, average=None, zero_division=0)
    support = {label: int(np.sum(y_true == label)) for label in labels}
    predicted_count = {label: int(np.sum(predicted == label)) for label in labels}
    metrics: dict[str, Any] = {
        "accuracy": float(np.mean(correct)) if len(correct) else 0.0,
        "macro_f1": float(f1_score(y_true, predicted, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, predicted, average="weighted", zero_division=0)),
        "n_test": int(len(y_true)),
        "n_classes": int(len(classes)),
        "coverage_at_90_precision": coverage_at_precision(confidence, correct, 0.9),
        "per_class_f1": {
            label: {"f1": round(float(f1), 4), "precision": round(float(p), 4), "recall": round(float(r), 4),
                    "support": support[label], "predicted": predicted_count[label]}
            for label, f1, p, r in zip(labels, per_class, precision, recall, strict=True)},
    }
    if fit_seconds is not None:
        metrics["fit_seconds"] = round(fit_seconds, 2)
    if predict_seconds is not None and len(y_true):
        metrics["predict_ms_per_item"] = round(1000 * predict_seconds / len(y_true), 4)
    thresholds = {}
    for target in TARGET_PRECISIONS:
        thresholds[f"{target:g}"] = {
            "global": threshold_for_precision(confidence, correct, target),
            "coverage": coverage_at_precision(confidence, correct, target),
            "per_class": per_class_thresholds(confidence, correct, predicted, target),
        }
    metrics["thresholds"] = thresholds
    return metrics


@dataclass
class TrainedModel:
    estimator: Any
    manifest: dict[str, Any]


#: The pipelines `train_model` and `evaluate_text_classifier` can fit: the one chosen by cross-validation on
#: the training data among the plain baseline and the stacks (ml/selection.py, the default), or the stacked
#: blend alone (no selection, no calibration of its own; faster on small desks, docs/benchmarks.md).
PIPELINES = ("selected", "stack")


def train_model(name: str, signals: Sequence[TicketSignals], labels: Sequence[str],
                weights: Sequence[float] | None = None, *, source: str = "store",
                cv: int = 3, bases: Sequence[str] = DEFAULT_STACK, pipeline: str = "selected") -> TrainedModel:
    """Fit on 80 %, measure on the held-out 20 %, then refit on everything; manifest included."""
    if pipeline not in PIPELINES:
        raise ValueError(f"pipeline must be one of {', '.join(PIPELINES)}, got {pipeline!r}")
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}")
    labels = np.asarray([str(label) for label in labels])
    if len(np.unique(labels)) < 2:
        raise ValueError(f"{name}: need at least two distinct labels, got {len(np.unique(labels))}")
    weights = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=np.float64)
    frame = ticket_frame(signals)
    train_idx, test_idx = split_indices(labels)
    meta = [c for c in META_COLUMNS if frame[c].nunique() > 1]
    params = {"meta_columns": meta, "cv": cv, "bases": tuple(bases)}
    if pipeline == "selected":
        params.update(kind="selected", n_jobs=2)
    started = time.perf_counter()
    held_out = build_pipeline(**params)
    held_out.fit(frame.iloc[train_idx], labels[train_idx], classifier__sample_weight=weights[train_idx])
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    proba = held_out.predict_proba(frame.iloc[test_idx])
    predict_seconds = time.perf_counter() - started
    metrics = classification_metrics(labels[test_idx], proba, held_out.classes_,
                                     fit_seconds=fit_seconds, predict_seconds=predict_seconds)
    if meta:  # requests often arrive without node, client or channel: how the model does on text alone
        text_only = frame.iloc[test_idx].copy()
        text_only[meta] = MISSING
        predicted = held_out.classes_[held_out.predict_proba(text_only).argmax(axis=1)]
        metrics["accuracy_without_signals"] = float(np.mean(predicted == labels[test_idx]))
    thresholds = metrics.pop("thresholds")
    final = build_pipeline(**params)
    described = {"pipeline": f"stacked {'+'.join(bases)} on TF-IDF n-grams (+ one-hot signals); blend fitted on "
                             "their out-of-fold scores"}
    if pipeline == "selected":
        described = _selected_refit(held_out, final, labels[test_idx], proba)
    final.fit(frame, labels, classifier__sample_weight=weights)
    if pipeline == "selected":
        final_selection = final.named_steps["classifier"].selection_
        described["final_calibration"] = {key: final_selection[key]
                                          for key in ("folds", "rows", "calibration", "thresholds")}
        metrics["held_out_at_selected_threshold"] = described.pop("held_out_at_selected_threshold")
    manifest = {
        "model": name,
        "source": source,
        **described,
        "parameters": {**final.named_steps["classifier"].get_params(), "held_out": 0.2, "split_random_state": 0},
        "metrics": metrics,
        "thresholds": thresholds,
        "classes": [str(c) for c in final.classes_],
        "row_count": int(len(labels)),
        "corrections": int(np.sum(weights > 1.0)),
        "data_hash": data_hash(frame["text"].tolist(), labels.tolist()),
        "libraries": library_versions(),
        "created_at": datetime.now(UTC).isoformat(),
    }
    return TrainedModel(final, manifest)


def _selected_refit(held_out, final, y_test, proba) -> dict[str, Any]:
    """Set ``final`` to refit the winner chosen on the 80 %; what the manifest says of the selection."""
    selection = held_out.named_steps["classifier"].selection_
    # the refit on all rows keeps the winner chosen on the 80 % (its folds still calibrate it): a second
    # selection would double the fit time for a choice the held-out 20 % has not measured
    final.set_params(classifier__candidates=(selection["winner"],),
                     classifier__C_grid=(selection["C"],) if selection["C"] is not None else (0.3,))
    return {
        "pipeline": f"selected by cross-validation: {selection['winner']} (plain word+char TF-IDF LinearSVC, or "
                    f"the stack {'+'.join(final.named_steps['classifier'].bases)}); confidence calibrated on "
                    "out-of-fold scores",
        "selection": {**selection, "selected_on": "the 80 % training split (the held-out 20 % gives metrics)"},
        "held_out_at_selected_threshold": _at_training_threshold(held_out, y_test, proba,
                                                                 selection["thresholds"]["0.9"]["threshold"]),
    }


def _at_training_threshold(pipeline, y_true, proba, threshold) -> dict:
    """Precision and coverage reached on held-out rows at the 90 % threshold found on the training data."""
    from ml.selection import precision_at_threshold

    predicted = np.asarray(pipeline.classes_).astype(str)[np.argmax(proba, axis=1)]
    return {"target_precision": 0.9, **precision_at_threshold(proba.max(axis=1), predicted == np.asarray(y_true),
                                                             threshold)}


def evaluate_text_classifier(train_texts: Sequence[str], train_labels: Sequence[str],
                             test_texts: Sequence[str], test_labels: Sequence[str],
                             *, bases: Sequence[str] = DEFAULT_STACK, pipeline: str = "selected") -> dict[str, Any]:
    """Fit the production routing pipeline (text only) on train, measure on test (evaluate classify)."""
    import pandas as pd

    train_labels = np.asarray([str(label) for label in train_labels])
    test_labels = np.asarray([str(label) for label in test_labels])
    if len(np.unique(train_labels)) < 2:
        raise ValueError(f"the training labels have {len(np.unique(train_labels))} distinct value(s); need 2+")
    if pipeline not in PIPELINES:
        raise ValueError(f"pipeline must be one of {', '.join(PIPELINES)}, got {pipeline!r}")
    selected = pipeline == "selected"
    pipeline = build_pipeline(bases=bases, **({"kind": "selected", "n_jobs": 2} if selected else {}))
    started = time.perf_counter()
    pipeline.fit(pd.DataFrame({"text": list(train_texts)}), train_labels)
    fit_seconds = time.perf_counter() - started
    test_frame = pd.DataFrame({"text": list(test_texts)})
    started = time.perf_counter()
    proba = pipeline.predict_proba(test_frame)
    predict_seconds = time.perf_counter() - started
    metrics = classification_metrics(test_labels, proba, pipeline.classes_,
                                      fit_seconds=fit_seconds, predict_seconds=predict_seconds)
    thresholds = metrics.pop("thresholds")
    metrics["n_train"] = int(len(train_labels))
    metrics["n_classes"] = int(len(set(train_labels) | set(test_labels)))
    metrics["unseen_test_labels"] = sorted(set(test_labels) - set(train_labels))
    metrics["threshold_at_90_precision"] = thresholds["0.9"]["global"]
    if selected:
        selection = pipeline.named_steps["classifier"].selection_
        metrics["selection"] = selection
        metrics["at_training_threshold"] = _at_training_threshold(pipeline, test_labels, proba,
                                                                  selection["thresholds"]["0.9"]["threshold"])
    order = ["accuracy", "macro_f1", "weighted_f1", "n_train", "n_test", "n_classes", "fit_seconds",
             "predict_ms_per_item", "coverage_at_90_precision", "threshold_at_90_precision",
             "at_training_threshold", "selection", "unseen_test_labels", "per_class_f1"]
    return {key: metrics[key] for key in order if key in metrics}
