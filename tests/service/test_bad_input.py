"""Every route answers hostile path values, query strings and bodies without a 500; the hostile inputs of
issue 10 (huge integers, deep JSON, unstorable text, months and instants out of range, unstorable money and
hours, oversized bodies) get a 4xx naming the field on SQLite and PostgreSQL, and leave what is stored readable."""

from __future__ import annotations

import itertools
import json
import re

import pytest

PATH_VALUES = ["0", "1", "abc", "99999999999999999999", "2026-13", "%00"]
QUERY = "?k=abc&q=&month=2026-13&since=x&page=-1&client=abc&status=zzz&limit=1e9"
BODIES = [None, "not json", "[]", "{}", '{"x": 1}', '{"subject": null}', '{"useful": "yes"}', '{"action": 123}',
          '{"minutes": 1e309}', '{"subject": "' + "a" * 20000 + '"}']


@pytest.mark.parametrize("role", ["manager", "client"])
def test_no_route_answers_bad_input_with_a_500(app, client_for_role, client_user_client, role):
    from kb.db import make_engine, make_session_factory
    from kb.models import Client, Ticket

    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        session.add(Ticket(client=Client(name="Ромашка"), subject="Не печатает МФУ"))
        session.commit()
    web = client_for_role("manager") if role == "manager" else client_user_client(1)
    failures = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for values in itertools.islice(itertools.product(PATH_VALUES, repeat=len(rule.arguments)), 12):
            path = rule.rule
            for name, value in zip(sorted(rule.arguments), values, strict=True):
                path = re.sub(r"<(?:[^:<>]+:)?" + name + ">", value, path)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                for body in BODIES if method in ("POST", "PUT", "PATCH") else [None]:
                    url = path + (QUERY if method == "GET" else "")
                    response = web.open(url, method=method, data=body, content_type="application/json")
                    if response.status_code == 500:
                        failures.append(f"{method} {url} {body and body[:30]!r}")
    assert failures == []


# --- hostile input (issue 10, items 12-14), on SQLite and PostgreSQL ---------------------------------------

BIG = 2**63  # one past the largest 64-bit integer: SQLite cannot even bind it as a parameter
MONTH = "2026-11"


@pytest.fixture
def hostile(database_url, tmp_path):
    """An app over each backend with a billed month of one client (tests/service/billing/store.py), an
    article and a known problem, and a manager's API client."""
    from dataclasses import replace
    from types import SimpleNamespace

    from kb.db import make_engine, make_session_factory
    from kb.models import Article, KnownProblem
    from service import create_app
    from tests.conftest import _authenticated_client
    from tests.service.billing.store import seed_month

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "VAR_DIR": str(tmp_path / "var")})
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], alertmanager_token="s3cret", smtp_host="",
                                     triage_use_search=False)
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        ids = seed_month(session)
        article = Article(title="Сброс пароля AD", body="Шаги...")
        problem = KnownProblem(title="МФУ не печатает после обновления")
        session.add_all([article, problem])
        session.commit()
        ids |= {"article": article.id, "problem": problem.id}
    engine.dispose()
    return SimpleNamespace(app=app, ids=ids, web=_authenticated_client(app, role="manager"))


def _stored_state(world) -> dict:
    """What the hostile requests must leave readable and unchanged."""
    web, ids = world.web, world.ids
    invoice = web.get(f"/api/v1/clients/{ids['client']}/invoices/{MONTH}")
    report = web.get(f"/api/v1/clients/{ids['client']}/work-reports/{MONTH}")
    balance = web.get(f"/api/v1/tickets/{ids['b']}/balance")
    changes = web.get(f"/api/v1/tickets/{ids['c']}/change-requests")
    tickets = web.get("/api/v1/tickets")
    articles = web.get("/api/v1/articles")
    problem = web.get(f"/api/v1/known-problems/{ids['problem']}")
    statuses = [r.status_code for r in (invoice, report, balance, changes, tickets, articles, problem)]
    assert statuses == [200] * 7
    return {"invoice": invoice.json["total"], "work_report": report.json, "balance": balance.json,
            "changes": changes.json, "tickets": tickets.json["total"], "articles": articles.json["total"],
            "problem": problem.json}


def _refusals(world, cases) -> list[str]:
    """Send each (method, url, body, field) case; list those not answered with a 4xx naming ``field`` (in the
    JSON error, or in the text of an HTML error page)."""
    failures = []
    for method, url, body, field in cases:
        kwargs = {} if body is None else {"data": body, "content_type": "application/json"}
        response = world.web.open(url, method=method, **kwargs)
        if response.is_json:
            named = (response.json.get("error") or {}).get("field") == field
        else:
            named = field in response.get_data(as_text=True)
        if not 400 <= response.status_code < 500 or not named:
            detail = response.json if response.is_json else response.data[:120]
            failures.append(f"{method} {url} {str(body)[:60]!r}: {response.status_code} {detail}")
    return failures


def test_integers_beyond_the_id_range_are_refused_naming_the_field(hostile):
    ids = hostile.ids
    before = _stored_state(hostile)
    cases = []
    for number in (BIG, 2**64, -BIG - 1, 2**31):
        cases += [
            ("GET", f"/api/v1/tickets?offset={number}", None, "offset"),
            ("GET", f"/api/v1/tickets?client={number}", None, "client"),
            ("GET", f"/api/v1/articles?offset={number}", None, "offset"),
            ("GET", f"/api/v1/known-problems?offset={number}", None, "offset"),
            ("GET", f"/api/v1/search?q=МФУ&client={number}", None, "client"),
            ("POST", "/api/v1/triage", f'{{"subject": "МФУ", "client_id": {number}}}', "client_id"),
            ("POST", "/api/v1/triage", f'{{"subject": "МФУ", "node_ids": [{number}]}}', "node_ids"),
            ("POST", "/api/v1/known-problems", f'{{"title": "x", "incident_ids": [{number}]}}', "incident_ids"),
            ("PATCH", f"/api/v1/known-problems/{ids['problem']}", f'{{"incident_ids": [{ids["a"]}, {number}]}}',
             "incident_ids"),
            ("POST", "/api/v1/tickets", f'{{"client_id": {number}, "subject": "МФУ"}}', "client_id"),
            ("POST", "/api/v1/tickets", f'{{"client_id": {ids["client"]}, "subject": "МФУ", "node_ids": [{number}]}}',
             "node_ids"),
            ("POST", f"/api/v1/tickets/{ids['a']}/time-entries",
             f'{{"specialist_id": {number}, "started_at": "2026-11-03T10:00:00+03:00", "minutes": 5}}',
             "specialist_id"),
        ]
    assert _refusals(hostile, cases) == []
    assert _stored_state(hostile) == before


def test_deeply_nested_json_is_a_400(hostile):
    ids = hostile.ids
    before = _stored_state(hostile)
    deep = "[" * 100_000 + "]" * 100_000
    urls = [("POST", "/api/v1/tickets"), ("POST", f"/api/v1/tickets/{ids['a']}/comments"),
            ("POST", f"/api/v1/tickets/{ids['a']}/actions"), ("POST", f"/api/v1/tickets/{ids['a']}/time-entries"),
            ("POST", "/api/v1/triage"), ("POST", "/api/v1/articles"), ("PATCH", f"/api/v1/articles/{ids['article']}"),
            ("POST", "/api/v1/known-problems"), ("POST", f"/api/v1/tickets/{ids['c']}/change-requests"),
            ("POST", f"/api/v1/clients/{ids['client']}/contracts"),
            ("POST", f"/api/v1/tickets/{ids['a']}/suggestions/article/{ids['article']}/feedback")]
    assert _refusals(hostile, [(method, url, deep, "body") for method, url in urls]) == []
    webhook = hostile.app.test_client().post("/api/v1/webhooks/alertmanager", data=deep,
                                             content_type="application/json",
                                             headers={"Authorization": "Bearer s3cret"})
    assert webhook.status_code == 400 and webhook.json["error"]["field"] == "payload"
    assert _stored_state(hostile) == before


@pytest.mark.parametrize("text", ["\\ud800", "Принтер \\udfff сломан", "a\\u0000b", "\\u0000"])
def test_unstorable_text_is_refused_naming_the_field(hostile, text):
    """Lone surrogates cannot be encoded for storage and NUL bytes are refused by PostgreSQL: a 422, not a 500."""
    ids = hostile.ids
    before = _stored_state(hostile)
    cases = [
        ("POST", "/api/v1/tickets", f'{{"client_id": {ids["client"]}, "subject": "{text}"}}', "subject"),
        ("POST", "/api/v1/tickets", f'{{"client_id": {ids["client"]}, "subject": "МФУ", "description": "{text}"}}',
         "description"),
        ("POST", f"/api/v1/tickets/{ids['a']}/comments", f'{{"body": "{text}"}}', "body"),
        ("POST", f"/api/v1/tickets/{ids['a']}/actions", f'{{"action": "triage", "reason": "{text}"}}', "reason"),
        ("POST", f"/api/v1/tickets/{ids['a']}/time-entries",
         f'{{"specialist_id": {ids["engineer"]}, "started_at": "2026-11-03T10:00:00+03:00", "minutes": 5, '
         f'"note": "{text}"}}', "note"),
        ("POST", "/api/v1/triage", f'{{"subject": "{text}"}}', "subject"),
        ("POST", "/api/v1/articles", f'{{"title": "{text}", "body": "x"}}', "title"),
        ("POST", "/api/v1/articles", f'{{"title": "x", "body": "{text}"}}', "body"),
        ("PATCH", f"/api/v1/articles/{ids['article']}", f'{{"body": "{text}"}}', "body"),
        ("POST", "/api/v1/known-problems", f'{{"title": "x", "symptoms": "{text}"}}', "symptoms"),
        ("PATCH", f"/api/v1/known-problems/{ids['problem']}", f'{{"cause": "{text}"}}', "cause"),
        ("POST", f"/api/v1/tickets/{ids['c']}/change-requests",
         f'{{"new_price": "46000", "agreed_by": "{text}"}}', "agreed_by"),
    ]
    assert _refusals(hostile, cases) == []
    assert _stored_state(hostile) == before


def test_a_nul_byte_in_a_search_text_is_a_400(hostile):
    before = _stored_state(hostile)
    assert _refusals(hostile, [("GET", "/api/v1/articles?q=a%00b", None, "q")]) == []
    assert _stored_state(hostile) == before


def _logged_in_portal(world):
    """A browser session of a client user of the seeded client, logged in through the login form."""
    from kb.db import make_engine, make_session_factory
    from service.platform.auth import create_user

    engine = make_engine(world.app.config["DATABASE_URL"])
    with make_session_factory(engine)() as session:
        create_user(session, username="romashka", password="correct horse battery", role="client",
                    client_id=world.ids["client"])
        session.commit()
    engine.dispose()
    browser = world.app.test_client()
    token = _csrf_of(browser, "/login")
    assert browser.post("/login", data={"username": "romashka", "password": "correct horse battery",
                                        "csrf": token}).status_code == 302
    return browser


def _logged_in_staff(world):
    """A browser session of a first-line engineer, logged in through the login form."""
    from kb.db import make_engine, make_session_factory
    from service.platform.auth import create_user

    engine = make_engine(world.app.config["DATABASE_URL"])
    with make_session_factory(engine)() as session:
        create_user(session, username="anna", password="correct horse battery", role="engineer_l1")
        session.commit()
    engine.dispose()
    browser = world.app.test_client()
    assert browser.post("/login", data={"username": "anna", "password": "correct horse battery",
                                        "csrf": _csrf_of(browser, "/login")}).status_code == 302
    return browser


def _csrf_of(browser, path: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', browser.get(path).get_data(as_text=True)).group(1)


def test_text_fields_of_web_forms_refuse_nul_bytes(hostile):
    portal = _logged_in_portal(hostile)
    before = _stored_state(hostile)
    response = portal.post("/portal/new", data={"subject": "МФУ\x00", "description": "не печатает",
                                                "csrf": _csrf_of(portal, "/portal/new")})
    assert response.status_code == 422 and "«тема» — недопустимые символы" in response.get_data(as_text=True)
    response = portal.post("/portal/new", data={"subject": "МФУ", "description": "не\x00печатает",
                                                "csrf": _csrf_of(portal, "/portal/new")})
    assert response.status_code == 422 and "«описание» — недопустимые символы" in response.get_data(as_text=True)
    ticket = hostile.ids["a"]
    staff = _logged_in_staff(hostile)
    comment = staff.post(f"/tickets/{ticket}/comment", data={"body": "к\x00оммент", "csrf": _csrf_of(staff, "/queue")},
                         follow_redirects=True)
    assert comment.status_code == 200 and "«текст» — недопустимые символы" in comment.get_data(as_text=True)
    work = staff.post(f"/tickets/{ticket}/time", data={"specialist_id": "1", "started_at": "0001-01-01T00:00",
                                                       "minutes": "30", "csrf": _csrf_of(staff, "/queue")},
                      follow_redirects=True)
    assert work.status_code == 200 and "«Начало»" in work.get_data(as_text=True)
    assert _stored_state(hostile) == before


@pytest.mark.parametrize("month", ["0000-01", "9999-12", "0001-01", "1899-12", "2101-01"])
def test_months_outside_the_supported_years_are_a_400(hostile, month):
    client_id = hostile.ids["client"]
    cases = [("GET", f"/api/v1/clients/{client_id}/invoices/{month}", None, "month"),
             ("GET", f"/api/v1/clients/{client_id}/work-reports/{month}", None, "month"),
             ("GET", f"/api/v1/clients/{client_id}/sla-report?month={month}", None, "month"),
             ("GET", f"/clients/{client_id}/invoices/{month}.html", None, "month"),
             ("GET", f"/clients/{client_id}/work-report/{month}.html", None, "month"),
             ("GET", f"/clients/{client_id}/sla-report.html?month={month}", None, "month")]
    assert _refusals(hostile, cases) == []


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                    "1800-01-01T00:00:00+00:00", "2300-01-01T00:00:00+03:00"])
def test_instants_outside_the_supported_years_are_refused_naming_the_field(hostile, moment):
    from tests.service.tickets.test_alertmanager import notification

    ids = hostile.ids
    before = _stored_state(hostile)
    cases = [
        ("POST", f"/api/v1/tickets/{ids['a']}/time-entries",
         f'{{"specialist_id": {ids["engineer"]}, "started_at": "{moment}", "minutes": 5}}', "started_at"),
        ("POST", f"/api/v1/tickets/{ids['c']}/change-requests",
         f'{{"new_price": "46000", "agreed_by": "Петров", "deadline": "{moment}"}}', "deadline"),
        ("POST", f"/api/v1/clients/{ids['client']}/contracts",
         f'{{"plan_kind": "package", "valid_from": "{moment}", "terms": {{}}}}', "valid_from"),
    ]
    assert _refusals(hostile, cases) == []
    alert = notification()
    alert["alerts"][0]["startsAt"] = moment
    response = hostile.app.test_client().post("/api/v1/webhooks/alertmanager", json=alert,
                                              headers={"Authorization": "Bearer s3cret"})
    assert 400 <= response.status_code < 500 and response.json["error"]["field"] == "alerts[0].startsAt"
    assert _stored_state(hostile) == before


@pytest.mark.parametrize(("field", "value"), [
    ("new_price", "1e400"), ("new_price", "1e30"), ("new_price", "1000000000.01"), ("new_price", "0.001"),
    ("new_price", "-1"), ("new_price", "NaN"), ("new_price", "Infinity"), ("new_price", 10**20),
])
def test_out_of_range_prices_are_refused_and_the_invoice_still_answers(hostile, field, value):
    ids = hostile.ids
    before = _stored_state(hostile)
    body = json.dumps({"new_price": value, "agreed_by": "Петров"})
    url = f"/api/v1/tickets/{ids['c']}/change-requests"
    assert _refusals(hostile, [("POST", url, body, field)]) == []
    assert _stored_state(hostile) == before


@pytest.mark.parametrize(("field", "value"), [
    ("estimate_hours", "1e30"), ("estimate_hours", "10000.01"), ("estimate_hours", "1.005"),
    ("estimate_hours", "-1"), ("fixed_price", "1e400"), ("fixed_price", "1000000000.01"),
    ("fixed_price", "0.001"), ("fixed_price", "NaN"),
])
def test_out_of_range_ticket_amounts_are_refused_and_the_balance_still_answers(hostile, field, value):
    ids = hostile.ids
    before = _stored_state(hostile)
    mode = "hourly" if field == "estimate_hours" else "fixed"
    body = json.dumps({"client_id": ids["client"], "subject": "Настроить VPN", "billing_mode": mode, field: value})
    assert _refusals(hostile, [("POST", "/api/v1/tickets", body, field)]) == []
    assert _stored_state(hostile) == before


def test_in_range_amounts_are_accepted(hostile):
    ids = hostile.ids
    created = hostile.web.post("/api/v1/tickets", json={
        "client_id": ids["client"], "subject": "Настроить VPN", "billing_mode": "hourly", "estimate_hours": "10000.00"})
    assert created.status_code == 201 and created.json["estimate_hours"] == "10000.00"
    assert hostile.web.get(f"/api/v1/tickets/{created.json['id']}/balance").status_code == 200
    changed = hostile.web.post(f"/api/v1/tickets/{ids['c']}/change-requests",
                               json={"new_price": "1000000000.00", "agreed_by": "Петров"})
    assert changed.status_code == 201 and changed.json["new_price"] == "1000000000.00"
    assert hostile.web.get(f"/api/v1/clients/{ids['client']}/invoices/{MONTH}").status_code == 200


def test_the_service_layer_refuses_an_unstorable_change_request(hostile):
    """A caller other than the API (CLI, import, a script) cannot store an infinite price either."""
    from decimal import Decimal

    from kb.db import make_engine, make_session_factory
    from kb.models import Ticket
    from service.billing import service as billing_service
    from service.billing.contract import BillingInputError

    before = _stored_state(hostile)
    engine = make_engine(hostile.app.config["DATABASE_URL"])
    with make_session_factory(engine)() as session:
        ticket = session.get(Ticket, hostile.ids["c"])
        for price in (Decimal("1e400"), Decimal("Infinity"), Decimal("0.001"), Decimal("-5")):
            with pytest.raises(BillingInputError) as refused:
                billing_service.add_change_request(session, ticket=ticket, new_price=price, agreed_by="Петров",
                                                   actor="script")
            assert refused.value.field == "new_price"
        session.commit()
    engine.dispose()
    assert _stored_state(hostile) == before


def test_a_body_over_the_size_limit_is_a_413_before_it_is_parsed(hostile):
    from service.config import load_settings

    assert load_settings().max_request_bytes == 16 * 1024 * 1024
    assert load_settings({"PRECEDENT_MAX_REQUEST_BYTES": "1024"}).max_request_bytes == 1024
    assert hostile.app.config["MAX_CONTENT_LENGTH"] == 16 * 1024 * 1024
    before = _stored_state(hostile)
    body = b"x" * (16 * 1024 * 1024 + 1)
    response = hostile.web.post("/api/v1/articles", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json["error"]["field"] == "body" and str(16 * 1024 * 1024) in response.json["error"]["message"]
    form = hostile.web.post(f"/tickets/{hostile.ids['a']}/comment", data=body,
                            content_type="application/x-www-form-urlencoded")
    assert form.status_code == 413
    assert _stored_state(hostile) == before
