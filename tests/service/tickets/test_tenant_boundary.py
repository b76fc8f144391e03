"""The client boundary on the ticket routes: what a client user reads and sets, alert de-duplication per
client, role checks of write routes, and no existence hints across clients."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from kb.models import Ticket, User
from tests.service.tickets.test_alertmanager import AUTH, URL, notification
from tests.service.tickets.test_api import act, create
from tests.service.web.test_views import login
from tests.smtp_server import deliver_app_outbox


def staff_ticket_with_comments(client, world) -> int:
    ticket_id = create(client, world).json["id"]
    client.post(f"/api/v1/tickets/{ticket_id}/comments", json={"body": "Клиент опять без бэкапа", "public": False})
    client.post(f"/api/v1/tickets/{ticket_id}/comments", json={"body": "Заберём принтер в ремонт"})
    return ticket_id


def bodies(ticket_json) -> list[str]:
    return [c["body"] for c in ticket_json["comments"]]


def test_client_user_never_reads_internal_comments(client, client_user_client, app_world):
    ticket_id = staff_ticket_with_comments(client, app_world)
    portal = client_user_client(app_world.client_id)
    assert bodies(portal.get(f"/api/v1/tickets/{ticket_id}").json) == ["Заберём принтер в ремонт"]
    for action, params in (("triage", {}), ("take", {}), ("resolve", {"resolution": "Заменён фьюзер"})):
        assert act(client, ticket_id, action, **params).status_code == 200
    reopened = act(portal, ticket_id, "reopen", reason="Снова не печатает")
    assert reopened.status_code == 200, reopened.json
    assert "Клиент опять без бэкапа" not in bodies(reopened.json)
    # staff still read everything
    assert "Клиент опять без бэкапа" in bodies(client.get(f"/api/v1/tickets/{ticket_id}").json)


def test_portal_page_hides_internal_comments(app, client, app_world, app_session):
    from service.platform.auth import create_user

    ticket_id = staff_ticket_with_comments(client, app_world)
    create_user(app_session, username="portal-user", password="correct horse battery", role="client",
                client_id=app_world.client_id)
    app_session.commit()
    browser = app.test_client()
    login(browser, "portal-user", "correct horse battery")
    page = browser.get(f"/portal/tickets/{ticket_id}").get_data(as_text=True)
    assert "Заберём принтер в ремонт" in page and "Клиент опять без бэкапа" not in page


@pytest.mark.parametrize(("field", "value"), [
    ("priority", "highest"), ("group", "printers"), ("type", "change_request"), ("channel", "phone"),
    ("billing_mode", "fixed"), ("fixed_price", "1.00"), ("estimate_hours", "2"),
    ("alert_fingerprint", "1a30ba71cca2921f"), ("alert_severity", "critical"), ("external_id", "GLPI-1"),
    ("requester_email", "a.ivanova@vector.example"), ("requester_name", "Иванова"),
])
def test_client_user_cannot_set_staff_fields(client_user_client, app_world, app_session, field, value):
    portal = client_user_client(app_world.client_id)
    response = portal.post("/api/v1/tickets", json={"subject": "Не печатает принтер", field: value})
    assert response.status_code == 422 and response.json["error"]["field"] == field
    assert app_session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_client_users_ticket_is_requested_from_its_own_address(app_session, client_user_client, app_world):
    portal = client_user_client(app_world.client_id)
    user = app_session.scalars(select(User).where(User.role == "client")).one()
    user.email = "p.petrov@romashka.ru"
    app_session.commit()
    created = portal.post("/api/v1/tickets", json={"subject": "Не печатает принтер", "urgency": "highest",
                                                   "node_ids": [app_world.printer_id]})
    assert created.status_code == 201, created.json
    ticket = created.json
    assert (ticket["requester_email"], ticket["requester_name"]) == ("p.petrov@romashka.ru", user.username)
    assert (ticket["channel"], ticket["urgency"]) == ("portal", "highest")
    plain = portal.post("/api/v1/tickets", json={"subject": "Не печатает принтер", "node_ids": [app_world.printer_id]})
    assert ticket["priority"] == plain.json["priority"] != "highest"  # set by triage: the hint changes nothing


def test_a_copied_fingerprint_absorbs_no_alert_of_another_client(client, client_user_client, anonymous_client,
                                                                 app_world):
    # staff typed the fingerprint of Romashka's server alert into a ticket of another client
    decoy = create(client, app_world, client_id=app_world.other_client_id, alert_fingerprint="1a30ba71cca2921f",
                   requester_email=None).json["id"]
    report = anonymous_client.post(URL, json=notification(), headers=AUTH).json
    result = report["results"][0]
    assert result["outcome"] == "created" and result["ticket_id"] != decoy
    other_portal = client_user_client(app_world.other_client_id)
    assert bodies(other_portal.get(f"/api/v1/tickets/{decoy}").json) == []


def test_a_monitoring_incident_is_not_reopened_beside_a_newer_one(client, anonymous_client, app_world):
    first = anonymous_client.post(URL, json=notification(), headers=AUTH).json["results"][0]["ticket_id"]
    for action, params in (("triage", {"group": "servers"}), ("take", {}), ("resolve", {"resolution": "ok"})):
        assert act(client, first, action, **params).status_code == 200
    second = anonymous_client.post(URL, json=notification(), headers=AUTH).json["results"][0]
    assert second["outcome"] == "created"
    response = act(client, first, "reopen")
    assert response.status_code == 422 and f"#{second['ticket_id']}" in response.json["error"]["message"]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("post", "/api/v1/tickets/{id}/stop-work", None),
    ("post", "/api/v1/tickets/{id}/comments", {"body": "x"}),
    ("post", "/api/v1/tickets/{id}/actions", {"action": "triage"}),
    ("post", "/api/v1/tickets/{id}/suggestions/incident/1/feedback", {"useful": True}),
    ("patch", "/api/v1/tickets/{id}", {"priority": "high"}),
])
def test_the_analyst_reads_but_never_writes(client, client_for_role, app_world, method, path, body):
    ticket_id = create(client, app_world).json["id"]
    analyst = client_for_role("analyst")
    response = getattr(analyst, method)(path.format(id=ticket_id), json=body)
    assert response.status_code == 403, response.json
    assert analyst.get(f"/api/v1/tickets/{ticket_id}").status_code == 200


def test_another_clients_node_answers_like_a_missing_one(client, client_user_client, app_world):
    def error(caller, node_id, **fields):
        response = caller.post("/api/v1/tickets", json={"subject": "x", "node_ids": [node_id], **fields})
        assert response.status_code == 422
        return response.json["error"]["message"].replace(str(node_id), "<id>")

    portal = client_user_client(app_world.client_id)
    assert error(portal, app_world.other_node_id) == error(portal, 999_999)
    staff = {"client_id": app_world.client_id, "priority": "low", "group": "printers"}
    assert error(client, app_world.other_node_id, **staff) == error(client, 999_999, **staff)


def test_a_duplicate_external_id_is_a_conflict(client, app_world):
    assert create(client, app_world, external_id="GLPI-7").status_code == 201
    again = create(client, app_world, external_id="GLPI-7")
    assert again.status_code == 409 and again.json["error"]["field"] == "external_id"


def test_mail_to_the_requester_carries_no_internal_note(app, client, app_world, smtp_inbox):
    inbox, port = smtp_inbox
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], smtp_host="127.0.0.1", smtp_port=port)
    ticket_id = staff_ticket_with_comments(client, app_world)
    act(client, ticket_id, "triage", reason="Клиент опять сам сломал драйвер")
    act(client, ticket_id, "take")
    act(client, ticket_id, "request_info", reason="Какая модель картриджа?")
    deliver_app_outbox(app)
    mails = "\n".join(message.get_content() for _, message in inbox.messages)
    assert "Какая модель картриджа?" in mails and "Заберём принтер в ремонт" in mails
    assert "Клиент опять" not in mails
