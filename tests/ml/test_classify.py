"""The production classifier: scikit-learn conventions, calibrated probabilities, rare classes, thresholds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.svm import LinearSVC

from ml.classify import (
    CalibratedLinearClassifier,
    build_pipeline,
    coverage_at_precision,
    precision_coverage_curve,
    threshold_for_precision,
    ticket_frame,
)
from tests.ml.ticket_samples import make_tickets


def frame(texts):
    return pd.DataFrame({"text": texts})


def test_init_does_no_work_and_clone_keeps_params():
    model = CalibratedLinearClassifier(LinearSVC(C=0.5), cv=4, bias_l2=2.0, random_state=3)
    assert not hasattr(model, "classes_") and not hasattr(model, "estimator_")
    copy = clone(model)
    assert copy.get_params()["cv"] == 4 and copy.get_params()["base_estimator__C"] == 0.5


def test_pipeline_learns_and_probabilities_are_distributions():
    texts, labels = make_tickets(per_class=40, seed=0)
    test_texts, test_labels = make_tickets(per_class=15, seed=1)
    model = build_pipeline().fit(frame(texts), labels)
    proba = model.predict_proba(frame(test_texts))
    assert proba.shape == (len(test_texts), 4)
    assert np.all(proba >= 0) and np.all(proba <= 1)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    accuracy = np.mean(model.predict(frame(test_texts)) == np.array(test_labels))
    assert accuracy > 0.8
    assert list(model.classes_) == sorted(set(labels))


def test_calibration_is_better_than_raw_softmax():
    """Log loss of calibrated probabilities beats the uncalibrated softmax of the SVM scores."""
    texts, labels = make_tickets(per_class=50, seed=2)
    test_texts, test_labels = make_tickets(per_class=25, seed=3)
    model = build_pipeline(kind="linear").fit(frame(texts), labels)
    proba = model.predict_proba(frame(test_texts))
    codes = np.searchsorted(model.classes_, test_labels)
    scores = model.decision_function(frame(test_texts))
    raw = np.exp(scores - scores.max(axis=1, keepdims=True))
    raw /= raw.sum(axis=1, keepdims=True)
    rows = np.arange(len(codes))
    calibrated_loss = -np.mean(np.log(proba[rows, codes] + 1e-12))
    raw_loss = -np.mean(np.log(raw[rows, codes] + 1e-12))
    assert calibrated_loss < raw_loss


def test_a_class_with_one_example_does_not_crash_and_has_a_column():
    texts, labels = make_tickets(per_class=20)
    texts.append("камера видеонаблюдения не пишет")
    labels.append("cabling")
    model = build_pipeline().fit(frame(texts), labels)
    assert "cabling" in model.classes_
    assert model.predict_proba(frame(["камера видеонаблюдения не пишет"])).shape == (1, 5)


@pytest.mark.parametrize("kind", ["stacked", "linear"])
def test_sample_weight_is_used(kind):
    """Weighting one class up raises its average probability on held-out tickets."""
    texts, labels = make_tickets(per_class=20)
    held_out = frame(make_tickets(per_class=20, seed=9)[0])
    weights = np.ones(len(labels))
    plain = build_pipeline(kind=kind).fit(frame(texts), labels)
    weights[np.array(labels) == "mail"] = 20.0
    heavy = build_pipeline(kind=kind).fit(frame(texts), labels, classifier__sample_weight=weights)
    mail = list(plain.classes_).index("mail")
    assert heavy.predict_proba(held_out)[:, mail].mean() > plain.predict_proba(held_out)[:, mail].mean()


def test_single_class_is_refused():
    with pytest.raises(ValueError, match="two classes"):
        texts, _ = make_tickets(per_class=5)
        build_pipeline().fit(frame(texts), ["x"] * len(texts))


def test_structured_signals_are_features():
    texts, labels = make_tickets(per_class=20)
    rows = [{"subject": t, "channel": "monitoring" if g == "network" else "email"} for t, g in zip(texts, labels, strict=True)]
    model = build_pipeline(meta_columns=["channel"]).fit(ticket_frame(rows), labels)
    neutral = ticket_frame([{"subject": "спасибо hello", "channel": "monitoring"}])
    assert model.predict(neutral)[0] == "network"


# --- thresholds ------------------------------------------------------------------------------


def test_curve_on_a_worked_example():
    confidence = [0.9, 0.8, 0.7, 0.6]
    correct = [True, True, False, True]
    thresholds, precision, coverage = precision_coverage_curve(confidence, correct)
    np.testing.assert_allclose(thresholds, [0.9, 0.8, 0.7, 0.6])
    np.testing.assert_allclose(precision, [1, 1, 2 / 3, 3 / 4])
    np.testing.assert_allclose(coverage, [0.25, 0.5, 0.75, 1.0])
    assert threshold_for_precision(confidence, correct, 0.9) == 0.8
    assert coverage_at_precision(confidence, correct, 0.9) == 0.5
    assert coverage_at_precision(confidence, correct, 0.7) == 1.0
    assert threshold_for_precision([0.5, 0.4], [False, False], 0.9) is None
    assert coverage_at_precision([0.5, 0.4], [False, False], 0.9) == 0.0


def test_ties_are_never_split():
    thresholds, precision, coverage = precision_coverage_curve([0.7, 0.7, 0.5], [True, False, True])
    np.testing.assert_allclose(thresholds, [0.7, 0.5])
    np.testing.assert_allclose(coverage, [2 / 3, 1.0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=50),
       st.floats(0.5, 1.0))
def test_threshold_meets_the_target_precision(pairs, target):
    confidence = np.array([c for c, _ in pairs])
    correct = np.array([k for _, k in pairs])
    threshold = threshold_for_precision(confidence, correct, target)
    coverage = coverage_at_precision(confidence, correct, target)
    assert 0.0 <= coverage <= 1.0
    if threshold is None:
        assert coverage == 0.0
    else:
        routed = confidence >= threshold
        assert correct[routed].mean() >= target - 1e-12
        assert routed.mean() == pytest.approx(coverage)


def test_temperature_and_bias_are_recovered():
    """Labels drawn from softmax(scores / 2 + b) give back T close to 2 and b close to the true bias."""
    from ml.classify import _fit_temperature_bias

    rng = np.random.default_rng(0)
    scores = rng.normal(0, 3, size=(6000, 3))
    bias = np.array([0.5, 0.0, -0.5])
    z = scores / 2.0 + bias
    proba = np.exp(z - z.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    codes = np.array([rng.choice(3, p=row) for row in proba])
    temperature, fitted_bias = _fit_temperature_bias(scores, codes, bias_l2=0.0)
    assert temperature == pytest.approx(2.0, rel=0.1)
    np.testing.assert_allclose(fitted_bias - fitted_bias.mean(), bias - bias.mean(), atol=0.15)


# --- stacked classifier ------------------------------------------------------------------------


def test_stacked_follows_conventions_and_learns():
    from ml.classify import StackedTicketClassifier

    model = StackedTicketClassifier(cv=3, word_C=0.7)
    assert not hasattr(model, "classes_")
    assert clone(model).get_params()["word_C"] == 0.7
    texts, labels = make_tickets(per_class=40, seed=0)
    test_texts, test_labels = make_tickets(per_class=15, seed=1)
    model.fit(frame(texts), labels)
    proba = model.predict_proba(frame(test_texts))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert np.all((proba >= 0) & (proba <= 1))
    assert np.mean(model.predict(frame(test_texts)) == np.array(test_labels)) > 0.8


def test_stacked_rare_class_does_not_take_over():
    """A class with one example is learnt but does not become the answer for neutral text."""
    from ml.classify import StackedTicketClassifier

    texts, labels = make_tickets(per_class=30)
    texts.append("камера видеонаблюдения не пишет")
    labels.append("cabling")
    model = StackedTicketClassifier().fit(frame(texts), labels)
    assert "cabling" in model.classes_
    neutral = make_tickets(per_class=10, seed=7)[0]
    assert np.mean(model.predict(frame(neutral)) == "cabling") < 0.1


def test_stacked_refuses_unknown_bases():
    from ml.classify import StackedTicketClassifier

    texts, labels = make_tickets(per_class=10)
    with pytest.raises(ValueError, match="unknown stack bases"):
        StackedTicketClassifier(bases=("word_svm", "gpt")).fit(frame(texts), labels)


@pytest.mark.parametrize("kind", ["stacked", "linear"])
def test_confidence_matches_accuracy_on_held_out_data(kind):
    """Calibration in the sense that matters for the threshold: mean confidence is close to accuracy."""
    texts, labels = make_tickets(per_class=60, seed=4)
    test_texts, test_labels = make_tickets(per_class=40, seed=5)
    model = build_pipeline(kind=kind).fit(frame(texts), labels)
    proba = model.predict_proba(frame(test_texts))
    accuracy = np.mean(model.classes_[proba.argmax(axis=1)] == np.array(test_labels))
    assert abs(proba.max(axis=1).mean() - accuracy) < 0.1


def test_unknown_pipeline_kind():
    with pytest.raises(ValueError, match="unknown pipeline kind"):
        build_pipeline(kind="bert")


@pytest.mark.parametrize("blend", ["shared", "full"])
def test_both_blends_give_distributions(blend):
    from ml.classify import StackedTicketClassifier

    texts, labels = make_tickets(per_class=30)
    model = StackedTicketClassifier(blend=blend).fit(frame(texts), labels)
    assert model.blend_ == blend
    proba = model.predict_proba(frame(make_tickets(per_class=5, seed=3)[0]))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


def test_auto_blend_is_shared_on_small_data():
    from ml.classify import StackedTicketClassifier

    texts, labels = make_tickets(per_class=30)
    assert StackedTicketClassifier().fit(frame(texts), labels).blend_ == "shared"


def test_without_a_prior_grid_the_blend_is_uncorrected_and_predict_follows_proba():
    from ml.classify import StackedTicketClassifier

    texts, labels = make_tickets(per_class=30)
    model = StackedTicketClassifier(prior_grid=()).fit(frame(texts), labels)
    assert model.prior_correction_ == 0.0
    test_texts = frame(make_tickets(per_class=5, seed=3)[0])
    proba = model.predict_proba(test_texts)
    np.testing.assert_array_equal(model.predict(test_texts), model.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(np.log(proba) - np.log(proba).mean(axis=1, keepdims=True),
                               model.decision_function(test_texts)
                               - model.decision_function(test_texts).mean(axis=1, keepdims=True), atol=1e-8)


ENDAVA = Path(__file__).resolve().parents[3] / "shared" / "data" / "endava_tickets_subset.csv.gz"


@pytest.mark.skipif(not ENDAVA.exists(), reason=f"real data set not found at {ENDAVA}")
def test_prior_correction_names_rare_classes_on_real_tickets():
    """Endava categories (9 classes, 4 with under 1 % of the rows): the uncorrected blend almost never
    names a rare class; the correction chosen out-of-fold raises macro-F1 at a small cost in accuracy.

    The strength is chosen on the base learners' own folds, held-out rows only (tau 0.125 here: test
    macro-F1 0.501 against 0.478; the earlier choice on a second 3-fold split of in-sample and
    out-of-fold scores took 0.375, 0.611 on this split, its gain driven by two test rows of one class)."""
    from sklearn.metrics import f1_score

    from ml.classify import StackedTicketClassifier
    from ml.training import split_indices

    data = pd.read_csv(ENDAVA)
    texts = (data["title"].fillna("") + " " + data["body"].fillna("")).tolist()
    labels = data["category"].astype(str).to_numpy()
    train, test = split_indices(labels.tolist())
    results = {}
    for name, grid in (("plain", ()), ("corrected", (0.125, 0.25, 0.375, 0.5))):
        model = StackedTicketClassifier(prior_grid=grid).fit(frame([texts[i] for i in train]), labels[train])
        predicted = model.predict(frame([texts[i] for i in test]))
        results[name] = (np.mean(predicted == labels[test]),
                         f1_score(labels[test], predicted, average="macro", zero_division=0), model)
    assert results["corrected"][2].prior_correction_ > 0
    assert results["corrected"][1] >= results["plain"][1] + 0.02
    assert results["corrected"][0] >= results["plain"][0] - 0.03


def test_signal_dropout_teaches_the_model_to_read_text_when_signals_are_missing():
    """In training every ticket had a node kind that gives its group away; at intake it is often unknown.
    Without dropout the model leans on the signal; with 30 % of rows stripped it reads the text too."""
    from ml.classify import MISSING, StackedTicketClassifier

    texts, labels = make_tickets(per_class=60, seed=0)
    test_texts, test_labels = make_tickets(per_class=20, seed=1)
    train = pd.DataFrame({"text": texts, "node_kind": [f"kind-{label}" for label in labels]})
    before = train.copy()
    text_only = pd.DataFrame({"text": test_texts, "node_kind": MISSING})
    accuracy = {}
    for dropout in (0.0, 0.3):
        model = StackedTicketClassifier(meta_columns=("node_kind",), signal_dropout=dropout).fit(train, labels)
        accuracy[dropout] = np.mean(model.predict(text_only) == np.array(test_labels))
    pd.testing.assert_frame_equal(train, before)  # the caller's frame is not modified
    assert accuracy[0.3] >= 0.8 and accuracy[0.3] > accuracy[0.0] + 0.02
