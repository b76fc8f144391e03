"""Similar-fix search through the service: index build, suggestions, incremental updates, API and CLI."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from kb.db import make_engine, make_session_factory
from kb.models import Article, Client, KnownProblem, Node, SuggestionFeedback, Ticket
from service.platform import signals
from service.search import service as search

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)

RESOLVED = [
    ("Не печатает принтер в бухгалтерии", "Документы зависают в очереди", "Очистили очередь печати, перезапустили spooler",
     "printer"),
    ("1С не запускается: ошибка СУБД", "При входе в базу ошибка подключения", "Перезапустили службу сервера 1С",
     "1c_base"),
    ("VPN не подключается из дома", "Клиент VPN выдаёт ошибку 809", "Обновили сертификат на шлюзе", "vpn_gateway"),
    ("Outlook не получает почту", "Письма не приходят с утра", "Ящик был переполнен, увеличили квоту", "mail"),
]


@pytest.fixture(autouse=True)
def _fresh_index_cache():
    search.forget_loaded()
    yield
    search.forget_loaded()


def without_floor(app):
    """Switch the relevance floor off: for tests of other behaviour that need unrelated hits of the tiny store."""
    from dataclasses import replace

    off = {f"search_min_score_{part}{kind}": 0.0 for part in ("", "words_")
           for kind in ("incident", "article", "known_problem")}
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], **off)


@pytest.fixture
def store(app):
    """Two clients, four resolved incidents, one open ticket, an article and a known problem."""
    factory = make_session_factory(make_engine(app.config["DATABASE_URL"]))
    with factory() as session:
        alpha, beta = Client(name="Альфа"), Client(name="Бета")
        session.add_all([alpha, beta])
        session.flush()
        ids = []
        for i, (subject, description, resolution, kind) in enumerate(RESOLVED):
            node = Node(client_id=alpha.id if i % 2 == 0 else beta.id, kind=kind, name=f"{kind}-{i}")
            ticket = Ticket(client_id=node.client_id, subject=subject, description=description,
                            resolution=resolution, status="resolved", resolved_at=NOW - timedelta(days=i),
                            group="workstations", nodes=[node])
            session.add(ticket)
            session.flush()
            ids.append(ticket.id)
        open_ticket = Ticket(client_id=alpha.id, subject="Принтер печатает пустые листы", description="С утра",
                             status="in_progress")
        article = Article(title="Как очистить очередь печати Windows", body="Остановите службу spooler, удалите файлы")
        problem = KnownProblem(title="Ошибка 809 при подключении VPN", symptoms="VPN клиента не подключается",
                               cause="Провайдер блокирует GRE", workaround="Перейти на SSTP")
        session.add_all([open_ticket, article, problem])
        session.commit()
        yield {"factory": factory, "alpha": alpha.id, "beta": beta.id, "tickets": ids, "open": open_ticket.id,
               "article": article.id, "problem": problem.id}


def test_search_returns_incidents_articles_and_problems_with_reasons(client, store):
    response = client.get("/api/v1/search", query_string={"q": "принтер не печатает документы", "k": 2})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    first = body["incidents"][0]
    assert first["id"] == store["tickets"][0] and first["resolution"].startswith("Очистили очередь")
    assert first["client"] == "Альфа" and first["resolved_at"].startswith("2026-10-01")
    assert "принтер" in first["shared_terms"] and first["reasons"][0].startswith("общие слова")
    # k=2, but the only other incidents (1С, VPN, mail) are unrelated: the relevance floor keeps them out.
    assert len(body["incidents"]) == 1 and store["open"] not in [i["id"] for i in body["incidents"]]
    assert body["articles"][0]["id"] == store["article"]
    assert body["known_problems"] == []  # the VPN known problem has nothing to do with a printer
    vpn = client.get("/api/v1/search", query_string={"q": "VPN не подключается, ошибка 809"}).get_json()
    assert {"kind", "id", "title", "workaround", "score", "reasons"} <= set(vpn["known_problems"][0])


def test_gibberish_gets_an_empty_answer(client, store):
    for query in ("ываываыва qwzx", "zxqv blorpt", "фщшгнз"):
        body = client.get("/api/v1/search", query_string={"q": query}).get_json()
        assert body["incidents"] == body["articles"] == body["known_problems"] == [], query


def test_client_boost_and_reason(client, store):
    without_floor(client.application)  # a one-word query: every incident should come back
    body = client.get("/api/v1/search", query_string={"q": "ошибка", "client": store["beta"], "k": 4}).get_json()
    beta_hits = [i for i in body["incidents"] if i["client_id"] == store["beta"]]
    assert beta_hits and all("тот же клиент" in i["reasons"] for i in beta_hits)


@pytest.mark.parametrize("query, status, field", [
    ({}, 400, "q"), ({"q": "  "}, 400, "q"), ({"q": "x", "k": "0"}, 400, "k"), ({"q": "x", "k": "abc"}, 400, "k"),
    ({"q": "x", "client": "999"}, 404, "client"), ({"q": "x" * 5001}, 400, "q"),
])
def test_search_rejects_bad_input(client, store, query, status, field):
    response = client.get("/api/v1/search", query_string=query)
    assert response.status_code == status and response.get_json()["error"]["field"] == field


def test_search_needs_staff(anonymous_client, client_user_client, store):
    assert anonymous_client.get("/api/v1/search?q=x").status_code == 401
    assert client_user_client(store["alpha"]).get("/api/v1/search?q=x").status_code == 403


def test_ticket_suggestions_exclude_the_ticket_itself(client, store):
    own = store["tickets"][0]
    body = client.get(f"/api/v1/tickets/{own}/suggestions").get_json()
    assert body["ticket_id"] == own and own not in [i["id"] for i in body["incidents"]]
    assert body["articles"][0]["id"] == store["article"]
    assert client.get("/api/v1/tickets/99999/suggestions").status_code == 404


def test_ticket_page_never_suggests_the_ticket_itself(app, store):
    from service.platform.auth import create_user

    own = store["tickets"][0]
    with store["factory"]() as session:
        create_user(session, username="page-eng", password="correct horse battery", role="engineer_l1")
        session.commit()
    web = app.test_client()
    login = web.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', login).group(1)
    web.post("/login", data={"username": "page-eng", "password": "correct horse battery", "csrf": csrf})
    page = web.get(f"/tickets/{own}").get_data(as_text=True)
    assert "Похожие решённые инциденты" in page and "Как очистить очередь печати" in page
    suggested = page.split("Похожие решённые инциденты", 1)[1]
    assert f'href="/tickets/{own}"' not in suggested  # itself (a link, like every suggested incident) would be the best hit


def test_feedback_is_stored_and_validated(client, store):
    ticket, incident = store["open"], store["tickets"][0]
    url = f"/api/v1/tickets/{ticket}/suggestions/incident/{incident}/feedback"
    response = client.post(url, json={"useful": True})
    assert response.status_code == 201 and response.get_json()["useful"] is True
    with store["factory"]() as session:
        saved = session.query(SuggestionFeedback).one()
        assert (saved.ticket_id, saved.kind, saved.ref, saved.useful) == (ticket, "incident", incident, True)
        assert saved.actor.startswith("engineer_l2")
    assert client.post(f"/api/v1/tickets/{ticket}/suggestions/article/{store['article']}/feedback",
                       json={"useful": False}).status_code == 201
    for path, body, status, field in [
        (f"/api/v1/tickets/{ticket}/suggestions/recipe/1/feedback", {"useful": True}, 404, "kind"),
        (f"/api/v1/tickets/{ticket}/suggestions/article/999/feedback", {"useful": True}, 404, "ref"),
        ("/api/v1/tickets/999/suggestions/article/1/feedback", {"useful": True}, 404, "ticket_id"),
        (url, {}, 422, "useful"), (url, {"useful": "yes"}, 422, "useful"),
    ]:
        response = client.post(path, json=body)
        assert response.status_code == status and response.get_json()["error"]["field"] == field
    # an unknown target is a 404 before the body is judged, as before
    response = client.post("/api/v1/tickets/999/suggestions/article/1/feedback", data="not json")
    assert response.status_code == 404 and response.get_json()["error"]["field"] == "ticket_id"
    with store["factory"]() as session:
        assert session.query(SuggestionFeedback).count() == 2


def test_feedback_use_case_checks_the_target_and_commits(store):
    from service.search.feedback import FeedbackTargetNotFound, record_feedback

    with store["factory"]() as session:
        saved = record_feedback(session, ticket_id=store["open"], kind="known_problem", ref=store["problem"],
                                useful=True, actor="eng")
        saved_id = saved.id
        with pytest.raises(FeedbackTargetNotFound) as missing:
            record_feedback(session, ticket_id=store["open"], kind="incident", ref=10**6, useful=False, actor="eng")
        assert missing.value.field == "ref"
    with store["factory"]() as session:
        assert [(f.id, f.kind, f.useful) for f in session.query(SuggestionFeedback)] == [
            (saved_id, "known_problem", True)]


def test_new_resolution_is_searchable_at_once_and_deletion_disappears(app, client, store):
    query = {"q": "сканер штрихкодов не читает этикетки", "k": 3}
    assert client.get("/api/v1/search", query_string=query).status_code == 200  # loads the index
    with store["factory"]() as session:
        ticket = session.get(Ticket, store["open"])
        ticket.subject, ticket.description = "Сканер штрихкодов не читает этикетки", "На кассе 2"
        ticket.status, ticket.resolution, ticket.resolved_at = "resolved", "Перенастроили сканер", NOW
        session.commit()
    signals.ticket_changed.send(app, ticket_id=store["open"], action="resolve")
    found = client.get("/api/v1/search", query_string=query).get_json()["incidents"]
    assert found[0]["id"] == store["open"]
    with store["factory"]() as session:
        session.delete(session.get(Ticket, store["open"]))
        session.commit()
    signals.ticket_changed.send(app, ticket_id=store["open"], action="delete")
    found = client.get("/api/v1/search", query_string=query).get_json()["incidents"]
    assert store["open"] not in [i["id"] for i in found]


def test_a_store_with_nothing_resolved_yet_answers_with_empty_lists(app, client):
    # A fresh installation: the first search builds (and saves) an empty index instead of failing.
    response = client.get("/api/v1/search", query_string={"q": "принтер не печатает"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["incidents"] == [] and body["articles"] == [] and body["known_problems"] == []


def test_other_processes_catch_up_through_the_watermark(app, client, store):
    client.get("/api/v1/search?q=принтер")
    index = next(iter(search._loaded.values()))
    with store["factory"]() as session:
        session.add(Article(title="Настройка сканера штрихкодов Honeywell", body="Сброс к заводским настройкам"))
        session.commit()
    index.last_sync = 0.0  # as if a second had passed; no signal reached this "process"
    body = client.get("/api/v1/search", query_string={"q": "сканер штрихкодов honeywell"}).get_json()
    assert body["articles"][0]["title"].startswith("Настройка сканера")


def test_other_processes_reopening_a_ticket_takes_it_out_of_the_results(app, client, store):
    vpn = store["tickets"][2]
    query = {"q": "не подключается VPN", "k": 5}
    assert vpn in [i["id"] for i in client.get("/api/v1/search", query_string=query).get_json()["incidents"]]
    with store["factory"]() as session:
        session.get(Ticket, vpn).status = "reopened"
        session.commit()
    index = next(iter(search._loaded.values()))
    index.last_sync = 0.0  # a second later, no signal in this "process"
    assert vpn not in [i["id"] for i in client.get("/api/v1/search", query_string=query).get_json()["incidents"]]
    assert vpn not in index.retrievers["incident"]  # gone from the index, not only hidden when rendered


def test_catch_up_after_a_bulk_change_is_spread_over_searches_and_misses_nothing(app, client, store,
                                                                               monkeypatch):
    client.get("/api/v1/search?q=принтер")
    index = next(iter(search._loaded.values()))
    stamp = datetime(2030, 1, 1, tzinfo=UTC)
    with store["factory"]() as session:
        alpha = store["alpha"]
        for i in range(7):  # an import elsewhere: seven resolved tickets, the last five sharing one updated_at
            session.add(Ticket(client_id=alpha, subject=f"Сканер штрихкодов {i} не читает", status="resolved",
                               resolution="Перенастроили", resolved_at=NOW,
                               updated_at=stamp + timedelta(seconds=min(i, 2))))
        session.commit()
    monkeypatch.setattr(search, "SYNC_BATCH", 2)
    before = len(index.retrievers["incident"])
    seen = []
    for _ in range(5):
        index.last_sync = 0.0  # a second later each time; no signal reached this "process"
        client.get("/api/v1/search", query_string={"q": "сканер штрихкодов"})
        seen.append(len(index.retrievers["incident"]) - before)
    # two rows per search at most, except that a group sharing one updated_at comes whole: 2, then all 7
    assert seen[0] == 2 and seen[-1] == 7 and seen == sorted(seen)


def test_knowledge_signal_removes_a_deleted_problem(app, client, store):
    client.get("/api/v1/search?q=vpn")
    with store["factory"]() as session:
        session.delete(session.get(KnownProblem, store["problem"]))
        session.commit()
    signals.knowledge_changed.send(app, kind="known_problem", ref=store["problem"], deleted=True)
    assert client.get("/api/v1/search?q=ошибка 809 vpn").get_json()["known_problems"] == []
    assert len(next(iter(search._loaded.values())).retrievers["known_problem"]) == 0


@pytest.fixture
def cli_env(app, store, monkeypatch, tmp_path):
    monkeypatch.setenv("PRECEDENT_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("PRECEDENT_VAR_DIR", app.config["VAR_DIR"])
    return CliRunner()


def test_index_build_then_suggest_cli(cli_env, store, app):
    from service.cli import main

    built = cli_env.invoke(main, ["index", "build"])
    assert built.exit_code == 0, built.output
    summary = json.loads(built.output)
    assert summary["counts"] == {"incident": 4, "article": 1, "known_problem": 1}
    status = json.loads(cli_env.invoke(main, ["index", "status"]).output)
    assert status["incident"]["model"] == "use-multilingual-v3" and status["incident"]["count"] == 4
    result = cli_env.invoke(main, ["suggest", "не подключается VPN", "--json", "--k", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["incidents"][0]["id"] == store["tickets"][2]
    text = cli_env.invoke(main, ["suggest", "принтер не печатает", "--client", str(store["alpha"])])
    assert text.exit_code == 0 and "Similar resolved incidents" in text.output and "#" in text.output


def test_evaluate_feedback_replays_engineers_verdicts(cli_env, store):
    from kb.models import Article, SuggestionFeedback
    from service.cli import main

    printer, _, vpn, _ = store["tickets"]
    with store["factory"]() as session:
        article = session.scalar(select(Article.id))
        session.add_all([
            SuggestionFeedback(ticket_id=store["open"], kind="incident", ref=printer, useful=False, actor="eng"),
            SuggestionFeedback(ticket_id=store["open"], kind="incident", ref=printer, useful=True, actor="eng"),
            SuggestionFeedback(ticket_id=store["open"], kind="incident", ref=vpn, useful=False, actor="eng"),
            SuggestionFeedback(ticket_id=store["open"], kind="article", ref=article, useful=True, actor="eng"),
        ])
        session.commit()
    assert cli_env.invoke(main, ["index", "build"]).exit_code == 0
    result = cli_env.invoke(main, ["evaluate", "feedback", "--k", "5"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["tickets"] == 1 and report["judgements"] == 3  # the later verdict on a pair replaces the first
    incidents = report["kinds"]["incident"]
    # "Принтер печатает пустые листы": the printer incident ranks first; the unrelated VPN one no longer shows
    # (the relevance floor), so nothing judged not useful is in the top k
    assert incidents == {"judged": 2, "useful": 1, "useful_in_top_k": 1, "rejected_in_top_k": 0,
                         "recall_useful@k": 1.0, "mrr_useful": 1.0}
    assert report["kinds"]["article"]["recall_useful@k"] == 1.0
    assert report["kinds"]["known_problem"]["mrr_useful"] is None
    assert cli_env.invoke(main, ["evaluate", "feedback", "--k", "0"]).exit_code == 2


@pytest.mark.parametrize("args, message", [
    (["suggest", " "], "TEXT must not be empty"),
    (["suggest", "x", "--k", "0"], "--k must be between"),
    (["suggest", "x", "--client", "999"], "--client: no client with id 999"),
])
def test_suggest_cli_rejects_bad_input(cli_env, args, message):
    from service.cli import main

    result = cli_env.invoke(main, args)
    assert result.exit_code == 2 and message in result.output


def test_index_built_for_another_model_is_refused(cli_env, monkeypatch):
    from service.cli import main

    assert cli_env.invoke(main, ["index", "build"]).exit_code == 0
    monkeypatch.setenv("PRECEDENT_SEARCH_EMBEDDER", "all-MiniLM-L6-v2")
    result = cli_env.invoke(main, ["suggest", "принтер"])
    assert result.exit_code == 1
    assert "built with embedder 'use-multilingual-v3'" in result.output and "index build" in result.output


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_evaluate_retrieve_prints_metrics(tmp_path, monkeypatch):
    from service.cli import main

    monkeypatch.setenv("PRECEDENT_VAR_DIR", str(tmp_path / "var"))
    corpus = _write(tmp_path / "c.csv", "doc,title,body\nd1,Принтер не печатает,очистили очередь\n"
                                        "d2,1С не запускается,перезапустили службу\nd3,VPN отваливается,сертификат\n")
    queries = _write(tmp_path / "q.csv", "text,rel\nперестал печатать принтер,d1\nне стартует 1С,d2|d9\n")
    result = CliRunner().invoke(main, ["evaluate", "retrieve", "--corpus", corpus, "--id", "doc", "--text",
                                       "title,body", "--queries", queries, "--query-text", "text",
                                       "--relevant", "rel", "--k", "5"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["recall@1"] == 1.0 and out["n_corpus"] == 3 and out["n_queries"] == 2
    assert {"recall@5", "recall@10", "mrr", "index_seconds", "query_ms_p50", "query_ms_p95"} <= set(out)


def test_evaluate_retrieve_reads_tab_separated_files_with_a_bom(tmp_path, monkeypatch):
    from service.cli import main

    monkeypatch.setenv("PRECEDENT_VAR_DIR", str(tmp_path / "var"))
    corpus = tmp_path / "c.tsv"
    corpus.write_text("doc\ttitle\tbody\nd1\tПринтер не печатает\tочистили очередь, печать пошла\n"
                      "d2\t1С не запускается\tперезапустили службу\n", encoding="utf-8-sig")
    queries = tmp_path / "q.csv"
    queries.write_text("text;rel\nперестал печатать принтер;d1\n", encoding="utf-8-sig")
    result = CliRunner().invoke(main, ["evaluate", "retrieve", "--corpus", str(corpus), "--id", "doc", "--text",
                                       "title,body", "--queries", str(queries), "--query-text", "text",
                                       "--relevant", "rel"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["recall@1"] == 1.0


@pytest.mark.parametrize("corpus_text, queries_text, extra, message", [
    ("doc,title\nd1,a\n", "text,rel\nx,d1\n", ["--text", "title,body"], "--corpus"),
    ("doc,title\nd1,a\n", "text,rel\nx,d1\n", ["--text", "title", "--relevant", "nope"], "column 'nope'"),
    ("", "text,rel\nx,d1\n", ["--text", "title"], "--corpus: file"),
    ("doc,title\nd1,a\n", "text,rel\n", ["--text", "title"], "--queries: file"),
    ("doc,title\nd1,a\n", "text,rel\nx,zz\n", ["--text", "title"], "naming a corpus id"),
    ("doc,title\nd1,a\n", "text,rel\nx,d1\n", ["--text", "title", "--k", "0"], "--k must be at least 1"),
])
def test_evaluate_retrieve_bad_input_exits_2_naming_it(tmp_path, monkeypatch, corpus_text, queries_text, extra,
                                                       message):
    from service.cli import main

    monkeypatch.setenv("PRECEDENT_VAR_DIR", str(tmp_path / "var"))
    args = {"--corpus": _write(tmp_path / "c.csv", corpus_text), "--id": "doc",
            "--queries": _write(tmp_path / "q.csv", queries_text), "--query-text": "text", "--relevant": "rel"}
    for i in range(0, len(extra), 2):
        args[extra[i]] = extra[i + 1]
    flat = [part for pair in args.items() for part in pair]
    result = CliRunner().invoke(main, ["evaluate", "retrieve", *flat])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_evaluate_retrieve_missing_file(tmp_path):
    from service.cli import main

    result = CliRunner().invoke(main, ["evaluate", "retrieve", "--corpus", str(tmp_path / "none.csv"), "--id", "a",
                                       "--text", "b", "--queries", str(tmp_path / "q.csv"), "--query-text", "q",
                                       "--relevant", "r"])
    assert result.exit_code == 2 and "--corpus: file" in result.output


def test_near_duplicate_incidents_are_one_hit_with_a_count(client, store):
    without_floor(client.application)  # so that the other, unrelated incidents fill k
    with store["factory"]() as session:
        copies = [Ticket(client_id=store["alpha"], subject=subject, description="Письма не приходят с утра",
                         resolution="Ящик был переполнен, увеличили квоту.", status="resolved",
                         resolved_at=NOW, group="workstations")
                  for subject in ("outlook не получает почту!", "Outlook  не получает почту")]
        session.add_all(copies)
        session.commit()
        copy_ids = {t.id for t in copies}
    body = client.get("/api/v1/search", query_string={"q": "Outlook не получает почту", "k": 4}).get_json()
    mail = [i for i in body["incidents"] if i["id"] in copy_ids | {store["tickets"][3]}]
    assert len(mail) == 1 and mail[0]["duplicates"] == 2
    assert body["incidents"][0] == mail[0] and all(i["duplicates"] == 0 for i in body["incidents"][1:])
    assert len(body["incidents"]) == 4  # the hidden copies leave room for other incidents
    assert search.duplicate_key("VPN: ошибка 809!", "Ок") == search.duplicate_key("vpn ошибка 809", "ок")


def test_a_fix_marked_useful_rises_in_the_next_ranking(client, store):
    with store["factory"]() as session:
        twins = [Ticket(client_id=store["alpha"], subject=subject, description="Не открывается общая папка на сервере",
                        resolution=resolution, status="resolved", resolved_at=NOW, group="workstations")
                 for subject, resolution in (("Нет доступа к общей папке", "Выдали права на папку в AD"),
                                             ("Нет доступа к общей папке отдела", "Переподключили сетевой диск"))]
        similar = Ticket(client_id=store["alpha"], subject="Не открывается общая папка", status="in_progress")
        session.add_all([*twins, similar])
        session.commit()
        twin_ids, similar_id = [t.id for t in twins], similar.id
    query = {"q": "нет доступа к общей папке на сервере", "k": 2}
    before = client.get("/api/v1/search", query_string=query).get_json()["incidents"]
    assert sorted(i["id"] for i in before) == sorted(twin_ids)
    assert before[1]["score"] >= 0.95 * before[0]["score"]  # near-equal: a verdict should decide
    lower = before[1]["id"]
    response = client.post(f"/api/v1/tickets/{similar_id}/suggestions/incident/{lower}/feedback",
                           json={"useful": True})
    assert response.status_code == 201
    after = client.get("/api/v1/search", query_string=query).get_json()["incidents"]
    assert after[0]["id"] == lower and after[0]["score"] > before[1]["score"]
    from service.search.feedback import net_verdicts

    with store["factory"]() as session:  # a replay of the similar ticket is not told its own verdict
        assert net_verdicts(session, "incident") == {lower: 1}
        assert net_verdicts(session, "incident", except_ticket=similar_id) == {}
    # Changing one's mind replaces the verdict: "not useful" now sinks it below the other twin again.
    client.post(f"/api/v1/tickets/{similar_id}/suggestions/incident/{lower}/feedback", json={"useful": False})
    again = client.get("/api/v1/search", query_string=query).get_json()["incidents"]
    assert again[1]["id"] == lower and again[1]["score"] < before[1]["score"]
