"""The error contract: {"error": {"code", "message", "field"}} with stable codes, and unknown fields refused
on every JSON write route (a misspelt field is never silently ignored)."""

from __future__ import annotations

import pytest

from kb.db import make_engine, make_session_factory
from kb.models import Article, Client, KnownProblem, Ticket

#: Every JSON write route that takes a body, with a placeholder for its ids.
WRITE_ROUTES = [
    ("POST", "/api/v1/tickets"),
    ("PATCH", "/api/v1/tickets/{ticket}"),
    ("POST", "/api/v1/tickets/{ticket}/comments"),
    ("POST", "/api/v1/tickets/{ticket}/time-entries"),
    ("POST", "/api/v1/tickets/{ticket}/change-requests"),
    ("POST", "/api/v1/tickets/{ticket}/operations"),
    ("POST", "/api/v1/tickets/{ticket}/suggestions/article/{article}/feedback"),
    ("POST", "/api/v1/clients/{client}/contracts"),
    ("POST", "/api/v1/triage"),
    ("POST", "/api/v1/articles"),
    ("PATCH", "/api/v1/articles/{article}"),
    ("POST", "/api/v1/known-problems"),
    ("PATCH", "/api/v1/known-problems/{problem}"),
]


@pytest.fixture
def ids(app):
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        client = Client(name="ООО Ромашка")
        ticket = Ticket(client=client, subject="Не печатает МФУ")
        article, problem = Article(title="Спулер", body="Перезапустить"), KnownProblem(title="Спулер")
        session.add_all([ticket, article, problem])
        session.commit()
        return {"client": client.id, "ticket": ticket.id, "article": article.id, "problem": problem.id}


@pytest.mark.parametrize(("method", "path"), WRITE_ROUTES)
def test_an_unknown_field_is_refused_naming_it(client_for_role, ids, method, path):
    manager = client_for_role("manager")
    response = manager.open(path.format(**ids), method=method, json={"subjcet": "опечатка"})
    assert response.status_code == 422, (path, response.json)
    assert response.json["error"]["code"] == "unknown_field" and response.json["error"]["field"] == "subjcet"


@pytest.mark.parametrize(("call", "status", "code"), [
    (lambda c, ids: c.get("/api/v1/tickets/999"), 404, "not_found"),
    (lambda c, ids: c.get("/api/v1/nowhere"), 404, "not_found"),
    (lambda c, ids: c.get("/api/v1/tickets?limit=abc"), 400, "bad_request"),
    (lambda c, ids: c.post("/api/v1/tickets", data="x", content_type="text/plain"), 415, "unsupported_media_type"),
    (lambda c, ids: c.post(f"/api/v1/tickets/{ids['ticket']}/actions", json={"action": "resolve",
                                                                          "resolution": "x"}), 409,
     "illegal_transition"),
    (lambda c, ids: c.delete("/api/v1/tickets"), 405, "method_not_allowed"),
])
def test_errors_carry_a_stable_code(client_for_role, ids, call, status, code):
    response = call(client_for_role("manager"), ids)
    assert response.status_code == status and response.json["error"]["code"] == code
    assert response.json["error"]["message"]


def test_a_client_user_is_told_which_field_is_not_its_own(client_user_client, ids):
    response = client_user_client(ids["client"]).post("/api/v1/tickets", json={"subject": "x", "priority": "high"})
    assert response.status_code == 422
    assert response.json["error"] | {"message": "…"} == {"code": "field_not_allowed", "field": "priority",
                                                          "message": "…"}


def test_unauthenticated_and_forbidden_have_their_codes(anonymous_client, client_for_role, ids):
    assert anonymous_client.get("/api/v1/tickets").json["error"]["code"] == "unauthorized"
    assert client_for_role("analyst").post("/api/v1/tickets", json={}).json["error"]["code"] == "forbidden"
