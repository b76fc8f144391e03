"""The ticket write API: creation, actions (409 on illegal ones), comments, time entries, PATCH, roles, mail."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from kb.models import Ticket
from tests.smtp_server import deliver_app_outbox, free_port


def create(client, world, **fields):
    body = {"client_id": world.client_id, "subject": "Не печатает принтер", "priority": "standard",
            "group": "printers", "requester_email": "p.petrov@romashka.ru", "requester_name": "Пётр"}
    body.update(fields)
    return client.post("/api/v1/tickets", json=body)


def act(client, ticket_id, action, **params):
    return client.post(f"/api/v1/tickets/{ticket_id}/actions", json={"action": action, **params})


def count_tickets(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Ticket))


def test_create_and_walk_the_itil_path(client, app_world):
    created = create(client, app_world, node_ids=[app_world.printer_id])
    assert created.status_code == 201, created.json
    ticket = created.json
    assert ticket["status"] == "new" and ticket["nodes"][0]["id"] == app_world.printer_id
    assert created.headers["Location"] == f"/api/v1/tickets/{ticket['id']}"
    steps = [("triage", {"priority": "high"}), ("take", {"specialist_id": app_world.line1_id}),
             ("escalate", {"specialist_id": app_world.line2_id}),
             ("assign_specialists", {"specialist_ids": app_world.expert_ids}),
             ("request_info", {"reason": "Модель картриджа?"}), ("client_replied", {}),
             ("resolve", {"resolution": "Заменён картридж"}), ("confirm", {})]
    for action, params in steps:
        response = act(client, ticket["id"], action, **params)
        assert response.status_code == 200, (action, response.json)
    assert response.json["status"] == "closed"
    history = client.get(f"/api/v1/tickets/{ticket['id']}/history").json["items"]
    assert [e["action"] for e in history] == ["create", *[a for a, _ in steps]]
    allowed = client.get(f"/api/v1/tickets/{ticket['id']}/actions").json
    assert allowed["current_status"] == "closed" and allowed["allowed_actions"] == ["reopen"]


def test_illegal_transition_is_409_naming_status_and_allowed_actions(client, app_world):
    ticket_id = create(client, app_world).json["id"]
    response = act(client, ticket_id, "resolve", resolution="x")
    assert response.status_code == 409
    error = response.json["error"]
    assert error["current_status"] == "new"
    assert error["allowed_actions"] == ["triage"]
    assert error["field"] == "action"


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"client_id": "1"}, 422, "client_id"),
    ({"client_id": 999}, 422, "client_id"),
    ({"subject": 5}, 422, "subject"),
    ({"subject": ""}, 422, "subject"),
    ({"priority": "urgent"}, 422, "priority"),
    ({"group": "plumbing"}, 422, "group"),
    ({"channel": "fax"}, 422, "channel"),
    ({"type": "wish"}, 422, "type"),
    ({"node_ids": "1"}, 422, "node_ids"),
    ({"node_ids": [999]}, 422, "node_ids"),
    ({"requester_email": "nobody"}, 422, "requester_email"),
    ({"fixed_price": 10.5}, 422, "fixed_price"),
    ({"sla": "gold"}, 422, "sla"),
])
def test_create_validation_names_the_field_and_writes_nothing(client, app_world, app_session, body, status, field):
    response = create(client, app_world, **body)
    assert response.status_code == status, response.json
    assert response.json["error"]["field"] == field
    assert count_tickets(app_session) == 0


def test_non_json_bodies(client, app_world):
    assert client.post("/api/v1/tickets", data="subject=x").status_code == 415
    response = client.post("/api/v1/tickets", data="[1, 2]", content_type="application/json")
    assert response.status_code == 400
    response = client.post("/api/v1/tickets", data="{not json", content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"action": "teleport"}, 422, "action"),
    ({"action": 3}, 422, "action"),
    ({}, 422, "action"),
    ({"action": "triage", "priority": "urgent"}, 422, "priority"),
    ({"action": "triage", "colour": "red"}, 422, "colour"),
])
def test_action_validation(client, app_world, body, status, field):
    ticket_id = create(client, app_world).json["id"]
    response = client.post(f"/api/v1/tickets/{ticket_id}/actions", json=body)
    assert response.status_code == status, response.json
    assert response.json["error"]["field"] == field


def test_unknown_ticket_is_404(client, app_world):
    assert act(client, 12345, "triage").status_code == 404
    assert client.post("/api/v1/tickets/12345/comments", json={"body": "x"}).status_code == 404


def test_resolve_without_resolution_is_422(client, app_world):
    ticket_id = create(client, app_world).json["id"]
    act(client, ticket_id, "triage")
    act(client, ticket_id, "take")
    response = act(client, ticket_id, "resolve")
    assert response.status_code == 422 and response.json["error"]["field"] == "resolution"


def test_comments_and_time_entries(client, app_world):
    ticket_id = create(client, app_world).json["id"]
    comment = client.post(f"/api/v1/tickets/{ticket_id}/comments", json={"body": "Выезжаем", "public": True})
    assert comment.status_code == 201 and comment.json["public"] is True
    bad = client.post(f"/api/v1/tickets/{ticket_id}/comments", json={"body": "x", "public": "yes"})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "public"
    entry = client.post(f"/api/v1/tickets/{ticket_id}/time-entries", json={
        "specialist_id": app_world.line1_id, "started_at": "2026-11-20T10:00:00+03:00", "minutes": 90,
        "on_site": True, "off_hours_agreed": False, "work_kind": "hourly"})
    assert entry.status_code == 201, entry.json
    assert entry.json["minutes"] == 90 and entry.json["work_kind"] == "hourly"
    for body, field in [({"minutes": "90"}, "minutes"), ({"started_at": "2026-11-20T10:00:00"}, "started_at"),
                        ({"specialist_id": 999}, "specialist_id"), ({"work_kind": "barter"}, "work_kind"),
                        ({"minutes": 0}, "minutes")]:
        payload = {"specialist_id": app_world.line1_id, "started_at": "2026-11-20T10:00:00+03:00", "minutes": 30,
                   **body}
        response = client.post(f"/api/v1/tickets/{ticket_id}/time-entries", json=payload)
        assert response.status_code == 422 and response.json["error"]["field"] == field, (body, response.json)
    detail = client.get(f"/api/v1/tickets/{ticket_id}").json
    assert len(detail["time_entries"]) == 1 and len(detail["comments"]) == 1
    assert detail["reacted_at"] is not None  # the engineer's public comment


def test_patch_priority_recomputes_sla(client, app_world):
    ticket = create(client, app_world, priority="low").json
    response = client.patch(f"/api/v1/tickets/{ticket['id']}", json={"priority": "highest", "reason": "касса"})
    assert response.status_code == 200
    assert response.json["priority"] == "highest"
    assert response.json["resolution_due"] < ticket["resolution_due"]
    bad = client.patch(f"/api/v1/tickets/{ticket['id']}", json={"priority": "asap"})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "priority"


def test_roles_and_client_boundary(app_world, client_for_role, client_user_client, client):
    analyst = client_for_role("analyst")
    assert create(analyst, app_world).status_code == 403
    portal = client_user_client(app_world.client_id)
    mine = portal.post("/api/v1/tickets", json={"subject": "Не печатает принтер", "urgency": "high"})
    # priority and group come from triage (rules only without a published model)
    assert mine.status_code == 201, mine.json
    assert mine.json["client_id"] == app_world.client_id and mine.json["channel"] == "portal"
    assert mine.json["urgency"] == "high"
    foreign_client = portal.post("/api/v1/tickets", json={"subject": "x", "client_id": app_world.other_client_id})
    assert foreign_client.status_code == 404
    foreign = create(client, app_world, client_id=app_world.other_client_id).json["id"]
    assert act(portal, foreign, "reopen").status_code == 404
    assert act(portal, mine.json["id"], "triage").status_code == 403
    assert portal.patch(f"/api/v1/tickets/{mine.json['id']}", json={"priority": "high"}).status_code == 403


def test_requester_gets_mail_on_status_changes_and_public_comments(app, client, app_world, smtp_inbox):
    inbox, port = smtp_inbox
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], smtp_host="127.0.0.1", smtp_port=port,
                                     mail_from="support@precedent.example")
    ticket_id = create(client, app_world).json["id"]
    assert inbox.messages == []  # the request wrote the message to the outbox; the worker sends it
    assert deliver_app_outbox(app)["sent"] == 1
    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert recipients == ["p.petrov@romashka.ru"]
    assert message["Subject"].startswith(f"[#{ticket_id}] Заявка зарегистрирована")
    assert message["From"] == "support@precedent.example"
    assert f"номером #{ticket_id}" in message.get_content()

    client.post(f"/api/v1/tickets/{ticket_id}/comments", json={"body": "внутреннее", "public": False})
    deliver_app_outbox(app)
    assert len(inbox.messages) == 1
    client.post(f"/api/v1/tickets/{ticket_id}/comments", json={"body": "Заберём принтер в ремонт"})
    deliver_app_outbox(app)
    assert "Заберём принтер в ремонт" in inbox.messages[-1][1].get_content()
    assert inbox.messages[-1][1]["Subject"].startswith(f"[#{ticket_id}] Новый комментарий")

    act(client, ticket_id, "triage")
    act(client, ticket_id, "take")
    act(client, ticket_id, "resolve", resolution="Заменён фьюзер")
    assert deliver_app_outbox(app)["sent"] == 3
    resolved = inbox.messages[-1][1]
    assert "решена" in resolved["Subject"]
    assert "Заменён фьюзер" in resolved.get_content()
    assert len(inbox.messages) == 5  # created, public comment, triaged, in progress, resolved


def test_mail_failure_never_loses_the_change(app, client, app_world, app_session):
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], smtp_host="127.0.0.1", smtp_port=free_port(),
                                     smtp_timeout_seconds=2.0)
    response = create(client, app_world)
    assert response.status_code == 201
    assert count_tickets(app_session) == 1


def test_mail_templates_can_be_overridden(app, client, app_world, smtp_inbox, tmp_path):
    inbox, port = smtp_inbox
    (tmp_path / "status_changed.subject.txt").write_text("Ticket {{ ticket.id }} is {{ ticket.status }}",
                                                         encoding="utf-8")
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], smtp_host="127.0.0.1", smtp_port=port,
                                     mail_templates_dir=str(tmp_path))
    ticket_id = create(client, app_world).json["id"]
    deliver_app_outbox(app)
    message = inbox.messages[-1][1]
    assert message["Subject"] == f"Ticket {ticket_id} is new"
    assert f"#{ticket_id}" in message.get_content()  # the body still comes from the built-in template


def test_out_of_range_ids_are_not_found_not_500(client, app_world):
    huge = 2**63
    assert act(client, huge, "triage").status_code == 404
    assert create(client, app_world, client_id=huge).json["error"]["field"] == "client_id"
    assert create(client, app_world, node_ids=[huge]).json["error"]["field"] == "node_ids"
    ticket_id = create(client, app_world).json["id"]
    response = act(client, ticket_id, "assign_specialists", specialist_ids=[huge])
    assert response.status_code in (409, 422)
    act(client, ticket_id, "triage")
    act(client, ticket_id, "take")
    response = act(client, ticket_id, "assign_specialists", specialist_ids=[huge])
    assert response.status_code == 422 and response.json["error"]["field"] == "specialist_ids"
