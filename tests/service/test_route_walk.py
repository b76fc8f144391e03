"""Every route of the app's URL map, walked as every role and as a client user of another client.

For each route and method: never a 500; a role the table of ``service.permissions`` does not allow gets
403 on every write; a client user never reads another client's data (404 or 403, and none of its names
in the answer) and never an internal comment, not even on its own tickets. A new route joins this walk
by itself: a write route must name its action in the table or be listed in :data:`SELF_PROTECTED`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kb.db import make_engine, make_session_factory
from kb.models import (
    Article,
    Assignment,
    Attachment,
    KnownProblem,
    Partner,
    QuarantinedMessage,
    Specialist,
    UnmatchedAlert,
)
from service.platform.auth import create_user, issue_token
from service.platform.permissions import PARTNER, ROLE_ACTIONS
from service.platform.permissions import STAFF as STAFF_ROLES
from service.tickets import workflow
from tests.service.tickets.conftest import build_world
from tests.service.web.test_views import PASSWORD, login

#: Write routes outside the role table, each protecting itself otherwise.
SELF_PROTECTED = {
    "web.login": "anyone may try to log in (rate-limited)",
    "web.logout": "ends the caller's own session",
    "webhooks.alertmanager": "its own shared secret",
    "quote_audit_api.quote": "the public price calculator: stores nothing, its input is bounded",
}
#: What must never reach a client user of the first client: the second client's names and every internal note.
OTHER_CLIENT_MARKERS = ("АО Вектор", "vec-dc1", "ЧУЖАЯ-заявка-Вектора")
INTERNAL_MARKERS = ("ВНУТРЕННЕЕ-Ромашки", "ВНУТРЕННЕЕ-Вектора")
#: What must never reach the first partner's engineer: the other partner's name and engineer.
OTHER_PARTNER_MARKERS = ("ООО Урал-Выезд", "Уральский Выездной")
MONTH = "2026-11"
#: A valid body for each write, so that a refusal comes from the boundary and not from validation.
BODIES = {
    "workflow.create_ticket": {"subject": "Не печатает принтер"},
    "workflow.update_ticket": {"priority": "high"},
    "workflow.apply_action": {"action": "triage"},
    "workflow.add_comment": {"body": "Проверьте кабель"},
    "workflow.add_time_entry": {"specialist_id": 1, "started_at": "2026-11-23T10:00:00+03:00", "minutes": 30},
    "billing.create_contract": {"plan_kind": "unlimited", "valid_from": "2026-11-01T00:00:00+03:00", "terms": {}},
    "billing.create_change_request": {"new_price": "100.00", "agreed_by": "Иванов"},
    "billing.record_operation": {"kind": "workstation_setup", "quantity": 1},
    "search.suggestion_feedback": {"useful": True},
    "triage.triage": {"subject": "Не печатает принтер"},
    "knowledge.create_article": {"title": "Принтер", "body": "Перезапустить спулер"},
    "knowledge.update_article": {"title": "Принтер"},
    "knowledge.create_known_problem": {"title": "Спулер", "symptoms": "не печатает"},
    "knowledge.update_known_problem": {"title": "Спулер"},
    "quote_audit_api.quote": {"workstations": 5, "servers": 1, "tier": "silver"},
}
FORMS = {
    "web.ticket_action": {"action": "triage"},
    "web.ticket_comment": {"body": "Проверьте кабель"},
    "web.ticket_time_entry": {"specialist_id": "1", "started_at": "2026-11-23T10:00", "minutes": "30"},
    "web.portal_new_ticket": {"subject": "Не печатает принтер"},
    "intake_web.quarantine_accept": {"client_id": "1", "remember": "on"},
    "intake_web.unmatched_alert_link": {"node_id": "1"},
    "web.suggestion_feedback": {"useful": "1"},
    "web.ticket_time_entry_change": {"started_at": "2026-11-23T10:00", "minutes": "45", "note": "исправлено"},
    "web.portal_reply": {"body": "Перезагрузили, не помогло"},
    "admin.create_user": {"username": "walked-user", "password": "correct horse battery", "role": "analyst"},
    "admin.set_role": {"role": "analyst"},
    "admin.reset_password": {"password": "correct horse battery"},
    "admin.set_email": {"email": "walked@example.com"},
    "admin.create_token": {"username": "walked-user", "scope_read": "on"},
    "quote_audit.quote_contract": {"workstations": "5", "tier": "silver", "client_name": "ООО Новый клиент обхода"},
    "quote_audit.rates_page": {"hourly_rate": "2100.00"},
    "partner_desk.ticket_action": {"action": "take", "specialist_id": "1"},
    "partner_desk.ticket_comment": {"body": "Выехали на место"},
    "partner_desk.ticket_time_entry": {"specialist_id": "1", "started_at": "2026-11-23T10:00", "minutes": "30",
                                       "on_site": "on"},
}


@dataclass
class Ids:
    client_id: int
    ticket_id: int
    node_id: int = 0
    entry_id: int = 0


@pytest.fixture
def store(app):
    """Two clients, each with a ticket carrying a public and an internal comment; an article and a problem."""
    session = make_session_factory(make_engine(app.config["DATABASE_URL"]))()
    world = build_world(session)
    ids = {}
    for client_id, node_id, subject, note in (
            (world.client_id, world.printer_id, "Не печатает принтер", INTERNAL_MARKERS[0]),
            (world.other_client_id, world.other_node_id, OTHER_CLIENT_MARKERS[2], INTERNAL_MARKERS[1])):
        ticket = workflow.create_ticket(session, actor="operator", client_id=client_id, subject=subject,
                                        priority="standard", group="printers", node_ids=[node_id])
        workflow.add_comment(session, ticket_id=ticket.id, body=note, public=False, actor="operator")
        workflow.add_comment(session, ticket_id=ticket.id, body="Выехали к вам", actor="operator")
        entry = workflow.add_time_entry(session, ticket_id=ticket.id, actor="operator", specialist_id=world.line1_id,
                                        started_at=datetime(2026, 11, 23, 7, tzinfo=UTC), minutes=30)
        ids[client_id] = Ids(client_id, ticket.id, node_id, entry.id)
    session.add_all([Article(title="Спулер печати", body="Перезапустить службу"),
                     KnownProblem(title="Спулер", symptoms="не печатает"),
                     Attachment(ticket_id=ids[world.client_id].ticket_id, filename="скан.pdf", size=4,
                                sha256="0" * 64, content=b"%PDF"),
                     QuarantinedMessage(sender="who@nowhere.example", subject="Кто я", reason="no client matches",
                                        raw=b"From: who@nowhere.example\r\nSubject: x\r\n\r\ntext\r\n"),
                     UnmatchedAlert(fingerprint="f1", alert_status="firing", alertname="NodeDown",
                                    labels={"instance": "ghost:9100"}, annotations={}, reason="no node")])
    # Two partners: the first one's engineer works our ticket, the other's works the other client's.
    for name, engineer, ticket_ids in (("ООО Сибирь-Выезд", "Сибирский Выездной", ids[world.client_id]),
                                       (OTHER_PARTNER_MARKERS[0], OTHER_PARTNER_MARKERS[1], ids[world.other_client_id])):
        partner = Partner(name=name, regions=["Новосибирск"])
        session.add(partner)
        session.flush()
        specialist = Specialist(name=engineer, partner=name, partner_id=partner.id, region="Новосибирск")
        session.add(specialist)
        session.flush()
        session.add(Assignment(ticket_id=ticket_ids.ticket_id, specialist_id=specialist.id,
                               assigned_at=datetime(2026, 11, 22, tzinfo=UTC)))
    session.commit()
    yield session, ids[world.client_id], ids[world.other_client_id]
    session.close()


def callers(app, session, role: str, client_id: int | None):
    """(API client with a bearer token, browser logged in with a session) of a new user with ``role``."""
    username = f"{role}-{uuid.uuid4().hex[:6]}"
    partner_id = session.query(Partner.id).order_by(Partner.id).limit(1).scalar() if role == PARTNER else None
    user = create_user(session, username=username, password=PASSWORD, role=role, client_id=client_id,
                       partner_id=partner_id)
    token = issue_token(session, user=user)
    session.commit()
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    browser = app.test_client()
    assert login(browser, username).status_code == 302
    return api, browser


def csrf(browser) -> str:
    page = browser.get("/login").get_data(as_text=True)
    found = re.search(r'name="csrf" value="([^"]+)"', page) or re.search(r'name="csrf-token" content="([^"]+)"',
                                                                          page)
    return found.group(1) if found else ""


def path_for(rule, ids: Ids) -> str:
    values = {"client_id": ids.client_id, "ticket_id": ids.ticket_id, "ref": ids.ticket_id, "kind": "incident",
              "month": MONTH, "article_id": 1, "problem_id": 1, "filename": "style.css", "node_id": ids.node_id,
              "entry_id": ids.entry_id, "code": "en", "partner_id": 1,
              "message_id": 1, "alert_id": 1, "attachment_id": 1,
              # no such login or token: the walker must not disable itself or revoke its own token
              "user_id": 999, "token_id": 999}
    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", lambda m: str(values[m.group(1)]), rule.rule)


def call(api, browser, rule, method: str, ids: Ids):
    path = path_for(rule, ids)
    if method == "GET":
        caller = api if path.startswith("/api/") else browser
        return caller.get(path, query_string={"month": MONTH})
    if path.startswith("/api/"):
        body = dict(BODIES.get(rule.endpoint, {}))
        if rule.endpoint == "workflow.create_ticket":
            body["client_id"] = ids.client_id  # the walked client's: another client's must be refused
        return api.open(path, method=method, json=body)
    form = {**FORMS.get(rule.endpoint, {}), "csrf": csrf(browser)}
    return browser.open(path, method=method, data=form)


def routes(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if rule.endpoint == "web.logout":
                continue  # walked last by nobody: it would end the walker's own session
            yield rule, method


def test_every_write_route_names_its_action_or_protects_itself(app):
    for rule, method in routes(app):
        if method == "GET":
            continue
        action = getattr(app.view_functions[rule.endpoint], "precedent_action", None)
        assert action in ROLE_ACTIONS or rule.endpoint in SELF_PROTECTED, f"{method} {rule.rule} has no action"


@pytest.mark.parametrize("role", [*STAFF_ROLES, "client", PARTNER])
def test_walk_every_route_as_every_role(app, store, role):
    session, ours, theirs = store
    api, browser = callers(app, session, role, ours.client_id if role == "client" else None)
    problems = []
    for rule, method in routes(app):
        response = call(api, browser, rule, method, ours)
        text = response.get_data(as_text=True)
        where = f"{role} {method} {path_for(rule, ours)} -> {response.status_code}"
        action = getattr(app.view_functions[rule.endpoint], "precedent_action", None)
        if response.status_code == 500:
            problems.append(f"{where}: server error")
        if method != "GET" and action is not None and role not in ROLE_ACTIONS[action]:
            if response.status_code != 403:
                problems.append(f"{where}: a write the role table refuses {role}")
        if role == "client":
            leaked = [m for m in (*OTHER_CLIENT_MARKERS, *INTERNAL_MARKERS) if m in text]
            if leaked:
                problems.append(f"{where}: shows a client user {leaked}")
        if role == PARTNER:
            leaked = [m for m in (*OTHER_CLIENT_MARKERS, *INTERNAL_MARKERS, *OTHER_PARTNER_MARKERS) if m in text]
            if leaked:
                problems.append(f"{where}: shows a partner engineer {leaked}")
    assert problems == []


def test_walk_every_route_as_a_partner_engineer_on_another_partners_ticket(app, store):
    session, ours, theirs = store
    api, browser = callers(app, session, PARTNER, None)
    problems = []
    for rule, method in routes(app):
        response = call(api, browser, rule, method, theirs)
        text = response.get_data(as_text=True)
        where = f"{method} {path_for(rule, theirs)} -> {response.status_code}"
        if response.status_code == 500:
            problems.append(f"{where}: server error")
        if "ticket_id" in rule.arguments and response.status_code != 404 and rule.endpoint != "static":
            problems.append(f"{where}: another partner's ticket answered other than 404")
        if rule.arguments & {"client_id", "ref"} and response.status_code not in (403, 404):
            problems.append(f"{where}: a client's object answered")
        leaked = [m for m in (*OTHER_CLIENT_MARKERS, *INTERNAL_MARKERS, *OTHER_PARTNER_MARKERS) if m in text]
        if leaked:
            problems.append(f"{where}: shows {leaked}")
    assert problems == []


def test_a_partner_engineer_works_its_companys_ticket_only(app, store):
    session, ours, theirs = store
    api, browser = callers(app, session, PARTNER, None)
    pages = [browser.get(path) for path in ("/partner/tickets", f"/partner/tickets/{ours.ticket_id}")]
    assert [p.status_code for p in pages] == [200, 200] and all("Не печатает принтер" in p.get_data(as_text=True)
                                                                for p in pages)
    assert browser.get(f"/partner/tickets/{theirs.ticket_id}").status_code == 404
    listed = api.get("/api/v1/tickets").get_json()
    assert [t["id"] for t in listed["items"]] == [ours.ticket_id]
    detail = api.get(f"/api/v1/tickets/{ours.ticket_id}")
    assert detail.status_code == 200 and INTERNAL_MARKERS[0] not in detail.get_data(as_text=True)
    assert api.get(f"/api/v1/tickets/{theirs.ticket_id}").status_code == 404
    comment = api.post(f"/api/v1/tickets/{ours.ticket_id}/comments", json={"body": "На месте", "public": False})
    assert comment.status_code == 201 and comment.get_json()["public"] is True
    assert comment.get_json()["author"].startswith("partner:")
    refused = api.post(f"/api/v1/tickets/{ours.ticket_id}/actions", json={"action": "escalate"})
    assert refused.status_code == 403
    mine = session.query(Specialist).filter_by(name="Сибирский Выездной").one()
    other = session.query(Specialist).filter_by(name=OTHER_PARTNER_MARKERS[1]).one()
    entry = {"started_at": "2026-11-23T10:00:00+07:00", "minutes": 45, "on_site": True}
    assert api.post(f"/api/v1/tickets/{ours.ticket_id}/time-entries",
                    json={**entry, "specialist_id": other.id}).status_code == 404
    assert api.post(f"/api/v1/tickets/{ours.ticket_id}/time-entries",
                    json={**entry, "specialist_id": mine.id}).status_code == 201
    clocks = api.get(f"/api/v1/tickets/{ours.ticket_id}").get_json()["partner_sla"]
    assert [c["partner"] for c in clocks] == ["ООО Сибирь-Выезд"]
    assert clocks[0]["targets"]["onsite"]["reached_at"] == "2026-11-23T03:00:00+00:00"
    assert set(clocks[0]["targets"]) == {"reaction", "onsite", "resolution"}
    client_api, _ = callers(app, session, "client", ours.client_id)
    assert client_api.get(f"/api/v1/tickets/{ours.ticket_id}").get_json()["partner_sla"] == []
    assert api.get(f"/api/v1/clients/{ours.client_id}/sla/{MONTH}").status_code == 403


def test_walk_every_route_as_a_client_user_of_another_client(app, store):
    session, ours, theirs = store
    api, browser = callers(app, session, "client", ours.client_id)
    problems = []
    for rule, method in routes(app):
        response = call(api, browser, rule, method, theirs)
        text = response.get_data(as_text=True)
        where = f"{method} {path_for(rule, theirs)} -> {response.status_code}"
        names_theirs = bool({"client_id", "ticket_id", "ref"} & set(rule.arguments))
        if response.status_code == 500:
            problems.append(f"{where}: server error")
        if names_theirs and response.status_code not in (403, 404):
            problems.append(f"{where}: another client's object answered")
        leaked = [m for m in (*OTHER_CLIENT_MARKERS, *INTERNAL_MARKERS) if m in text]
        if leaked:
            problems.append(f"{where}: shows {leaked}")
    assert problems == []


def test_docs_show_the_whole_role_table():
    document = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([\w.]+)`[^|]*\|(.*)\|$", document, re.M)}
    columns = ("engineer_l1", "engineer_l2", "manager", "analyst", "admin", "client", PARTNER)
    assert set(ROLE_ACTIONS) - set(rows) == {"pages.portal"}  # shown in one row with pages.staff
    for action, roles in ROLE_ACTIONS.items():
        if action.startswith("pages."):
            continue
        marks = [cell.strip().startswith("✓") for cell in rows[action].split("|")]
        assert dict(zip(columns, marks, strict=True)) == {r: r in roles for r in columns}, action


#: What an anonymous visitor gets: the public calculator answers, every other page asks for a login, and a
#: form posted without a session's CSRF token is refused before anything else.
ANONYMOUS = {
    ("GET", "/quote"): 200,
    ("POST", "/api/v1/quote"): 200,
    ("POST", "/quote/contract"): 400,
    ("GET", "/admin/rates"): 302,
    ("POST", "/admin/rates"): 400,
    ("GET", "/clients/{client_id}/audit"): 302,
    ("GET", "/api/v1/clients/{client_id}/audit"): 401,
}


@pytest.mark.parametrize(("method", "path"), list(ANONYMOUS))
def test_anonymous_visitors_reach_the_public_routes_only(app, store, method, path):
    _, ours, _ = store
    anonymous = app.test_client()
    target = path.format(client_id=ours.client_id)
    response = anonymous.open(target, method=method, json=BODIES["quote_audit_api.quote"]) \
        if target.startswith("/api/") else anonymous.open(target, method=method, data=FORMS.get("quote_audit.rates_page"))
    assert response.status_code == ANONYMOUS[(method, path)]
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
