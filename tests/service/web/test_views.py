"""Web UI: login, role boundaries, queue, ticket page, portal — through Flask's test client."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from kb.db import make_engine, make_session_factory, transaction
from kb.models import Client, Comment, Ticket
from service.platform.auth import create_user

PASSWORD = "correct horse battery"


@pytest.fixture
def seeded(app):
    """Two clients with one ticket each, an engineer and a client user of the first client."""
    with transaction(make_session_factory(make_engine(app.config["DATABASE_URL"]))) as session:
        ours, theirs = Client(name="ООО Ромашка"), Client(name="АО Лютик")
        mine = Ticket(client=ours, subject="Не печатает МФУ в бухгалтерии", priority="high", status="in_progress",
                      created_at=datetime(2026, 5, 1, 9, tzinfo=UTC), sla_state="at_risk")
        mine.comments.append(Comment(author="Инженер", body="Внутренняя заметка", public=False))
        mine.comments.append(Comment(author="Инженер", body="Выехали к вам", public=True))
        other = Ticket(client=theirs, subject="Чужая заявка", created_at=datetime(2026, 5, 2, tzinfo=UTC))
        session.add_all([mine, other])
        session.flush()
        create_user(session, username="eng", password=PASSWORD, role="engineer_l1")
        create_user(session, username="romashka", password=PASSWORD, role="client", client_id=ours.id)
        return {"mine": mine.id, "other": other.id}


def login(web, username: str, password: str = PASSWORD):
    page = web.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return web.post("/login", data={"username": username, "password": password, "csrf": csrf})


def test_login_rejects_a_wrong_password(app, seeded):
    web = app.test_client()
    response = login(web, "eng", "wrong password")
    assert response.status_code == 401
    assert "Неверное имя пользователя" in response.get_data(as_text=True)
    assert web.get("/queue").status_code == 302


def test_forms_without_the_csrf_token_are_refused(app, seeded):
    response = app.test_client().post("/login", data={"username": "eng", "password": PASSWORD})
    assert response.status_code == 400


def test_engineer_sees_queue_and_ticket_page(app, seeded):
    web = app.test_client()
    assert login(web, "eng").headers["Location"] == "/"
    queue = web.get("/queue").get_data(as_text=True)
    assert "Не печатает МФУ в бухгалтерии" in queue and "Чужая заявка" in queue
    page = web.get(f"/tickets/{seeded['mine']}").get_data(as_text=True)
    # the stored badge says "at risk"; the live clock says the reaction target passed long ago
    assert "Внутренняя заметка" in page and 'class="badge s-breached">нарушен<' in page and "at_risk" not in page
    assert web.get("/portal").status_code == 403
    assert web.get("/sla").status_code == 200


def test_client_user_sees_only_its_tickets_and_public_comments(app, seeded):
    web = app.test_client()
    login(web, "romashka")
    assert web.get("/").headers["Location"].endswith("/portal")
    portal = web.get("/portal?scope=company").get_data(as_text=True)
    assert "Не печатает МФУ" in portal and "Чужая заявка" not in portal
    assert "Не печатает МФУ" not in web.get("/portal").get_data(as_text=True)  # by default: only the user's own
    page = web.get(f"/portal/tickets/{seeded['mine']}").get_data(as_text=True)
    assert "Выехали к вам" in page and "Внутренняя заметка" not in page
    assert web.get(f"/portal/tickets/{seeded['other']}").status_code == 404
    assert web.get("/queue").status_code == 403
    assert web.get(f"/tickets/{seeded['mine']}").status_code == 403


def test_login_redirect_target_stays_on_this_site(app, seeded):
    web = app.test_client()
    page = web.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    response = web.post("/login?next=//evil.example/", data={"username": "eng", "password": PASSWORD, "csrf": csrf})
    assert response.headers["Location"] == "/"


def csrf_of(web, path: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', web.get(path).get_data(as_text=True)).group(1)


def test_engineer_resolves_from_the_ticket_page(app, seeded):
    web = app.test_client()
    login(web, "eng")
    page = f"/tickets/{seeded['mine']}"
    csrf = csrf_of(web, page)
    missing = web.post(f"{page}/action", data={"csrf": csrf, "action": "resolve"}, follow_redirects=True)
    assert "Не выполнено" in missing.get_data(as_text=True)
    done = web.post(f"{page}/action", data={"csrf": csrf, "action": "resolve", "resolution": "Заменён картридж"},
                    follow_redirects=True).get_data(as_text=True)
    assert 'data-status="resolved">решена</b>' in done and "Заменён картридж" in done
    illegal = web.post(f"{page}/action", data={"csrf": csrf, "action": "escalate"}, follow_redirects=True)
    assert "недоступно, пока заявка в статусе «решена»" in illegal.get_data(as_text=True)


def test_client_creates_a_ticket_and_cannot_take_staff_actions(app, seeded):
    web = app.test_client()
    login(web, "romashka")
    csrf = csrf_of(web, "/portal/new")
    empty = web.post("/portal/new", data={"csrf": csrf, "subject": "", "description": "x"})
    assert empty.status_code == 422 and "«тема» — заполните это поле" in empty.get_data(as_text=True)
    created = web.post("/portal/new", data={"csrf": csrf, "subject": "Не работает сканер штрихкодов",
                                            "description": "На кассе 2 сканер не читает коды"})
    assert created.status_code == 302
    new_id = int(created.headers["Location"].rsplit("/", 1)[1])
    assert "Не работает сканер" in web.get(f"/portal/tickets/{new_id}").get_data(as_text=True)
    assert web.post(f"/tickets/{new_id}/action", data={"csrf": csrf, "action": "escalate"}).status_code == 403
    assert web.post(f"/tickets/{seeded['other']}/comment", data={"csrf": csrf, "body": "hi"}).status_code == 404


def test_pages_say_search_is_unavailable_when_the_index_is_for_another_model(app, seeded):
    from dataclasses import replace

    from service.search import service as search

    settings = app.config["SETTINGS"]
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        search.build_index(session, settings)
    search.forget_loaded()
    app.config["SETTINGS"] = replace(settings, search_embedder="all-MiniLM-L6-v2")
    web = app.test_client()
    login(web, "eng")
    page = web.get("/search", query_string={"q": "МФУ не печатает"})
    assert page.status_code == 200
    assert "Поиск недоступен" in page.get_data(as_text=True) and "index build" in page.get_data(as_text=True)
    assert web.get(f"/tickets/{seeded['mine']}").status_code == 200  # renders without suggestions


def _csrf(web, path):
    return re.search(r'name="csrf" value="([^"]+)"', web.get(path).get_data(as_text=True)).group(1)


def test_engineer_logs_work_from_the_ticket_page_in_the_clients_time_zone(app, seeded):
    from kb.models import Specialist, TimeEntry

    factory = make_session_factory(make_engine(app.config["DATABASE_URL"]))
    with transaction(factory) as session:
        session.get(Client, session.get(Ticket, seeded["mine"]).client_id).timezone = "Asia/Novosibirsk"
        specialist = Specialist(name="Иванов И. И.")
        session.add(specialist)
        session.flush()
        specialist_id = specialist.id
    web = app.test_client()
    login(web, "eng")
    page = f"/tickets/{seeded['mine']}"
    assert 'id="time-entry"' in web.get(page).get_data(as_text=True)
    form = {"csrf": _csrf(web, page), "specialist_id": str(specialist_id), "started_at": "2026-05-04T10:30",
            "minutes": "90", "on_site": "on", "note": "заменили картридж"}
    assert web.post(f"{page}/time", data=form).status_code == 302
    bad = {**form, "csrf": _csrf(web, page), "minutes": "полтора часа"}
    web.post(f"{page}/time", data=bad)
    assert "«Минут»: нужно целое число, получено «полтора часа»" in web.get(page).get_data(as_text=True)
    with factory() as session:
        entries = session.scalars(select(TimeEntry).where(TimeEntry.ticket_id == seeded["mine"])).all()
        assert len(entries) == 1  # the bad form stored nothing
        entry = entries[0]
        # 10:30 in Novosibirsk (UTC+7) is 03:30 UTC
        assert entry.started_at == datetime(2026, 5, 4, 3, 30, tzinfo=UTC)
        assert (entry.minutes, entry.on_site, entry.note) == (90, True, "заменили картридж")


def test_client_users_cannot_log_work(app, seeded):
    web = app.test_client()
    login(web, "romashka")
    form = {"csrf": _csrf(web, "/portal"), "specialist_id": "1", "started_at": "2026-05-04T10:30", "minutes": "5"}
    assert web.post(f"/tickets/{seeded['mine']}/time", data=form).status_code == 403


def test_quality_page_is_for_managers_and_analysts(app, seeded):
    with transaction(make_session_factory(make_engine(app.config["DATABASE_URL"]))) as session:
        create_user(session, username="boss", password=PASSWORD, role="manager")
    engineer = app.test_client()
    login(engineer, "eng")
    assert engineer.get("/quality").status_code == 403
    manager = app.test_client()
    login(manager, "boss")
    page = manager.get("/quality").get_data(as_text=True)
    assert 'id="triage-quality"' in page and "Пересчитать по текущему поиску" in page
    replayed = manager.get("/quality?replay=1")
    assert replayed.status_code == 200 and 'id="suggestion-quality"' in replayed.get_data(as_text=True)
