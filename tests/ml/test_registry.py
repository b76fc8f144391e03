"""Model registry: save, list, publish, reload on publication, refuse unknown formats and untrusted types."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.svm import LinearSVC

from ml import registry
from ml.classify import build_pipeline
from tests.ml.ticket_samples import make_tickets


@pytest.fixture(scope="module")
def fitted():
    texts, labels = make_tickets(per_class=15)
    return build_pipeline(cv=2).fit(pd.DataFrame({"text": texts}), labels)


def probe():
    return pd.DataFrame({"text": ["принтер не печатает", "нет интернета vpn"]})


def test_save_load_round_trip(tmp_path, fitted):
    saved = registry.save_model(tmp_path, "routing", fitted, {"metrics": {"accuracy": 0.9}}, version="v1")
    assert (saved.path / "model.skops").is_file()
    manifest = json.loads((saved.path / "manifest.json").read_text())
    assert manifest["format"] == "skops" and manifest["version"] == "v1" and manifest["created_at"]
    loaded, manifest = registry.load_model(tmp_path, "routing", "v1")
    np.testing.assert_allclose(loaded.predict_proba(probe()), fitted.predict_proba(probe()))
    assert manifest["metrics"]["accuracy"] == 0.9


def test_list_and_publish(tmp_path, fitted):
    registry.save_model(tmp_path, "routing", fitted, {}, version="v1")
    registry.save_model(tmp_path, "routing", fitted, {}, version="v2")
    assert [m.version for m in registry.list_models(tmp_path)] == ["v1", "v2"]
    assert registry.published_version(tmp_path, "routing") is None
    registry.publish(tmp_path, "routing", "v1")
    assert [m.published for m in registry.list_models(tmp_path, "routing")] == [True, False]
    with pytest.raises(registry.ModelError, match="not found"):
        registry.publish(tmp_path, "routing", "v9")
    with pytest.raises(registry.ModelError, match="already exists"):
        registry.save_model(tmp_path, "routing", fitted, {}, version="v1")
    with pytest.raises(registry.ModelError, match="bad model name"):
        registry.save_model(tmp_path, "../evil", fitted, {})


def test_published_models_reload_a_new_version_without_restart(tmp_path, fitted):
    texts, labels = make_tickets(per_class=15, seed=5)
    other = build_pipeline(cv=2).fit(pd.DataFrame({"text": texts}), [lab.upper() for lab in labels])
    registry.save_model(tmp_path, "routing", fitted, {}, version="v1")
    registry.save_model(tmp_path, "routing", other, {}, version="v2")
    cache = registry.PublishedModels(tmp_path)
    assert cache.get("routing") is None
    registry.publish(tmp_path, "routing", "v1")
    first, manifest = cache.get("routing")
    assert manifest["version"] == "v1" and cache.get("routing")[0] is first  # cached, not reloaded
    registry.publish(tmp_path, "routing", "v2")
    pointer = tmp_path / "routing" / registry.POINTER_FILE
    stamp = pointer.stat().st_mtime_ns + 1_000_000  # coarse file systems: make the change visible
    os.utime(pointer, ns=(stamp, stamp))
    second, manifest = cache.get("routing")
    assert manifest["version"] == "v2" and "MAIL" in second.classes_


def test_unknown_format_is_refused(tmp_path, fitted):
    saved = registry.save_model(tmp_path, "routing", fitted, {}, version="v1")
    manifest = json.loads((saved.path / "manifest.json").read_text())
    manifest["format"] = "pickle"
    (saved.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(registry.UnsafeModelError, match="unknown artefact format"):
        registry.load_model(tmp_path, "routing", "v1")


def test_a_pickle_swapped_in_is_refused(tmp_path, fitted):
    saved = registry.save_model(tmp_path, "routing", fitted, {}, version="v1")
    (saved.path / "model.skops").write_bytes(pickle.dumps(fitted))
    with pytest.raises(registry.UnsafeModelError, match="not a skops file"):
        registry.load_model(tmp_path, "routing", "v1")


class NotTrusted(LinearSVC):
    """A type that is not on the trusted list."""


def test_untrusted_types_are_refused(tmp_path):
    texts, labels = make_tickets(per_class=5)
    model = NotTrusted().fit(np.random.default_rng(0).random((len(labels), 3)), labels)
    registry.save_model(tmp_path, "routing", model, {}, version="v1")
    with pytest.raises(registry.UnsafeModelError, match="untrusted types"):
        registry.load_model(tmp_path, "routing", "v1")
    with pytest.raises(registry.UnsafeModelError):
        registry.publish(tmp_path, "routing", "v1")
    assert registry.published_version(tmp_path, "routing") is None
