"""Use cases on the store (SQLite and PostgreSQL): audit, pauses, reaction, reopen, auto-close, time box."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from kb.models import Client, OutboxMessage, Specialist, Ticket, TriagePrediction
from kb.queries import audit
from service.cli import main
from service.tickets import periodic, workflow
from service.tickets.errors import IllegalTransition, WorkflowInputError
from tests.smtp_server import deliver_outbox

from .conftest import MONDAY_10_MSK, drive, new_ticket

H = timedelta(hours=1)


def test_every_change_writes_an_audit_event(db_session, world, flow_settings):
    ticket = new_ticket(db_session, world, flow_settings)
    workflow.apply_action(db_session, ticket_id=ticket.id, action="triage", actor="anna", now=MONDAY_10_MSK + H,
                          settings=flow_settings, priority="high", reason="вся бухгалтерия без печати")
    workflow.add_comment(db_session, ticket_id=ticket.id, body="Смотрим", actor="anna", now=MONDAY_10_MSK + 2 * H,
                         settings=flow_settings)
    events = audit.history(db_session, entity="ticket", entity_id=ticket.id)
    assert [e.action for e in events] == ["create", "triage", "comment"]
    triage = events[1]
    assert triage.actor == "anna"
    assert triage.at == MONDAY_10_MSK + H
    assert triage.data["from"] == "new" and triage.data["to"] == "triaged"
    assert triage.data["reason"] == "вся бухгалтерия без печати"
    assert triage.data["priority"] == {"from": "standard", "to": "high"}


def test_waiting_for_client_pauses_and_resumes_sla(db_session, world, flow_settings):
    ticket = new_ticket(db_session, world, flow_settings)
    drive(db_session, world, flow_settings, ticket.id, "in_progress")
    due_before = ticket.resolution_due
    workflow.apply_action(db_session, ticket_id=ticket.id, action="request_info", actor="anna",
                          now=MONDAY_10_MSK + H, settings=flow_settings, reason="модель принтера?")
    assert ticket.status == "waiting_for_client"
    assert [(p.started_at, p.ended_at) for p in ticket.pauses] == [(MONDAY_10_MSK + H, None)]
    workflow.apply_action(db_session, ticket_id=ticket.id, action="client_replied", actor="client:petrov",
                          now=MONDAY_10_MSK + 3 * H, settings=flow_settings, comment="HP LaserJet 400")
    assert ticket.status == "in_progress"
    assert ticket.pauses[0].ended_at == MONDAY_10_MSK + 3 * H
    # two working hours (Monday 11:00-13:00 Moscow) of pause push the resolution target by two hours
    assert ticket.resolution_due == due_before + 2 * H
    assert ticket.comments[-1].body == "HP LaserJet 400"


def test_reaction_is_the_first_engineer_move_not_the_system_or_client(db_session, world, flow_settings):
    ticket = new_ticket(db_session, world, flow_settings)
    workflow.add_comment(db_session, ticket_id=ticket.id, body="Добавлю: и сканер", actor="client:petrov",
                         now=MONDAY_10_MSK + H, settings=flow_settings)
    workflow.add_comment(db_session, ticket_id=ticket.id, body="внутренняя заметка", actor="anna", public=False,
                         now=MONDAY_10_MSK + H, settings=flow_settings)
    assert ticket.reacted_at is None
    workflow.add_comment(db_session, ticket_id=ticket.id, body="Приняли, смотрим", actor="anna",
                         now=MONDAY_10_MSK + 2 * H, settings=flow_settings)
    assert ticket.reacted_at == MONDAY_10_MSK + 2 * H
    workflow.apply_action(db_session, ticket_id=ticket.id, action="triage", actor="boris",
                          now=MONDAY_10_MSK + 3 * H, settings=flow_settings)
    assert ticket.reacted_at == MONDAY_10_MSK + 2 * H


def test_triage_status_change_counts_as_reaction(db_session, world, flow_settings):
    ticket = new_ticket(db_session, world, flow_settings)
    workflow.apply_action(db_session, ticket_id=ticket.id, action="triage", actor="boris",
                          now=MONDAY_10_MSK + H, settings=flow_settings)
    assert ticket.reacted_at == MONDAY_10_MSK + H


def test_reopen_clears_resolution_instants_and_keeps_history(db_session, world, flow_settings):
    ticket = new_ticket(db_session, world, flow_settings)
    drive(db_session, world, flow_settings, ticket.id, "closed")
    assert ticket.resolved_at is not None and ticket.closed_at is not None
    workflow.apply_action(db_session, ticket_id=ticket.id, action="reopen", actor="client:petrov",
                          now=MONDAY_10_MSK + H, settings=flow_settings, reason="снова не печатает")
    assert ticket.status == "reopened"
    assert ticket.resolved_at is None and ticket.closed_at is None
    last = audit.history(db_session, entity="ticket", entity_id=ticket.id)[-1]
    assert last.data["previous_resolution"] == "Перезапущена служба печати"
    workflow.apply_action(db_session, ticket_id=ticket.id, action="take", actor="anna", now=MONDAY_10_MSK + 2 * H,
                          settings=flow_settings)
    assert ticket.status == "in_progress"


def test_several_specialists_work_one_ticket(db_session, world, flow_settings):
    ticket = new_ticket(db_session, world, flow_settings)
    drive(db_session, world, flow_settings, ticket.id, "with_specialists")
    active = {(a.specialist_id, a.role) for a in ticket.assignees if a.released_at is None}
    assert active == {(world.line2_id, "primary"), (world.expert_ids[0], "helper"), (world.expert_ids[1], "helper")}
    released = [a.specialist_id for a in ticket.assignees if a.released_at is not None]
    assert released == [world.line1_id]


def test_creation_without_priority_runs_triage_and_records_it(db_session, world, flow_settings):
    ticket = workflow.create_ticket(
        db_session, actor="system:alertmanager", settings=flow_settings, now=MONDAY_10_MSK,
        client_id=world.client_id, subject="Сервер 1С недоступен", channel="monitoring",
        node_ids=[world.server_id], alert_severity="critical")
    assert ticket.priority == "highest"  # critical alert on a critical node (triage rule)
    assert ticket.reaction_due is not None and ticket.sla_state is not None
    count = db_session.scalar(select(func.count()).select_from(TriagePrediction)
                              .where(TriagePrediction.ticket_id == ticket.id))
    assert count == 1


@pytest.mark.parametrize(("field", "value"), [
    ("client_id", 999), ("client_id", "1"), ("subject", ""), ("priority", "urgent"), ("group", "plumbing"),
    ("channel", "pigeon"), ("type", "wish"), ("requester_email", "not-an-address"), ("estimate_hours", 1.5),
    ("estimate_hours", "-1"), ("colour", "red"),
])
def test_create_validates_every_field_and_writes_nothing(module_session, module_world, flow_settings, field,
                                                        value):
    before = module_session.scalar(select(func.count()).select_from(Ticket))
    with pytest.raises(WorkflowInputError) as info:
        new_ticket(module_session, module_world, flow_settings, **{field: value})
    assert info.value.field == field
    assert module_session.scalar(select(func.count()).select_from(Ticket)) == before


def test_node_of_another_client_is_refused(db_session, world, flow_settings):
    with pytest.raises(WorkflowInputError) as info:
        new_ticket(db_session, world, flow_settings, node_ids=[world.other_node_id])
    assert info.value.field == "node_ids"


def test_priority_change_recomputes_sla(db_session, world, flow_settings):
    ticket = new_ticket(db_session, world, flow_settings, priority="low")
    low_due = ticket.resolution_due
    workflow.change_priority(db_session, ticket_id=ticket.id, actor="anna", priority="highest",
                             now=MONDAY_10_MSK + H, settings=flow_settings, reason="остановлена касса")
    assert ticket.priority == "highest"
    assert ticket.resolution_due < low_due
    last = audit.history(db_session, entity="ticket", entity_id=ticket.id)[-1]
    assert last.action == "update" and last.data["priority"] == {"from": "low", "to": "highest"}


def test_time_entry_recorded_and_closed_ticket_refused(db_session, world, flow_settings):
    ticket = new_ticket(db_session, world, flow_settings)
    entry = workflow.add_time_entry(db_session, ticket_id=ticket.id, actor="anna", specialist_id=world.line1_id,
                                    started_at=MONDAY_10_MSK, minutes=45, on_site=True,
                                    now=MONDAY_10_MSK + H, settings=flow_settings)
    assert (entry.minutes, entry.on_site, entry.work_kind) == (45, True, "included")
    with pytest.raises(WorkflowInputError) as info:
        workflow.add_time_entry(db_session, ticket_id=ticket.id, actor="anna", specialist_id=world.line1_id,
                                started_at=MONDAY_10_MSK, minutes=0, now=MONDAY_10_MSK + H, settings=flow_settings)
    assert info.value.field == "minutes"
    drive(db_session, world, flow_settings, ticket.id, "closed", now=MONDAY_10_MSK + H)
    with pytest.raises(IllegalTransition):
        workflow.add_time_entry(db_session, ticket_id=ticket.id, actor="anna", specialist_id=world.line1_id,
                                started_at=MONDAY_10_MSK, minutes=5, now=MONDAY_10_MSK + H, settings=flow_settings)


def msk(day: int, hour: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC) - 3 * H


@pytest.mark.parametrize(("now", "closed"), [
    (msk(6, 23), False),  # Thu 5 and Fri 6 count, Wed 4 (Unity Day) does not: 2 working days
    (msk(7, 12), False),  # Saturday
    (msk(9, 9), True),    # Monday: the third working day
])
def test_autoclose_after_working_days_skips_holidays(db_session, world, flow_settings, now, closed):
    ticket = new_ticket(db_session, world, flow_settings, now=msk(3, 10))
    drive(db_session, world, flow_settings, ticket.id, "resolved", now=msk(3, 11))  # Tuesday 3 November
    closed_ids = periodic.autoclose_resolved(db_session, now=now, settings=flow_settings)
    assert (ticket.id in closed_ids) is closed
    assert ticket.status == ("closed" if closed else "resolved")
    if closed:
        last = audit.history(db_session, entity="ticket", entity_id=ticket.id)[-1]
        assert (last.action, last.actor, last.data["automatic"]) == ("close", "system:autoclose", True)
        assert ticket.closed_at == now


def test_time_box_flags_once_and_counts_working_time_only(db_session, world, flow_settings):
    friday_1830 = msk(20, 18) + timedelta(minutes=30)
    ticket = new_ticket(db_session, world, flow_settings, now=friday_1830)
    workflow.apply_action(db_session, ticket_id=ticket.id, action="triage", actor="a", now=friday_1830,
                          settings=flow_settings)
    workflow.apply_action(db_session, ticket_id=ticket.id, action="take", actor="a", now=friday_1830,
                          settings=flow_settings)
    # 30 minutes on Friday + 89 on Monday: still inside the 120-minute time box
    assert periodic.flag_time_box_expired(db_session, now=msk(23, 10) + timedelta(minutes=29),
                                          settings=flow_settings) == []
    assert not periodic.flagged_for_escalation(db_session, ticket=ticket)
    assert periodic.flag_time_box_expired(db_session, now=msk(23, 10) + timedelta(minutes=30),
                                          settings=flow_settings) == [ticket.id]
    assert periodic.flagged_for_escalation(db_session, ticket=ticket)
    assert periodic.flag_time_box_expired(db_session, now=msk(23, 12), settings=flow_settings) == []
    event = audit.history(db_session, entity="ticket", entity_id=ticket.id)[-1]
    assert event.action == "time_box_expired" and event.data["used_minutes"] == 120
    workflow.apply_action(db_session, ticket_id=ticket.id, action="escalate", actor="a", now=msk(23, 12),
                          settings=flow_settings)
    assert not periodic.flagged_for_escalation(db_session, ticket=ticket)


def test_expired_time_box_mails_the_assignee_and_the_manager_once(db_session, world, flow_settings, smtp_inbox):
    inbox, port = smtp_inbox
    settings = replace(flow_settings, smtp_host="127.0.0.1", smtp_port=port, workflow_notify_requester=False)
    ticket = new_ticket(db_session, world, settings, now=msk(23, 9))
    db_session.get(Client, ticket.client_id).manager_email = "manager@romashka.ru"
    db_session.get(Specialist, world.line1_id).email = "line1@desk.example"
    for action in ("triage", "take"):
        workflow.apply_action(db_session, ticket_id=ticket.id, action=action, actor="a", now=msk(23, 9),
                              settings=settings, **({"specialist_id": world.line1_id} if action == "take" else {}))
    assert periodic.flag_time_box_expired(db_session, now=msk(23, 12), settings=settings) == [ticket.id]
    assert periodic.flag_time_box_expired(db_session, now=msk(23, 13), settings=settings) == []
    deliver_outbox(db_session, settings)
    kinds = [m.kind for m in db_session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
    assert kinds == ["assigned", "time_box"]  # the take assigned line 1, then the time box ran out once
    recipients, message = inbox.messages[1]
    assert sorted(recipients) == ["line1@desk.example", "manager@romashka.ru"]
    assert f"#{ticket.id}" in message["Subject"] and "escalate" in message.get_content()


def test_cli_autoclose_and_timebox(sqlite_url, flow_settings, monkeypatch):
    from kb.db import make_engine, make_session_factory

    from .conftest import build_world

    session = make_session_factory(make_engine(sqlite_url))()
    world = build_world(session)
    ticket = new_ticket(session, world, flow_settings, now=msk(3, 10))
    drive(session, world, flow_settings, ticket.id, "resolved", now=msk(3, 11))
    session.close()
    monkeypatch.setenv("PRECEDENT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("PRECEDENT_TRIAGE_USE_SEARCH", "0")
    runner = CliRunner()
    dry = runner.invoke(main, ["tickets", "autoclose", "--now", "2026-11-09T10:00:00+03:00", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f'"would_close": [\n    {ticket.id}\n  ]' in dry.output
    done = runner.invoke(main, ["tickets", "autoclose", "--now", "2026-11-09T10:00:00+03:00"])
    assert done.exit_code == 0 and '"closed"' in done.output
    bad = runner.invoke(main, ["tickets", "autoclose", "--now", "2026-11-09T10:00:00"])
    assert bad.exit_code == 2 and "--now" in bad.output
    box = runner.invoke(main, ["tickets", "timebox", "--now", "2026-11-09T10:00:00+03:00"])
    assert box.exit_code == 0 and '"flagged": []' in box.output


def test_a_failing_triage_never_loses_the_request(db_session, world, flow_settings, tmp_path):
    from dataclasses import replace

    not_a_folder = tmp_path / "var-is-a-file"
    not_a_folder.write_text("x")
    broken = replace(flow_settings, var_dir=not_a_folder)  # reading the published models fails
    ticket = workflow.create_ticket(db_session, actor="operator", now=MONDAY_10_MSK, settings=broken,
                                    client_id=world.client_id, subject="Не работает почта")
    assert (ticket.status, ticket.priority, ticket.group) == ("new", "standard", None)
    created = audit.history(db_session, entity="ticket", entity_id=ticket.id)[0]
    assert created.data["triaged_by"] == "triage failed" and created.data["needs_human"] is True
