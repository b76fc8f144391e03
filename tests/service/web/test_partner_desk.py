"""The partner engineer's web workspace: its company's tickets by its own SLA clock, one ticket's page and
the work on it (take, resolve, public comments, its engineers' time), walled like the API."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kb.db import make_engine, make_session_factory
from kb.models import Comment, Ticket, TimeEntry
from tests.service.signed_in import csrf, signed_in
from tests.service.web.partner_desk_world import (
    INTERNAL_NOTE,
    OTHER_ENGINEER,
    OTHER_PARTNER,
    OTHER_SUBJECT,
    plant_partner_desk,
)
from tests.service.web.test_views import login


@pytest.fixture
def desk(app):
    session = make_session_factory(make_engine(app.config["DATABASE_URL"]))()
    planted = plant_partner_desk(session)
    yield session, planted
    session.close()


@pytest.fixture
def partner(app, desk):
    web = app.test_client()
    assert login(web, "partner-sib").status_code == 302
    return web


def _rows(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-ticket="(\d+)"', page)]


def test_home_sends_a_partner_to_its_tickets_and_the_header_shows_no_staff_links(partner):
    assert partner.get("/").headers["Location"].endswith("/partner/tickets")
    page = partner.get("/partner/tickets").get_data(as_text=True)
    header = page.split("<main>")[0]
    assert 'href="/partner/tickets"' in header
    for staff_link in ("/queue", "/search", "/sla", "/clients", "/specialists", "/intake", "/portal"):
        assert f'href="{staff_link}' not in header


def test_the_list_holds_the_company_tickets_only_open_ones_first_by_the_partner_clock(partner, desk):
    _, d = desk
    page = partner.get("/partner/tickets?lang=ru").get_data(as_text=True)
    # the working ticket's on-site target is overdue (due 2 h ago): more urgent than a reaction due in 1 h
    assert _rows(page) == [d.working_id, d.triaged_id, d.resolved_id]
    assert OTHER_SUBJECT not in page and OTHER_PARTNER not in page
    working = page.split(f'data-ticket="{d.working_id}"')[1].split("</tr>")[0]
    assert "просрочен" in working and "прибытие на место" in working and "Новосибирск · nsk-ws-07" in working
    assert "идёт" in page.split(f'data-ticket="{d.triaged_id}"')[1].split("</tr>")[0]
    assert "выполнен" in page.split(f'data-ticket="{d.resolved_id}"')[1].split("</tr>")[0]
    assert "overdue" not in re.sub(r'class="[^"]*"', "", page)  # the state's code never shows as text


def test_the_list_filters_by_status_and_pages(partner, desk, monkeypatch):
    _, d = desk
    assert _rows(partner.get("/partner/tickets?status=open").get_data(as_text=True)) == [d.working_id, d.triaged_id]
    assert _rows(partner.get("/partner/tickets?status=resolved").get_data(as_text=True)) == [d.resolved_id]
    assert len(_rows(partner.get("/partner/tickets?status=nonsense").get_data(as_text=True))) == 3
    monkeypatch.setattr("service.web.partner_desk.PAGE_SIZE", 2)
    first = partner.get("/partner/tickets").get_data(as_text=True)
    second = partner.get("/partner/tickets?page=2").get_data(as_text=True)
    assert _rows(first) == [d.working_id, d.triaged_id] and 'id="page-next"' in first
    assert _rows(second) == [d.resolved_id] and 'id="page-prev"' in second


def test_the_list_speaks_english(partner, desk):
    _, d = desk
    page = partner.get("/partner/tickets?lang=en").get_data(as_text=True)
    assert "Company tickets" in page and "on-site arrival" in page and "overdue" in page and "running" in page
    assert "Заявки компании" not in page


def test_the_ticket_page_shows_public_work_and_the_partner_clock_only(partner, desk):
    _, d = desk
    page = partner.get(f"/partner/tickets/{d.triaged_id}?lang=ru").get_data(as_text=True)
    assert "Клиент ждёт выезда после обеда" in page and INTERNAL_NOTE not in page
    assert "Новосибирск, Красный пр., 1, оф. 12" in page and "ООО Ромашка" in page
    assert 'id="do-take"' in page and 'id="do-resolve"' not in page
    assert OTHER_ENGINEER not in page  # the engineer pickers hold its own company's engineers only
    for target in ("target-reaction", "target-onsite", "target-resolution"):
        assert f'id="{target}"' in page
    assert "идёт" in page.split('id="target-reaction"')[1].split("</tr>")[0]


def test_another_partners_ticket_and_a_missing_one_answer_alike(partner, desk):
    _, d = desk
    for path in (f"/partner/tickets/{d.other_id}", "/partner/tickets/999999"):
        response = partner.get(path)
        assert response.status_code == 404 and OTHER_SUBJECT not in response.get_data(as_text=True)
    token = csrf(partner.get(f"/partner/tickets/{d.triaged_id}").get_data(as_text=True))
    for suffix, form in (("action", {"action": "take"}), ("comment", {"body": "x"}), ("time", {"minutes": "5"})):
        assert partner.post(f"/partner/tickets/{d.other_id}/{suffix}", data={**form, "csrf": token}).status_code == 404


@pytest.mark.parametrize("role", ["engineer_l1", "manager", "admin", "client"])
def test_other_roles_are_refused_the_partner_pages(app, desk, role):
    _, d = desk
    web = signed_in(app, role, d.client_id if role == "client" else None)
    assert web.get("/partner/tickets").status_code == 403
    assert web.get(f"/partner/tickets/{d.triaged_id}").status_code == 403
    assert app.test_client().get("/partner/tickets").headers["Location"].startswith("/login")


def test_a_partner_takes_and_resolves_through_the_workflow(partner, desk):
    session, d = desk
    token = csrf(partner.get(f"/partner/tickets/{d.triaged_id}").get_data(as_text=True))
    taken = partner.post(f"/partner/tickets/{d.triaged_id}/action",
                         data={"action": "take", "specialist_id": str(d.second_engineer_id), "csrf": token},
                         follow_redirects=True)
    assert "Выполнено: Взять в работу" in taken.get_data(as_text=True)
    session.expire_all()
    assert session.get(Ticket, d.triaged_id).status == "in_progress"
    refused = partner.post(f"/partner/tickets/{d.triaged_id}/action", data={"action": "resolve", "csrf": token},
                           follow_redirects=True)
    assert "«решение» — заполните это поле" in refused.get_data(as_text=True)
    done = partner.post(f"/partner/tickets/{d.triaged_id}/action",
                        data={"action": "resolve", "resolution": "Заменили блок питания", "csrf": token},
                        follow_redirects=True)
    assert "Выполнено: Решить" in done.get_data(as_text=True)
    session.expire_all()
    assert session.get(Ticket, d.triaged_id).status == "resolved"
    escalated = partner.post(f"/partner/tickets/{d.working_id}/action", data={"action": "escalate", "csrf": token},
                             follow_redirects=True)
    assert "«действие»" in escalated.get_data(as_text=True)
    session.expire_all()
    assert session.get(Ticket, d.working_id).status == "in_progress"


def test_take_for_another_companys_engineer_is_refused_naming_the_field(partner, desk):
    session, d = desk
    token = csrf(partner.get(f"/partner/tickets/{d.triaged_id}").get_data(as_text=True))
    for value in (str(d.other_engineer_id), "abc", ""):
        page = partner.post(f"/partner/tickets/{d.triaged_id}/action",
                            data={"action": "take", "specialist_id": value, "csrf": token}, follow_redirects=True)
        assert "«инженер» — выберите инженера вашей компании" in page.get_data(as_text=True)
    session.expire_all()
    assert session.get(Ticket, d.triaged_id).status == "triaged"


def test_a_partner_comment_is_public_and_an_empty_one_is_refused(partner, desk):
    session, d = desk
    token = csrf(partner.get(f"/partner/tickets/{d.working_id}").get_data(as_text=True))
    empty = partner.post(f"/partner/tickets/{d.working_id}/comment", data={"body": "  ", "csrf": token},
                         follow_redirects=True)
    assert "«комментарий» — заполните это поле" in empty.get_data(as_text=True)
    partner.post(f"/partner/tickets/{d.working_id}/comment", data={"body": "Буду на месте в 15:00", "csrf": token})
    comment = session.scalars(select(Comment).where(Comment.ticket_id == d.working_id)
                              .order_by(Comment.id.desc())).first()
    assert (comment.body, comment.public, comment.author) == ("Буду на месте в 15:00", True, "partner:partner-sib")


def test_an_on_site_entry_reaches_the_partners_on_site_target(partner, desk):
    session, d = desk
    page = partner.get(f"/partner/tickets/{d.working_id}").get_data(as_text=True)
    started = re.search(r'id="time-started" value="([^"]+)"', page).group(1)
    response = partner.post(f"/partner/tickets/{d.working_id}/time", follow_redirects=True, data={
        "specialist_id": str(d.second_engineer_id), "started_at": started, "minutes": "50", "on_site": "on",
        "note": "Заменили патч-корд", "work_kind": "hourly", "off_hours_agreed": "on", "csrf": csrf(page)})
    text = response.get_data(as_text=True)
    assert "Записано: 50 мин" in text
    entry = session.scalars(select(TimeEntry).where(TimeEntry.ticket_id == d.working_id)
                            .order_by(TimeEntry.id.desc())).first()
    assert (entry.specialist_id, entry.on_site, entry.minutes, entry.off_hours_agreed) == \
        (d.second_engineer_id, True, 50, False)
    assert entry.work_kind == "included"  # billing terms are ours: the ticket's mode, not the form's
    onsite = text.split('id="target-onsite"')[1].split("</tr>")[0]
    assert "нарушен" in onsite and "достигнуто" in onsite  # reached, 9 h after the assignment: late


@pytest.mark.parametrize(("form", "says"), [
    ({"minutes": "abc"}, "«Минут»: нужно целое число"),
    ({"minutes": "0"}, "«минут»"),
    ({"started_at": "вчера"}, "«Начало»: нужны дата и время"),
    ({"started_at": "2999-01-01T10:00"}, "«Начало»: «2999-01-01T10:00» — неправдоподобные"),
    ({"specialist_id": "999999"}, "«инженер» — выберите инженера вашей компании"),
])
def test_bad_work_time_is_refused_naming_the_field(partner, desk, form, says):
    session, d = desk
    page = partner.get(f"/partner/tickets/{d.working_id}").get_data(as_text=True)
    good = {"specialist_id": str(d.engineer_id), "started_at": re.search(r'id="time-started" value="([^"]+)"',
                                                                          page).group(1), "minutes": "30"}
    before = session.query(TimeEntry).count()
    response = partner.post(f"/partner/tickets/{d.working_id}/time", data={**good, **form, "csrf": csrf(page)},
                            follow_redirects=True)
    assert response.status_code == 200 and says in response.get_data(as_text=True)
    assert session.query(TimeEntry).count() == before


def test_a_form_without_the_session_token_is_refused(partner, desk):
    _, d = desk
    assert partner.post(f"/partner/tickets/{d.working_id}/comment", data={"body": "x"}).status_code == 400
