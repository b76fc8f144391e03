"""The price calculator: quotes priced by the billing engine from the rate card (tiers, visits, packages vs
unlimited, prepayment), bounded input naming the field, rates edited as data, and the first invoice of a
contract made from a quote equal to the quote."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.models import AuditEvent, Client, Node, Setting
from service.billing import rates as rates_service
from service.billing import service as billing_service
from service.billing.contract import BillingInputError
from service.billing.quote import (
    DEFAULT_RATES,
    MAX_SERVERS,
    MAX_WORKSTATIONS,
    QuoteRequest,
    compute_quote,
    flatten_rates,
    next_month,
    parse_quote_request,
    parse_rates,
    quote_to_dict,
    unflatten_rates,
)
from tests.service.signed_in import csrf, signed_in

RATES = parse_rates(DEFAULT_RATES)
MONTH = "2027-01"


def quote(**fields):
    return compute_quote(parse_quote_request(fields, RATES), RATES, month=MONTH)


# The default rate card: workstation 1500, server 6000 a month; packages 10 h 18000, 15 h 26000, 25 h 42000,
# 40 h 64000; unlimited 3500 a workstation + 9000 a server, at least 60000; visits +10/15/20 %.
QUOTES = [
    # (input, monthly total, the plan lines' amounts, the prepayment discount line)
    ({"workstations": 10}, "15000.00", ["15000.00"], None),
    ({"workstations": 10, "servers": 2}, "27000.00", ["15000.00", "12000.00"], None),
    ({"workstations": 10, "servers": 2, "tier": "silver"}, "33750.00", ["18750.00", "15000.00"], None),
    ({"workstations": 10, "servers": 2, "tier": "gold"}, "40500.00", ["22500.00", "18000.00"], None),
    ({"workstations": 10, "servers": 2, "tier": "platinum"}, "54000.00", ["30000.00", "24000.00"], None),
    ({"workstations": 10, "on_site_visits": "monthly"}, "16500.00", ["16500.00"], None),
    ({"workstations": 10, "on_site_visits": "biweekly"}, "17250.00", ["17250.00"], None),
    ({"workstations": 10, "on_site_visits": "weekly"}, "18000.00", ["18000.00"], None),
    ({"workstations": 20, "servers": 2, "tier": "gold", "on_site_visits": "weekly", "prepayment_months": 7},
     "71820.00", ["54000.00", "21600.00"], "-3780.00"),
    ({"workstations": 10, "prepayment_months": 6}, "15000.00", ["15000.00"], None),
    ({"workstations": 10, "prepayment_months": 7}, "14250.00", ["15000.00"], "-750.00"),
    ({"workstations": 10, "prepayment_months": 13}, "13500.00", ["15000.00"], "-1500.00"),
    ({"plan": "package", "package_hours": "15", "workstations": 5}, "26000.00", ["26000.00"], None),
    ({"plan": "package", "package_hours": "10", "tier": "platinum"}, "36000.00", ["36000.00"], None),
    ({"plan": "package", "package_hours": "40", "prepayment_months": 13}, "57600.00", ["64000.00"], "-6400.00"),
    ({"plan": "unlimited", "workstations": 10, "servers": 1}, "60000.00", ["60000.00"], None),
    ({"plan": "unlimited", "workstations": 20, "servers": 2}, "88000.00", ["88000.00"], None),
    ({"plan": "unlimited", "workstations": 20, "servers": 2, "tier": "gold"}, "132000.00", ["132000.00"], None),
    ({"plan": "unlimited", "workstations": 20, "servers": 2, "prepayment_months": 2}, "88000.00", ["88000.00"], None),
    ({"plan": "unlimited", "workstations": 20, "servers": 2, "prepayment_months": 3}, "79200.00", ["88000.00"],
     "-8800.00"),
]


@pytest.mark.parametrize(("fields", "total", "plan_amounts", "discount"), QUOTES)
def test_quote_prices_by_the_rate_card_and_the_seed_rules(fields, total, plan_amounts, discount):
    data = quote_to_dict(quote(**fields))
    assert data["monthly_total"] == total
    plan_lines = [line for line in data["lines"] if line["kind"] in ("subscription", "package", "unlimited")]
    assert [line["amount"] for line in plan_lines] == plan_amounts
    discounts = [line["amount"] for line in data["lines"] if line["kind"] == "prepayment_discount"]
    assert discounts == ([discount] if discount else [])
    months = fields.get("prepayment_months", 1)
    assert data["prepayment"]["amount_due"] == str(Decimal(total) * months)


def test_every_plan_line_says_what_it_rests_on():
    data = quote_to_dict(quote(workstations=20, servers=2, tier="gold", on_site_visits="weekly"))
    workstations = data["lines"][0]
    assert workstations["basis"] == {"workstation_rate": "1500.00", "server_rate": "6000.00", "tier_coefficient": "1.5",
                                     "visits": "weekly", "surcharge_percent": "20"}
    assert workstations["unit_price"] == "2700.00" and workstations["quantity"] == "20"
    unlimited = quote_to_dict(quote(plan="unlimited", workstations=10, servers=1))["lines"][0]
    assert unlimited["basis"]["by_seats"] == "44000.00" and unlimited["basis"]["monthly_fee"] == "60000.00"


def test_package_and_unlimited_compare_on_the_same_fleet():
    """A small office is cheaper on a package; a larger one reaches the unlimited plan's seat price."""
    small_package = quote(plan="package", package_hours="15", workstations=8)
    small_unlimited = quote(plan="unlimited", workstations=8)
    assert small_package.invoice.total < small_unlimited.invoice.total
    assert quote(plan="unlimited", workstations=8).invoice.total == Decimal("60000.00")  # the minimum fee
    assert quote(plan="unlimited", workstations=30).invoice.total == Decimal("105000.00")


BAD_INPUT = [
    ({"workstations": -1}, "workstations"),
    ({"workstations": MAX_WORKSTATIONS + 1}, "workstations"),
    ({"workstations": "много"}, "workstations"),
    ({"workstations": True}, "workstations"),
    ({"workstations": 1.5}, "workstations"),
    ({"workstations": 1, "servers": MAX_SERVERS + 1}, "servers"),
    ({"workstations": 0, "servers": 0}, "workstations"),
    ({}, "workstations"),
    ({"workstations": 1, "tier": "diamond"}, "tier"),
    ({"workstations": 1, "plan": "hourly"}, "plan"),
    ({"plan": "package"}, "package_hours"),
    ({"plan": "package", "package_hours": "11"}, "package_hours"),
    ({"workstations": 1, "package_hours": "10"}, "package_hours"),
    ({"plan": "unlimited", "workstations": 1, "on_site_visits": "weekly"}, "on_site_visits"),
    ({"workstations": 1, "on_site_visits": "daily"}, "on_site_visits"),
    ({"workstations": 1, "prepayment_months": 37}, "prepayment_months"),
    ({"workstations": 1, "price": "1"}, "price"),
]


@pytest.mark.parametrize(("fields", "field"), BAD_INPUT)
def test_bad_input_names_the_field(fields, field):
    with pytest.raises(BillingInputError) as raised:
        parse_quote_request(fields, RATES)
    assert raised.value.field == field


@settings(max_examples=60, deadline=None)
@given(workstations=st.integers(0, MAX_WORKSTATIONS - 1), servers=st.integers(0, MAX_SERVERS),
       plan=st.sampled_from(["subscription", "unlimited"]), months=st.integers(1, 36))
def test_a_higher_tier_or_a_larger_fleet_never_costs_less(workstations, servers, plan, months):
    if workstations + servers == 0:
        workstations = 1
    totals = [quote(workstations=workstations, servers=servers, plan=plan, tier=tier,
                    prepayment_months=months).invoice.total for tier in ("bronze", "silver", "gold", "platinum")]
    assert totals == sorted(totals)
    larger = quote(workstations=workstations + 1, servers=servers, plan=plan, prepayment_months=months)
    assert larger.invoice.total >= quote(workstations=workstations, servers=servers, plan=plan,
                                         prepayment_months=months).invoice.total
    data = quote_to_dict(larger)
    assert Decimal(data["monthly_total"]) == sum(Decimal(line["amount"]) for line in data["lines"])


RATE_ERRORS = [
    (("subscription", "workstation_rate"), "-1", "rates.subscription.workstation_rate"),
    (("subscription", "workstation_rate"), "дорого", "rates.subscription.workstation_rate"),
    (("subscription", "hourly_discount_percent"), "16", "rates.subscription.hourly_discount_percent"),
    (("unlimited", "hourly_discount_percent"), "51", "rates.unlimited.hourly_discount_percent"),
    (("visits", "weekly"), "25", "rates.visits.weekly"),
    (("off_hours_coefficient",), "3", "rates.off_hours_coefficient"),
]


@pytest.mark.parametrize(("path", "value", "field"), RATE_ERRORS)
def test_a_bad_rate_names_its_field(path, value, field):
    document = unflatten_rates({".".join(path): value}, DEFAULT_RATES)
    with pytest.raises(BillingInputError) as raised:
        parse_rates(document)
    assert raised.value.field == field


def test_the_admin_form_round_trips_the_rate_card():
    flat = flatten_rates(DEFAULT_RATES)
    assert flat["package.fees.15"] == "26000.00" and flat["visits.weekly"] == "20"
    assert unflatten_rates(flat, DEFAULT_RATES) == DEFAULT_RATES
    edited = unflatten_rates({"subscription.workstation_rate": "1700.00", "visits.weekly": ""}, DEFAULT_RATES)
    assert edited["subscription"]["workstation_rate"] == "1700.00"
    assert edited["visits"]["weekly"] == "20"  # an emptied field keeps its value
    assert next_month("2026-12") == "2027-01" and next_month("2027-01") == "2027-02"


# --- over the store --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fields", [
    {"workstations": 12, "servers": 3, "tier": "gold", "on_site_visits": "biweekly", "prepayment_months": 13},
    {"plan": "package", "package_hours": "25", "workstations": 6, "tier": "silver", "prepayment_months": 7},
    {"plan": "unlimited", "workstations": 25, "servers": 4, "tier": "platinum", "prepayment_months": 3},
])
def test_the_first_invoice_of_a_contract_made_from_a_quote_equals_the_quote(db_session, fields):
    quoted = quote(**fields)
    row = rates_service.draft_contract(db_session, quote=quoted, client_name=f"ООО Новый {uuid.uuid4().hex[:4]}",
                                       actor="manager")
    invoice, _ = billing_service.client_invoice(db_session, client_id=row.client_id, month=MONTH)
    assert invoice.total == quoted.invoice.total
    assert [(line.kind, line.amount) for line in invoice.lines] == \
        [(line.kind, line.amount) for line in quoted.invoice.lines]
    assert invoice.lines == quoted.invoice.lines
    nodes = db_session.query(Node).filter_by(client_id=row.client_id).all()
    assert sum(n.kind == "workstation" for n in nodes) == quoted.request.workstations
    assert sum(n.kind == "server" for n in nodes) == quoted.request.servers
    event = db_session.query(AuditEvent).filter_by(action=rates_service.DRAFT_ACTION).one()
    assert event.entity_id == row.id and event.data["quote"]["monthly_total"] == str(quoted.invoice.total)
    # The month before the contract starts has no contract in force.
    with pytest.raises(billing_service.NotFound):
        billing_service.client_invoice(db_session, client_id=row.client_id, month="2026-12")


def test_a_draft_for_a_taken_name_stores_nothing(db_session):
    db_session.add(Client(name="ООО Ромашка"))
    db_session.commit()
    with pytest.raises(BillingInputError) as raised:
        rates_service.draft_contract(db_session, quote=quote(workstations=3), client_name="ООО Ромашка", actor="m")
    assert raised.value.field == "client_name"
    assert db_session.query(Client).count() == 1 and db_session.query(Node).count() == 0


def test_saved_rates_price_the_next_quote_and_are_audited(db_session):
    assert rates_service.current_rates(db_session) == RATES  # nothing stored yet: the defaults
    document = unflatten_rates({"subscription.workstation_rate": "1800.00"}, DEFAULT_RATES)
    rates_service.save_rates(db_session, document=document, actor="admin")
    stored = rates_service.current_rates(db_session)
    assert stored.workstation_rate == Decimal("1800.00")
    priced = compute_quote(QuoteRequest(workstations=10, servers=0), stored, month=MONTH)
    assert priced.invoice.total == Decimal("18000.00")
    bad = unflatten_rates({"hourly_rate": "-5"}, DEFAULT_RATES)
    with pytest.raises(BillingInputError):
        rates_service.save_rates(db_session, document=bad, actor="admin")
    db_session.rollback()
    assert db_session.get(Setting, "rates").value == document  # the refused edit stored nothing
    assert db_session.query(AuditEvent).filter_by(action=rates_service.RATES_ACTION).count() == 1


# --- over HTTP --------------------------------------------------------------------------------------------------


def test_the_public_api_quotes_without_a_login(anonymous_client):
    response = anonymous_client.post("/api/v1/quote", json={"workstations": 10, "servers": 2, "tier": "silver"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["monthly_total"] == "33750.00" and body["request"]["tier"] == "silver"
    assert body["terms"]["subscription"]["workstation_rate"] == "1500.00"


@pytest.mark.parametrize(("body", "status", "field", "code"), [
    ({"workstations": 100000}, 422, "workstations", "invalid_field"),
    ({"workstations": 3, "tier": "gold", "colour": "red"}, 422, "colour", "unknown_field"),
    ({"workstations": 3, "month": "2027-13"}, 422, "month", "invalid_field"),
    ([1, 2], 400, "body", "bad_request"),
])
def test_the_public_api_refuses_bad_input_naming_the_field(anonymous_client, body, status, field, code):
    response = anonymous_client.post("/api/v1/quote", json=body)
    assert response.status_code == status
    assert response.get_json()["error"]["field"] == field and response.get_json()["error"]["code"] == code




QUERY = {"workstations": "12", "servers": "2", "tier": "gold", "plan": "subscription", "on_site_visits": "weekly",
         "prepayment_months": "7"}


def test_the_calculator_page_explains_each_line_in_both_languages(anonymous_client):
    page = anonymous_client.get("/quote", query_string=QUERY).get_data(as_text=True)
    assert "Обслуживание рабочих мест" in page and "коэффициент уровня" in page and "+20 %" in page
    assert 'id="monthly-total">' in page and "Скидка за предоплату" in page
    assert "draft-contract" not in page  # an anonymous visitor cannot make a contract
    english = anonymous_client.get("/quote", query_string={**QUERY, "lang": "en"}).get_data(as_text=True)
    assert "Workstation support" in english and "level coefficient" in english and "Prepayment discount" in english
    assert "Обслуживание" not in english
    bad = anonymous_client.get("/quote", query_string={**QUERY, "workstations": "-3", "lang": "ru"})
    assert bad.status_code == 422
    assert "Проверьте поле «Рабочие места»: введите число от 0 до 2000" in bad.get_data(as_text=True)
    english = anonymous_client.get("/quote", query_string={**QUERY, "plan": "unlimited", "lang": "en"}).get_data(
        as_text=True)
    assert "Check “Plan”" not in english and "Check “Regular on-site visits”: regular visits are priced" in english


def test_a_manager_turns_a_quote_into_a_draft_contract(app):
    web = signed_in(app, "manager")
    page = web.get("/quote", query_string=QUERY).get_data(as_text=True)
    assert 'id="draft-contract"' in page
    total = re.search(r'id="monthly-total">([^<]+)<', page).group(1)
    response = web.post("/quote/contract", data={**QUERY, "client_name": "ООО Перспектива", "csrf": csrf(page)})
    assert response.status_code == 302 and "/invoices/" in response.headers["Location"]
    invoice = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "ООО Перспектива" in invoice
    shown = re.search(r'id="total">([^<]+)<', invoice).group(1)
    assert Decimal(shown) == Decimal(total.replace("\u00a0", "").replace(" ", "").replace(",", "."))


def test_only_a_manager_makes_a_draft_contract(app):
    web = signed_in(app, "engineer_l1")
    page = web.get("/quote", query_string=QUERY).get_data(as_text=True)
    assert 'id="draft-contract"' not in page
    response = web.post("/quote/contract", data={**QUERY, "client_name": "ООО Х", "csrf": csrf(page)})
    assert response.status_code == 403


def test_an_admin_edits_the_rates_and_the_calculator_follows(app, anonymous_client):
    web = signed_in(app, "admin")
    page = web.get("/admin/rates").get_data(as_text=True)
    assert 'name="subscription.workstation_rate" value="1500.00"' in page
    refused = web.post("/admin/rates", data={"subscription.workstation_rate": "-1", "csrf": csrf(page)})
    assert refused.status_code == 422 and "Абонемент: рабочее место в месяц" in refused.get_data(as_text=True)
    saved = web.post("/admin/rates", data={"subscription.workstation_rate": "2000.00", "csrf": csrf(page)})
    assert saved.status_code == 302
    body = anonymous_client.post("/api/v1/quote", json={"workstations": 10}).get_json()
    assert body["monthly_total"] == "20000.00"
    assert signed_in(app, "manager").get("/admin/rates").status_code == 403


def test_only_a_new_contracts_first_month_is_shown_before_it_begins(app):
    """The forecast of a quoted contract's first invoice is a draft; the month after it is still refused."""
    web = signed_in(app, "manager")
    page = web.get("/quote", query_string=QUERY).get_data(as_text=True)
    response = web.post("/quote/contract", data={**QUERY, "client_name": "ООО Прогноз", "csrf": csrf(page)})
    first = response.headers["Location"].rsplit("/", 1)[-1].removesuffix(".html")
    client_id = int(response.headers["Location"].split("/clients/")[1].split("/")[0])
    assert web.get(f"/api/v1/clients/{client_id}/invoices/{first}").get_json()["draft"] is True
    later = f"{int(first[:4]) + (first[5:] == '12')}-{int(first[5:]) % 12 + 1:02d}"
    refused = web.get(f"/api/v1/clients/{client_id}/invoices/{later}")
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "month_not_begun"
