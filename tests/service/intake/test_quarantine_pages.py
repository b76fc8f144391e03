"""The quarantine page and the attachment download through the web UI, as staff, analysts and client users."""

from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy import select

from kb.models import Attachment, ClientContact, QuarantinedMessage, Ticket
from service.tickets.email_intake import ingest_email
from tests.service.signed_in import browser_for, csrf


def message(sender: str, subject: str, *, files=()) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "support@precedent.example", subject
    mail.set_content("Не работает сканер")
    for name, content in files:
        mail.add_attachment(content, maintype="application", subtype="pdf", filename=name)
    return mail.as_bytes()


def test_staff_accept_with_remember_and_reject_on_the_page(app, app_world, app_session):
    settings = app.config["SETTINGS"]
    ingest_email(app_session, raw=message("new.person@mail.example", "Сканер"), settings=settings)
    ingest_email(app_session, raw=message("spam@spam.example", "Реклама"), settings=settings)
    browser = browser_for(app, app_session, "engineer_l1")
    page = browser.get("/quarantine").get_data(as_text=True)
    assert "new.person@mail.example" in page and "Реклама" in page and "ООО Ромашка" in page
    held = {m.sender: m.id for m in app_session.scalars(select(QuarantinedMessage))}
    token = csrf(page)
    missing_client = browser.post(f"/quarantine/{held['new.person@mail.example']}/accept", data={"csrf": token},
                                  follow_redirects=True)
    assert "Выберите клиента" in missing_client.get_data(as_text=True)
    accepted = browser.post(f"/quarantine/{held['new.person@mail.example']}/accept", follow_redirects=True,
                            data={"csrf": token, "client_id": str(app_world.client_id), "remember": "on"})
    assert "Создана заявка" in accepted.get_data(as_text=True)
    assert browser.post(f"/quarantine/{held['spam@spam.example']}/reject", data={"csrf": token}).status_code == 302
    app_session.expire_all()
    statuses = {m.sender: m.status for m in app_session.scalars(select(QuarantinedMessage))}
    assert statuses == {"new.person@mail.example": "accepted", "spam@spam.example": "rejected"}
    ticket = app_session.scalar(select(Ticket))
    assert (ticket.client_id, ticket.requester_email) == (app_world.client_id, "new.person@mail.example")
    assert app_session.scalar(select(ClientContact.email)) == "new.person@mail.example"
    assert "new.person" not in browser.get("/quarantine").get_data(as_text=True)
    again = browser.post(f"/quarantine/{held['spam@spam.example']}/reject", data={"csrf": token},
                         follow_redirects=True)
    assert again.status_code == 200 and "уже разобрано" in again.get_data(as_text=True)  # a message, not an error
    assert browser.post("/quarantine/999999/reject", data={"csrf": token}).status_code == 404


def test_readers_and_client_users_cannot_decide(app, app_world, app_session):
    ingest_email(app_session, raw=message("new.person@mail.example", "Сканер"), settings=app.config["SETTINGS"])
    held = app_session.scalar(select(QuarantinedMessage.id))
    analyst = browser_for(app, app_session, "analyst")
    token = csrf(analyst.get("/quarantine").get_data(as_text=True))
    assert analyst.post(f"/quarantine/{held}/reject", data={"csrf": token}).status_code == 403
    portal = browser_for(app, app_session, "client", app_world.client_id)
    assert portal.get("/quarantine").status_code == 403
    app_session.expire_all()
    assert app_session.get(QuarantinedMessage, held).status == "pending"


def test_an_attachment_downloads_only_for_those_who_see_the_ticket(app, app_world, app_session):
    report = ingest_email(app_session, raw=message("p.petrov@romashka.ru", "Скан счёта",
                                                   files=[("счёт.pdf", b"%PDF-1.4 test")]),
                          settings=app.config["SETTINGS"])
    ticket_id = report["ticket_id"]
    attachment = app_session.scalar(select(Attachment))
    url = f"/tickets/{ticket_id}/attachments/{attachment.id}"
    staff = browser_for(app, app_session, "engineer_l1")
    assert "счёт.pdf" in staff.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    download = staff.get(url)
    assert download.status_code == 200 and download.data == b"%PDF-1.4 test"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    own = browser_for(app, app_session, "client", app_world.client_id)
    assert own.get(url).status_code == 200 and "счёт.pdf" in own.get(f"/portal/tickets/{ticket_id}").get_data(
        as_text=True)
    other = browser_for(app, app_session, "client", app_world.other_client_id)
    assert other.get(url).status_code == 404
    assert staff.get(f"/tickets/{ticket_id}/attachments/{attachment.id + 1}").status_code == 404
    assert staff.get(f"/tickets/{ticket_id + 1}/attachments/{attachment.id}").status_code == 404
    assert app.test_client().get(url).status_code == 302  # anonymous: to the login page
