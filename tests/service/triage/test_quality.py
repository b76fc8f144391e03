"""Production quality: triage predictions against what engineers kept (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kb.models import Client, Ticket, TriagePrediction
from service.triage import quality

AT = datetime(2026, 11, 2, 9, tzinfo=UTC)


def _ticket(session, client, status, group, priority, *predictions):
    ticket = Ticket(client_id=client.id, subject="Заявка", status=status, group=group, priority=priority)
    session.add(ticket)
    session.flush()
    for offset, (p_group, p_priority, needs_human) in enumerate(predictions):
        session.add(TriagePrediction(ticket_id=ticket.id, group=p_group, priority=p_priority,
                                     needs_human=needs_human, model_versions={"routing": "v1"},
                                     at=AT + timedelta(minutes=offset)))
    return ticket


def test_triage_quality_judges_each_handled_tickets_first_prediction(db_session):
    client = Client(name="Ромашка")
    db_session.add(client)
    db_session.flush()
    # auto-routed, group right, priority wrong; a later re-triage (printers -> mail) does not count
    _ticket(db_session, client, "in_progress", "printers", "high",
            ("printers", "standard", False), ("mail", "high", False))
    # human queue, group wrong, priority right
    _ticket(db_session, client, "resolved", "network", "high", ("printers", "high", True))
    # still new: nobody has confirmed anything yet
    _ticket(db_session, client, "new", "network", "low", ("printers", "high", False))
    db_session.commit()
    report = quality.triage_quality(db_session)
    assert report["tickets"] == 2 and report["needs_human_share"] == 0.5
    assert report["group"] == {"all": {"n": 2, "accuracy": 0.5}, "auto_routed": {"n": 1, "accuracy": 1.0},
                               "human_queue": {"n": 1, "accuracy": 0.0}}
    assert report["priority"]["all"] == {"n": 2, "accuracy": 0.5}
    assert report["group_by_routing_model"] == {"v1": {"n": 2, "accuracy": 0.5}}
    assert report["auto_route"] == {"target_precision": None, "coverage": 0.5, "group_precision": 1.0,
                                    "group_meets_target": None, "priority_precision": 0.0,
                                    "priority_meets_target": None}
    judged = quality.triage_quality(db_session, target_precision=0.9)["auto_route"]
    assert judged["group_meets_target"] is True and judged["priority_meets_target"] is False
    assert quality.triage_quality(db_session, since=AT + timedelta(hours=1))["tickets"] == 0
    # ``since`` selects by the first prediction: the re-triage a minute later does not bring a ticket in
    assert quality.triage_quality(db_session, since=AT + timedelta(seconds=30))["tickets"] == 0


def test_triage_log_cli(sqlite_url, monkeypatch):
    import json

    from click.testing import CliRunner

    from kb.db import make_engine, make_session_factory
    from service.cli import main

    with make_session_factory(make_engine(sqlite_url))() as session:
        client = Client(name="Ромашка")
        session.add(client)
        session.flush()
        _ticket(session, client, "closed", "mail", "low", ("mail", "low", False))
        session.commit()
    monkeypatch.setenv("PRECEDENT_DATABASE_URL", sqlite_url)
    result = CliRunner().invoke(main, ["evaluate", "triage-log", "--since", "2026-11-01"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["group"]["all"] == {"n": 1, "accuracy": 1.0}
    assert json.loads(result.output)["auto_route"] == {  # the default PRECEDENT_TRIAGE_TARGET_PRECISION
        "target_precision": 0.9, "coverage": 1.0, "group_precision": 1.0, "group_meets_target": True,
        "priority_precision": 1.0, "priority_meets_target": True}
    bad = CliRunner().invoke(main, ["evaluate", "triage-log", "--since", "last week"])
    assert bad.exit_code == 2 and "--since" in bad.output


def test_quality_api_is_for_managers_and_analysts(app, client, client_for_role):
    from kb.db import make_engine, make_session_factory

    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        customer = Client(name="Ромашка")
        session.add(customer)
        session.flush()
        _ticket(session, customer, "in_progress", "mail", "high", ("mail", "standard", False))
        session.commit()
    analyst = client_for_role("analyst")
    body = analyst.get("/api/v1/quality/triage?since=2026-11-01").get_json()
    assert body["group"]["all"] == {"n": 1, "accuracy": 1.0} and body["priority"]["all"]["accuracy"] == 0.0
    bad = analyst.get("/api/v1/quality/triage?since=yesterday")
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "since"
    assert client.get("/api/v1/quality/triage").status_code == 403  # engineers do not see the report
    suggestions = client_for_role("manager").get("/api/v1/quality/suggestions?k=3")
    assert suggestions.status_code == 200 and suggestions.get_json()["tickets"] == 0
