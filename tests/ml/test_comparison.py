"""Like-with-like comparison of triage recipes and the publish rule of the retraining notebook."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone

from ml.classify import build_pipeline
from ml.comparison import holdout_comparison, publish_decision, reliability_table, stratified_sample
from ml.training import split_indices
from tests.ml.ticket_samples import make_tickets


def test_recipes_are_fitted_and_scored_on_one_split():
    texts, labels = make_tickets(per_class=25)
    signals = [{"subject": t} for t in texts]
    recipe = build_pipeline()
    results = holdout_comparison({"a": clone(recipe), "b": clone(recipe)}, signals, labels, random_state=1)
    _, test = split_indices(labels, random_state=1)
    assert list(results["a"].y_true) == [labels[i] for i in test] == list(results["b"].y_true)
    assert results["a"].metrics["accuracy"] == results["b"].metrics["accuracy"]
    assert results["a"].metrics["n_test"] == len(test)
    with pytest.raises(ValueError, match="at least one recipe"):
        holdout_comparison({}, signals, labels)


@pytest.mark.parametrize(("candidate", "published", "gain", "loss", "expected"), [
    ({"macro_f1": 0.80, "accuracy": 0.85}, None, 0.0, 0.005, True),
    ({"macro_f1": 0.80, "accuracy": 0.85}, {"macro_f1": 0.80, "accuracy": 0.85}, 0.0, 0.005, True),
    ({"macro_f1": 0.79, "accuracy": 0.90}, {"macro_f1": 0.80, "accuracy": 0.85}, 0.0, 0.005, False),
    ({"macro_f1": 0.81, "accuracy": 0.85}, {"macro_f1": 0.80, "accuracy": 0.85}, 0.02, 0.005, False),
    ({"macro_f1": 0.83, "accuracy": 0.85}, {"macro_f1": 0.80, "accuracy": 0.85}, 0.02, 0.005, True),
    ({"macro_f1": 0.85, "accuracy": 0.84}, {"macro_f1": 0.80, "accuracy": 0.85}, 0.0, 0.005, False),
    ({"macro_f1": 0.85, "accuracy": 0.846}, {"macro_f1": 0.80, "accuracy": 0.85}, 0.0, 0.005, True),
])
def test_publish_rule(candidate, published, gain, loss, expected):
    ok, reason = publish_decision(candidate, published, min_macro_f1_gain=gain, max_accuracy_loss=loss)
    assert ok is expected and reason


@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=200), st.integers(1, 20))
def test_reliability_bins_partition_the_predictions(pairs, bins):
    confidence, correct = zip(*pairs, strict=True)
    table = reliability_table(confidence, correct, bins=bins)
    assert len(table) == bins and sum(row["count"] for row in table) == len(pairs)
    for row in table:
        if row["count"]:
            assert row["low"] - 1e-3 <= row["mean_confidence"] <= row["high"] + 1e-3  # bounds shown to 3 places
            assert 0 <= row["accuracy"] <= 1


def test_stratified_sample_keeps_every_label():
    signals = list(range(100))
    labels = ["a"] * 90 + ["b"] * 9 + ["c"]
    picked, picked_labels, weights = stratified_sample(signals, labels, None, 20, random_state=0)
    assert sorted(set(picked_labels)) == ["a", "b", "c"] and len(picked) == len(picked_labels) == len(weights)
    assert all(labels[s] == label for s, label in zip(picked, picked_labels, strict=True))
    assert picked_labels.count("a") == 18
    assert stratified_sample(signals, labels, None, None)[0] == signals
    with pytest.raises(ValueError, match="at least 1"):
        stratified_sample(signals, labels, None, 0)
    assert np.all(np.diff(picked) > 0)
