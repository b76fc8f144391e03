"""Administration pages: only admins; users and tokens managed through the CLI's use cases, audited;
a new token shown once; Russian and English; CSRF like every other form."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kb.db import make_engine, make_session_factory
from kb.models import ApiToken, AuditEvent, Client, User
from service.platform.auth import create_user
from tests.service.web.test_views import PASSWORD, login


def sessions(app):
    return make_session_factory(make_engine(app.config["DATABASE_URL"]))


@pytest.fixture
def admin_web(app):
    with sessions(app)() as session:
        session.add(Client(name="ООО Ромашка"))
        create_user(session, username="root", password=PASSWORD, role="admin")
        create_user(session, username="eng", password=PASSWORD, role="engineer_l1")
        session.commit()
    web = app.test_client()
    assert login(web, "root").status_code == 302
    return web


def csrf(web) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', web.get("/admin/users").get_data(as_text=True)).group(1)


def audit_actions(app) -> list[tuple[str, str]]:
    with sessions(app)() as session:
        return [(e.action, e.actor) for e in session.scalars(select(AuditEvent).where(AuditEvent.entity == "user")
                                                             .order_by(AuditEvent.id))]


@pytest.mark.parametrize("role", ["engineer_l1", "engineer_l2", "manager", "analyst"])
def test_only_admins_see_the_pages(app, role):
    with sessions(app)() as session:
        create_user(session, username=f"u-{role}", password=PASSWORD, role=role)
        session.commit()
    web = app.test_client()
    login(web, f"u-{role}")
    assert web.get("/admin/users").status_code == 403
    token = re.search(r'name="csrf" value="([^"]+)"', web.get("/login").get_data(as_text=True)).group(1)
    assert web.post("/admin/users", data={"username": "x", "password": PASSWORD, "role": "admin",
                                          "csrf": token}).status_code == 403
    assert app.test_client().get("/admin/users").status_code == 302  # anonymous: to the login page


def test_create_user_set_role_reset_password_disable_are_audited(app, admin_web):
    token = csrf(admin_web)
    created = admin_web.post("/admin/users", data={"username": "anna", "password": PASSWORD, "role": "analyst",
                                                   "csrf": token}, follow_redirects=True)
    assert "Пользователь создан" in created.get_data(as_text=True)
    with sessions(app)() as session:
        anna = session.scalar(select(User).where(User.username == "anna"))
        client_id = session.scalar(select(Client.id))
    admin_web.post(f"/admin/users/{anna.id}/role", data={"role": "client", "client_id": str(client_id), "csrf": token})
    admin_web.post(f"/admin/users/{anna.id}/password", data={"password": "another long password", "csrf": token})
    fresh = app.test_client()
    assert login(fresh, "anna", "another long password").status_code == 302
    disabled = admin_web.post(f"/admin/users/{anna.id}/disable", data={"csrf": token}, follow_redirects=True)
    assert "Пользователь отключён" in disabled.get_data(as_text=True)
    with sessions(app)() as session:
        anna = session.get(User, anna.id)
        assert (anna.role, anna.client_id, anna.active) == ("client", client_id, False)
    assert fresh.get("/portal").status_code == 302  # the disabled user's session ended
    assert audit_actions(app) == [("user_created", "root"), ("role_changed", "root"), ("password_changed", "root"),
                                  ("user_disabled", "root")]


def test_a_refused_change_says_why_and_changes_nothing(app, admin_web):
    page = admin_web.post("/admin/users", data={"username": "eng", "password": PASSWORD, "role": "analyst",
                                                "csrf": csrf(admin_web)}, follow_redirects=True)
    assert "Не выполнено" in page.get_data(as_text=True) and "already exists" in page.get_data(as_text=True)
    assert audit_actions(app) == []


def test_a_new_token_is_shown_once_works_and_can_be_revoked(app, admin_web):
    token = csrf(admin_web)
    page = admin_web.post("/admin/tokens", data={"username": "eng", "name": "monitoring", "scope_read": "on",
                                                 "expires": "2999-01-01", "csrf": token})
    assert page.status_code == 201
    secret = re.search(r"<code>([^<]+)</code>", page.get_data(as_text=True)).group(1)
    api = app.test_client()
    assert api.get("/api/v1/tickets", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listing = admin_web.get("/admin/users").get_data(as_text=True)
    assert secret not in listing and "monitoring" in listing and "2999-01-01" in listing
    with sessions(app)() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.name == "monitoring"))
        assert row.scopes == ["read"]
    admin_web.post(f"/admin/tokens/{row.id}/revoke", data={"csrf": token})
    assert api.get("/api/v1/tickets", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert [a for a, _ in audit_actions(app)] == ["token_created", "token_revoked"]


def test_english_and_russian(admin_web):
    assert "Пользователи и токены" in admin_web.get("/admin/users").get_data(as_text=True)
    english = admin_web.get("/admin/users?lang=en").get_data(as_text=True)
    assert "Users and tokens" in english and "Line-1 engineer" in english and "engineer_l1<" not in english
    assert "Users and tokens" in admin_web.get("/admin/users", headers={"Accept-Language": "en-GB,en"}).get_data(
        as_text=True)


def test_a_form_without_the_csrf_token_is_refused(app, admin_web):
    assert admin_web.post("/admin/users", data={"username": "x", "password": PASSWORD,
                                                "role": "admin"}).status_code == 400
    assert audit_actions(app) == []


def test_an_admin_cannot_lock_itself_out(app, admin_web):
    token = csrf(admin_web)
    with sessions(app)() as session:
        root = session.scalar(select(User).where(User.username == "root"))
    page = admin_web.post(f"/admin/users/{root.id}/disable", data={"csrf": token}, follow_redirects=True)
    assert "свой собственный вход" in page.get_data(as_text=True)
    admin_web.post(f"/admin/users/{root.id}/role", data={"role": "analyst", "csrf": token})
    with sessions(app)() as session:
        root = session.get(User, root.id)
        assert (root.active, root.role) == (True, "admin")
    assert audit_actions(app) == []


def test_a_client_role_without_a_client_is_explained(app, admin_web):
    with sessions(app)() as session:
        eng = session.scalar(select(User).where(User.username == "eng"))
    page = admin_web.post(f"/admin/users/{eng.id}/role?lang=en", data={"role": "client", "csrf": csrf(admin_web)},
                          follow_redirects=True)
    assert "a client user needs a client" in page.get_data(as_text=True)


def test_the_admin_sets_a_users_e_mail_address_audited_and_refuses_a_bad_one(app, admin_web):
    with sessions(app)() as session:
        eng_id = session.scalars(select(User.id).where(User.username == "eng")).one()
    admin_web.post(f"/admin/users/{eng_id}/email", data={"email": "eng@desk.example", "csrf": csrf(admin_web)})
    page = admin_web.get("/admin/users?lang=en").get_data(as_text=True)
    assert 'value="eng@desk.example"' in page
    refused = admin_web.post(f"/admin/users/{eng_id}/email?lang=en", data={"email": "eng at desk",
                                                                           "csrf": csrf(admin_web)},
                             follow_redirects=True)
    assert "the e-mail address must look like user@example.com" in refused.get_data(as_text=True)
    admin_web.post("/admin/users", data={"username": "olga", "password": PASSWORD, "role": "client", "client_id": "1",
                                         "email": "olga@romashka.ru", "csrf": csrf(admin_web)})
    with sessions(app)() as session:
        emails = dict(session.execute(select(User.username, User.email)).all())
    assert (emails["eng"], emails["olga"]) == ("eng@desk.example", "olga@romashka.ru")
    assert ("email_changed", "root") in audit_actions(app)
    assert admin_web.post("/admin/users/999/email", data={"email": "", "csrf": csrf(admin_web)}).status_code == 404


def test_the_admin_marks_a_client_user_as_its_companys_manager(app, admin_web):
    token = csrf(admin_web)
    with sessions(app)() as session:
        client_id = session.scalar(select(Client.id))
    admin_web.post("/admin/users", data={"username": "lead", "password": PASSWORD, "role": "client",
                                         "client_id": str(client_id), "client_manager": "on", "csrf": token})
    admin_web.post("/admin/users", data={"username": "clerk", "password": PASSWORD, "role": "client",
                                         "client_id": str(client_id), "csrf": token})
    page = admin_web.get("/admin/users?lang=en").get_data(as_text=True)
    lead_row = re.search(r"<td>lead</td>(.*?)</tr>", page, re.S).group(1)
    assert "client&#39;s manager</span>" in lead_row and 'name="client_manager" checked' in lead_row
    assert 'name="client_manager" checked' not in re.search(r"<td>clerk</td>(.*?)</tr>", page, re.S).group(1)
    with sessions(app)() as session:
        lead, clerk = (session.scalar(select(User).where(User.username == name)) for name in ("lead", "clerk"))
        assert (lead.client_manager, clerk.client_manager) == (True, False)
    # the checkbox left empty on the role form makes a plain client user; a staff role ignores it
    admin_web.post(f"/admin/users/{lead.id}/role", data={"role": "client", "client_id": str(client_id), "csrf": token})
    admin_web.post(f"/admin/users/{clerk.id}/role", data={"role": "analyst", "client_manager": "on", "csrf": token})
    with sessions(app)() as session:
        assert session.get(User, lead.id).client_manager is False
        assert (session.get(User, clerk.id).role, session.get(User, clerk.id).client_manager) == ("analyst", False)
    assert [a for a, _ in audit_actions(app)] == ["user_created", "user_created", "role_changed", "role_changed"]
