"""``precedent search tune`` on a small real store: pairs from known problems and verdicts, stored choice."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from kb.db import make_engine, make_session_factory
from kb.models import Article, Client, KnownProblem, SuggestionFeedback, Ticket
from service.search import service as search
from service.search.tuning import labelled_pairs, read_tuning, tuning_path

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
#: Six recurring problems, four ways users describe each, and the fix.
PROBLEMS = {
    "VPN: ошибка 809": (["VPN не подключается, ошибка 809", "Из дома не работает VPN, пишет 809",
                         "Ошибка 809 при подключении к VPN", "Удалённый доступ VPN отваливается с кодом 809"],
                        "Перевели клиента VPN на SSTP"),
    "Принтер: очередь печати": (["Не печатает принтер, документы висят в очереди", "Зависла очередь печати",
                                 "Принтер не печатает, задания застряли", "Документы не уходят на печать"],
                                "Очистили очередь, перезапустили spooler"),
    "1С: ошибка СУБД": (["1С не запускается, ошибка СУБД", "Не входит в базу 1С: ошибка СУБД",
                         "1С пишет ошибку соединения с сервером СУБД", "База 1С недоступна, ошибка SQL"],
                        "Перезапустили службу агента сервера 1С"),
    "Почта: ящик переполнен": (["Outlook не получает почту", "Письма не приходят, ящик полон",
                                "Не отправляется почта, превышена квота", "Почтовый ящик переполнен"],
                               "Увеличили квоту ящика"),
    "Учётная запись заблокирована": (["Не могу войти, учётная запись заблокирована", "Заблокировали учётку",
                                      "Пишет учётная запись отключена", "Блокировка учётной записи после пароля"],
                                     "Разблокировали учётную запись в AD"),
    "Wi-Fi: нет сети": (["Не работает Wi-Fi в переговорной", "Ноутбук не видит беспроводную сеть",
                         "Пропал вайфай на этаже", "Wi-Fi подключён, но без интернета"],
                        "Перезагрузили точку доступа"),
}


@pytest.fixture(autouse=True)
def _fresh_index_cache():
    search.forget_loaded()
    yield
    search.forget_loaded()


@pytest.fixture
def desk(app, monkeypatch):
    """24 resolved incidents, each linked to its known problem, one article; CLI environment set."""
    factory = make_session_factory(make_engine(app.config["DATABASE_URL"]))
    with factory() as session:
        client = Client(name="Альфа")
        session.add(client)
        session.flush()
        tickets, problems = {}, {}
        for title, (subjects, fix) in PROBLEMS.items():
            rows = [Ticket(client_id=client.id, subject=s, description="Прошу помочь", resolution=fix,
                           status="resolved", resolved_at=NOW, group="workstations") for s in subjects]
            problem = KnownProblem(title=title, symptoms=subjects[0], cause="", workaround=fix, incidents=rows)
            session.add_all([*rows, problem])
            session.flush()
            tickets[title], problems[title] = [t.id for t in rows], problem.id
        article = Article(title="Очистка очереди печати", body="Остановите spooler", external_id="KB-PRINT-1")
        session.add(article)
        session.commit()
    monkeypatch.setenv("PRECEDENT_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("PRECEDENT_VAR_DIR", app.config["VAR_DIR"])
    return {"factory": factory, "tickets": tickets, "problems": problems, "article": article.id,
            "settings": app.config["SETTINGS"]}


def tune(*args):
    from service.cli import main

    result = CliRunner().invoke(main, ["search", "tune", *args])
    return result.exit_code, result.output


def test_pairs_come_from_known_problem_links_and_verdicts(desk):
    vpn = desk["tickets"]["VPN: ошибка 809"]
    with desk["factory"]() as session:
        pairs, sources = labelled_pairs(session, "incident")
        assert pairs[vpn[0]] == set(vpn[1:])  # the other incidents of its problem, never itself
        assert sources["known_problem_links"] == 24 * 3
        printer = desk["tickets"]["Принтер: очередь печати"][0]
        session.add_all([
            SuggestionFeedback(ticket_id=vpn[0], kind="incident", ref=printer, useful=True, actor="eng"),
            SuggestionFeedback(ticket_id=vpn[0], kind="incident", ref=vpn[1], useful=False, actor="eng"),
            SuggestionFeedback(ticket_id=vpn[0], kind="article", ref=desk["article"], useful=True, actor="eng")])
        session.commit()
        pairs, sources = labelled_pairs(session, "incident")
        assert pairs[vpn[0]] == {vpn[2], vpn[3], printer}  # useful added, "not useful" removed
        assert sources["verdicts_useful"] == 1 and sources["verdicts_not_useful"] == 1
        problems, _ = labelled_pairs(session, "known_problem")
        assert problems[vpn[0]] == {desk["problems"]["VPN: ошибка 809"]}
        articles, article_sources = labelled_pairs(session, "article")
        assert articles == {vpn[0]: {desk["article"]}} and article_sources["verdicts_useful"] == 1


def test_tune_stores_a_versioned_choice_the_search_then_uses(desk):
    code, output = tune("--kind", "incident", "--kind", "known_problem", "--kind", "article", "--folds", "4")
    assert code == 0, output
    report = json.loads(output)
    incident = report["incident"]
    assert incident["n_queries"] == 24 and incident["stored"] and incident["version"] == 1
    assert {"title only", "document only", "lexical only", "char only"} <= set(incident["cv"]["singles"])
    # The choice is never worse out-of-fold than the setting it replaces.
    assert incident["status"] == "kept" or incident["cv"]["tuned"] > incident["cv"]["current"]
    assert report["article"]["status"] == "kept" and not report["article"]["stored"]
    assert "at least 20" in report["article"]["reason"]
    settings = desk["settings"]
    stored = read_tuning(settings, "incident")
    assert stored["version"] == 1 and tuning_path(settings, "incident", 1).exists()
    assert read_tuning(settings, "article") is None
    config = search.fusion_config(settings, "incident")
    assert dict(config.weights) == {k: v for k, v in stored["config"]["weights"].items()}
    assert config.min_similarity == stored["config"]["min_similarity"]
    from dataclasses import replace

    other_model = replace(settings, search_embedder="all-MiniLM-L6-v2")  # its cosines differ: not carried over
    assert read_tuning(other_model, "incident") is None
    assert search.fusion_config(other_model, "incident").min_similarity == settings.search_min_score_incident
    with desk["factory"]() as session:  # the rebuilt index serves the stored choice
        result = search.suggest(session, text="ошибка 809 при подключении VPN", k=3)
        vpn = set(desk["tickets"]["VPN: ошибка 809"])
        assert result["incidents"] and result["incidents"][0]["id"] in vpn
        assert search.suggest(session, text="ываываыва qwzx", k=3)["incidents"] == []
    code, output = tune("--kind", "incident", "--folds", "4")
    assert code == 0 and json.loads(output)["incident"]["version"] == 2
    assert read_tuning(settings, "incident")["version"] == 2 and tuning_path(settings, "incident", 1).exists()


def test_dry_run_stores_nothing_and_pairs_csv_counts(desk, tmp_path):
    vpn = desk["tickets"]["VPN: ошибка 809"]
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("query,relevant\n" + "".join(f"VPN ошибка 809 вариант {i},{vpn[0]}|{vpn[1]}\n"
                                                  for i in range(3)), encoding="utf-8")
    code, output = tune("--kind", "incident", "--dry-run", "--pairs", str(pairs), "--folds", "3")
    assert code == 0, output
    report = json.loads(output)["incident"]
    assert report["sources"]["csv"] == 6 and report["n_queries"] == 27 and not report["stored"]
    assert read_tuning(desk["settings"], "incident") is None


@pytest.mark.parametrize("args, message", [
    (["--folds", "1"], "--folds must be at least 2"),
    (["--pairs", "missing.csv"], "--pairs"),
    (["--kind", "colour"], "Invalid value for '--kind'"),
])
def test_tune_rejects_bad_input(desk, args, message):
    code, output = tune(*args)
    assert code == 2 and message in output


def test_tune_rejects_a_pairs_file_with_wrong_columns_or_ids(desk, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,ids\nVPN,1\n", encoding="utf-8")
    code, output = tune("--pairs", str(bad))
    assert code == 2 and "--pairs-text" in output and "'query'" in output
    words = tmp_path / "words.csv"
    words.write_text("query,relevant\nVPN,abc\n", encoding="utf-8")
    code, output = tune("--pairs", str(words))
    assert code == 2 and "whole numbers" in output


@pytest.mark.parametrize("pairs, expected", [
    ((), {"title": 0.0, "document": 2.0, "lexical": 1.0, "char": 0.0}),  # the global weights
    (("document:2", "char:1"), {"document": 2.0, "char": 1.0}),
    ((" lexical : 1.5",), {"lexical": 1.5}),
])
def test_per_collection_weights(pairs, expected):
    """Shipped: incidents on the global weights, articles and known problems field-aware; each replaceable."""
    from dataclasses import replace

    from service.config import load_settings

    settings = replace(load_settings({}), search_weights_article=pairs)
    assert search.collection_weights(settings, "article") == expected
    assert dict(search.fusion_config(settings, "article").weights) == expected
    # Other collections keep the global weights.
    assert search.collection_weights(settings, "incident") == {"title": 0.0, "document": 2.0, "lexical": 1.0,
                                                               "char": 0.0}


def test_shipped_defaults_are_field_aware_for_knowledge_only():
    from service.config import load_settings

    settings = load_settings({})
    field_aware = {"title": 1.0, "document": 2.0, "lexical": 1.0, "char": 1.0}
    assert search.collection_weights(settings, "article") == field_aware
    assert search.collection_weights(settings, "known_problem") == field_aware
    assert search.collection_weights(settings, "incident") == {"title": 0.0, "document": 2.0, "lexical": 1.0,
                                                               "char": 0.0}
    assert settings.search_clean_text is True


def test_per_collection_weights_refuse_a_malformed_pair():
    from service.config import load_settings

    settings = load_settings({"PRECEDENT_SEARCH_WEIGHTS_ARTICLE": "document=2"})
    assert settings.search_weights_article == ("document=2",)
    with pytest.raises(ValueError, match="PRECEDENT_SEARCH_WEIGHTS_ARTICLE"):
        search.collection_weights(settings, "article")
