"""``precedent bill`` and the billing HTTP endpoints: shapes, access and bad input."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.db import make_engine, make_session_factory
from service.cli import main
from tests.service.billing.store import EXPECTED_TOTAL, seed_month

EXAMPLES = Path(__file__).resolve().parents[3] / "data" / "examples" / "billing"


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, ["bill", *args], env=env)


# --- CLI: files ------------------------------------------------------------------------------------------

def test_bill_from_files_prints_the_invoice():
    result = run("--contract", str(EXAMPLES / "contract_package.json"), "--usage", str(EXAMPLES / "usage.json"))
    assert result.exit_code == 0, result.output
    invoice = json.loads(result.output)
    assert invoice["month"] == "2026-11" and invoice["plan_kind"] == "package"
    # package 25000 - 1250 prepayment + 3000 overage + 9000 hourly + 6000 off-hours - 1800 discount
    # + 52000 fixed + 3000 operations - 500 penalty = 94450
    assert invoice["total"] == "94450.00"
    assert sum(Decimal(line["amount"]) for line in invoice["lines"]) == Decimal(invoice["total"])


def test_bill_work_report_from_files():
    result = run("--contract", str(EXAMPLES / "contract_package.json"), "--usage", str(EXAMPLES / "usage.json"),
                 "--work-report")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["total_hours"] == "26.00" and len(report["tickets"]) == 5


@pytest.mark.parametrize(("contract_text", "usage_text", "message"), [
    ('{"plan_kind": "package", "terms": {"hourly_rate": "1"}}', None, "terms.package"),
    ('{"plan_kind": "package", "terms": ', None, "not valid JSON"),
    (None, '{"month": "November"}', "month"),
    (None, '{"month": "2026-11", "entries": [{"ticket_id": 1}]}', "entries[0].ticket_id"),
])
def test_bill_bad_files_exit_2_naming_the_field(tmp_path, contract_text, usage_text, message):
    contract = tmp_path / "contract.json"
    usage = tmp_path / "usage.json"
    contract.write_text(contract_text or (EXAMPLES / "contract_package.json").read_text(encoding="utf-8"))
    usage.write_text(usage_text or (EXAMPLES / "usage.json").read_text(encoding="utf-8"))
    result = run("--contract", str(contract), "--usage", str(usage))
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(("args", "message"), [
    ((), "give --contract and --usage"),
    (("--contract", "x.json"), "--contract and --usage must be given together"),
    (("--contract", "missing.json", "--usage", "missing.json"), "--contract: cannot read"),
    (("--client", "1", "--contract", "x.json"), "exclusive"),
    (("--client", "1", "--month", "2026-13"), "--month"),
    (("--client", "1"), "give --contract and --usage, or --client and --month"),
])
def test_bill_bad_arguments_exit_2(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output


# --- CLI: knowledge store --------------------------------------------------------------------------------

@pytest.fixture
def store_url(sqlite_url):
    with make_session_factory(make_engine(sqlite_url))() as session:
        ids = seed_month(session)
    return sqlite_url, ids


def test_bill_from_the_store(store_url):
    url, ids = store_url
    env = {"PRECEDENT_DATABASE_URL": url}
    result = run("--client", str(ids["client"]), "--month", "2026-11", env=env)
    assert result.exit_code == 0, result.output
    assert Decimal(json.loads(result.output)["total"]) == EXPECTED_TOTAL
    dumped = run("--client", str(ids["client"]), "--month", "2026-11", "--dump-usage", env=env)
    assert json.loads(dumped.output)["seats"] == {"workstations": 3, "servers": 2}
    missing = run("--client", "9999", "--month", "2026-11", env=env)
    assert missing.exit_code == 2 and "--client" in missing.output
    no_contract = run("--client", str(ids["other"]), "--month", "2026-11", env=env)
    assert no_contract.exit_code == 2 and "no contract" in no_contract.output
    future = run("--client", str(ids["client"]), "--month", "2099-01", env=env)  # as the API's 422 month_not_begun
    assert future.exit_code == 2 and "--month" in future.output and "has not begun" in future.output


# --- HTTP ------------------------------------------------------------------------------------------------

@pytest.fixture
def ids(app):
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        return seed_month(session)


def test_invoice_endpoint(client, ids):
    response = client.get(f"/api/v1/clients/{ids['client']}/invoices/2026-11")
    assert response.status_code == 200
    body = response.get_json()
    assert Decimal(body["total"]) == EXPECTED_TOTAL
    assert {"kind", "description", "quantity", "unit", "unit_price", "amount", "ticket_id"} <= set(body["lines"][0])
    assert body["client"] == {"id": ids["client"], "name": "Ромашка"}


@pytest.mark.parametrize(("path", "status", "field"), [
    ("/api/v1/clients/{client}/invoices/2026-13", 400, "month"),
    ("/api/v1/clients/{client}/invoices/november", 400, "month"),
    ("/api/v1/clients/9999/invoices/2026-11", 404, "client"),
    ("/api/v1/clients/{other}/invoices/2026-11", 404, "month"),
])
def test_invoice_endpoint_errors(client, ids, path, status, field):
    response = client.get(path.format(**ids))
    assert response.status_code == status
    assert response.get_json()["error"]["field"] == field


def test_client_user_sees_only_its_own_invoice(client_user_client, anonymous_client, ids):
    own = client_user_client(ids["client"])
    assert own.get(f"/api/v1/clients/{ids['client']}/invoices/2026-11").status_code == 200
    stranger = client_user_client(ids["other"])
    assert stranger.get(f"/api/v1/clients/{ids['client']}/invoices/2026-11").status_code == 404
    assert stranger.get(f"/api/v1/tickets/{ids['b']}/balance").status_code == 404
    assert anonymous_client.get(f"/api/v1/clients/{ids['client']}/invoices/2026-11").status_code == 401


def test_work_report_endpoint(client, ids):
    body = client.get(f"/api/v1/clients/{ids['client']}/work-reports/2026-11").get_json()
    # 30 + 300 + 60 + 400 + 60 (ticket A) + 120 (B) + 240 (C) = 1210 min = 20.17 h; on site 300 + 240 = 9 h.
    assert body["total_hours"] == "20.17" and body["on_site_hours"] == "9.00"
    assert [t["ticket_id"] for t in body["tickets"]] == [ids["a"], ids["b"], ids["c"]]
    assert body["tickets"][0]["specialists"] == ["Иванов И. И."]


def test_balance_and_stop_work_endpoints(client_user_client, ids):
    customer = client_user_client(ids["client"])
    balance = customer.get(f"/api/v1/tickets/{ids['b']}/balance").get_json()
    assert balance["estimate_hours"] == "3.00" and balance["spent_hours"] == "2.00"
    stopped = customer.post(f"/api/v1/tickets/{ids['b']}/stop-work")
    assert stopped.status_code == 200 and stopped.get_json()["stopped"] is True
    again = customer.post(f"/api/v1/tickets/{ids['b']}/stop-work")
    assert again.status_code == 409
    not_hourly = customer.post(f"/api/v1/tickets/{ids['a']}/stop-work")
    assert not_hourly.status_code == 409 and not_hourly.get_json()["error"]["field"] == "billing_mode"
    assert customer.get("/api/v1/tickets/99999/balance").status_code == 404


def test_change_request_endpoints(client, client_user_client, ids):
    url = f"/api/v1/tickets/{ids['c']}/change-requests"
    created = client.post(url, json={"new_price": "52000.00", "agreed_by": "Петров П. П.", "scope": "ещё стойка",
                                     "deadline": "2026-12-01T18:00:00+03:00"})
    assert created.status_code == 201
    assert created.get_json()["old_price"] == "45000.00" and created.get_json()["new_price"] == "52000.00"
    listed = client.get(url).get_json()
    assert listed["fixed_price"] == "52000.00" and len(listed["items"]) == 2  # the seeded one + this
    invoice = client.get(f"/api/v1/clients/{ids['client']}/invoices/2026-11").get_json()
    assert [line["amount"] for line in invoice["lines"] if line["kind"] == "fixed_price"] == ["52000.00"]
    # Bad input: float price, missing agreement, not fixed-price work, a client user setting its own price.
    assert client.post(url, json={"new_price": 1.5, "agreed_by": "x"}).get_json()["error"]["field"] == "new_price"
    assert client.post(url, json={"new_price": "1"}).get_json()["error"]["field"] == "agreed_by"
    hourly = client.post(f"/api/v1/tickets/{ids['b']}/change-requests", json={"new_price": "1", "agreed_by": "x"})
    assert hourly.status_code == 409
    assert client_user_client(ids["client"]).post(url, json={"new_price": "1", "agreed_by": "x"}).status_code == 403


def test_operations_and_contracts_endpoints(client, client_for_role, ids):
    manager = client_for_role("manager")
    bad = manager.post(f"/api/v1/clients/{ids['client']}/contracts",
                       json={"plan_kind": "package", "valid_from": "2026-12-01T00:00:00+03:00",
                             "terms": {"hourly_rate": "1", "package": {"hours": 10, "monthly_fee": 100.5}}})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "terms.package.monthly_fee"
    created = manager.post(f"/api/v1/clients/{ids['client']}/contracts", json={
        "plan_kind": "subscription", "tier": "gold", "valid_from": "2026-12-01T00:00:00+03:00",
        "terms": {"hourly_rate": "2000", "subscription": {"workstation_rate": "1000", "server_rate": "4000"},
                  "free_operations": [{"kind": "workplace_commissioning", "free_per_visit": 3,
                                       "unit_price": "1500"}]}})
    assert created.status_code == 201
    assert len(client.get(f"/api/v1/clients/{ids['client']}/contracts").get_json()["items"]) == 2
    assert client.post(f"/api/v1/clients/{ids['client']}/contracts", json={}).status_code == 403
    # December's invoice follows the new contract: (3 x 1000 + 2 x 4000) x Gold 1.5 = 16500.
    december = client.get(f"/api/v1/clients/{ids['client']}/invoices/2026-12").get_json()
    assert december["plan_kind"] == "subscription" and december["total"] == "16500.00"
    # Operations are checked against the contract in force: neither contract lists "teleportation".
    refused = client.post(f"/api/v1/tickets/{ids['a']}/operations", json={"kind": "teleportation", "quantity": 2})
    assert refused.status_code == 422 and refused.get_json()["error"]["field"] == "kind"
    assert client.post(f"/api/v1/tickets/{ids['a']}/operations",
                       json={"kind": "x", "quantity": 0}).get_json()["error"]["field"] == "quantity"


def test_printable_invoice_and_work_report(app, ids):
    from service.platform.auth import create_user

    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        create_user(session, username="boss", password="correct horse", role="manager")
        session.commit()
    browser = app.test_client()
    assert browser.get(f"/clients/{ids['client']}/invoices/2026-11.html").status_code == 302  # to the login
    with browser.session_transaction() as flask_session:
        flask_session["csrf"] = "t"
    browser.post("/login", data={"username": "boss", "password": "correct horse", "csrf": "t"})
    page = browser.get(f"/clients/{ids['client']}/invoices/2026-11.html")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "82633.33" in text and "Ромашка" in text
    report = browser.get(f"/clients/{ids['client']}/work-report/2026-11.html").get_data(as_text=True)
    assert "Иванов И. И." in report and "выезд" in report and "VPN для филиала" in report
    assert browser.get(f"/clients/{ids['client']}/invoices/2026-99.html").status_code == 400
    index = browser.get(f"/clients/{ids['client']}/billing").get_data(as_text=True)
    assert "/invoices/2026-11.html" in index and "package" in index


def test_invalid_stored_contract_is_reported_not_crashed(app, client):
    from kb.models import Contract

    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        ids = seed_month(session)
        row = session.query(Contract).filter_by(client_id=ids["client"]).one()
        row.terms = {**row.terms, "hourly_discount_percent": "80"}
        session.commit()
    response = client.get(f"/api/v1/clients/{ids['client']}/invoices/2026-11")
    assert response.status_code == 409
    assert response.get_json()["error"]["field"] == "terms.hourly_discount_percent"
    result = run("--client", str(ids["client"]), "--month", "2026-11",
                 env={"PRECEDENT_DATABASE_URL": app.config["DATABASE_URL"]})
    assert result.exit_code == 2 and "terms.hourly_discount_percent" in result.output


def _months(app, client_id: int) -> tuple[str, str]:
    """(the client's current month, the next one) by the real clock in the client's zone."""
    from datetime import UTC, datetime

    from kb.models import Client
    from service.sla.calendar import month_of

    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        current = month_of(datetime.now(UTC), session.get(Client, client_id).zone)
    year, month = map(int, current.split("-"))
    return current, f"{year + month // 12}-{month % 12 + 1:02d}"


def test_the_current_months_invoice_is_a_draft_and_a_future_month_is_refused(app, client, ids):
    current, future = _months(app, ids["client"])
    assert client.get(f"/api/v1/clients/{ids['client']}/invoices/{current}").get_json()["draft"] is True
    assert client.get(f"/api/v1/clients/{ids['client']}/invoices/2026-11").get_json()["draft"] is False
    for kind in ("invoices", "work-reports"):
        refused = client.get(f"/api/v1/clients/{ids['client']}/{kind}/{future}")
        error = refused.get_json()["error"]
        assert refused.status_code == 422 and error["field"] == "month" and error["code"] == "month_not_begun"
        assert f"the month {future} has not begun yet" in error["message"]


def test_the_printable_invoice_says_draft_and_refuses_a_future_month_in_the_pages_language(app, ids):
    from service.platform.auth import create_user

    current, future = _months(app, ids["client"])
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        create_user(session, username="boss", password="correct horse", role="manager")
        session.commit()
    browser = app.test_client()
    with browser.session_transaction() as flask_session:
        flask_session["csrf"] = "t"
    browser.post("/login", data={"username": "boss", "password": "correct horse", "csrf": "t"})
    assert 'id="draft"' in browser.get(f"/clients/{ids['client']}/invoices/{current}.html").get_data(as_text=True)
    assert ">draft<" in browser.get(f"/clients/{ids['client']}/invoices/{current}.html?lang=en").get_data(as_text=True)
    assert 'id="draft"' not in browser.get(f"/clients/{ids['client']}/invoices/2026-11.html").get_data(as_text=True)
    refused = browser.get(f"/clients/{ids['client']}/invoices/{future}.html")
    assert refused.status_code == 422 and f"Месяц {future} ещё не начался" in refused.get_data(as_text=True)
    refused = browser.get(f"/clients/{ids['client']}/work-report/{future}.html?lang=en")
    assert refused.status_code == 422 and f"The month {future} has not begun yet" in refused.get_data(as_text=True)
