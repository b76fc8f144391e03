"""Invariants of the workflow under random action sequences (hypothesis), on a real store."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.queries import audit
from service.tickets import transitions, workflow
from service.tickets.errors import IllegalTransition

from .conftest import MONDAY_10_MSK, action_params, new_ticket


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(st.sampled_from(transitions.ACTIONS), min_size=1, max_size=14))
def test_random_action_sequences_keep_the_ticket_consistent(module_session, module_world, flow_settings, actions):
    session, world = module_session, module_world
    ticket = new_ticket(session, world, flow_settings)
    now = MONDAY_10_MSK
    applied = 0
    for action in actions:
        now += timedelta(minutes=20)
        before = ticket.status
        try:
            workflow.apply_action(session, ticket_id=ticket.id, action=action, actor="engineer", now=now,
                                  settings=flow_settings, **action_params(world, action))
        except IllegalTransition as exc:
            assert action not in transitions.allowed_actions(before)
            assert exc.status == before == ticket.status
            continue
        applied += 1
        open_pauses = [p for p in ticket.pauses if p.ended_at is None]
        assert len(open_pauses) == (1 if ticket.status == "waiting_for_client" else 0)
        assert all(p.ended_at is None or p.ended_at >= p.started_at for p in ticket.pauses)
        assert (ticket.resolved_at is not None) == (ticket.status in ("resolved", "closed"))
        assert (ticket.closed_at is not None) == (ticket.status == "closed")
        assert ticket.resolution_due is not None
    events = audit.history(session, entity="ticket", entity_id=ticket.id)
    assert len(events) == applied + 1  # "create" plus one per applied action
    assert [e.data["to"] for e in events][-1] == ticket.status
    for earlier, later in zip(events, events[1:], strict=False):
        assert later.data["from"] == earlier.data["to"]
