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
