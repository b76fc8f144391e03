"""The transition table: every action from every status is either the expected move or IllegalTransition."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kb import vocab
from kb.queries import audit
from service.tickets import actions, transitions, workflow
from service.tickets.errors import IllegalTransition, TicketNotFound, WorkflowInputError

from .conftest import MONDAY_10_MSK, action_params, drive, new_ticket

LATER = MONDAY_10_MSK + timedelta(hours=1)

#: The ITIL path of the seeds, written out independently of service.tickets.transitions.TRANSITIONS.
EXPECTED = {
    "new": {"triage": "triaged"},
    "triaged": {"take": "in_progress"},
    "in_progress": {"escalate": "escalated", "assign_specialists": "with_specialists",
                    "request_info": "waiting_for_client", "resolve": "resolved"},
    "escalated": {"assign_specialists": "with_specialists", "request_info": "waiting_for_client",
                  "resolve": "resolved"},
    "with_specialists": {"assign_specialists": "with_specialists", "request_info": "waiting_for_client",
                         "resolve": "resolved"},
    # the path to waiting_for_client goes through in_progress, so the reply returns there
    "waiting_for_client": {"client_replied": "in_progress", "resolve": "resolved"},
    "resolved": {"confirm": "closed", "close": "closed", "reopen": "reopened"},
    "closed": {"reopen": "reopened"},
    "reopened": {"take": "in_progress"},
}
CASES = [(status, action) for status in vocab.STATUSES for action in transitions.ACTIONS]


def test_table_covers_every_status_and_action():
    assert set(EXPECTED) == set(vocab.STATUSES)
    assert set(transitions.ACTIONS) == {a for moves in EXPECTED.values() for a in moves}


def test_every_action_has_one_handler_and_its_parameters():
    assert set(actions.HANDLERS) == set(transitions.ACTIONS) == set(transitions.ACTION_PARAMS)


@pytest.mark.parametrize(("status", "action"), CASES)
def test_next_status_pure(status, action):
    expected = EXPECTED[status].get(action)
    if expected is None:
        with pytest.raises(IllegalTransition) as info:
            transitions.next_status(status, action, previous_working="in_progress")
        assert info.value.status == status
        assert set(info.value.allowed) == set(EXPECTED[status])
    else:
        assert transitions.next_status(status, action, previous_working="in_progress") == expected


@pytest.mark.parametrize(("status", "action"), CASES)
def test_apply_action_on_the_store(module_session, module_world, flow_settings, status, action):
    session, world = module_session, module_world
    ticket = new_ticket(session, world, flow_settings)
    drive(session, world, flow_settings, ticket.id, status)
    assert ticket.status == status
    events_before = len(audit.history(session, entity="ticket", entity_id=ticket.id))
    expected = EXPECTED[status].get(action)
    if expected is None:
        with pytest.raises(IllegalTransition) as info:
            workflow.apply_action(session, ticket_id=ticket.id, action=action, actor="engineer", now=LATER,
                                  settings=flow_settings, **action_params(world, action))
        assert sorted(info.value.allowed) == sorted(EXPECTED[status])
        session.expire_all()
        assert session.get(type(ticket), ticket.id).status == status
        assert len(audit.history(session, entity="ticket", entity_id=ticket.id)) == events_before
    else:
        workflow.apply_action(session, ticket_id=ticket.id, action=action, actor="engineer", now=LATER,
                              settings=flow_settings, **action_params(world, action))
        session.expire_all()
        assert session.get(type(ticket), ticket.id).status == expected
        last = audit.history(session, entity="ticket", entity_id=ticket.id)[-1]
        assert (last.action, last.data["from"], last.data["to"]) == (action, status, expected)


def test_client_replied_returns_to_the_status_it_left(db_session, world, flow_settings):
    ticket = new_ticket(db_session, world, flow_settings)
    drive(db_session, world, flow_settings, ticket.id, "with_specialists")
    workflow.apply_action(db_session, ticket_id=ticket.id, action="request_info", actor="engineer",
                          settings=flow_settings, reason="нужен логин")
    workflow.apply_action(db_session, ticket_id=ticket.id, action="client_replied", actor="client:petrov",
                          settings=flow_settings)
    assert ticket.status == "with_specialists"


def test_unknown_action_and_parameter_are_input_errors(db_session, world, flow_settings):
    ticket = new_ticket(db_session, world, flow_settings)
    with pytest.raises(WorkflowInputError) as info:
        workflow.apply_action(db_session, ticket_id=ticket.id, action="teleport", actor="e", settings=flow_settings)
    assert info.value.field == "action"
    with pytest.raises(WorkflowInputError) as info:
        workflow.apply_action(db_session, ticket_id=ticket.id, action="triage", actor="e", settings=flow_settings,
                              colour="red")
    assert info.value.field == "colour"
    with pytest.raises(TicketNotFound):
        workflow.apply_action(db_session, ticket_id=999, action="triage", actor="e", settings=flow_settings)


def test_resolve_requires_resolution_and_nothing_is_written(db_session, world, flow_settings):
    ticket = new_ticket(db_session, world, flow_settings)
    drive(db_session, world, flow_settings, ticket.id, "in_progress")
    with pytest.raises(WorkflowInputError) as info:
        workflow.apply_action(db_session, ticket_id=ticket.id, action="resolve", actor="e", settings=flow_settings,
                              resolution="   ")
    assert info.value.field == "resolution"
    db_session.expire_all()
    assert db_session.get(type(ticket), ticket.id).status == "in_progress"


def test_escalation_needs_a_second_line_specialist(db_session, world, flow_settings):
    ticket = new_ticket(db_session, world, flow_settings)
    drive(db_session, world, flow_settings, ticket.id, "in_progress")
    with pytest.raises(WorkflowInputError) as info:
        workflow.apply_action(db_session, ticket_id=ticket.id, action="escalate", actor="e",
                              settings=flow_settings, specialist_id=world.line1_id)
    assert info.value.field == "specialist_id"
