"""FAISS index: exact and HNSW, incremental add/replace/remove, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from ml.embedders import normalise_rows
from ml.index import EXACT, HNSW, VectorIndex


def _vectors(n, dim=16, seed=0):
    return normalise_rows(np.random.default_rng(seed).normal(size=(n, dim)))


@pytest.mark.parametrize("threshold, kind", [(1000, EXACT), (10, HNSW)])
def test_build_search_finds_each_vector_itself(threshold, kind):
    vectors = _vectors(60)
    ids = np.arange(100, 160)
    index = VectorIndex(16, hnsw_threshold=threshold).build(ids, vectors)
    assert index.kind == kind and len(index) == 60
    found, scores = index.search(vectors[:5], 3)
    assert found[:, 0].tolist() == ids[:5].tolist()
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)


@pytest.mark.parametrize("threshold", [1000, 10])
def test_add_replace_remove(threshold):
    vectors = _vectors(30)
    index = VectorIndex(16, hnsw_threshold=threshold).build(np.arange(30), vectors)
    extra = _vectors(2, seed=1)
    index.add([500, 501], extra)
    assert index.search(extra[:1], 1)[0][0, 0] == 500
    index.remove([500, 3])
    found = index.search(np.vstack([extra[0], vectors[3]]), 5)[0]
    assert 500 not in found and 3 not in found
    # Re-adding a removed id with a new vector is found under that id, once.
    index.add([3], extra[1:2])
    found, _ = index.search(extra[1:2], 5)
    assert found[0, 0] in (3, 501) and found[0].tolist().count(3) == 1
    assert len(index) == 31
    # Replacing an existing id keeps one row for it.
    index.add([7], vectors[8:9])
    found, _ = index.search(vectors[8:9], 3)
    assert sorted(found[0, :2].tolist()) == [7, 8] and len(index) == 31


def test_growing_exact_index_switches_to_hnsw():
    index = VectorIndex(16, hnsw_threshold=20).build(np.arange(15), _vectors(15))
    assert index.kind == EXACT
    index.add(np.arange(15, 25), _vectors(10, seed=2))
    assert index.kind == HNSW and len(index) == 25


@pytest.mark.parametrize("threshold", [1000, 10])
def test_save_and_load_roundtrip_keeps_removals(tmp_path, threshold):
    vectors = _vectors(40)
    index = VectorIndex(16, hnsw_threshold=threshold).build(np.arange(40), vectors)
    index.remove([0])
    index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss", hnsw_threshold=threshold)
    assert loaded.kind == index.kind and len(loaded) == 39 and 0 not in loaded
    np.testing.assert_array_equal(loaded.search(vectors[1:4], 2)[0], index.search(vectors[1:4], 2)[0])


def test_search_pads_when_fewer_than_k_and_rejects_bad_input():
    index = VectorIndex(16).build(np.arange(2), _vectors(2))
    ids, scores = index.search(_vectors(1), 5)
    assert ids.shape == (1, 5) and (ids[0, 2:] == -1).all() and (scores[0, 2:] == 0).all()
    with pytest.raises(ValueError, match="dimension 16"):
        index.add([9], np.zeros((1, 8), np.float32))
    with pytest.raises(ValueError, match="duplicate"):
        index.add([9, 9], _vectors(2))
    assert VectorIndex(16).search(_vectors(1), 3)[0].tolist() == [[-1, -1, -1]]


def test_hnsw_rebuilds_itself_when_tombstones_pile_up():
    vectors = _vectors(40)
    index = VectorIndex(16, hnsw_threshold=10).build(np.arange(40), vectors)
    index.remove(range(8))
    assert index.kind == HNSW and index.tombstone_share == pytest.approx(8 / 40)
    index.remove(range(8, 12))
    assert index.tombstone_share == 0.0 and len(index) == 28
    found, _ = index.search(vectors[12:13], 3)
    assert found[0, 0] == 12 and not set(found[0].tolist()) & set(range(12))
