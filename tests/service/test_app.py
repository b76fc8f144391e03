"""The app factory, health check and ticket read API."""

from __future__ import annotations

from datetime import UTC, datetime

from kb.db import make_engine, make_session_factory, transaction
from kb.models import Client, Ticket


def add_ticket(url: str, **fields) -> int:
    with transaction(make_session_factory(make_engine(url))) as session:
        client = Client(name="ООО Тест")
        ticket = Ticket(client=client, subject="Не печатает принтер", created_at=datetime(2026, 2, 1, tzinfo=UTC),
                        **fields)
        session.add(ticket)
        session.flush()
        return ticket.id


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_healthz_reports_a_broken_database(tmp_path):
    from service import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/x.sqlite3"})
    (tmp_path / "missing" / "dir").rmdir()
    assert app.test_client().get("/healthz").status_code == 503


def test_ticket_list_and_detail(app, client):
    ticket_id = add_ticket(app.config["DATABASE_URL"], priority="high")
    listing = client.get("/api/v1/tickets?priority=high").json
    assert listing["total"] == 1
    assert listing["items"][0]["subject"] == "Не печатает принтер"
    detail = client.get(f"/api/v1/tickets/{ticket_id}").json
    assert detail["id"] == ticket_id and detail["comments"] == []


def test_bad_query_arguments_name_the_field(client):
    response = client.get("/api/v1/tickets?limit=abc")
    assert response.status_code == 400
    assert response.json["error"]["field"] == "limit"
    response = client.get("/api/v1/tickets?priority=urgent")
    assert response.status_code == 400 and response.json["error"]["field"] == "priority"
    response = client.get("/api/v1/tickets/999")
    assert response.status_code == 404


def test_api_needs_a_token(anonymous_client):
    response = anonymous_client.get("/api/v1/tickets")
    assert response.status_code == 401
    response = anonymous_client.get("/api/v1/tickets", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401 and response.json["error"]["field"] == "Authorization"
    assert anonymous_client.get("/healthz").status_code == 200


def test_client_user_sees_only_its_own_client(app, client_user_client):
    own = add_ticket(app.config["DATABASE_URL"])
    other = add_ticket(app.config["DATABASE_URL"])
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        own_client = session.get(Ticket, own).client_id
    portal = client_user_client(own_client)
    listing = portal.get("/api/v1/tickets").json
    assert [item["id"] for item in listing["items"]] == [own]
    assert portal.get(f"/api/v1/tickets/{other}").status_code == 404
    assert portal.get(f"/api/v1/tickets/{own}").status_code == 200
    assert portal.get(f"/api/v1/tickets?client={own_client + 1}").status_code == 404


def test_tokens_and_passwords_are_stored_hashed(app, client):
    from sqlalchemy import select

    from kb.models import ApiToken, User

    token = client.environ_base["HTTP_AUTHORIZATION"].split()[1]
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
        hashes = session.scalars(select(User.password_hash)).all()
    assert token not in stored and all(len(h) == 64 for h in stored)
    assert all(h.startswith("scrypt:") and "correct horse" not in h for h in hashes)


def test_metrics_count_requests(client, anonymous_client):
    client.get("/api/v1/tickets")
    body = anonymous_client.get("/metrics").get_data(as_text=True)
    assert 'precedent_http_requests_total{method="GET",route="/api/v1/tickets",status="200"} 1.0' in body


def test_openapi_lists_routes_with_security(anonymous_client):
    document = anonymous_client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    detail = document["paths"]["/api/v1/tickets/{ticket_id}"]["get"]
    assert detail["parameters"][0] == {"name": "ticket_id", "in": "path", "required": True,
                                       "schema": {"type": "integer"}}
    assert detail["security"] == [{"bearer": []}]
