"""Sweeps of notebooks/03: every fusion setting and relevance floor scored on the same labelled pairs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ml.embedders import make_embedder
from ml.retrieval import Document, FusionConfig, HybridRetriever
from service.search.quality import floor_sweep, fusion_sweep, sample
from service.search.tuning import TuningSet

DOCS = [Document(ref=i, title=t, body=t) for i, t in enumerate([
    "принтер не печатает замятие бумаги", "vpn не подключается из дома", "1с ошибка субд при запуске",
    "почта outlook не отправляет письма", "нет интернета в офисе роутер", "картридж принтера закончился"])]


@pytest.fixture(scope="module")
def model():
    return make_embedder("use-multilingual-v3")


@pytest.fixture
def pairs(model):
    retriever = HybridRetriever(model, config=FusionConfig()).fit(DOCS)
    queries = ["принтер замятие бумаги", "vpn из дома", "ошибка субд 1с", "outlook письма"]
    return TuningSet("incident", retriever, retriever.config, queries, [{0}, {1}, {2}, {3}],
                     [set(), set(), set(), set()], {}, "hashing")


def test_fusion_sweep_scores_every_setting_with_the_current_one(pairs):
    table = fusion_sweep(pairs, n_gibberish=5)
    assert "current" in set(table["setting"]) and any(table["setting"].str.endswith(" only"))
    assert list(table["mrr"]) == sorted(table["mrr"], reverse=True)
    for _, row in table.iterrows():
        assert row["recall@1"] <= row["recall@5"] <= row["recall@10"] and 0 <= row["mrr"] <= 1
        assert row["recall@1"] <= row["mrr"] <= row["recall@10"]


def test_own_ticket_never_counts(pairs):
    own = replace(pairs, exclude=[{0}, {1}, {2}, {3}])
    assert fusion_sweep(own, n_gibberish=5)["recall@10"].max() == 0.0


def test_floor_sweep_trades_recall_for_silence(pairs):
    table = floor_sweep(pairs, floors=(0.0, 0.5, 0.99), n_gibberish=5)
    assert list(table["floor"]) == [0.0, 0.5, 0.99]
    assert table["recall@10"].is_monotonic_decreasing and table["gibberish_answered"].is_monotonic_decreasing
    assert table["gibberish_answered"].iloc[-1] == 0.0


def test_sample_and_empty(pairs):
    assert len(sample(pairs, 2, seed=1).queries) == 2 and sample(pairs, None) is pairs
    with pytest.raises(ValueError, match="no labelled queries"):
        fusion_sweep(replace(pairs, queries=[], relevant=[], exclude=[]))
