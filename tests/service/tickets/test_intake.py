"""E-mail intake from real RFC 822 files: KOI8-R, Windows-1251 multipart, HTML only, replies, refusals."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from kb.models import Client, ClientContact, QuarantinedMessage, Ticket
from service.cli import main
from service.tickets import workflow
from service.tickets.email_intake import IntakeError, html_to_text, ingest_email, parse_message

from .conftest import EML_DIR, MONDAY_10_MSK, build_world, new_ticket


def raw(name: str) -> bytes:
    return (EML_DIR / name).read_bytes()


@pytest.mark.parametrize(("name", "subject", "body_part", "sender"), [
    ("01_koi8r_plain.eml", "Не печатает принтер", "горит оранжевая лампа", "p.petrov@romashka.ru"),
    ("02_cp1251_alternative.eml", "Не работает VPN в филиале", "филиале Тверь", "a.smirnova@romashka.ru"),
    ("03_html_only.eml", "Ошибка 1С при проведении документов", "«Нарушение целостности»", "buh@romashka.ru"),
])
def test_new_messages_become_email_tickets(db_session, world, flow_settings, name, subject, body_part, sender):
    report = ingest_email(db_session, raw=raw(name), now=MONDAY_10_MSK, settings=flow_settings)
    assert report["outcome"] == "created" and report["client_id"] == world.client_id
    ticket = db_session.get(Ticket, report["ticket_id"])
    assert (ticket.subject, ticket.channel, ticket.requester_email) == (subject, "email", sender)
    assert body_part in ticket.description
    assert "<" not in ticket.description and "color:red" not in ticket.description


def test_reply_with_reference_comments_and_resumes_the_waiting_ticket(db_session, world, flow_settings):
    ticket = new_ticket(db_session, world, flow_settings)
    assert ticket.id == 1  # the fixture 04 replies to "[#1]"
    for action in ("triage", "take", "request_info"):
        workflow.apply_action(db_session, ticket_id=1, action=action, actor="anna", now=MONDAY_10_MSK,
                              settings=flow_settings)
    report = ingest_email(db_session, raw=raw("04_reply_ticket_1.eml"), now=MONDAY_10_MSK, settings=flow_settings)
    assert report == {**report, "outcome": "commented", "ticket_id": 1, "resumed": True}
    assert ticket.status == "in_progress"
    assert ticket.comments[-1].body.startswith("Прикладываю скриншот")
    assert ticket.comments[-1].author == "p.petrov@romashka.ru"
    assert ticket.pauses[0].ended_at == MONDAY_10_MSK
    assert ticket.reacted_at is not None  # set by the engineer's triage, not by the client's mail


def test_a_registered_contact_is_matched_even_from_another_domain(db_session, world, flow_settings):
    db_session.add(ClientContact(client_id=world.other_client_id, email="a.smirnova@romashka.ru"))
    db_session.commit()
    report = ingest_email(db_session, raw=raw("02_cp1251_alternative.eml"), now=MONDAY_10_MSK,
                          settings=flow_settings)
    assert report["client_id"] == world.other_client_id


def test_a_registered_mail_domain_is_matched(db_session, world, flow_settings):
    db_session.get(Client, world.client_id).email = None
    db_session.get(Client, world.other_client_id).email_domains = ["romashka.ru"]
    db_session.commit()
    report = ingest_email(db_session, raw=raw("01_koi8r_plain.eml"), now=MONDAY_10_MSK, settings=flow_settings)
    assert report["client_id"] == world.other_client_id


def test_a_requester_address_stored_on_a_ticket_never_diverts_mail(db_session, world, flow_settings):
    # another client's ticket names a Romashka employee as its requester: her mail still goes to Romashka
    new_ticket(db_session, world, flow_settings, client_id=world.other_client_id, group="network",
               requester_email="a.smirnova@romashka.ru")
    report = ingest_email(db_session, raw=raw("02_cp1251_alternative.eml"), now=MONDAY_10_MSK,
                          settings=flow_settings)
    assert report["client_id"] == world.client_id


@pytest.mark.parametrize(("name", "reason"), [("05_unknown_sender.eml", "no client matches"),
                                            ("06_foreign_reply.eml", "does not belong to the client")])
def test_unknown_senders_are_quarantined_not_ticketed(db_session, world, flow_settings, name, reason):
    new_ticket(db_session, world, flow_settings)
    report = ingest_email(db_session, raw=raw(name), now=MONDAY_10_MSK, settings=flow_settings)
    assert report["outcome"] == "quarantined" and reason in report["reason"]
    assert db_session.scalar(select(func.count()).select_from(Ticket)) == 1
    assert len(db_session.get(Ticket, 1).comments) == 0
    kept = db_session.get(QuarantinedMessage, report["quarantine_id"])
    assert kept.status == "pending" and kept.raw == raw(name)  # the whole message, byte for byte


def test_malformed_messages():
    with pytest.raises(IntakeError) as info:
        parse_message(b"")
    assert info.value.field == "message"
    with pytest.raises(IntakeError) as info:
        parse_message(b"Subject: hi\r\n\r\nbody")
    assert info.value.field == "From"


def test_html_to_text_keeps_blocks_and_drops_scripts():
    assert html_to_text("<p>a&nbsp;b</p><script>x</script><div>c</div>") == "a b\n\nc"


def test_cli_ingests_a_folder_and_reports_refusals(sqlite_url, flow_settings, monkeypatch, tmp_path):
    from kb.db import make_engine, make_session_factory

    session = make_session_factory(make_engine(sqlite_url))()
    build_world(session)
    session.close()
    folder = tmp_path / "inbox"
    folder.mkdir()
    for name in ("01_koi8r_plain.eml", "04_reply_ticket_1.eml", "05_unknown_sender.eml"):
        shutil.copy(EML_DIR / name, folder / name)
    monkeypatch.setenv("PRECEDENT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("PRECEDENT_TRIAGE_USE_SEARCH", "0")
    result = CliRunner().invoke(main, ["intake", "email", str(folder)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [r["outcome"] for r in report["results"]] == ["created", "commented", "quarantined"]
    assert report["results"][1]["ticket_id"] == report["results"][0]["ticket_id"] == 1
    (folder / "07_broken.eml").write_bytes(b"Subject: no sender\r\n\r\nwho wrote this?")
    refused = CliRunner().invoke(main, ["intake", "email", str(folder / "07_broken.eml")])
    assert refused.exit_code == 2 and "07_broken.eml" in refused.stderr
    single = CliRunner().invoke(main, ["intake", "email", str(EML_DIR / "03_html_only.eml")])
    assert single.exit_code == 0, single.output
    missing = CliRunner().invoke(main, ["intake", "email", str(tmp_path / "nope.eml")])
    assert missing.exit_code == 2 and "PATHS" in missing.stderr


def test_same_message_is_taken_once(db_session, world, flow_settings):
    first = ingest_email(db_session, raw=raw("01_koi8r_plain.eml"), now=MONDAY_10_MSK, settings=flow_settings)
    again = ingest_email(db_session, raw=raw("01_koi8r_plain.eml"), now=MONDAY_10_MSK, settings=flow_settings)
    assert again["outcome"] == "duplicate" and again["ticket_id"] == first["ticket_id"]
    assert db_session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_cli_reads_a_maildir_once(sqlite_url, flow_settings, monkeypatch, tmp_path):
    import mailbox

    from kb.db import make_engine, make_session_factory

    session = make_session_factory(make_engine(sqlite_url))()
    build_world(session)
    session.close()
    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    for name in ("02_cp1251_alternative.eml", "05_unknown_sender.eml"):
        box.add(mailbox.MaildirMessage(raw(name)))
    monkeypatch.setenv("PRECEDENT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("PRECEDENT_TRIAGE_USE_SEARCH", "0")
    first = CliRunner().invoke(main, ["intake", "email", str(tmp_path / "Maildir")])
    assert first.exit_code == 0, first.output
    outcomes = sorted(r["outcome"] for r in json.loads(first.stdout)["results"])
    assert outcomes == ["created", "quarantined"]
    assert sorted(m.get_flags() for m in box) == ["FS", "S"]
    assert all(m.get_subdir() == "cur" for m in box)
    second = CliRunner().invoke(main, ["intake", "email", str(tmp_path / "Maildir")])
    assert second.exit_code == 0 and json.loads(second.stdout)["messages"] == 0
