"""The engineers' workspace and the portal through Flask's test client: the queue by live SLA urgency and
its filters, the ticket page's actions, language, and the client's question and reply."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from kb.db import make_engine, make_session_factory, transaction
from kb.models import (
    Assignment,
    AuditEvent,
    Client,
    Comment,
    SlaPause,
    Specialist,
    SuggestionFeedback,
    Ticket,
    TimeEntry,
    TriagePrediction,
)
from service.platform.auth import create_user
from service.tickets import queue as ticket_queue
from tests.service.web.test_views import PASSWORD, login

NOW = datetime.now(UTC)


@pytest.fixture
def factory(app):
    return make_session_factory(make_engine(app.config["DATABASE_URL"]))


@pytest.fixture
def desk(factory):
    """A client (24x7 so the clocks run at any hour), two engineers with specialist records, tickets."""
    with transaction(factory) as session:
        client = Client(name="ООО Ромашка", sla_policy="bronze", calendar="24x7", timezone="Asia/Novosibirsk",
                        email="it@romashka.ru")
        other = Client(name="АО Лютик", calendar="24x7")
        mine = Specialist(name="Иванов Иван", line=1, calendar="24x7")
        expert = Specialist(name="Петрова Анна", line=3, calendar="24x7")
        helper = Specialist(name="Сидоров Олег", line=2, calendar="24x7")
        session.add_all([client, other, mine, expert, helper])
        session.flush()
        # stored badge "on_track", but opened ten days ago and never answered: breached on the live clock
        stale = Ticket(client=client, subject="Старый вопрос про принтер", priority="standard", status="triaged",
                       group="printers", created_at=NOW - timedelta(days=10), sla_state="on_track")
        fresh = Ticket(client=client, subject="Новый вопрос про почту", priority="standard", status="triaged",
                       group="mail", created_at=NOW - timedelta(minutes=5), sla_state="on_track")
        unsure = Ticket(client=other, subject="Непонятная заявка", priority="low", status="new", group="network",
                        created_at=NOW - timedelta(hours=1))
        session.add_all([stale, fresh, unsure])
        session.flush()
        session.add(TriagePrediction(ticket_id=unsure.id, priority="low", group="network", group_confidence=0.2,
                                     priority_confidence=0.4, needs_human=True))
        session.add(Assignment(ticket_id=fresh.id, specialist_id=mine.id, role="primary"))
        create_user(session, username="eng", password=PASSWORD, role="engineer_l1", specialist_id=mine.id)
        create_user(session, username="eng2", password=PASSWORD, role="engineer_l2", specialist_id=helper.id)
        create_user(session, username="boss", password=PASSWORD, role="manager")
        create_user(session, username="romashka", password=PASSWORD, role="client", client_id=client.id)
        user = create_user(session, username="petrov", password=PASSWORD, role="client", client_id=client.id)
        user.email = "petrov@romashka.ru"
        return {"stale": stale.id, "fresh": fresh.id, "unsure": unsure.id, "mine": mine.id, "expert": expert.id,
                "helper": helper.id, "client": client.id}


def csrf_of(web, path: str = "/login") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', web.get(path).get_data(as_text=True))
    return found.group(1)


def logged_in(app, username: str):
    web = app.test_client()
    assert login(web, username).status_code == 302
    return web


def row_ids(page: str) -> list[int]:
    body = page.split('id="tickets"', 1)[1]
    return [int(n) for n in re.findall(r'<tr class="sla-\w+">\s*<td><a href="/tickets/(\d+)"', body)]


# --- the queue -------------------------------------------------------------------------------------------

def test_queue_orders_by_the_live_clock_not_the_stored_badge(app, desk):
    page = logged_in(app, "eng").get("/queue").get_data(as_text=True)
    assert row_ids(page)[:2] == [desk["stale"], desk["fresh"]]
    stale_row = page.split(f'href="/tickets/{desk["stale"]}"', 1)[1].split("</tr>", 1)[0]
    assert 'class="badge s-breached">нарушен<' in stale_row  # live, though the stored state says on_track
    assert "+07" in stale_row  # the due instant in the client's zone (Novosibirsk)
    assert re.search(r"−\d+ д", stale_row)  # overdue by days


@pytest.mark.parametrize("query, expected", [
    ({"q": "принтер"}, ["stale"]),
    ({"q": "почт"}, ["fresh"]),
    ({"group": "mail"}, ["fresh"]),
    ({"client_id": "CLIENT"}, ["stale", "fresh"]),
    ({"sla_state": "breached"}, ["stale"]),
    ({"sla_state": "on_track"}, ["fresh", "unsure"]),
    ({"mine": "1"}, ["fresh"]),
    ({"needs_triage": "1"}, ["unsure"]),
    ({"status": "new"}, ["unsure"]),
    ({"priority": "nonsense"}, ["stale", "fresh", "unsure"]),  # an unknown value is ignored, not an error
])
def test_queue_filters(app, desk, query, expected):
    query = {k: (str(desk["client"]) if v == "CLIENT" else v) for k, v in query.items()}
    page = logged_in(app, "eng").get("/queue", query_string=query)
    assert page.status_code == 200
    assert sorted(row_ids(page.get_data(as_text=True))) == sorted(desk[name] for name in expected)


def test_queue_counts_per_filter_value_and_keeps_filters_across_pages(app, desk, monkeypatch):
    from service.web import views

    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    web = logged_in(app, "eng")
    page = web.get("/queue", query_string={"client_id": desk["client"]}).get_data(as_text=True)
    assert re.search(r'<option value="printers"\s*>[^<]*\(1\)', page)  # groups counted within the chosen client
    assert 'id="filter-needs-triage"' in page
    next_link = re.search(r'href="([^"]+)" id="page-next"', page).group(1).replace("&amp;", "&")
    assert f"client_id={desk['client']}" in next_link and "page=2" in next_link
    second = web.get(next_link).get_data(as_text=True)
    assert row_ids(second) == [desk["fresh"]]


def test_urgency_puts_paused_and_finished_clocks_last():
    def row(ticket_id, seconds, *, paused=False):
        ticket = Ticket(id=ticket_id, subject="x", created_at=NOW)
        return ticket_queue.QueueRow(ticket, "on_track", paused, None if seconds is None else "reaction",
                                     None, seconds)

    rows = [row(1, 500), row(2, -100), row(3, None), row(4, -5000, paused=True), row(5, 50)]
    assert [r.ticket.id for r in sorted(rows, key=ticket_queue.urgency_key)] == [2, 5, 1, 3, 4]


# --- the ticket page -------------------------------------------------------------------------------------

def test_ticket_page_has_one_form_per_allowed_action_asking_only_what_it_needs(app, desk):
    page = logged_in(app, "eng").get(f"/tickets/{desk['stale']}").get_data(as_text=True)
    assert 'id="form-take"' in page and 'id="form-triage"' not in page  # triaged: take is next
    take = page.split('id="form-take"', 1)[1].split("</form>", 1)[0]
    assert 'name="specialist_id"' in take and 'name="resolution"' not in take
    assert f'<option value="{desk["mine"]}" selected>' in take  # the logged-in engineer's own record
    assert 'name="viewport"' in page
    assert "{'" not in page  # the journal speaks words, not dictionaries


def test_engineer_assigns_several_specialists_in_one_click(app, desk, factory):
    web = logged_in(app, "eng")
    path = f"/tickets/{desk['stale']}"
    web.post(f"{path}/action", data={"csrf": csrf_of(web, path), "action": "take", "specialist_id": desk["mine"]})
    refused = web.post(f"{path}/action", data={"csrf": csrf_of(web, path), "action": "assign_specialists"},
                       follow_redirects=True).get_data(as_text=True)
    assert "«специалисты» — выберите хотя бы одного специалиста" in refused
    web.post(f"{path}/action", data={"csrf": csrf_of(web, path), "action": "assign_specialists",
                                     "specialist_ids": [str(desk["expert"]), str(desk["helper"])]})
    with factory() as session:
        active = set(session.scalars(select(Assignment.specialist_id).where(
            Assignment.ticket_id == desk["stale"], Assignment.released_at.is_(None))))
        assert active == {desk["mine"], desk["expert"], desk["helper"]}
        assert session.get(Ticket, desk["stale"]).status == "with_specialists"


def test_accepting_the_triage_keeps_the_prediction(app, desk, factory):
    web = logged_in(app, "eng")
    path = f"/tickets/{desk['unsure']}"
    page = web.get(path).get_data(as_text=True)
    assert 'id="accept-triage"' in page and "нужна проверка" in page
    form = page.split('id="accept-triage"', 1)[0].rsplit("<form", 1)[1]
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
    assert (fields["action"], fields["group"], fields["priority"]) == ("triage", "network", "low")
    web.post(f"{path}/action", data=fields)
    with factory() as session:
        ticket = session.get(Ticket, desk["unsure"])
        assert (ticket.status, ticket.group) == ("triaged", "network")


def test_suggestion_feedback_is_recorded_and_unknown_targets_are_404(app, desk, factory):
    web = logged_in(app, "eng")
    path = f"/tickets/{desk['fresh']}"
    ok = web.post(f"{path}/suggestions/incident/{desk['stale']}/feedback",
                  data={"csrf": csrf_of(web, path), "useful": "1"})
    assert ok.status_code == 302
    assert web.post(f"{path}/suggestions/gadget/1/feedback", data={"csrf": csrf_of(web, path), "useful": "1"}
                    ).status_code == 404
    assert web.post(f"{path}/suggestions/article/999/feedback", data={"csrf": csrf_of(web, path), "useful": "0"}
                    ).status_code == 404
    with factory() as session:
        rows = session.scalars(select(SuggestionFeedback)).all()
        assert [(r.ticket_id, r.kind, r.ref, r.useful) for r in rows] == [(desk["fresh"], "incident", desk["stale"],
                                                                           True)]


def test_staff_comments_are_internal_unless_marked_for_the_client(app, desk, factory):
    web = logged_in(app, "eng")
    path = f"/tickets/{desk['fresh']}"
    page = web.get(path).get_data(as_text=True)
    assert re.search(r'value="internal" checked', page)
    web.post(f"{path}/comment", data={"csrf": csrf_of(web, path), "body": "заметка для своих"})
    web.post(f"{path}/comment", data={"csrf": csrf_of(web, path), "body": "Добрый день!", "visibility": "public"})
    with factory() as session:
        comments = session.scalars(select(Comment).where(Comment.ticket_id == desk["fresh"]).order_by(Comment.id))
        assert [(c.body, c.public) for c in comments] == [("заметка для своих", False), ("Добрый день!", True)]
    page = web.get(path).get_data(as_text=True)
    assert 'class="comment internal"' in page and 'class="comment public"' in page


def _log(web, path, desk, **extra):
    form = {"csrf": csrf_of(web, path), "specialist_id": str(desk["mine"]), "minutes": "30",
            "started_at": (NOW - timedelta(hours=2)).astimezone().strftime("%Y-%m-%dT%H:%M"), **extra}
    return web.post(f"{path}/time", data=form, follow_redirects=True).get_data(as_text=True)


def test_time_entries_are_corrected_by_their_author_or_a_manager_and_audited(app, desk, factory):
    web = logged_in(app, "eng")
    path = f"/tickets/{desk['fresh']}"
    assert "Записано: 30 мин" in _log(web, path, desk, note="первичная диагностика")
    with factory() as session:
        entry_id = session.scalar(select(TimeEntry.id).where(TimeEntry.ticket_id == desk["fresh"]))
    started = (NOW - timedelta(hours=3)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    other = logged_in(app, "eng2")
    refused = other.post(f"{path}/time/{entry_id}", data={"csrf": csrf_of(other, path), "started_at": started,
                                                          "minutes": "5"}, follow_redirects=True)
    assert "только её автор или менеджер" in refused.get_data(as_text=True)
    web.post(f"{path}/time/{entry_id}", data={"csrf": csrf_of(web, path), "started_at": started, "minutes": "45",
                                              "note": "диагностика и замена", "reason": "ошибся"})
    with factory() as session:
        entry = session.get(TimeEntry, entry_id)
        assert (entry.minutes, entry.note) == (45, "диагностика и замена")
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "time_entry_corrected"))
        assert event.data["minutes"] == {"from": 30, "to": 45} and event.data["reason"] == "ошибся"
    boss = logged_in(app, "boss")
    boss.post(f"{path}/time/{entry_id}", data={"csrf": csrf_of(boss, path), "delete": "1"})
    with factory() as session:
        assert session.get(TimeEntry, entry_id) is None
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "time_entry_deleted")) is not None
    assert web.post(f"{path}/time/999999", data={"csrf": csrf_of(web, path), "delete": "1"}).status_code == 404


def test_off_hours_work_without_agreement_is_warned_about(app, desk, factory):
    with transaction(factory) as session:
        session.get(Client, desk["client"]).calendar = "8x5"
    web = logged_in(app, "eng")
    path = f"/tickets/{desk['fresh']}"
    sunday_night = "2026-11-22T23:00"  # a Sunday, 23:00 in Novosibirsk
    page = _log(web, path, desk, started_at=sunday_night)
    assert "вне рабочего времени клиента" in page
    assert "вне рабочего времени клиента" not in _log(web, path, desk, started_at=sunday_night, off_hours_agreed="on")


# --- language ---------------------------------------------------------------------------------------------

def test_language_switch_is_remembered_and_names_codes_in_english(app, desk):
    web = logged_in(app, "eng")
    assert web.get("/language/en?next=/queue").headers["Location"] == "/queue"
    page = web.get("/queue").get_data(as_text=True)
    assert '<html lang="en">' in page and ">breached<" in page and "Ticket queue" in page
    assert "Очередь заявок" not in page
    missing = web.get("/tickets/999999")
    assert missing.status_code == 404 and "Page not found" in missing.get_data(as_text=True)
    assert web.get("/language/xx").status_code == 404
    for elsewhere in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        assert web.get("/language/en", query_string={"next": elsewhere}).headers["Location"] == "/"
    web.get("/language/ru")
    missing = web.get("/tickets/999999").get_data(as_text=True)
    assert "Страница не найдена" in missing and "The requested URL" not in missing
    forbidden = web.get("/portal")
    assert forbidden.status_code == 403 and "Доступ запрещён" in forbidden.get_data(as_text=True)


def test_every_string_on_a_page_has_an_english_translation():
    from pathlib import Path

    from babel.messages.extract import extract_from_dir
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    web = Path(__file__).resolve().parents[3] / "service" / "web"
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    found = {message for _, _, message, _, _ in extract_from_dir(
        web, method_map, keywords={"_": None, "gettext": None, "lazy_gettext": None})}
    catalogue = web / "translations" / "en" / "LC_MESSAGES"
    po = read_po((catalogue / "messages.po").open("rb"))
    mo = read_mo((catalogue / "messages.mo").open("rb"))
    translated = {m.id: m.string for m in po if m.id}
    assert sorted(m for m in found if not translated.get(m)) == []
    assert {m.id: m.string for m in mo if m.id} == translated  # the compiled catalogue is up to date


# --- the portal -------------------------------------------------------------------------------------------

def test_portal_shows_own_requests_by_default_and_the_company_on_request(app, desk, factory):
    with transaction(factory) as session:
        session.get(Ticket, desk["fresh"]).requester_email = "Petrov@romashka.ru"
    petrov = logged_in(app, "petrov")
    own = petrov.get("/portal").get_data(as_text=True)
    assert "Новый вопрос про почту" in own and "Старый вопрос" not in own
    company = petrov.get("/portal?scope=company").get_data(as_text=True)
    assert "Новый вопрос про почту" in company and "Старый вопрос" in company and "Непонятная" not in company
    assert "Старый вопрос" not in logged_in(app, "romashka").get("/portal").get_data(as_text=True)
    # the company's own contact address (its IT lead) sees the whole company by default
    with transaction(factory) as session:
        session.get(Client, desk["client"]).email = "petrov@romashka.ru"
    assert "Старый вопрос" in petrov.get("/portal").get_data(as_text=True)
    assert "Старый вопрос" in petrov.get("/portal?scope=company&status=open").get_data(as_text=True)


def test_client_sees_the_engineers_question_and_answers_it(app, desk, factory):
    web = logged_in(app, "eng")
    path = f"/tickets/{desk['fresh']}"
    web.post(f"{path}/action", data={"csrf": csrf_of(web, path), "action": "take", "specialist_id": desk["mine"]})
    web.post(f"{path}/action", data={"csrf": csrf_of(web, path), "action": "request_info",
                                     "reason": "Какой адрес ящика не получает почту?"})
    client = logged_in(app, "romashka")
    page = client.get(f"/portal/tickets/{desk['fresh']}").get_data(as_text=True)
    assert 'id="question"' in page and "Какой адрес ящика не получает почту?" in page
    assert "Инженер ждёт вашего ответа" in client.get("/portal?scope=company").get_data(as_text=True)
    reply = f"/portal/tickets/{desk['fresh']}/reply"
    empty = client.post(reply, data={"csrf": csrf_of(client, "/portal"), "body": " "}, follow_redirects=True)
    assert "заполните это поле" in empty.get_data(as_text=True)
    client.post(reply, data={"csrf": csrf_of(client, "/portal"), "body": "buh@romashka.ru"})
    with factory() as session:
        ticket = session.get(Ticket, desk["fresh"])
        assert ticket.status == "in_progress"
        assert session.scalars(select(SlaPause).where(SlaPause.ticket_id == ticket.id)).one().ended_at is not None
        assert any(c.body == "buh@romashka.ru" and c.public for c in ticket.comments)
    other_clients = client.post(f"/portal/tickets/{desk['unsure']}/reply",
                                data={"csrf": csrf_of(client, "/portal"), "body": "x"})
    assert other_clients.status_code == 404


def test_portal_request_carries_urgency_and_the_affected_device_of_the_own_company_only(app, desk, factory):
    from kb.models import Node

    with transaction(factory) as session:
        ours = Node(client_id=desk["client"], kind="printer", name="prn-buh")
        theirs = Node(client_id=session.scalar(select(Client.id).where(Client.name == "АО Лютик")), kind="server",
                      name="lutik-dc1")
        session.add_all([ours, theirs])
        session.flush()
        nodes = {"ours": ours.id, "theirs": theirs.id}
    web = logged_in(app, "romashka")
    form = web.get("/portal/new").get_data(as_text=True)
    assert "prn-buh" in form and "lutik-dc1" not in form
    refused = web.post("/portal/new", data={"csrf": csrf_of(web, "/portal/new"), "subject": "Не печатает",
                                            "node_id": str(nodes["theirs"])})
    assert refused.status_code == 422 and "«устройство» — такого устройства у вас нет" in refused.get_data(as_text=True)
    created = web.post("/portal/new", data={"csrf": csrf_of(web, "/portal/new"), "subject": "Не печатает",
                                            "urgency": "high", "node_id": str(nodes["ours"])})
    assert created.status_code == 302
    with factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.subject == "Не печатает")).one()
        assert (ticket.urgency, [n.id for n in ticket.nodes], ticket.channel) == ("high", [nodes["ours"]], "portal")


def test_client_sees_the_hourly_balance_and_stops_the_work(app, desk, factory):
    with transaction(factory) as session:
        ticket = session.get(Ticket, desk["stale"])
        ticket.billing_mode, ticket.estimate_hours = "hourly", 4
        ticket.time_entries.append(TimeEntry(specialist_id=desk["mine"], started_at=NOW - timedelta(days=9),
                                             minutes=90, work_kind="hourly"))
    web = logged_in(app, "romashka")
    path = f"/portal/tickets/{desk['stale']}"
    page = web.get(path).get_data(as_text=True)
    hourly = page.split('id="hourly"', 1)[1].split("</div>\n</div>", 1)[0]
    assert "1,50" in hourly and "2,50" in hourly  # spent and remaining hours, Russian decimals
    web.post(f"{path}/stop-work", data={"csrf": csrf_of(web, path)})
    page = web.get(path).get_data(as_text=True)
    assert 'id="stop-work"' not in page and "Остановлены" in page
    again = web.post(f"{path}/stop-work", data={"csrf": csrf_of(web, path)}, follow_redirects=True)
    assert "уже остановлены" in again.get_data(as_text=True)
    assert web.post(f"/portal/tickets/{desk['unsure']}/stop-work", data={"csrf": csrf_of(web, path)}
                    ).status_code == 404


# --- invariants of the queue's pure parts -----------------------------------------------------------------

_rows = st.lists(st.tuples(st.sampled_from(["new", "triaged", "in_progress"]), st.sampled_from(["low", "high"]),
                           st.sampled_from(["mail", "network", None]), st.sampled_from([1, 2]),
                           st.sampled_from(["on_track", "breached", "paused"]),
                           st.one_of(st.none(), st.floats(-1e6, 1e6))), max_size=30)
_filters = st.builds(ticket_queue.QueueFilters, status=st.sampled_from([None, "new", "triaged"]),
                     priority=st.sampled_from([None, "low", "high"]), group=st.sampled_from([None, "mail"]),
                     client_id=st.sampled_from([None, 1, 2]), sla_state=st.sampled_from([None, "breached"]))


@given(_rows, _filters)
def test_a_facets_count_of_the_chosen_value_is_what_the_filter_shows(specs, filters):
    rows = [ticket_queue.QueueRow(Ticket(id=i + 1, status=s, priority=p, group=g, client_id=c, created_at=NOW),
                                  state, state == "paused", None if left is None else "reaction", None, left)
            for i, (s, p, g, c, state, left) in enumerate(specs)]
    shown = [row for row in rows if ticket_queue.matches(row, filters)]
    counts = ticket_queue.facet_counts(rows, filters)
    for name in ticket_queue.FACETS:
        chosen = getattr(filters, name)
        if chosen is not None:
            assert counts[name][chosen] == len(shown)
        else:
            assert sum(counts[name].values()) == len(shown)
    ordered = sorted(shown, key=ticket_queue.urgency_key)
    running = [row.seconds_left for row in ordered if not row.paused and row.seconds_left is not None]
    assert running == sorted(running)  # the least time left first
    assert all(not row.paused for row in ordered[:len(running)])


def test_the_queue_query_runs_on_both_databases(db_session):
    """Text search, "mine" and the needs-triage rule in SQL, on SQLite and PostgreSQL."""
    client = Client(name="ООО Ромашка", calendar="24x7")
    me = Specialist(name="Иванов Иван")
    db_session.add_all([client, me])
    db_session.flush()
    printer = Ticket(client=client, subject="Принтер ЗАМЯЛ бумагу", status="in_progress", group="printers",
                     requester_name="Пётр", created_at=NOW - timedelta(hours=3))
    routed = Ticket(client=client, subject="Почта", status="new", group="mail", created_at=NOW - timedelta(hours=1))
    unrouted = Ticket(client=client, subject="Что-то сломалось", status="new", group=None, created_at=NOW)
    db_session.add_all([printer, routed, unrouted])
    db_session.flush()
    db_session.add(Assignment(ticket_id=printer.id, specialist_id=me.id, role="primary"))
    db_session.add(TriagePrediction(ticket_id=routed.id, group="mail", needs_human=True))
    db_session.commit()

    def ids(**filters):
        page = ticket_queue.queue_page(db_session, ticket_queue.QueueFilters(**filters), specialist_id=me.id)
        return [row.ticket.id for row in page.rows]

    assert ids(text="замял") == [printer.id]  # case-insensitive, Cyrillic too
    assert ids(text="бумагу") == [printer.id]
    assert ids(text=f"#{routed.id}") == [routed.id]
    assert ids(text="пётр") == [printer.id]
    assert ids(mine=True) == [printer.id]
    assert sorted(ids(needs_triage=True)) == sorted([routed.id, unrouted.id])
    counted = ticket_queue.queue_page(db_session, ticket_queue.QueueFilters(needs_triage=True))
    assert counted.needs_triage_count == 2 and dict(counted.counts["status"]) == {"new": 2}


def test_staff_see_the_hourly_balance_and_record_the_clients_stop(app, desk, factory):
    with transaction(factory) as session:
        ticket = session.get(Ticket, desk["fresh"])
        ticket.billing_mode = "hourly"
    path = f"/tickets/{desk['fresh']}"
    with transaction(factory) as session:
        create_user(session, username="reader", password=PASSWORD, role="analyst")
    reader = logged_in(app, "reader")
    assert 'id="hourly"' in reader.get(path).get_data(as_text=True)
    assert 'id="stop-work"' not in reader.get(path).get_data(as_text=True)
    assert reader.post(f"{path}/stop-work", data={"csrf": csrf_of(reader, path)}).status_code == 403
    web = logged_in(app, "eng")
    assert 'id="stop-work"' in web.get(path).get_data(as_text=True)
    web.post(f"{path}/stop-work", data={"csrf": csrf_of(web, path)})
    with factory() as session:
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "billing.stop_work",
                                                       AuditEvent.entity_id == desk["fresh"])) is not None


def test_a_user_without_a_specialist_record_must_choose_who_worked(app, desk):
    page = logged_in(app, "boss").get(f"/tickets/{desk['fresh']}").get_data(as_text=True)
    picker = page.split('id="time-specialist"', 1)[1].split("</select>", 1)[0]
    assert '<option value="" selected>' in picker  # nobody is preselected for a manager


# --- portal attachments -----------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _new_request(web, subject: str, *files: tuple[bytes, str], lang: str | None = None):
    from io import BytesIO

    data = {"csrf": csrf_of(web, "/portal/new"), "subject": subject,
            "attachments": [(BytesIO(content), name) for content, name in files]}
    return web.post("/portal/new" + (f"?lang={lang}" if lang else ""), data=data, content_type="multipart/form-data")


def test_portal_request_takes_attachments_visible_to_staff_and_to_no_other_client(app, desk, factory):
    from kb.models import Attachment

    web = logged_in(app, "romashka")
    assert 'enctype="multipart/form-data"' in web.get("/portal/new").get_data(as_text=True)
    created = _new_request(web, "Ошибка на экране", (PNG, "../../etc/экран.png"), (b"line 1\n", "app.log"))
    assert created.status_code == 302
    with factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.subject == "Ошибка на экране")).one()
        files = {a.filename: a for a in session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id))}
        assert sorted(files) == ["_.._etc_экран.png", "app.log"]
        assert files["_.._etc_экран.png"].content == PNG and files["app.log"].content_type == "text/plain"
        ticket_id, attachment_id = ticket.id, files["app.log"].id
    url = f"/tickets/{ticket_id}/attachments/{attachment_id}"
    assert "app.log" in web.get(f"/portal/tickets/{ticket_id}").get_data(as_text=True)
    staff = logged_in(app, "eng")
    assert "app.log" in staff.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert staff.get(url).data == b"line 1\n"
    with transaction(factory) as session:
        create_user(session, username="lutik", password=PASSWORD, role="client",
                    client_id=session.scalar(select(Client.id).where(Client.name == "АО Лютик")))
    assert logged_in(app, "lutik").get(url).status_code == 404


@pytest.mark.parametrize(("files", "russian", "english"), [
    ([(b"MZ\x90\x00", "setup.exe")], "файлы такого типа не принимаются: «setup.exe»",
     "files of this type are not accepted: “setup.exe”"),
    ([(b"<html>", "scan.pdf")], "файл «scan.pdf» не является файлом pdf", "“scan.pdf” is not a pdf file"),
    ([(b"x" * (5 * 1024 * 1024 + 1), "big.txt")], "файл «big.txt» больше 5120 КБ", "“big.txt” is larger than 5120 KB"),
    ([(b"", "empty.txt")], "файл «empty.txt» пустой", "“empty.txt” is empty"),
    ([(b"a", f"{n}.txt") for n in range(21)], "не больше 20 файлов", "at most 20 files"),
])
def test_a_bad_upload_is_refused_in_the_pages_language_and_nothing_is_stored(app, desk, factory, files,
                                                                              russian, english):
    from kb.models import Attachment

    web = logged_in(app, "romashka")
    refused = _new_request(web, "С плохим файлом", *files)
    assert refused.status_code == 422 and f"«файлы» — {russian}" in refused.get_data(as_text=True)
    refused = _new_request(web, "С плохим файлом", *files, lang="en")
    assert refused.status_code == 422 and english in refused.get_data(as_text=True)
    with factory() as session:
        assert session.scalars(select(Ticket).where(Ticket.subject == "С плохим файлом")).all() == []
        assert session.scalars(select(Attachment)).all() == []


def test_a_portal_users_request_mails_it_status_and_comments_through_the_outbox(app, desk, factory):
    from kb.models import OutboxMessage

    petrov = logged_in(app, "petrov")
    assert petrov.post("/portal/new", data={"csrf": csrf_of(petrov, "/portal/new"),
                                            "subject": "Не открывается 1С"}).status_code == 302
    with factory() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.subject == "Не открывается 1С")).one()
        assert (ticket.requester_name, ticket.requester_email) == ("petrov", "petrov@romashka.ru")
        ticket_id = ticket.id
    staff = logged_in(app, "eng")
    path = f"/tickets/{ticket_id}"
    staff.post(f"{path}/comment", data={"csrf": csrf_of(staff, path), "body": "Перезапустили сервер",
                                        "visibility": "public"})
    with factory() as session:
        mails = session.scalars(select(OutboxMessage).where(OutboxMessage.ticket_id == ticket_id)).all()
        assert any(m.kind == "comment_added" and m.recipients == ["petrov@romashka.ru"] for m in mails), \
            [(m.kind, m.recipients) for m in mails]


# --- the language of a user -------------------------------------------------------------------------------

def test_a_users_language_follows_it_to_another_browser_and_wins_over_the_cookie(app, desk, factory):
    web = logged_in(app, "eng")
    web.get("/language/en?next=/queue")
    elsewhere = logged_in(app, "eng")  # another browser: no cookie
    assert "Ticket queue" in elsewhere.get("/queue").get_data(as_text=True)
    elsewhere.set_cookie("precedent_lang", "ru")  # a cookie left from before does not override the login's choice
    assert "Ticket queue" in elsewhere.get("/queue").get_data(as_text=True)
    assert "Очередь заявок" in elsewhere.get("/queue?lang=ru").get_data(as_text=True)  # a shared link still does
    assert "Очередь заявок" in logged_in(app, "eng2").get("/queue").get_data(as_text=True)
    app.test_client().get("/language/en")  # anonymous: only the cookie
    with factory() as session:
        from kb.models import User

        assert dict(session.execute(select(User.username, User.language)).all())["eng"] == "en"
        changes = session.scalars(select(AuditEvent).where(AuditEvent.action == "language_changed")).all()
        assert [(e.actor, e.data) for e in changes] == [("eng", {"from": None, "to": "en"})]


def test_mail_to_a_user_is_in_the_language_it_chose(app, desk, factory):
    from kb.models import OutboxMessage

    petrov = logged_in(app, "petrov")
    petrov.get("/language/en")
    petrov.post("/portal/new", data={"csrf": csrf_of(petrov, "/portal/new"), "subject": "VPN down"})
    with transaction(factory) as session:
        session.get(Specialist, desk["expert"]).email = "anna@desk.example"
        create_user(session, username="anna", password=PASSWORD, role="engineer_l2",
                    specialist_id=desk["expert"]).language = "en"
        session.get(Specialist, desk["helper"]).email = "oleg@desk.example"
    staff = logged_in(app, "eng")
    path = f"/tickets/{desk['fresh']}"
    staff.post(f"{path}/action", data={"csrf": csrf_of(staff, path), "action": "take", "specialist_id": desk["mine"]})
    staff.post(f"{path}/action", data={"csrf": csrf_of(staff, path), "action": "assign_specialists",
                                       "specialist_ids": [str(desk["expert"]), str(desk["helper"])]})
    with factory() as session:
        mails = session.scalars(select(OutboxMessage)).all()
        subjects = {m.recipients[0]: m.subject for m in mails if m.kind in ("ticket_created", "assigned")}
    assert "Request registered: VPN down" in subjects["petrov@romashka.ru"]
    assert "Assigned to you" in subjects["anna@desk.example"]
    assert "Вам назначена заявка" in subjects["oleg@desk.example"]


# --- escalation to a group; the journal's client authors ---------------------------------------------------

def test_escalation_can_hand_the_ticket_to_another_group_audited_and_refuses_an_unknown_one(app, desk, factory):
    web = logged_in(app, "eng")
    path = f"/tickets/{desk['fresh']}"
    web.post(f"{path}/action", data={"csrf": csrf_of(web, path), "action": "take", "specialist_id": desk["mine"]})
    assert 'id="escalate-group"' in web.get(path).get_data(as_text=True)
    refused = web.post(f"{path}/action", data={"csrf": csrf_of(web, path), "action": "escalate", "group": "kitchen",
                                               "specialist_id": desk["expert"]}, follow_redirects=True)
    assert "«группа» — недопустимое значение" in refused.get_data(as_text=True)
    with factory() as session:
        ticket = session.get(Ticket, desk["fresh"])
        assert (ticket.status, ticket.group) == ("in_progress", "mail")
    web.post(f"{path}/action", data={"csrf": csrf_of(web, path), "action": "escalate", "group": "network",
                                     "specialist_id": desk["expert"], "reason": "почтовый шлюз за VPN"})
    with factory() as session:
        ticket = session.get(Ticket, desk["fresh"])
        assert (ticket.status, ticket.group) == ("escalated", "network")
        event = session.scalars(select(AuditEvent).where(AuditEvent.entity_id == ticket.id,
                                                         AuditEvent.action == "escalate")).one()
        assert event.data["group"] == {"from": "mail", "to": "network"} and event.data["specialist_id"] == desk["expert"]
    assert "почта → сеть и VPN" in web.get(path).get_data(as_text=True)


def test_the_journal_names_a_client_author_with_a_marker_not_the_internal_prefix(app, desk, factory):
    client = logged_in(app, "romashka")
    client.post("/portal/new", data={"csrf": csrf_of(client, "/portal/new"), "subject": "Нет интернета"})
    with factory() as session:
        ticket_id = session.scalars(select(Ticket.id).where(Ticket.subject == "Нет интернета")).one()
    staff = logged_in(app, "eng")
    journal = staff.get(f"/tickets/{ticket_id}").get_data(as_text=True).split('id="journal"', 1)[1]
    assert "<b>romashka (клиент)</b>" in journal and "client:" not in journal
    staff.get("/language/en")
    assert "<b>romashka (client)</b>" in staff.get(f"/tickets/{ticket_id}").get_data(as_text=True)
