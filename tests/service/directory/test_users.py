"""Logins and API tokens: scopes, expiry, revocation, disabling, roles — each audited, through the CLI and HTTP."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from kb.db import make_engine, make_session_factory
from kb.models import ApiToken, AuditEvent, Client, User, utcnow
from service.cli import main
from service.directory import users as users_service

PASSWORD = "correct horse battery"


@pytest.fixture
def store(app, monkeypatch):
    """The app's store with a client and an engineer; the CLI points at it."""
    monkeypatch.setenv("PRECEDENT_DATABASE_URL", app.config["DATABASE_URL"])
    session = make_session_factory(make_engine(app.config["DATABASE_URL"]))()
    session.add(Client(name="ООО Ромашка"))
    session.commit()
    users_service.register_user(session, username="anna", password=PASSWORD, role="engineer_l1")
    yield session
    session.close()


def cli(*args):
    result = CliRunner().invoke(main, list(args))
    return result, (json.loads(result.output) if result.output.startswith("{") else None)


def get_tickets(app, token: str):
    return app.test_client().get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"})


def create_ticket(app, token: str):
    return app.test_client().post("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"},
                                  json={"client_id": 1, "subject": "Не печатает", "priority": "low",
                                        "group": "printers"})


def audit_actions(session) -> list[str]:
    session.expire_all()
    return [e.action for e in session.scalars(select(AuditEvent).where(AuditEvent.entity == "user")
                                              .order_by(AuditEvent.id))]


@pytest.mark.parametrize(("scopes", "read", "create", "patch"), [
    ("read", 200, 403, 403),
    ("read,write", 200, 201, 422),
    ("intake", 403, 201, 403),
    ("write", 403, 201, 422),
])
def test_scopes_decide_what_a_token_may_do(app, store, scopes, read, create, patch):
    result, issued = cli("tokens", "create", "anna", "--scopes", scopes)
    assert result.exit_code == 0, result.output
    token = issued["token"]
    assert get_tickets(app, token).status_code == read
    assert create_ticket(app, token).status_code == create
    response = app.test_client().patch("/api/v1/tickets/1", headers={"Authorization": f"Bearer {token}"},
                                       json={"priority": "urgent"})  # invalid on purpose: 422 once allowed
    assert response.status_code == patch


def test_a_revoked_token_gets_401_and_the_revocation_is_audited(app, store):
    _, issued = cli("tokens", "create", "anna", "--name", "monitoring")
    assert get_tickets(app, issued["token"]).status_code == 200
    _, listing = cli("tokens", "list", "--user", "anna")
    row = listing["items"][0]
    assert row["name"] == "monitoring" and row["last_used_at"] is not None and "token" not in row
    result, _ = cli("tokens", "revoke", str(row["id"]))
    assert result.exit_code == 0
    response = get_tickets(app, issued["token"])
    assert response.status_code == 401 and "revoked or expired" in response.json["error"]["message"]
    assert audit_actions(store) == ["user_created", "token_created", "token_revoked"]


def test_an_expired_token_gets_401(app, store):
    token = users_service.new_api_token(store, username="anna", expires_at=utcnow() + timedelta(seconds=30))
    assert get_tickets(app, token).status_code == 200
    store.execute(ApiToken.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    store.commit()
    assert get_tickets(app, token).status_code == 401


def test_disabling_a_user_revokes_its_tokens_and_ends_its_sessions(app, store):
    from tests.service.web.test_views import login

    token = users_service.new_api_token(store, username="anna")
    browser = app.test_client()
    assert login(browser, "anna").status_code == 302 and browser.get("/queue").status_code == 200
    result, _ = cli("users", "disable", "anna")
    assert result.exit_code == 0 and "1 token(s) revoked" in result.output
    assert get_tickets(app, token).status_code == 401
    assert browser.get("/queue").status_code == 302  # back to the login page
    assert login(app.test_client(), "anna").status_code == 401
    assert audit_actions(store)[-1] == "user_disabled"


def test_set_role_and_list_users(app, store):
    result, _ = cli("users", "set-role", "anna", "--role", "engineer_l2")
    assert result.exit_code == 0
    _, listing = cli("users", "list")
    assert [(u["username"], u["role"], u["active"]) for u in listing["items"]] == [("anna", "engineer_l2", True)]
    event = store.scalars(select(AuditEvent).where(AuditEvent.action == "role_changed")).one()
    assert event.data["from"]["role"] == "engineer_l1" and event.data["to"]["role"] == "engineer_l2"
    store.expire_all()
    assert store.scalars(select(User.session_version).where(User.username == "anna")).one() == 1


@pytest.mark.parametrize(("args", "message"), [
    (("tokens", "create", "anna", "--scopes", "admin"), "scopes: scopes must be some of read, write, intake"),
    (("tokens", "create", "nobody"), "username: no user 'nobody'"),
    (("tokens", "revoke", "99"), "id: no token 99"),
    (("users", "set-role", "anna", "--role", "client"), "client: a client user needs --client"),
    (("users", "disable", "nobody"), "username: no user 'nobody'"),
    (("users", "set-email", "anna", "not an address"), "email: email must be an e-mail address like user@example.com"),
    (("users", "set-email", "nobody", "a@b.ru"), "username: no user 'nobody'"),
    (("users", "create", "olga", "--role", "analyst", "--email", "olga@", "--password", PASSWORD),
     "email: email must be an e-mail address"),
])
def test_bad_requests_name_what_is_wrong_and_change_nothing(store, args, message):
    before = audit_actions(store)
    result, _ = cli(*args)
    assert result.exit_code == 2 and message in result.output
    assert audit_actions(store) == before


def test_a_login_gets_its_e_mail_address_on_creation_or_later_audited(app, store):
    result, _ = cli("users", "create", "petrov", "--role", "client", "--client", "1", "--email", " Petrov@Romashka.ru",
                    "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    result, _ = cli("users", "set-email", "anna", "anna@desk.example")
    assert result.exit_code == 0 and "anna@desk.example" in result.output
    _, listing = cli("users", "list")
    assert {u["username"]: u["email"] for u in listing["items"]} == {"anna": "anna@desk.example",
                                                                      "petrov": "petrov@romashka.ru"}
    assert cli("users", "set-email", "anna", "")[0].exit_code == 0
    store.expire_all()
    assert store.scalars(select(User.email).where(User.username == "anna")).one() is None
    changes = [e.data for e in store.scalars(select(AuditEvent).where(AuditEvent.action == "email_changed")
                                             .order_by(AuditEvent.id))]
    assert changes == [{"from": None, "to": "anna@desk.example"}, {"from": "anna@desk.example", "to": None}]
    created = store.scalars(select(AuditEvent).where(AuditEvent.action == "user_created")).all()[-1]
    assert created.data["email"] == "petrov@romashka.ru"


def test_a_client_user_is_made_its_companys_manager_by_the_cli_audited(app, store):
    result, _ = cli("users", "create", "ivanova", "--role", "client", "--client", "1", "--client-manager",
                    "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    _, listing = cli("users", "list")
    assert {u["username"]: u["client_manager"] for u in listing["items"]} == {"anna": False, "ivanova": True}
    created = store.scalars(select(AuditEvent).where(AuditEvent.action == "user_created")).all()[-1]
    assert created.data["client_manager"] is True
    # set-role without the flag makes a plain client user; with it, the company's manager again
    assert cli("users", "set-role", "ivanova", "--role", "client", "--client", "1")[0].exit_code == 0
    result, _ = cli("users", "set-role", "anna", "--role", "client", "--client", "1", "--client-manager")
    assert result.exit_code == 0 and "anna is now client (client manager)" in result.output
    store.expire_all()
    flags = dict(store.execute(select(User.username, User.client_manager)).all())
    assert flags == {"anna": True, "ivanova": False}
    changes = [e.data for e in store.scalars(select(AuditEvent).where(AuditEvent.action == "role_changed")
                                             .order_by(AuditEvent.id))]
    assert changes[0]["from"]["client_manager"] is True and changes[0]["to"]["client_manager"] is False
    assert changes[1]["to"] == {"role": "client", "client_id": 1, "client_manager": True}


@pytest.mark.parametrize("args", [
    ("users", "create", "olga", "--role", "analyst", "--client-manager", "--password", PASSWORD),
    ("users", "set-role", "anna", "--role", "manager", "--client-manager"),
])
def test_only_a_client_user_can_be_a_client_manager(store, args):
    before = audit_actions(store)
    result, _ = cli(*args)
    assert result.exit_code == 2 and "client_manager: only a client user can be its company's manager" in result.output
    assert audit_actions(store) == before
