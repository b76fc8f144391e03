"""The SMTP intake end to end: messages sent with smtplib over loopback into the real aiosmtpd server become
tickets, comments and quarantined messages; oversized and unreadable ones get SMTP error codes."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from kb.models import Attachment, ClientContact, QuarantinedMessage, Ticket
from service.tickets import quarantine
from service.tickets.email_intake import parse_message

from .conftest import EML_DIR


def send(port: int, raw: bytes, *, sender: str = "robot@example.org") -> tuple[int, str]:
    """Send one message with CRLF line ends, as mail servers do; the server's (code, reply) to its DATA."""
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo()
        smtp.mail(sender)
        smtp.rcpt("support@precedent.example")
        code, reply = smtp.data(raw)
    return code, reply.decode()


def mail(sender: str, subject: str, body: str, *, html: str | None = None, files=()) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "support@precedent.example", subject
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for name, content in files:
        message.add_attachment(content, maintype="application", subtype="octet-stream", filename=name)
    return message.as_bytes()


def tickets(session) -> list[Ticket]:
    session.expire_all()
    return list(session.scalars(select(Ticket).order_by(Ticket.id)))


@pytest.mark.parametrize(("name", "subject", "text"), [
    ("01_koi8r_plain.eml", "Не печатает принтер", "горит оранжевая лампа"),
    ("02_cp1251_alternative.eml", "Не работает VPN в филиале", "филиале Тверь"),
    ("03_html_only.eml", "Ошибка 1С при проведении документов", "«Нарушение целостности»"),
])
def test_each_charset_and_html_only_mail_becomes_a_ticket(db_session, world, intake, name, subject, text):
    port, _ = intake
    code, reply = send(port, (EML_DIR / name).read_bytes())
    assert code == 250 and "created ticket #1" in reply
    [ticket] = tickets(db_session)
    assert (ticket.subject, ticket.channel) == (subject, "email") and text in ticket.description
    assert ticket.requester_email and ticket.priority  # registered through the workflow, with its SLA


def test_a_reply_threads_onto_its_ticket_resumes_it_and_keeps_its_attachment(db_session, world, intake):
    from service.tickets import workflow

    port, handler = intake
    code, _ = send(port, (EML_DIR / "01_koi8r_plain.eml").read_bytes())
    assert code == 250
    [ticket] = tickets(db_session)
    for action, params in (("triage", {"group": "printers"}), ("take", {}),
                           ("request_info", {"reason": "Какая модель?"})):
        workflow.apply_action(db_session, ticket_id=ticket.id, action=action, actor="engineer",
                              settings=handler.settings, **params)
    code, reply = send(port, (EML_DIR / "04_reply_ticket_1.eml").read_bytes())
    assert code == 250 and f"commented ticket #{ticket.id}" in reply
    [ticket] = tickets(db_session)
    assert ticket.status == "in_progress"  # it waited for the client, the reply resumed it
    assert ticket.comments[-1].author == "p.petrov@romashka.ru" and ticket.comments[-1].public
    [attachment] = db_session.scalars(select(Attachment)).all()
    assert (attachment.filename, attachment.comment_id) == ("error.log", ticket.comments[-1].id)


def test_quoted_text_and_signature_are_trimmed(db_session, world, intake):
    port, _ = intake
    body = ("Сервер 1С снова недоступен с 9 утра.\n\nС уважением,\nАнна Смирнова\nСистемный администратор\n\n"
            "пн, 23 нояб. 2026 г. в 10:00, Служба поддержки <support@precedent.example>:\n> Проверьте питание\n")
    assert send(port, mail("a.smirnova@romashka.ru", "Сервер недоступен", body))[0] == 250
    [ticket] = tickets(db_session)
    assert ticket.description == "Сервер 1С снова недоступен с 9 утра."


def test_attachments_are_stored_within_limits_and_the_rest_named(db_session, world, intake):
    port, _ = intake
    files = [("scan.pdf", b"%PDF-1.4 " * 100), ("big.iso", b"x" * (65 * 1024)), ("a.txt", b"a"), ("b.txt", b"b"),
             ("c.txt", b"c")]
    assert send(port, mail("p.petrov@romashka.ru", "Документы", "Во вложении", files=files))[0] == 250
    stored = db_session.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [a.filename for a in stored] == ["scan.pdf", "a.txt", "b.txt"]
    assert stored[0].content == b"%PDF-1.4 " * 100 and stored[0].size == 900
    [ticket] = tickets(db_session)
    assert "big.iso" in ticket.description and "c.txt" in ticket.description  # left out, but named


def test_unknown_sender_waits_in_quarantine_then_accepted_and_remembered(db_session, world, intake):
    port, _ = intake
    code, reply = send(port, mail("boss@gmail.example", "Срочно: не работает почта", "Помогите"))
    assert code == 250 and "held for review" in reply
    assert tickets(db_session) == []
    [held] = quarantine.pending(db_session)
    assert held.sender == "boss@gmail.example" and "no client matches" in held.reason
    result = quarantine.accept(db_session, message_id=held.id, client_id=world.client_id, actor="operator",
                               remember=True)
    [ticket] = tickets(db_session)
    assert (ticket.id, ticket.client_id, ticket.requester_email) == (result["ticket_id"], world.client_id,
                                                                     "boss@gmail.example")
    assert db_session.scalar(select(ClientContact.client_id).where(ClientContact.email == "boss@gmail.example")) \
        == world.client_id
    code, reply = send(port, mail("boss@gmail.example", "И ещё принтер", "Не печатает"))  # now known
    assert code == 250 and "created ticket" in reply and quarantine.pending(db_session) == []
    with pytest.raises(quarantine.AlreadyDecided):
        quarantine.reject(db_session, message_id=held.id, actor="operator")


def test_rejected_mail_is_kept_and_marked(db_session, world, intake):
    port, _ = intake
    send(port, mail("spam@spam.example", "Выгодное предложение", "Купите"))
    [held] = quarantine.pending(db_session)
    quarantine.reject(db_session, message_id=held.id, actor="operator")
    db_session.expire_all()
    row = db_session.get(QuarantinedMessage, held.id)
    assert (row.status, row.decided_by) == ("rejected", "operator")
    assert parse_message(row.raw).body == "Купите"  # the whole message is still there
    assert quarantine.pending(db_session) == [] and tickets(db_session) == []


def test_oversized_and_unreadable_mail_get_error_codes_and_the_server_lives_on(db_session, world, intake):
    port, _ = intake
    huge = mail("p.petrov@romashka.ru", "Огромное", ("x" * 70 + "\n") * 4500)
    assert send(port, huge)[0] == 552
    code, reply = send(port, b"Subject: no sender here\r\n\r\nwho am I?\r\n")
    assert code == 554 and "From" in reply
    assert send(port, b"\xff\xfe\x00garbage\r\n\r\n")[0] == 554
    assert tickets(db_session) == []
    assert send(port, (EML_DIR / "01_koi8r_plain.eml").read_bytes())[0] == 250  # still serving
    assert db_session.scalar(select(func.count()).select_from(QuarantinedMessage)) == 0


def test_a_store_failure_is_a_temporary_error(db_session, world, flow_settings):
    from sqlalchemy import create_engine

    from kb.db import make_session_factory
    from service.tickets.smtp_intake import intake_server
    from tests.smtp_server import free_port

    broken = make_session_factory(create_engine("sqlite:////nonexistent-dir/none.sqlite3"))
    port = free_port()
    server = intake_server(broken, flow_settings, host="127.0.0.1", port=port)
    server.start()
    try:
        code, reply = send(port, (EML_DIR / "01_koi8r_plain.eml").read_bytes())
    finally:
        server.stop()
    assert code == 451  # the sending server keeps it and retries: nothing lost


def test_an_accepted_reply_from_a_stranger_lands_on_the_ticket_it_names(db_session, world, intake):
    port, _ = intake
    assert send(port, (EML_DIR / "01_koi8r_plain.eml").read_bytes())[0] == 250
    [ticket] = tickets(db_session)
    code, reply = send(port, mail("petrov.home@gmail.example", f"Re: [#{ticket.id}] Не печатает принтер",
                                  "Пишу с личной почты: модель HP 400."))
    assert code == 250 and "held for review" in reply  # a stranger to the ticket's client
    [held] = quarantine.pending(db_session)
    assert "does not belong" in held.reason
    result = quarantine.accept(db_session, message_id=held.id, client_id=world.client_id, actor="operator")
    assert (result["outcome"], result["ticket_id"]) == ("commented", ticket.id)
    [ticket] = tickets(db_session)  # no new ticket
    assert ticket.comments[-1].body == "Пишу с личной почты: модель HP 400."
    assert ticket.comments[-1].author == "petrov.home@gmail.example"
