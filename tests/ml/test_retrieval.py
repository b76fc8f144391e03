"""Hybrid retrieval: fusion arithmetic, filters, boosts, incremental updates, persistence and its manifest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ml.retrieval import Document, FusionConfig, HybridRetriever, IndexMismatchError, fuse
from ml.retrieval_evaluation import (
    EvaluationInputError,
    evaluate_retrieval,
    parse_relevant,
    retrieval_metrics,
)

NOW = datetime(2026, 11, 1, tzinfo=UTC)
DOCS = [
    Document(1, "Не печатает принтер", "Очистили очередь печати и перезапустили диспетчер печати", client_id=10,
             node_kinds=("printer",), at=NOW - timedelta(days=400)),
    Document(2, "Принтер не печатает документы", "Заменили картридж", client_id=20, node_kinds=("printer",),
             at=NOW - timedelta(days=5)),
    Document(3, "1С не запускается", "Ошибка СУБД: перезапустили службу сервера 1С", client_id=10,
             node_kinds=("1c_base",), at=NOW),
    Document(4, "VPN не подключается", "Обновили сертификат на шлюзе", client_id=20,
             node_kinds=("vpn_gateway",), at=NOW),
    Document(5, "Outlook не получает почту", "Ящик переполнен, увеличили квоту", client_id=10,
             node_kinds=("mail",), resolved=False, at=NOW),
]


def arrays(refs, scores):
    return np.asarray(refs, np.int64), np.asarray(scores, np.float32)


def test_rrf_fusion_is_the_weighted_sum_of_reciprocal_ranks():
    config = FusionConfig(method="rrf", weights={"title": 2.0, "lexical": 1.0}, rrf_k=10)
    fused = fuse({"title": arrays([7, 8], [0.9, 0.5]), "lexical": arrays([8, 9], [3.0, 1.0]),
                  "document": arrays([9], [0.9])}, config)
    assert fused[7][0] == pytest.approx(2 / 11)
    assert fused[8][0] == pytest.approx(2 / 12 + 1 / 11)
    assert fused[9][0] == pytest.approx(1 / 12)  # the document signal has weight 0
    assert fused[8][1] == {"title": 2, "lexical": 1}


def test_weighted_fusion_normalises_each_signal_by_its_best_score():
    config = FusionConfig(method="weighted", weights={"title": 1.0, "lexical": 1.0})
    fused = fuse({"title": arrays([7, 8], [0.8, 0.4]), "lexical": arrays([8], [5.0])}, config)
    assert fused[7][0] == pytest.approx(1.0 + 1.0)  # lexical's floor is its lowest pooled score, 1.0 here
    assert fused[8][0] == pytest.approx(0.5 + 1.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "max"}, "unknown fusion method"),
    ({"weights": {"colour": 1.0}}, "unknown signals"),
    ({"weights": {"title": 0.0}}, "at least one positive"),
    ({"pool": 0}, "pool"),
])
def test_bad_fusion_configuration_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FusionConfig(**kwargs)


@pytest.fixture(scope="module")
def retriever(use_model):
    return HybridRetriever(use_model, FusionConfig(weights={"title": 1, "document": 1, "lexical": 1, "char": 0.5}),
                           ).fit(DOCS)


def test_search_finds_paraphrases_first(retriever):
    hits = retriever.search("принтер перестал печатать", 2)
    assert {h.ref for h in hits} == {1, 2}
    assert retriever.search("   ", 3) == []
    assert set(retriever.search("ошибка при запуске 1С", 1)[0].ranks) >= {"title", "document", "lexical"}


def test_filters_and_boosts(retriever):
    query = "принтер не печатает"
    assert all(h.ref != 5 for h in retriever.search("почта outlook", 5, resolved_only=True))
    only = retriever.search(query, 5, client_id=20, only_client=True)
    assert {h.ref for h in only} <= {2, 4}
    assert [h.ref for h in retriever.search(query, 5, exclude=[1, 2])][:1] != [1]
    plain = {h.ref: h.score for h in retriever.search(query, 5)}
    boosted = {h.ref: h for h in retriever.search(query, 5, client_id=10, node_kinds=["printer"])}
    assert boosted[1].same_client and boosted[1].same_node_kind
    assert boosted[1].score == pytest.approx(plain[1] * 1.2)
    assert not boosted[2].same_client and boosted[2].same_node_kind


def test_recency_boost_prefers_the_recent_precedent(use_model):
    config = FusionConfig(weights={"title": 1.0}, recency_boost=1.0, recency_half_life_days=30)
    twins = [Document(1, "Не печатает принтер", at=NOW - timedelta(days=365)),
             Document(2, "Не печатает принтер", at=NOW)]
    hits = HybridRetriever(use_model, config).fit(twins).search("не печатает принтер", 2, now=NOW)
    assert [h.ref for h in hits] == [2, 1]


def test_relevance_floor_answers_gibberish_with_nothing(use_model):
    base = HybridRetriever(use_model, FusionConfig()).fit(DOCS)
    signals = base.signals("ываываыва qwzx")
    assert base.rank(signals, 5)  # without a floor the nearest documents come back, however far
    assert all(h.similarity is not None for h in base.rank(signals, 5))
    floored = FusionConfig(min_similarity=0.3)
    assert base.rank(signals, 5, config=floored) == []
    kept = base.rank(base.signals("принтер не печатает"), 5, config=floored)
    assert kept and kept[0].ref in {1, 2} and all(h.similarity >= 0.3 for h in kept)
    # Shared words may lower the floor for the documents that have them, and only for those.
    words = FusionConfig(min_similarity=0.99, min_similarity_shared_words=0.3)
    printer = base.rank(base.signals("принтер не печатает"), 5, config=words)
    assert {h.ref for h in printer} <= {1, 2} and printer


def test_dense_similarity_is_an_upper_bound_for_unproposed_refs():
    from ml.retrieval import dense_similarity

    config = FusionConfig(weights={"title": 1.0, "document": 1.0, "lexical": 1.0})
    signals = {"title": arrays([1, 2], [0.8, 0.4]), "document": arrays([2, 3], [0.7, 0.5]),
               "lexical": arrays([4], [3.0])}
    best, unseen = dense_similarity(signals, config)
    # The document embedding decides when in use (a short title's cosine is no evidence of its own): ref 1,
    # proposed by the title signal only, gets the document pool's lowest cosine, an upper bound of its own.
    assert best == pytest.approx({2: 0.7, 3: 0.5}) and unseen == pytest.approx(0.5)
    titles_only = FusionConfig(weights={"title": 1.0, "lexical": 1.0})
    assert dense_similarity(signals, titles_only) == (pytest.approx({1: 0.8, 2: 0.4}), pytest.approx(0.4))
    assert dense_similarity({"lexical": arrays([4], [3.0])}, FusionConfig(weights={"lexical": 1.0})) == ({}, None)


def test_caller_boosts_multiply_the_score(retriever):
    plain = {h.ref: h.score for h in retriever.search("принтер не печатает", 5)}
    boosted = {h.ref: h.score for h in retriever.search("принтер не печатает", 5, boosts={2: 0.5, 1: -2.0})}
    assert boosted[2] == pytest.approx(plain[2] * 1.5) and boosted[1] == 0.0


def test_incremental_add_update_and_remove(use_model):
    retriever = HybridRetriever(use_model).fit(DOCS[:3])
    retriever.add([Document(9, "Камера видеонаблюдения не пишет архив", "Заменили диск регистратора")])
    assert retriever.search("видеорегистратор не записывает архив камеры", 1)[0].ref == 9
    retriever.add([Document(9, "Сканер штрихкодов не читает коды", "Перенастроили сканер")])
    assert retriever.search("сканер штрихкодов", 1)[0].ref == 9
    assert all(h.ref != 9 for h in retriever.search("камера архив", 3)) or len(retriever) == 4
    retriever.remove([9, 1])
    assert 9 not in retriever and 1 not in retriever and len(retriever) == 2
    assert all(h.ref not in (1, 9) for h in retriever.search("принтер сканер", 5))


def test_save_load_without_reembedding_and_manifest(retriever, tmp_path, use_model):
    manifest = retriever.save(tmp_path / "ix", kind="incident")
    assert manifest["model"] == use_model.name and manifest["dimension"] == 512 and manifest["count"] == 5
    assert manifest["fields"] == ["title", "document", "lexical", "char"] and manifest["kind"] == "incident"
    loaded = HybridRetriever.load(tmp_path / "ix", use_model, retriever.config)
    query = "не работает vpn из дома"
    assert [h.ref for h in loaded.search(query, 3)] == [h.ref for h in retriever.search(query, 3)]
    assert loaded.meta_[1].client_id == 10 and loaded.meta_[1].node_kinds == ("printer",)


def test_load_refuses_another_model_and_missing_or_broken_manifest(retriever, tmp_path, minilm_model, use_model):
    retriever.save(tmp_path / "ix")
    with pytest.raises(IndexMismatchError, match="built with embedder 'use-multilingual-v3'.*all-MiniLM"):
        HybridRetriever.load(tmp_path / "ix", minilm_model)
    with pytest.raises(IndexMismatchError, match="no search index"):
        HybridRetriever.load(tmp_path / "nothing", use_model)
    (tmp_path / "ix" / "manifest.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="unreadable"):
        HybridRetriever.load(tmp_path / "ix", use_model)
    manifest = retriever.save(tmp_path / "iy")
    manifest["version"] = 99
    (tmp_path / "iy" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="format version 99"):
        HybridRetriever.load(tmp_path / "iy", use_model)


def test_hnsw_past_the_threshold_still_finds_the_paraphrase(use_model):
    retriever = HybridRetriever(use_model, hnsw_threshold=3).fit(DOCS)
    assert retriever.dense_kind == "hnsw" and retriever.title_index_ is None
    assert retriever.search("впн не соединяется", 1)[0].ref == 4


@pytest.mark.parametrize("ranked, relevant, expected", [
    ([["a", "b"], ["c", "d"]], [{"a"}, {"d"}], {"recall@1": 0.5, "recall@5": 1.0, "mrr": 0.75}),
    ([["x"] * 10 + ["a"]], [{"a"}], {"recall@1": 0.0, "recall@10": 0.0, "mrr": 0.0}),
    ([[]], [{"a"}], {"recall@5": 0.0, "mrr": 0.0}),
])
def test_retrieval_metrics(ranked, relevant, expected):
    metrics = retrieval_metrics(ranked, relevant)
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value)


@pytest.mark.parametrize("cell, expected", [("a|b", {"a", "b"}), ("a; b,c  d", {"a", "b", "c", "d"}),
                                            ("", set()), (float("nan"), set()), (7, {"7"})])
def test_parse_relevant(cell, expected):
    assert parse_relevant(cell) == expected


def test_evaluate_retrieval_on_a_tiny_set(use_model):
    import pandas as pd

    corpus = pd.DataFrame({"id": ["p1", "p2", "s1", "v1"],
                           "title": ["Принтер не печатает", "Замятие бумаги в принтере", "1С не запускается",
                                     "VPN отваливается"],
                           "body": ["очистили очередь", "вынули бумагу", "перезапустили службу", "обновили ключ"]})
    queries = pd.DataFrame({"q": ["принтер перестал печатать", "VPN постоянно отваливается", ""],
                            "rel": ["p1|p2", "v1", "s1"]})
    result = evaluate_retrieval(corpus, queries, id_column="id", text_columns=["title", "body"], query_column="q",
                                relevant_column="rel", embedder=use_model, k=3)
    assert result["recall@1"] == 1.0 and result["mrr"] == 1.0
    assert result["n_corpus"] == 4 and result["n_queries"] == 2 and result["n_queries_skipped"] == 1
    assert set(result) >= {"recall@5", "recall@10", "index_seconds", "query_ms_p50", "query_ms_p95"}
    with pytest.raises(EvaluationInputError, match="corpus has no column 'text'"):
        evaluate_retrieval(corpus, queries, id_column="id", text_columns=["text"], query_column="q",
                           relevant_column="rel", embedder=use_model)
    with pytest.raises(EvaluationInputError, match="duplicate id"):
        evaluate_retrieval(pd.concat([corpus, corpus]), queries, id_column="id", text_columns=["title"],
                           query_column="q", relevant_column="rel", embedder=use_model)


def test_zero_weight_signals_are_not_built_and_a_later_config_needing_them_is_refused(use_model, tmp_path):
    lean = HybridRetriever(use_model, FusionConfig(weights={"document": 1.0, "lexical": 1.0})).fit(DOCS)
    assert lean.title_index_ is None and lean.char_index_ is None
    assert lean.search("принтер не печатает", 1)[0].ref in (1, 2)
    assert lean.save(tmp_path / "ix")["fields"] == ["document", "lexical"]
    with pytest.raises(IndexMismatchError, match="uses the title signal"):
        HybridRetriever.load(tmp_path / "ix", use_model, FusionConfig(weights={"title": 1.0}))
    lexical_only = HybridRetriever(use_model, FusionConfig(weights={"lexical": 1.0})).fit(DOCS)
    assert lexical_only.dense_kind == "none" and lexical_only.search("VPN", 1)[0].ref == 4
