"""Knowledge articles, known problems and the directory over HTTP."""

from __future__ import annotations

import pytest

from kb.db import make_engine, make_session_factory, transaction
from kb.models import Article, AuditEvent, Client, Node, Skill, Specialist, Ticket
from service.platform import signals


@pytest.fixture
def announced():
    events = []

    def receiver(sender, **kwargs):
        events.append(kwargs)

    signals.knowledge_changed.connect(receiver)
    yield events
    signals.knowledge_changed.disconnect(receiver)


def sessions(app):
    return make_session_factory(make_engine(app.config["DATABASE_URL"]))


def test_article_lifecycle_is_audited_and_announced(app, client, announced):
    created = client.post("/api/v1/articles", json={"title": "Сброс пароля AD", "body": "Шаги...", "group": "security"})
    assert created.status_code == 201
    article_id = created.json["id"]
    assert client.get("/api/v1/articles?q=пароля").json["total"] == 1
    assert client.patch(f"/api/v1/articles/{article_id}", json={"title": "Сброс пароля в AD"}).json["title"] == (
        "Сброс пароля в AD")
    assert client.delete(f"/api/v1/articles/{article_id}").status_code == 204
    assert client.get(f"/api/v1/articles/{article_id}").status_code == 404
    assert announced == [{"kind": "article", "ref": article_id, "deleted": False}] * 2 + [
        {"kind": "article", "ref": article_id, "deleted": True}]
    with sessions(app)() as session:
        actions = [e.action for e in session.query(AuditEvent).filter_by(entity="article").order_by(AuditEvent.id)]
    assert actions == ["create", "update", "delete"]


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"body": "x"}, "title", 422),
        ({"title": "  ", "body": "x"}, "title", 422),
        ({"title": "t", "body": 5}, "body", 422),
        ({"title": "t", "body": "b", "group": "plumbing"}, "group", 422),
    ],
)
def test_bad_article_bodies_name_the_field(client, body, field, status):
    response = client.post("/api/v1/articles", json=body)
    assert response.status_code == status and response.json["error"]["field"] == field


def test_non_json_body_is_refused(client):
    assert client.post("/api/v1/articles", data="title=x").status_code == 415
    assert client.post("/api/v1/articles", data="[1]", content_type="application/json").status_code == 400


def test_known_problem_links_incidents_and_refuses_unknown_ones(app, client):
    with transaction(sessions(app)) as session:
        ticket = Ticket(client=Client(name="ООО Тест"), subject="Падает служба 1С")
        session.add(ticket)
        session.flush()
        ticket_id = ticket.id
    bad = client.post("/api/v1/known-problems", json={"title": "Служба 1С", "incident_ids": [ticket_id, 999]})
    assert bad.status_code == 422 and "999" in bad.json["error"]["message"]
    good = client.post("/api/v1/known-problems", json={"title": "Служба 1С", "workaround": "Перезапуск",
                                                        "incident_ids": [ticket_id]})
    assert good.status_code == 201 and good.json["incident_ids"] == [ticket_id]
    assert client.get("/api/v1/known-problems?status=known").json["total"] == 1


def test_client_user_cannot_read_or_write_knowledge(app, client_user_client):
    with transaction(sessions(app)) as session:
        ours = Client(name="Ромашка")
        session.add(ours)
        session.flush()
        ours_id = ours.id
    portal = client_user_client(ours_id)
    assert portal.get("/api/v1/articles").status_code == 403
    assert portal.post("/api/v1/articles", json={"title": "t", "body": "b"}).status_code == 403


def test_directory_respects_the_client_boundary(app, client, client_user_client):
    with transaction(sessions(app)) as session:
        ours, theirs = Client(name="Ромашка"), Client(name="Лютик")
        server = Node(client=ours, kind="server", name="srv-01", criticality="critical")
        session.add_all([ours, theirs, Node(client=ours, kind="1c_base", name="1C УТ", depends_on=[server]),
                         Specialist(name="Пётр", line=2, skills=[Skill(group="1c", level=5)])])
        session.flush()
        ours_id, theirs_id = ours.id, theirs.id
    assert len(client.get("/api/v1/clients").json["items"]) == 2
    nodes = client.get(f"/api/v1/clients/{ours_id}/nodes").json["items"]
    assert {n["name"]: n["depends_on"] for n in nodes}["1C УТ"] == [n["id"] for n in nodes if n["name"] == "srv-01"]
    assert client.get("/api/v1/specialists").json["items"][0]["skills"] == {"1c": 5}
    portal = client_user_client(ours_id)
    assert [c["id"] for c in portal.get("/api/v1/clients").json["items"]] == [ours_id]
    assert portal.get(f"/api/v1/clients/{theirs_id}/nodes").status_code == 404
    assert portal.get("/api/v1/specialists").status_code == 403


def test_the_index_hears_of_a_change_only_once_it_is_committed(app, client):
    """The announcement runs after the commit: a receiver reading with its own session sees the row."""
    seen = []

    def receiver(sender, kind=None, ref=None, **_facts):
        with sessions(app)() as other:
            seen.append((kind, other.get(Article, ref).title if kind == "article" else None))

    signals.knowledge_changed.connect(receiver)
    try:
        created = client.post("/api/v1/articles", json={"title": "VPN", "body": "Переподключить"})
        assert client.patch(f"/api/v1/articles/{created.json['id']}", json={"title": "VPN: переподключение"}).json
    finally:
        signals.knowledge_changed.disconnect(receiver)
    assert seen == [("article", "VPN"), ("article", "VPN: переподключение")]


def test_a_refused_change_writes_and_announces_nothing(app, client, announced):
    problem = client.post("/api/v1/known-problems", json={"title": "Служба 1С", "cause": "память"}).json
    announced.clear()
    bad = client.patch(f"/api/v1/known-problems/{problem['id']}", json={"cause": "диск", "incident_ids": [999]})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "incident_ids"
    assert client.get(f"/api/v1/known-problems/{problem['id']}").json["cause"] == "память"
    assert announced == []
    with sessions(app)() as session:
        assert [e.action for e in session.query(AuditEvent).filter_by(entity="known_problem")] == ["create"]


def test_an_unknown_id_is_a_404_before_the_fields_are_judged(client):
    assert client.patch("/api/v1/known-problems/999", json={"status": "nope"}).json["error"]["field"] == "id"
    assert client.patch("/api/v1/known-problems/999", json={"status": "nope"}).status_code == 404
    assert client.patch("/api/v1/articles/999", json={"title": "x"}).status_code == 404
    assert client.delete("/api/v1/articles/999").status_code == 404


def test_known_problem_update_audits_the_fields_and_relinks_incidents(app, client):
    with transaction(sessions(app)) as session:
        tickets = [Ticket(client=Client(name=f"К{i}"), subject=f"Инцидент {i}") for i in range(2)]
        session.add_all(tickets)
        session.flush()
        first, second = (t.id for t in tickets)
    problem = client.post("/api/v1/known-problems", json={"title": "Сбой", "incident_ids": [first]}).json
    changed = client.patch(f"/api/v1/known-problems/{problem['id']}",
                           json={"status": "fixed", "incident_ids": [second]})
    assert changed.status_code == 200 and changed.json["incident_ids"] == [second]
    assert changed.json["status"] == "fixed"
    with sessions(app)() as session:
        update = session.query(AuditEvent).filter_by(entity="known_problem", action="update").one()
    assert update.data == {"fields": ["incidents", "status"]} and update.actor.startswith("engineer_l2-")


def test_use_cases_outside_a_request(sqlite_url, announced):
    """The use cases need no Flask context: a CLI or a test calls them with a session."""
    from service.knowledge import service as knowledge

    with make_session_factory(make_engine(sqlite_url))() as session:
        article = knowledge.create_article(session, actor="cli", fields={"title": "T", "body": "B"})
        assert session.get(AuditEvent, 1).data == {} and announced == [
            {"kind": "article", "ref": article.id, "deleted": False}]
        with pytest.raises(knowledge.KnowledgeInputError) as refused:
            knowledge.update_article(session, article_id=article.id, actor="cli", changes={"colour": "red"})
        assert refused.value.field == "colour"
        with pytest.raises(knowledge.KnowledgeNotFound):
            knowledge.delete_article(session, article_id=article.id + 1, actor="cli")
        knowledge.delete_article(session, article_id=article.id, actor="cli")
        assert session.get(Article, article.id) is None


@pytest.mark.parametrize(("path", "create", "body"), [
    ("known-problems", {"title": "Служба 1С"}, {"title": None}),
    ("known-problems", {"title": "Служба 1С"}, {"title": "\u0085", "group": None}),  # found by schemathesis
    ("articles", {"title": "VPN", "body": "Переподключить"}, {"title": None}),
    ("articles", {"title": "VPN", "body": "Переподключить"}, {"body": "   "}),
])
def test_an_edit_cannot_empty_a_required_field(client, path, create, body):
    created = client.post(f"/api/v1/{path}", json=create).json
    refused = client.patch(f"/api/v1/{path}/{created['id']}", json=body)
    assert refused.status_code == 422 and refused.json["error"]["field"] == next(iter(body))
    assert client.get(f"/api/v1/{path}/{created['id']}").json["title"] == create["title"]
