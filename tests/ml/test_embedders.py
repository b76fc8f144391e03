"""Both embedder backends load offline and embed; the cache keys on (model, text hash)."""

from __future__ import annotations

import numpy as np
import pytest

from ml.embedders import (
    CachedEmbedder,
    EmbedderError,
    UniversalSentenceEncoder,
    make_embedder,
    normalise_rows,
)

TEXTS = ["Не печатает принтер в бухгалтерии", "Принтер перестал печатать документы", "Как начислить отпускные в 1С"]


@pytest.mark.parametrize("fixture", ["use_model", "minilm_model"])
def test_backend_embeds_unit_vectors_offline(request, fixture):
    model = request.getfixturevalue(fixture)
    vectors = model.encode(TEXTS)
    assert vectors.shape == (3, model.dimension) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert model.encode([]).shape == (0, model.dimension)


def test_multilingual_encoder_puts_paraphrases_closer_than_other_topics(use_model):
    vectors = use_model.encode(TEXTS)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.1


def test_sentence_transformers_reads_the_installed_model(minilm_model):
    english = minilm_model.encode(["printer does not print", "the printer stopped printing", "payroll holiday pay"])
    assert english[0] @ english[1] > english[0] @ english[2]
    assert minilm_model.dimension == 384 and minilm_model.name == "all-MiniLM-L6-v2"


def test_hub_is_forced_offline(minilm_model):
    import os

    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_unknown_embedder_is_refused():
    with pytest.raises(EmbedderError, match="unknown embedder 'no-such-model'"):
        make_embedder("no-such-model")


def test_directory_without_model_is_refused(tmp_path):
    model = make_embedder(str(tmp_path))
    with pytest.raises(EmbedderError, match="no sentence-transformers model"):
        model.encode(["x"])


def test_cache_embeds_each_text_once_across_instances(use_model, tmp_path):
    cached = CachedEmbedder(use_model, tmp_path)
    first = cached.encode(TEXTS + [TEXTS[0]])
    assert cached.misses == 3
    np.testing.assert_allclose(first[0], first[3])
    again = cached.encode(TEXTS)
    assert cached.misses == 3
    np.testing.assert_allclose(again, first[:3], atol=1e-6)
    cached.close()
    reopened = CachedEmbedder(use_model, tmp_path)
    np.testing.assert_allclose(reopened.encode(TEXTS[::-1]), first[:3][::-1], atol=1e-6)
    assert reopened.misses == 0
    reopened.encode(["новый текст"])
    assert reopened.misses == 1


def test_cache_is_separate_per_model(use_model, minilm_model, tmp_path):
    a, b = CachedEmbedder(use_model, tmp_path), CachedEmbedder(minilm_model, tmp_path)
    assert a.path != b.path
    assert a.encode(["тест"]).shape[1] == 512 and b.encode(["тест"]).shape[1] == 384
    assert b.misses == 1


def test_normalise_rows_keeps_zero_rows_and_rejects_1d():
    out = normalise_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    with pytest.raises(ValueError):
        normalise_rows(np.array([1.0, 2.0]))


def test_bulk_batches_are_split_over_threads_and_embed_the_same(use_model):
    texts = [f"Не печатает принтер в бухгалтерии, заявка {i}" for i in range(2 * UniversalSentenceEncoder.CHUNK + 5)]
    bulk = use_model.encode(texts)
    assert bulk.shape == (len(texts), 512)
    for i in (0, UniversalSentenceEncoder.CHUNK, len(texts) - 1):  # first, second and last chunk
        np.testing.assert_allclose(bulk[i], use_model.encode([texts[i]])[0], atol=1e-5)
