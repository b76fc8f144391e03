"""Knowledge articles, known problems and the directory over HTTP."""

from __future__ import annotations

import pytest

from kb.db import make_engine, make_session_factory, transaction
from kb.models import AuditEvent, Client, Node, Skill, Specialist, Ticket
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
