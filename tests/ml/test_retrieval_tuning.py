"""Text cleaning, candidate configurations, cross-validated choice and floor calibration of search tuning."""

from __future__ import annotations

import numpy as np
import pytest

from ml.cleaning import clean_text
from ml.retrieval import SIGNALS, Document, FusionConfig, HybridRetriever
from ml.retrieval_tuning import (
    calibrate_floor,
    candidate_configs,
    cross_validate,
    gibberish,
    reciprocal_ranks,
    tune_fusion,
)


@pytest.mark.parametrize("raw, expected", [
    ("Здравствуйте!\nНе работает VPN, ошибка 809.\nСпасибо!\nС уважением,\nИван Петров", "Не работает VPN, ошибка 809."),
    ("Добрый день, коллеги. Принтер не печатает.\n-----Original Message-----\nFrom: a@b.ru\nстарое", "Принтер не печатает."),
    ("Смотрите https://portal.firm.ru/kb/12?x=1 и пишите ivan@firm.ru", "Смотрите portal.firm.ru и пишите"),
    ("почта\u200b не\u00ad работает\ufeff", "почта не работает"),
    ("Приветствую.\nКамера не пишет\nОтправлено с iPhone", "Камера не пишет"),
    ("Не печатает\n\nСпасибо,\nДарья Иванова\nБухгалтер", "Не печатает"),
    ("Сервер упал\n> вчерашнее письмо\n> ещё строка", "Сервер упал"),
    ("hierarchy broken, hint: reboot", "hierarchy broken, hint: reboot"),  # "hi" only as a word
    ("Привет", "Привет"),  # nothing but boilerplate: the original stays, never empty
    ("Спасибо", "Спасибо"),
    ("", ""),
])
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


def test_candidates_include_every_single_signal_and_no_duplicate_weightings():
    candidates = candidate_configs(FusionConfig(min_similarity=0.5), SIGNALS)
    for signal in SIGNALS:
        only = candidates[f"{signal} only"]
        assert {s for s in SIGNALS if only.weight(s) > 0} == {signal}
    assert all(c.min_similarity == 0 for c in candidates.values())  # floors are calibrated afterwards
    weightings = [tuple(c.weight(s) for s in SIGNALS) + (c.method,) for c in candidates.values()]
    assert len(weightings) == len(set(weightings))
    assert "rrf equal" in candidates and len(candidates) == 4 + 61 + 1


def test_cross_validation_picks_on_other_folds_and_keeps_the_current_setting_on_ties():
    n = 40
    scores = {"current": np.full(n, 0.5), "a only": np.full(n, 0.5), "b only": np.r_[np.ones(20), np.zeros(20)]}
    report = cross_validate(scores, "current", folds=4, seed=0)
    assert set(report["fold_picks"]) <= {"current", "b only"} and report["current"] == 0.5
    assert report["singles"] == {"a only": 0.5, "b only": 0.5}
    clear = {"current": np.full(n, 0.3), "x only": np.full(n, 0.9)}
    assert cross_validate(clear, "current", folds=5, seed=1) == {
        "tuned": 0.9, "current": 0.3, "singles": {"x only": 0.9}, "fold_picks": ["x only"] * 5}


@pytest.fixture(scope="module")
def codes_retriever(use_model):
    """Tickets told apart only by an error code in the title."""
    docs = [Document(i, f"Ошибка {code} при запуске", "Перезапустили службу и очистили кэш")
            for i, code in enumerate(["0x80070005", "0x8007000e", "0xc0000142", "0x80004005", "0x800f081f",
                                      "0xc000007b", "0x80070643", "0x8024402c", "0x80072efd", "0x80240017",
                                      "0xc1900101", "0x800705b4"], start=1)]
    everything = FusionConfig(weights=dict.fromkeys(SIGNALS, 1.0))
    return HybridRetriever(use_model, everything).fit(docs), docs


def test_tuning_chooses_by_cross_validation_and_reports_every_single_signal(codes_retriever):
    retriever, docs = codes_retriever
    queries = [f"снова {d.title.split()[1]} у пользователя" for d in docs] * 2
    relevant = [{d.ref} for d in docs] * 2
    current = FusionConfig(weights={"title": 1.0})  # ranks one code of 12 second: worse than the others
    report = tune_fusion(retriever, queries, relevant, current=current, folds=4, min_queries=10, n_gibberish=20)
    assert set(report["cv"]["singles"]) == {f"{s} only" for s in SIGNALS}
    assert report["status"] == "tuned" and report["cv"]["tuned"] > report["cv"]["current"]
    assert report["chosen"] != "current" and report["top"][0]["mrr"] == max(report["cv"]["singles"].values())
    assert report["cv"]["tuned"] > report["cv"]["singles"]["title only"]
    assert report["gibberish_answered"] == 0 or report["config"]["min_similarity"] == 0


def test_too_few_pairs_keep_the_current_setting(codes_retriever):
    retriever, docs = codes_retriever
    report = tune_fusion(retriever, ["ошибка 0x80070005"], [{1}], current=FusionConfig(), min_queries=20)
    assert report["status"] == "kept" and "at least 20" in report["reason"] and "cv" not in report


def test_floor_is_calibrated_to_silence_gibberish_and_exclusion_is_honoured(codes_retriever):
    retriever, docs = codes_retriever
    config = FusionConfig(weights={"document": 2.0, "lexical": 1.0})
    queries = [f"ошибка {d.title.split()[1]}" for d in docs]
    pools = [retriever.signals(q) for q in queries]
    relevant = [{d.ref} for d in docs]
    noise = [retriever.signals(q) for q in gibberish(30)]
    floor, word_floor = calibrate_floor(retriever, config, pools, relevant, noise)
    assert floor > 0 and word_floor is not None and word_floor <= floor
    from dataclasses import replace

    floored = replace(config, min_similarity=floor, min_similarity_shared_words=word_floor)
    assert not any(retriever.rank(p, 1, config=floored) for p in noise)
    found = reciprocal_ranks(retriever, pools, relevant, config)
    assert (found > 0).all()
    hidden = reciprocal_ranks(retriever, pools, relevant, config, exclude=relevant)
    assert (hidden == 0).all()
    lexical_only = FusionConfig(weights={"lexical": 1.0})
    assert calibrate_floor(retriever, lexical_only, pools, relevant, noise) == (0.0, None)


def test_cleaning_retriever_ignores_boilerplate_and_records_it(use_model, tmp_path):
    docs = [Document(1, "Не печатает принтер", "Здравствуйте!\nОчередь печати зависла\nС уважением,\nИван"),
            Document(2, "Не работает почта", "Добрый день!\nOutlook не получает письма\nСпасибо!")]
    retriever = HybridRetriever(use_model, FusionConfig(weights={"document": 1.0, "lexical": 1.0}), clean=True)
    retriever.fit(docs)
    # Boilerplate alone shares nothing with the documents once both are cleaned.
    assert not retriever.signals("С уважением, Иван")["lexical"][0].size
    assert retriever.search("Здравствуйте! Зависла очередь печати. Спасибо!", 1)[0].ref == 1
    manifest = retriever.save(tmp_path / "idx")
    assert manifest["clean_text"] is True
    assert HybridRetriever.load(tmp_path / "idx", use_model, retriever.config).clean is True
