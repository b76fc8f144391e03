"""Mail in the recipient's language, the assignee's mail on assignment, and invariants of the outbox and trimming."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from kb.models import Client, OutboxMessage, Specialist
from service.config import load_settings
from service.platform import outbox
from service.tickets import workflow
from service.tickets.notifications import client_language
from service.tickets.reply_text import latest_reply
from tests.service.tickets.conftest import MONDAY_10_MSK, new_ticket


@pytest.mark.parametrize(("language", "country", "expected"), [
    (None, "RU", "ru"), (None, "KZ", "ru"), (None, "DE", "en"), (None, None, "ru"), ("en", "RU", "en"),
    ("ru", "GB", "ru"), ("xx", "GB", "en"),
])
def test_client_language(language, country, expected):
    assert client_language(language, country) == expected


def queued(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_an_english_speaking_client_gets_english_mail(db_session, world, flow_settings):
    db_session.get(Client, world.client_id).language = "en"
    db_session.commit()
    ticket = new_ticket(db_session, world, flow_settings)
    workflow.add_comment(db_session, ticket_id=ticket.id, body="We will replace the fuser", actor="operator",
                         now=MONDAY_10_MSK, settings=flow_settings)
    created, comment = queued(db_session)
    assert created.subject.startswith(f"[#{ticket.id}] Request registered") and "Priority: standard" in created.body
    assert comment.subject.startswith(f"[#{ticket.id}] New comment") and "We will replace the fuser" in comment.body


def test_a_russian_client_gets_russian_mail(db_session, world, flow_settings):
    ticket = new_ticket(db_session, world, flow_settings)
    [created] = queued(db_session)
    assert created.subject.startswith(f"[#{ticket.id}] Заявка зарегистрирована")


def test_the_assignee_is_told_on_assignment_once(db_session, world, flow_settings):
    db_session.get(Specialist, world.line1_id).email = "line1@desk.example"
    db_session.get(Specialist, world.line2_id).email = "line2@desk.example"
    db_session.commit()
    settings = replace(flow_settings, workflow_notify_requester=False)
    ticket = new_ticket(db_session, world, settings)
    for action, params in (("triage", {}), ("take", {"specialist_id": world.line1_id}),
                           ("escalate", {"specialist_id": world.line2_id})):
        workflow.apply_action(db_session, ticket_id=ticket.id, action=action, actor="operator", now=MONDAY_10_MSK,
                              settings=settings, **params)
    mails = queued(db_session)
    assert [(m.kind, m.recipients) for m in mails] == [("assigned", ["line1@desk.example"]),
                                                       ("assigned", ["line2@desk.example"])]
    assert f"[#{ticket.id}] Вам назначена заявка" in mails[0].subject and "ООО Ромашка" in mails[0].body
    english = replace(settings, mail_staff_language="en")
    workflow.apply_action(db_session, ticket_id=ticket.id, action="assign_specialists", actor="operator",
                          now=MONDAY_10_MSK, settings=english, specialist_ids=world.expert_ids)
    assert len(queued(db_session)) == 2  # the experts have no address: nobody to tell, nothing queued


def test_a_rolled_back_change_leaves_no_mail(db_session, world, flow_settings):
    from service.platform.unit_of_work import unit_of_work
    from service.tickets.actions import stage_comment
    from service.tickets.staging import load_ticket

    ticket = new_ticket(db_session, world, flow_settings)
    before = len(queued(db_session))
    with pytest.raises(RuntimeError), unit_of_work(db_session) as uow:
        stage_comment(uow, load_ticket(db_session, ticket.id), author="operator", body="Выехали", public=True,
                      actor="operator", now=MONDAY_10_MSK, settings=flow_settings)
        raise RuntimeError("the change fails after its mail was staged")
    assert len(queued(db_session)) == before
    assert queued(db_session)[-1].kind == "ticket_created"


@given(st.integers(min_value=1, max_value=200), st.integers(min_value=1, max_value=199))
def test_back_off_never_shrinks_and_never_exceeds_the_cap(later, earlier):
    settings = replace(load_settings({}), outbox_backoff_seconds=30, outbox_backoff_max_seconds=7200)
    low, high = sorted((earlier, later))
    assert outbox.backoff(low, settings) <= outbox.backoff(high, settings) <= timedelta(seconds=7200)


@given(st.text(min_size=1, max_size=400).filter(lambda t: t.strip()))
def test_trimming_never_empties_a_message(text):
    trimmed = latest_reply(text)

    def lines(value: str) -> str:  # trimming may drop the spaces that end a line; it never invents text
        return "\n".join(line.rstrip() for line in value.splitlines())

    assert trimmed.strip() and lines(trimmed.strip()) in lines(text) or trimmed == text.strip()
