"""POST /api/v1/triage and triage_request/record_prediction over a real store and real (small) models."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from kb.db import make_engine, make_session_factory
from kb.models import Assignment, Client, Node, Skill, Specialist, Ticket, TriagePrediction
from ml import registry
from ml.training import signals_for, train_model
from service.config import load_settings
from service.triage.service import TriageInputError, record_prediction, triage_request
from service.triage.training_data import tickets_from_store
from tests.ml.ticket_samples import make_tickets

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, 12:00 in Moscow


@pytest.fixture(autouse=True)
def _no_search(monkeypatch):
    # the nearest incidents come from the store's history here; search has its own tests
    monkeypatch.setenv("PRECEDENT_TRIAGE_USE_SEARCH", "0")


def seed_directory(session) -> dict:
    """Two specialists for network, one for printers, a client with a critical server and a printer."""
    anna = Specialist(name="Анна Сетевая", line=2, region="Москва", skills=[Skill(group="network", level=5)])
    boris = Specialist(name="Борис Сетевой", line=2, region="Москва", skills=[Skill(group="network", level=3)])
    vera = Specialist(name="Вера Принтерная", line=1, region="Казань", skills=[Skill(group="printers", level=4)])
    session.add_all([anna, boris, vera])
    session.flush()
    client = Client(name="ООО Ромашка", region="Москва", sla_policy="gold", field_engineer_id=vera.id)
    session.add(client)
    session.flush()
    server = Node(client_id=client.id, kind="server", name="srv-1c", criticality="critical", monitored=True)
    printer = Node(client_id=client.id, kind="printer", name="mfu-2", criticality="low")
    session.add_all([server, printer])
    session.flush()
    # Борис resolved the latest network incident of this client: he is the "nearest resolver".
    past = Ticket(client_id=client.id, subject="VPN упал", group="network", status="closed",
                  resolved_at=NOW - timedelta(days=2))
    session.add(past)
    session.flush()
    session.add(Assignment(ticket_id=past.id, specialist_id=boris.id, role="primary",
                           released_at=NOW - timedelta(days=2)))
    session.commit()
    return {"anna": anna.id, "boris": boris.id, "vera": vera.id, "client": client.id,
            "server": server.id, "printer": printer.id}


@pytest.fixture(scope="module")
def trained_models(tmp_path_factory) -> Path:
    """Routing and priority models trained once per module on the small ticket set."""
    models_dir = tmp_path_factory.mktemp("models")
    texts, groups = make_tickets(per_class=30)
    priority_of = {"network": "high", "1c": "high", "mail": "standard", "printers": "low"}
    signals = [signals_for(subject=t) for t in texts]
    for name, labels in (("routing", groups), ("priority", [priority_of[g] for g in groups])):
        trained = train_model(name, signals, labels, cv=2)
        saved = registry.save_model(models_dir, name, trained.estimator, trained.manifest)
        registry.publish(models_dir, name, saved.version)
    return models_dir


@pytest.fixture
def publish_models(trained_models):
    """Copy the trained, published models into a models folder."""
    return lambda models_dir: shutil.copytree(trained_models, models_dir, dirs_exist_ok=True)


@pytest.fixture
def session(sqlite_url):
    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as db_session:
        yield db_session
    engine.dispose()


def test_without_models_rules_only_and_needs_human(session, tmp_path):
    ids = seed_directory(session)
    settings = load_settings(var_dir=tmp_path)
    result = triage_request(session, subject="Сервер 1С недоступен", client_id=ids["client"],
                            channel="monitoring", node_ids=[ids["server"]], alert_severity="critical",
                            settings=settings, now=NOW)
    assert result.needs_human is True
    assert (result.priority.value, result.priority.rule) == ("highest", "critical_alert_on_critical_node")
    assert result.group.value is None
    assert result.model_versions == {"routing": None, "priority": None}
    plain = triage_request(session, subject="Вопрос по счёту", settings=settings, now=NOW)
    assert plain.priority.value == "standard" and plain.priority.source == "default"
    assert plain.needs_human_reasons == ["no published routing model",
                                         "no published priority model and no rule fired"]


def test_with_published_models(session, tmp_path, publish_models):
    ids = seed_directory(session)
    settings = load_settings(var_dir=tmp_path)
    publish_models(settings.models_dir)
    result = triage_request(session, subject="нет интернета, роутер и коммутатор мигают",
                            description="vpn не подключается", client_id=ids["client"], settings=settings, now=NOW)
    group = result.group
    assert group.value == "network" and 0 < group.confidence <= 1
    assert {a.value for a in group.alternatives} <= {"printers", "1c", "mail"}
    assert group.confidence >= max(a.confidence for a in group.alternatives)
    assert result.priority.source == "model" and result.priority.rule is None
    assert set(result.model_versions) == {"routing", "priority"} and all(result.model_versions.values())
    ranked = result.specialists
    assert [s.id for s in ranked][:2] in ([ids["boris"], ids["anna"]], [ids["anna"], ids["boris"]])
    boris = next(s for s in ranked if s.id == ids["boris"])
    assert any("resolved similar past incidents" in r for r in boris.reasons)
    assert all(s.reasons for s in ranked)


def test_rule_overrides_the_model_and_says_so(session, tmp_path, publish_models):
    ids = seed_directory(session)
    settings = load_settings(var_dir=tmp_path)
    publish_models(settings.models_dir)
    result = triage_request(session, subject="принтер не печатает у всех, весь офис без печати",
                            client_id=ids["client"], node_ids=[ids["printer"]], settings=settings, now=NOW)
    assert result.group.value == "printers"
    assert result.priority.value == "high" and result.priority.rule == "several_users"
    assert result.priority.model_value == "low" and result.priority.confidence == 1.0
    # on-site printer work: the client's field engineer is proposed
    assert result.specialists[0].id == ids["vera"]
    assert "the client's field engineer (on-site work)" in result.specialists[0].reasons


def test_threshold_sends_low_confidence_to_humans(session, tmp_path, publish_models):
    seed_directory(session)
    strict = load_settings(var_dir=tmp_path, triage_group_threshold=0.999)
    publish_models(strict.models_dir)
    vague = triage_request(session, subject="hello спасибо", settings=strict, now=NOW)
    assert vague.needs_human is True and any("group confidence" in r for r in vague.needs_human_reasons)
    assert vague.group.needs_human and vague.group.threshold == 0.999
    lax = load_settings(var_dir=tmp_path, triage_group_threshold=0.01, triage_priority_threshold=0.01)
    assert triage_request(session, subject="hello спасибо", settings=lax, now=NOW).needs_human is False


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"subject": "  "}, "subject"), ({"subject": "x", "client_id": 999}, "client_id"),
     ({"subject": "x", "node_ids": [999]}, "node_ids"), ({"subject": "x", "channel": "fax"}, "channel")],
)
def test_bad_input_names_the_field(session, tmp_path, kwargs, field):
    seed_directory(session)
    with pytest.raises(TriageInputError) as error:
        triage_request(session, settings=load_settings(var_dir=tmp_path), **kwargs)
    assert error.value.field == field


def test_record_prediction(session, tmp_path):
    ids = seed_directory(session)
    result = triage_request(session, subject="Весь офис без интернета", client_id=ids["client"],
                            settings=load_settings(var_dir=tmp_path), now=NOW)
    ticket = Ticket(client_id=ids["client"], subject="Весь офис без интернета")
    session.add(ticket)
    record_prediction(session, ticket=ticket, result=result)
    session.commit()
    stored = session.scalar(select(TriagePrediction).where(TriagePrediction.ticket_id == ticket.id))
    assert stored.priority == "high" and stored.priority_rule == "several_users"
    assert stored.needs_human is True and stored.specialist_ids["ranked"] == [s.id for s in result.specialists]
    assert stored.model_versions == {"routing": None, "priority": None}


# --- HTTP ----------------------------------------------------------------------------------------


def test_api_triage(app, client, publish_models):
    factory = make_session_factory(make_engine(app.config["DATABASE_URL"]))
    with factory() as db_session:
        ids = seed_directory(db_session)
    publish_models(Path(app.config["VAR_DIR"]) / "models")
    response = client.post("/api/v1/triage", json={
        "subject": "Outlook: письма не уходят", "description": "ящик переполнен, exchange ругается",
        "client_id": ids["client"], "channel": "email"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["group"]["value"] == "mail"
    # exactly the documented interface (docs/triage.md): every key, no more
    assert set(body) == {"priority", "group", "needs_human", "needs_human_reasons", "specialists",
                         "nearest_incidents_from", "model_versions"}
    assert set(body["priority"]) == {"value", "confidence", "rule", "rule_reason", "rules_fired", "source",
                                     "model_value"}
    assert set(body["group"]) == {"value", "confidence", "alternatives", "threshold"}
    assert all(set(a) == {"value", "confidence"} for a in body["group"]["alternatives"])
    assert all(set(s) == {"id", "name", "score", "reasons"} for s in body["specialists"])
    assert set(body["model_versions"]) == {"routing", "priority"}
    assert isinstance(body["needs_human"], bool) and isinstance(body["needs_human_reasons"], list)


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [({}, 422, "subject"), ({"subject": 5}, 422, "subject"), ({"subject": "x", "client_id": "a"}, 422, "client_id"),
     ({"subject": "x", "client_id": 12345}, 404, "client_id"), ({"subject": "x", "node_ids": "1"}, 422, "node_ids"),
     ({"subject": "x", "node_ids": [777]}, 422, "node_ids"), ({"subject": "x", "channel": "fax"}, 422, "channel"),
     ({"subject": "x", "alert_severity": "huge"}, 422, "alert_severity")],
)
def test_api_bad_input(client, payload, status, field):
    response = client.post("/api/v1/triage", json=payload)
    assert response.status_code == status
    assert response.get_json()["error"]["field"] == field


def test_api_needs_a_token_and_staff(anonymous_client, client_user_client, app):
    assert anonymous_client.post("/api/v1/triage", json={"subject": "x"}).status_code == 401
    factory = make_session_factory(make_engine(app.config["DATABASE_URL"]))
    with factory() as db_session:
        client_row = Client(name="Другая")
        db_session.add(client_row)
        db_session.commit()
        client_id = client_row.id
    assert client_user_client(client_id).post("/api/v1/triage", json={"subject": "x"}).status_code == 403


def test_triage_and_training_data_on_both_backends(db_session, tmp_path):
    """The store queries of triage (load, neighbours, specialists) and of training on SQLite and PostgreSQL."""
    from kb.models import AuditEvent

    ids = seed_directory(db_session)
    db_session.add(AuditEvent(entity="ticket", entity_id=1, action="update", actor="eng",
                              data={"priority": {"from": "low", "to": "high"}}))
    db_session.commit()
    result = triage_request(db_session, subject="VPN упал снова", client_id=ids["client"],
                            settings=load_settings(var_dir=tmp_path), now=NOW)
    assert result.nearest_incidents_from == "tfidf_neighbours"
    boris = next(s for s in result.specialists if s.id == ids["boris"])
    assert any("resolved similar past incidents (100% of the nearest)" in r for r in boris.reasons)
    data = tickets_from_store(db_session)
    assert len(data) == 1 and data.groups == ["network"] and data.priority_weights == [2.0]


def test_training_data_reads_the_workflows_own_audit_events(app, client):
    """Corrections written by the workflow itself (the triage step, PATCH) weigh 2 in training; a triage
    step that keeps the values, or a take, does not."""
    factory = make_session_factory(make_engine(app.config["DATABASE_URL"]))
    with factory() as db_session:
        ids = seed_directory(db_session)

    def create(subject):
        response = client.post("/api/v1/tickets", json={"client_id": ids["client"], "subject": subject,
                                                        "priority": "standard", "group": "printers"})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    def act(ticket_id, action, **params):
        response = client.post(f"/api/v1/tickets/{ticket_id}/actions", json={"action": action, **params})
        assert response.status_code == 200, (action, response.get_json())

    raised, regrouped, kept = create("принтер не печатает у всех"), create("нет сети"), create("картридж")
    act(raised, "triage", priority="high")
    act(regrouped, "triage")
    assert client.patch(f"/api/v1/tickets/{regrouped}", json={"group": "network"}).status_code == 200
    act(kept, "triage", priority="standard", group="printers")
    act(kept, "take", specialist_id=ids["vera"])
    with factory() as db_session:
        data = tickets_from_store(db_session)
    assert len(data) == 4  # the seeded past incident and the three handled tickets
    by_subject = {s.subject: (g, gw, pw) for s, g, gw, pw in zip(
        data.signals, data.groups, data.group_weights, data.priority_weights, strict=True)}
    assert by_subject["принтер не печатает у всех"] == ("printers", 1.0, 2.0)
    assert by_subject["нет сети"] == ("network", 2.0, 1.0)
    assert by_subject["картридж"] == ("printers", 1.0, 1.0)
