"""Fixtures of the ticket workflow tests: a small client world, fixed instants, a real SMTP server."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kb import migrate
from kb.db import make_engine, make_session_factory
from kb.models import Client, Node, Specialist
from service.config import load_settings
from service.tickets import workflow

EML_DIR = Path(__file__).parent / "eml"
#: Monday 2026-11-23 10:00 in Moscow: inside the 10x5 calendar.
MONDAY_10_MSK = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)

#: Actions leading from "new" to each status, and the parameters each action needs.
PATH_TO = {
    "new": [],
    "triaged": ["triage"],
    "in_progress": ["triage", "take"],
    "escalated": ["triage", "take", "escalate"],
    "with_specialists": ["triage", "take", "escalate", "assign_specialists"],
    "waiting_for_client": ["triage", "take", "request_info"],
    "resolved": ["triage", "take", "resolve"],
    "closed": ["triage", "take", "resolve", "close"],
    "reopened": ["triage", "take", "resolve", "reopen"],
}


@dataclass
class World:
    client_id: int
    other_client_id: int
    server_id: int
    printer_id: int
    other_node_id: int
    line1_id: int
    line2_id: int
    expert_ids: list[int]


def action_params(world: World, action: str) -> dict:
    """Valid parameters of ``action`` in the test world."""
    return {
        "assign_specialists": {"specialist_ids": world.expert_ids},
        "resolve": {"resolution": "Перезапущена служба печати"},
        "escalate": {"specialist_id": world.line2_id},
        "take": {"specialist_id": world.line1_id},
    }.get(action, {})


@pytest.fixture
def flow_settings():
    """Settings without search-backed triage and with the webhook secret set; no SMTP."""
    return replace(load_settings(), triage_use_search=False, smtp_host="", workflow_notify_requester=True,
                   alertmanager_token="s3cret", workflow_first_line_minutes=120,
                   workflow_autoclose_working_days=3)


def build_world(session) -> World:
    """Two clients (bronze, 10x5 Moscow), nodes and specialists of lines 1-3."""
    client = Client(name="ООО Ромашка", email="it@romashka.ru", sla_policy="bronze", calendar="10x5")
    other = Client(name="АО Вектор", email="admin@vector.example", sla_policy="gold")
    session.add_all([client, other])
    session.flush()
    server = Node(client_id=client.id, kind="server", name="srv-1c", criticality="critical", monitored=True,
                  attributes={"ip": "10.0.0.5", "hostname": "srv-1c.romashka.local"})
    printer = Node(client_id=client.id, kind="printer", name="prn-buh", criticality="low")
    other_node = Node(client_id=other.id, kind="server", name="vec-dc1", attributes={"ip": "10.9.0.1"})
    line1 = Specialist(name="Иванов (L1)", line=1)
    line2 = Specialist(name="Сидоров (L2)", line=2)
    experts = [Specialist(name="Кузнецов (1С)", line=3), Specialist(name="Орлова (сети)", line=3)]
    session.add_all([server, printer, other_node, line1, line2, *experts])
    session.commit()
    return World(client.id, other.id, server.id, printer.id, other_node.id, line1.id, line2.id,
                 [e.id for e in experts])


@pytest.fixture
def world(db_session) -> World:
    return build_world(db_session)


def new_ticket(session, world: World, settings, *, now=MONDAY_10_MSK, **fields):
    """A ticket created with priority and group given (no triage)."""
    values = {"client_id": world.client_id, "subject": "Не печатает принтер", "priority": "standard",
              "group": "printers", "requester_email": "p.petrov@romashka.ru", "requester_name": "Пётр"}
    values.update(fields)
    return workflow.create_ticket(session, actor="operator", now=now, settings=settings, **values)


def drive(session, world: World, settings, ticket_id: int, status: str, *, now=MONDAY_10_MSK):
    """Move a ticket from "new" to ``status`` along PATH_TO."""
    for action in PATH_TO[status]:
        workflow.apply_action(session, ticket_id=ticket_id, action=action, actor="engineer", now=now,
                              settings=settings, **action_params(world, action))


@pytest.fixture(scope="module")
def module_session(tmp_path_factory):
    """One migrated SQLite store shared by a module's table-driven cases (each case uses its own ticket)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('workflow') / 'store.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    session = make_session_factory(engine)()
    yield session
    session.close()
    engine.dispose()


@pytest.fixture(scope="module")
def module_world(module_session) -> World:
    return build_world(module_session)


@pytest.fixture
def app(sqlite_url, tmp_path, flow_settings):
    """The Flask app over a temporary SQLite store with the workflow's test settings (overrides tests/conftest)."""
    from service import create_app

    return create_app({"TESTING": True, "DATABASE_URL": sqlite_url, "VAR_DIR": str(tmp_path / "var"),
                       "SETTINGS": flow_settings})


@pytest.fixture
def app_session(app):
    """A session on the app's store, for arranging data and checking what the API wrote."""
    engine = make_engine(app.config["DATABASE_URL"])
    session = make_session_factory(engine)()
    yield session
    session.close()
    engine.dispose()


@pytest.fixture
def app_world(app_session) -> World:
    return build_world(app_session)
