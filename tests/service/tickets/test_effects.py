"""Effects of the use cases: signals run once the change is committed (every ``ticket_created``, then every
``ticket_changed``, whatever order the staged steps came in); a failing receiver never undoes the change.
The requester's e-mail is no effect: it is written to the outbox in the same transaction, in the order the
steps were staged (service/platform/outbox.py).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.models import OutboxMessage, Ticket
from service.platform import signals
from service.tickets import workflow
from service.tickets.alertmanager import ingest_alertmanager
from service.tickets.email_intake import ingest_email

from .conftest import MONDAY_10_MSK, drive, new_ticket
from .test_alertmanager import notification


@pytest.fixture
def seen(db_session):
    """What ran after the commit, in order; each signal also notes how many tickets another session sees."""
    events: list[tuple] = []

    def committed_tickets() -> int:
        with Session(db_session.get_bind()) as other:  # a second connection sees committed rows only
            return other.scalar(select(func.count()).select_from(Ticket))

    def on_created(sender, ticket_id, **_):
        events.append(("created", ticket_id, committed_tickets()))

    def on_changed(sender, ticket_id, action, **_):
        events.append(("changed", ticket_id, action))

    with signals.ticket_created.connected_to(on_created), signals.ticket_changed.connected_to(on_changed):
        yield events


def test_a_reply_sends_both_signals_and_writes_both_mails_with_the_change(db_session, world, flow_settings, seen):
    ticket = new_ticket(db_session, world, flow_settings)
    drive(db_session, world, flow_settings, ticket.id, "waiting_for_client")
    seen.clear()
    queued_before = db_session.scalar(select(func.max(OutboxMessage.id)))
    # a colleague of the requester (registered domain) answers: the requester gets the comment and the status
    raw = (f"From: Anna <anna@romashka.ru>\r\nSubject: Re: [#{ticket.id}] printer\r\n"
           "Message-ID: <reply-1@romashka.ru>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           "HP LaserJet 400\r\n").encode()
    report = ingest_email(db_session, raw=raw, now=MONDAY_10_MSK, settings=flow_settings)
    assert report["resumed"] is True
    assert seen == [("changed", ticket.id, "comment"), ("changed", ticket.id, "client_replied")]
    with Session(db_session.get_bind()) as other:  # committed together with the comment and the move
        kinds = other.scalars(select(OutboxMessage.kind).where(OutboxMessage.id > queued_before)
                              .order_by(OutboxMessage.id)).all()
    assert kinds == ["comment_added", "status_changed"]


def test_created_goes_before_changed_and_after_the_commit(db_session, world, flow_settings, seen):
    first = ingest_alertmanager(db_session, payload=notification(fingerprint="aaaa"), now=MONDAY_10_MSK,
                                settings=flow_settings)
    incident = first["results"][0]["ticket_id"]
    assert seen[0] == ("created", incident, 1)
    seen.clear()
    payload = notification(fingerprint="aaaa")  # still firing: a comment on the incident, staged first
    payload["alerts"].append({**notification(fingerprint="bbbb")["alerts"][0]})  # a new alert: a new incident
    report = ingest_alertmanager(db_session, payload=payload, now=MONDAY_10_MSK, settings=flow_settings)
    created = report["results"][1]["ticket_id"]
    assert [r["outcome"] for r in report["results"]] == ["commented", "created"]
    assert seen == [("created", created, 2), ("changed", incident, "comment")]


def test_a_failing_receiver_is_logged_and_undoes_nothing(db_session, world, flow_settings, seen, caplog):
    def broken(sender, **_):
        raise RuntimeError("index down")

    later = []
    with signals.ticket_created.connected_to(broken), \
            signals.ticket_changed.connected_to(lambda sender, ticket_id, **_: later.append(ticket_id)):
        ticket = new_ticket(db_session, world, flow_settings)
        workflow.apply_action(db_session, ticket_id=ticket.id, action="triage", actor="operator", now=MONDAY_10_MSK,
                              settings=flow_settings)
    assert "ticket_created failed after commit" in caplog.text
    assert later == [ticket.id]  # the effects after the failing one still ran
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 2  # both mails kept
    db_session.expire_all()
    assert db_session.get(Ticket, ticket.id).status == "triaged"
