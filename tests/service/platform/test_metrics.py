"""/metrics moves when the events happen: triage of new tickets, suggestions served and judged, SLA states,
the search index; a rolled-back prediction is not counted; worker processes add up (multiprocess mode)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from kb.db import make_engine, make_session_factory
from kb.models import Client, Ticket, TriagePrediction
from service.search import service as search
from tests.service.search.test_search import store  # noqa: F401 - the search store fixture
from tests.service.signed_in import signed_in

ROOT = Path(__file__).resolve().parents[3]


def sample(body: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition ``body`` (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" ([0-9.e+-]+)$"
    found = re.search(pattern, body, re.M)
    return float(found.group(1)) if found else 0.0


def scrape(app) -> str:
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture(autouse=True)
def _fresh_index_cache():
    search.forget_loaded()
    yield
    search.forget_loaded()


def _client_id(app) -> int:
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        client = Client(name="ООО Ромашка")
        session.add(client)
        session.commit()
        return client.id


def test_a_new_ticket_counts_its_triage_route_and_confidence(app, client):
    client_id = _client_id(app)
    before = scrape(app)
    created = client.post("/api/v1/tickets", json={"client_id": client_id, "subject": "Сервер 1С не отвечает",
                                                   "description": "Вся бухгалтерия стоит"})
    assert created.status_code == 201, created.get_json()
    after = scrape(app)
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        stored = session.scalars(select(TriagePrediction)).one()
    route = "human_queue" if stored.needs_human else "auto_routed"
    other = "auto_routed" if stored.needs_human else "human_queue"
    assert sample(after, "precedent_triage_routed_total", route=route) == \
        sample(before, "precedent_triage_routed_total", route=route) + 1
    assert sample(after, "precedent_triage_routed_total", route=other) == \
        sample(before, "precedent_triage_routed_total", route=other)
    observed = sum(c is not None for c in (stored.group_confidence, stored.priority_confidence))
    counts = [sample(body, "precedent_triage_confidence_count", field=f) for body in (before, after)
              for f in ("group", "priority")]
    assert observed >= 1 and (counts[2] + counts[3]) - (counts[0] + counts[1]) == observed


def test_a_rolled_back_prediction_is_not_counted(app):
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        client = Client(name="ООО Ромашка")
        ticket = Ticket(client=client, subject="x", status="new")
        session.add(ticket)
        session.commit()
        before = scrape(app)
        session.add(TriagePrediction(ticket_id=ticket.id, needs_human=True, group_confidence=0.3))
        session.flush()
        session.rollback()
    assert sample(scrape(app), "precedent_triage_routed_total", route="human_queue") == \
        sample(before, "precedent_triage_routed_total", route="human_queue")


def test_suggestions_served_and_marked_useful(app, client, store):  # noqa: F811
    before = scrape(app)
    body = client.get("/api/v1/search", query_string={"q": "принтер не печатает документы"}).get_json()
    served = scrape(app)
    assert len(body["incidents"]) >= 1 and len(body["articles"]) >= 1
    assert sample(served, "precedent_suggestions_served_total", kind="incident") == \
        sample(before, "precedent_suggestions_served_total", kind="incident") + len(body["incidents"])
    assert sample(served, "precedent_suggestions_served_total", kind="article") == \
        sample(before, "precedent_suggestions_served_total", kind="article") + len(body["articles"])
    marked = client.post(f"/api/v1/tickets/{store['open']}/suggestions/incident/{store['tickets'][0]}/feedback",
                         json={"useful": True})
    assert marked.status_code == 201, marked.get_json()
    after = scrape(app)
    assert sample(after, "precedent_suggestion_feedback_total", kind="incident", useful="true") == \
        sample(served, "precedent_suggestion_feedback_total", kind="incident", useful="true") + 1
    # the index that answered is described: one document per resolved incident, built moments ago
    assert sample(after, "precedent_index_documents", kind="incident") == len(store["tickets"])
    assert 0 <= sample(after, "precedent_index_age_seconds", kind="incident") < 600


def test_suggestions_on_the_search_page_and_the_ticket_page_are_counted(app, store):  # noqa: F811
    web = signed_in(app, "engineer_l1")
    before = scrape(app)
    page = web.get("/search", query_string={"q": "принтер не печатает документы"})
    assert page.status_code == 200
    after_search = scrape(app)
    assert sample(after_search, "precedent_suggestions_served_total", kind="incident") > \
        sample(before, "precedent_suggestions_served_total", kind="incident")
    assert web.get(f"/tickets/{store['open']}").status_code == 200
    after_ticket = scrape(app)
    assert sample(after_ticket, "precedent_suggestions_served_total", kind="incident") > \
        sample(after_search, "precedent_suggestions_served_total", kind="incident")


def test_sla_states_of_open_tickets(app):
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        client = Client(name="ООО Ромашка")
        session.add_all([Ticket(client=client, subject="a", status="in_progress", sla_state="at_risk"),
                         Ticket(client=client, subject="b", status="in_progress", sla_state="breached"),
                         Ticket(client=client, subject="c", status="closed", sla_state="breached")])
        session.commit()
    body = scrape(app)
    assert sample(body, "precedent_sla_open_tickets", state="at_risk") == 1
    assert sample(body, "precedent_sla_open_tickets", state="breached") == 1  # the closed one is history


WORKER = """
import sys
from service import create_app
app = create_app({"TESTING": True, "DATABASE_URL": sys.argv[1], "VAR_DIR": sys.argv[2]})
for _ in range(int(sys.argv[3])):
    assert app.test_client().get("/healthz").status_code == 200
"""


def test_worker_processes_add_up_in_multiprocess_mode(app, tmp_path, monkeypatch):
    """Two processes (as gunicorn's workers) write their counts; a scrape of a third sums them."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    for requests in (2, 3):
        subprocess.run([sys.executable, "-c", WORKER, app.config["DATABASE_URL"], app.config["VAR_DIR"],
                        str(requests)], cwd=ROOT, env=env, check=True, timeout=120)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    body = scrape(app)
    assert sample(body, "precedent_http_requests_total", method="GET", route="/healthz", status="200") == 5
