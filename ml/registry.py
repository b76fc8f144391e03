"""Versioned model artefacts: ``<models_dir>/<name>/<version>/{model.skops, manifest.json}``.

A model is written with skops and read back only after checking that every type in the file is
on an explicit trusted list (never plain pickle: a swapped file cannot run code on load).
``<models_dir>/<name>/published.json`` names the version the service uses; :class:`PublishedModels`
re-reads that pointer's mtime on each request (one ``stat``) and reloads a newly published version.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ARTEFACT_FORMAT = "skops"
ARTEFACT_FILE = "model.skops"
MANIFEST_FILE = "manifest.json"
POINTER_FILE = "published.json"
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$")

#: Types a model file may contain beyond what skops trusts by default.  Anything else is refused.
TRUSTED_TYPES = (
    "ml.classify.CalibratedLinearClassifier",
    "ml.classify.StackedTicketClassifier",
    "ml.selection.SelectedTicketClassifier",
    "ml.selection.WordCharLinearSVC",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.feature_extraction.text.CountVectorizer",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.svm._classes.LinearSVC",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._stochastic_gradient.SGDClassifier",
    "sklearn.linear_model._ridge.RidgeClassifier",
    "sklearn.naive_bayes.ComplementNB",
    "sklearn.pipeline.Pipeline",
    "sklearn.utils._bunch.Bunch",
    "builtins.slice",
    "numpy.float64",
    "numpy.int64",
    "numpy.dtype",
    "numpy.dtypes.Float64DType",
    "numpy.dtypes.Int64DType",
    "numpy.dtypes.ObjectDType",
    "scipy.sparse._csr.csr_matrix",
    "scipy.sparse._csr.csr_array",
)


class ModelError(Exception):
    """A model cannot be saved, found, published or loaded; the message says why."""


class UnsafeModelError(ModelError):
    """A model file holds a type outside the trusted list, or is not in the known format."""


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    path: Path
    manifest: dict[str, Any]
    published: bool


def _check_name(name: str) -> str:
    if not _NAME_RE.match(name or ""):
        raise ModelError(f"bad model name {name!r}: lower-case letters, digits, '-' or '_'")
    return name


def _check_version(version: str) -> str:
    if not _VERSION_RE.match(version or ""):
        raise ModelError(f"bad model version {version!r}")
    return version


def _write_json_atomically(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def new_version(now: datetime | None = None) -> str:
    """A sortable version label from the current UTC time, e.g. ``20261122T213000Z``."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")


def save_model(models_dir: Path, name: str, estimator: Any, manifest: dict[str, Any],
               *, version: str | None = None) -> ModelVersion:
    """Write ``estimator`` (skops) and its manifest as a new version; returns it (not published)."""
    import skops.io

    _check_name(name)
    version = _check_version(version or new_version())
    target = Path(models_dir) / name / version
    if target.exists():
        raise ModelError(f"model {name} version {version} already exists")
    target.mkdir(parents=True)
    skops.io.dump(estimator, target / ARTEFACT_FILE)
    full = dict(manifest)
    full.update(name=name, version=version, format=ARTEFACT_FORMAT, file=ARTEFACT_FILE)
    full.setdefault("created_at", datetime.now(UTC).isoformat())
    _write_json_atomically(target / MANIFEST_FILE, full)
    return ModelVersion(name, version, target, full, published=False)


def published_version(models_dir: Path, name: str) -> str | None:
    """The published version of ``name``, or None."""
    pointer = Path(models_dir) / _check_name(name) / POINTER_FILE
    try:
        return json.loads(pointer.read_text(encoding="utf-8"))["version"]
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{pointer}: unreadable publication pointer ({exc})") from None


def read_manifest(models_dir: Path, name: str, version: str) -> dict[str, Any]:
    """The manifest of one version, checked to be of the known artefact format."""
    path = Path(models_dir) / _check_name(name) / _check_version(version)
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"model {name} version {version} not found under {models_dir}") from None
    except ValueError as exc:
        raise ModelError(f"{path / MANIFEST_FILE}: not valid JSON ({exc})") from None
    if manifest.get("format") != ARTEFACT_FORMAT or manifest.get("file") != ARTEFACT_FILE:
        raise UnsafeModelError(
            f"model {name} version {version}: unknown artefact format {manifest.get('format')!r} "
            f"(only {ARTEFACT_FORMAT!r} files named {ARTEFACT_FILE} are loaded)")
    return manifest


def list_models(models_dir: Path, name: str | None = None) -> list[ModelVersion]:
    """Every saved version (of one model, or all), oldest first per model."""
    root = Path(models_dir)
    names = [name] if name else sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []
    out = []
    for model_name in names:
        folder = root / _check_name(model_name)
        if not folder.is_dir():
            continue
        current = published_version(root, model_name)
        for version_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            try:
                manifest = json.loads((version_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
            except (FileNotFoundError, ValueError):
                continue
            out.append(ModelVersion(model_name, version_dir.name, version_dir, manifest,
                                    published=version_dir.name == current))
    return out


def load_model(models_dir: Path, name: str, version: str) -> tuple[Any, dict[str, Any]]:
    """(estimator, manifest) of one version, refusing unknown formats and untrusted types."""
    import skops.io

    manifest = read_manifest(models_dir, name, version)
    artefact = Path(models_dir) / name / version / ARTEFACT_FILE
    if not artefact.is_file():
        raise ModelError(f"model {name} version {version}: {ARTEFACT_FILE} is missing")
    try:
        untrusted = skops.io.get_untrusted_types(file=artefact)
    except Exception as exc:  # a file that is not a skops archive at all
        raise UnsafeModelError(f"model {name} version {version}: not a skops file ({exc})") from None
    refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if refused:
        raise UnsafeModelError(
            f"model {name} version {version} contains untrusted types: {', '.join(refused)}")
    estimator = skops.io.load(artefact, trusted=list(untrusted))
    return estimator, manifest


def publish(models_dir: Path, name: str, version: str) -> ModelVersion:
    """Make ``version`` the one the service uses (after checking that it loads)."""
    _, manifest = load_model(models_dir, name, version)
    folder = Path(models_dir) / name
    _write_json_atomically(folder / POINTER_FILE, {
        "version": version, "published_at": datetime.now(UTC).isoformat()})
    return ModelVersion(name, version, folder / version, manifest, published=True)


class PublishedModels:
    """The published version of each model, reloaded when its pointer file changes.

    ``get(name)`` costs one ``stat`` per call when nothing changed, so it is called per request.
    """

    def __init__(self, models_dir: Path):
        self.models_dir = Path(models_dir)
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, str, Any, dict]] = {}

    def get(self, name: str) -> tuple[Any, dict[str, Any]] | None:
        """(estimator, manifest) of the published version of ``name``, or None if none is published."""
        pointer = self.models_dir / _check_name(name) / POINTER_FILE
        try:
            stamp = pointer.stat().st_mtime_ns
        except FileNotFoundError:
            self._cache.pop(name, None)
            return None
        cached = self._cache.get(name)
        if cached and cached[0] == stamp:
            return cached[2], cached[3]
        with self._lock:
            cached = self._cache.get(name)
            if cached and cached[0] == stamp:
                return cached[2], cached[3]
            version = published_version(self.models_dir, name)
            if version is None:
                return None
            if cached and cached[1] == version:
                estimator, manifest = cached[2], cached[3]
            else:
                estimator, manifest = load_model(self.models_dir, name, version)
            self._cache[name] = (stamp, version, estimator, manifest)
            return estimator, manifest
