"""The partners pages (managers and admins): the list, the printable monthly report (its numbers are the API's),
the month picker, bad months and unknown partners; the header links to the calculator, the partners and the
audit; the client page's link to its audit; a client user's audit link in the portal only for its manager."""

from __future__ import annotations

import re

import pytest

from kb.db import make_engine, make_session_factory
from kb.models import Client
from tests.service.signed_in import api_client_for, signed_in
from tests.service.sla.test_partner_report import seed

MONTH = "2026-11"


@pytest.fixture
def partner_id(app) -> int:
    """The partner of the report's own test store (2 tasks in November, 180 minutes at 1250.50 an hour)."""
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        return seed(session)


def cell(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page)
    assert found, f"no #{element_id} on the page"
    return found.group(1).strip()


def sla_row(page: str, target: str) -> list[str]:
    row = re.search(rf'<tr id="sla-{target}">(.*?)</tr>', page, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_the_report_page_shows_the_numbers_of_the_api(app, partner_id):
    expected = api_client_for(app, "manager").get(f"/api/v1/partners/{partner_id}/report/{MONTH}").get_json()
    page = signed_in(app, "manager").get(f"/partners/{partner_id}/report/{MONTH}?lang=ru")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert cell(text, "tasks-count") == str(expected["tasks"]) == "2"
    assert cell(text, "owed") == expected["owed"] == "3751.50"  # kopecks, as on the invoice pages
    assert cell(text, "rate") == expected["hourly_rate"] == "1250.50"
    assert cell(text, "hours") == "3.00"  # 180 minutes
    for target, counts in expected["sla"].items():
        met, breached, running, overdue, not_needed = sla_row(text, target)[2:7]
        assert [int(met), int(breached), int(running), int(overdue), int(not_needed)] == [
            counts["met"], counts["breached"], counts["running"], counts["overdue"], counts["not_needed"]]
    assert sla_row(text, "onsite")[0] == "прибытие на место" and sla_row(text, "onsite")[7] == "50 %"
    tasks = re.search(r'<table id="tasks">(.*?)</table>', text, re.S).group(1)
    assert [int(n) for n in re.findall(r">#(\d+)</a>", tasks)] == [i["ticket_id"] for i in expected["items"]]
    shares = re.search(r'<table id="remote-share">(.*?)</table>', text, re.S).group(1)
    assert "АО Вектор" in shares and "Новосибирск" in shares and "50 %" in shares
    assert "ООО «Сибирь-Сервис»" in text and "П-7" in text and "Asia/Novosibirsk" in text


def test_the_report_in_english_and_the_months_around_it(app, partner_id):
    browser = signed_in(app, "admin")
    text = browser.get(f"/partners/{partner_id}/report/{MONTH}?lang=en").get_data(as_text=True)
    assert "Service partner report for 2026-11" in text and "on-site arrival" in text
    assert "Owed to the partner, RUB" in text and "Remote share" in text
    assert f'href="/partners/{partner_id}/report/2026-10"' in text
    assert f'href="/partners/{partner_id}/report/2026-12"' in text
    october = browser.get(f"/partners/{partner_id}/report/2026-10?lang=en").get_data(as_text=True)
    assert cell(october, "tasks-count") == "1" and cell(october, "owed") == "12505.00"  # 600 min × 1250.50
    last = browser.get(f"/partners/{partner_id}/report/2100-12").get_data(as_text=True)
    assert 'id="next-month"' not in last  # 2101 is beyond the months a report is made for


def test_the_month_picker_goes_to_the_chosen_month(app, partner_id):
    picked = signed_in(app, "manager").get(f"/partners/{partner_id}/report", query_string={"month": "2026-10"})
    assert picked.status_code == 302 and picked.headers["Location"].endswith(f"/partners/{partner_id}/report/2026-10")


@pytest.mark.parametrize("path", ["/partners/{id}/report/2026-13", "/partners/{id}/report/ноябрь",
                                  "/partners/{id}/report?month=11.2026", "/partners/{id}/report"])
def test_a_bad_month_is_a_400_page_that_names_the_format(app, partner_id, path):
    browser = signed_in(app, "manager")
    for language, format_words in (("ru", "ГГГГ-ММ"), ("en", "YYYY-MM")):
        target = path.format(id=partner_id)
        answer = browser.get(target + ("&" if "?" in target else "?") + f"lang={language}")
        assert answer.status_code == 400 and format_words in answer.get_data(as_text=True)


def test_an_unknown_partner_is_a_404_and_other_roles_are_refused(app, partner_id):
    manager = signed_in(app, "manager")
    assert manager.get(f"/partners/{partner_id + 1}/report/{MONTH}").status_code == 404
    assert manager.get(f"/partners/{partner_id + 1}/report/13-2026").status_code == 404  # no partner: nothing to parse
    for role in ("engineer_l1", "engineer_l2", "analyst"):
        browser = signed_in(app, role)
        assert browser.get("/partners").status_code == 403
        assert browser.get(f"/partners/{partner_id}/report/{MONTH}").status_code == 403
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        client_id = session.query(Client.id).scalar()
    assert signed_in(app, "client", client_id).get("/partners").status_code == 403
    assert app.test_client().get("/partners").status_code == 302  # to the login page


def test_the_partners_list_shows_terms_and_open_tickets(app, partner_id):
    text = signed_in(app, "manager").get("/partners?lang=ru").get_data(as_text=True)
    row = re.search(rf'<tr id="partner-{partner_id}">(.*?)</tr>', text, re.S).group(1)
    assert "ООО «Сибирь-Сервис»" in row and "Новосибирск" in row and "П-7" in row and "1250.50" in row
    assert [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)][3:6] == \
        ["2", "8", "24"]
    # Two of the partner's tickets are still open (November's second and October's); the resolved one is not.
    assert re.search(r'class="num open-tickets">(\d+)<', row).group(1) == "2"
    assert f'href="/partners/{partner_id}/report/' in row


def nav(page: str) -> str:
    return re.search(r"<nav>(.*?)</nav>", page, re.S).group(1)


def test_the_header_links_follow_the_role(app, partner_id):
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        client_id = session.query(Client.id).scalar()
    for role, partners in (("engineer_l1", False), ("engineer_l2", False), ("analyst", False),
                           ("manager", True), ("admin", True)):
        header = nav(signed_in(app, role).get("/clients" if role != "admin" else "/admin/users")
                     .get_data(as_text=True))
        assert 'href="/quote"' in header, role
        assert ('href="/partners"' in header) is partners, role
    manager_portal = nav(signed_in(app, "client", client_id, client_manager=True).get("/portal").get_data(as_text=True))
    assert f'href="/clients/{client_id}/audit"' in manager_portal and 'href="/partners"' not in manager_portal
    plain_portal = nav(signed_in(app, "client", client_id).get("/portal").get_data(as_text=True))
    assert "/audit" not in plain_portal and 'href="/quote"' not in plain_portal
    client_page = signed_in(app, "engineer_l1").get(f"/clients/{client_id}").get_data(as_text=True)
    assert f'href="/clients/{client_id}/audit"' in client_page


def test_the_public_calculator_shows_a_visitor_no_staff_links(app):
    page = app.test_client().get("/quote?lang=ru").get_data(as_text=True)
    assert nav(page).strip() == ""  # nothing but the brand and the language switch
    assert "/login" not in nav(page) and "Выйти" not in page


def test_a_client_manager_sees_the_companys_requests_by_default(app, partner_id):
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        client_id = session.query(Client.id).scalar()
    manager = signed_in(app, "client", client_id, client_manager=True).get("/portal").get_data(as_text=True)
    plain = signed_in(app, "client", client_id).get("/portal").get_data(as_text=True)
    assert '<option value="company" selected>' in manager and '<option value="mine" selected>' in plain
    # The store's four tickets were requested by nobody of these two: only the company's view lists them.
    assert len(set(re.findall(r'href="/portal/tickets/(\d+)"', manager))) == 4
    assert re.findall(r'href="/portal/tickets/(\d+)"', plain) == []
