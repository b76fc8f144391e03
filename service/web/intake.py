"""Staff pages of the intake and of outgoing mail: the e-mail quarantine (accept or reject), the failed outbox
messages (resend), the monitoring alerts no node matched (link to a node); and the download of a ticket's
attachments, guarded like the ticket itself (staff, or a user of the ticket's client)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import func, select

from kb.models import Attachment, Client, Node, OutboxMessage, Ticket
from service.platform import db, outbox
from service.platform.auth import STAFF_ROLES, actor_name, csrf_matches, visible_client_id
from service.platform.permissions import permit
from service.tickets import alertmanager, quarantine
from service.tickets.errors import WorkflowInputError
from service.web.views import login_required

#: What staff read for each kind of stored reason (the intake stores its own English text, for the log).
QUARANTINE_REASONS = (
    ("belongs to several clients", lazy_gettext("домен отправителя зарегистрирован у нескольких клиентов")),
    ("does not belong to the client", lazy_gettext("ответ на заявку другого клиента")),
    ("no client matches", lazy_gettext("отправитель не зарегистрирован ни у одного клиента")),
)


def quarantine_reason(reason: str) -> str:
    """Why a message is in quarantine, in the reader's language."""
    return str(next((label for key, label in QUARANTINE_REASONS if key in reason), lazy_gettext("отправитель не опознан")))


def unmatched_reason(reason: str) -> str:
    """Why an alert matched no node, in the reader's language."""
    if "several clients" in reason:
        return _("метка совпадает с узлами нескольких клиентов")
    return _("ни одна метка узла (node, host, hostname, instance) не совпала с известным узлом")


bp = Blueprint("intake_web", __name__)


@bp.before_request
def _check_csrf():
    """The forms of these pages post the session's CSRF token, like every form of the web UI."""
    if request.method == "POST" and not csrf_matches(request.form.get("csrf")):
        abort(400, "the form expired; reload the page and try again")


@bp.app_context_processor
def _attachment_lookup():
    def ticket_attachments(ticket_id: int) -> list[Attachment]:
        return list(db.session().scalars(select(Attachment).where(Attachment.ticket_id == ticket_id)
                                         .order_by(Attachment.id)))

    return {"ticket_attachments": ticket_attachments}


def _form_int(name: str) -> int | None:
    value = request.form.get(name, "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


@bp.get("/quarantine")
@login_required(*STAFF_ROLES)
def quarantine_page():
    """E-mail from unknown senders, the longest-waiting first, with a client to accept it for."""
    rows = quarantine.pending(db.session())
    clients = db.session().scalars(select(Client).order_by(Client.name)).all()
    return render_template("intake/quarantine.html", messages=rows, clients=clients,
                           reason_label=quarantine_reason, preview=quarantine.preview)


@bp.post("/quarantine/<int:message_id>/accept")
@login_required(*STAFF_ROLES)
@permit("intake.manage")
def quarantine_accept(message_id: int):
    """Make the message a ticket of the chosen client (optionally remembering the sender)."""
    try:
        result = quarantine.accept(db.session(), message_id=message_id, client_id=_form_int("client_id"),
                                   actor=actor_name(), remember=request.form.get("remember") == "on")
    except quarantine.QuarantineNotFound:
        abort(404)
    except quarantine.AlreadyDecided:
        flash(_("Это письмо уже разобрано."))
        return redirect(url_for("intake_web.quarantine_page"))
    except WorkflowInputError:  # the one field of the form: the client
        flash(_("Выберите клиента, для которого принять письмо."))
        return redirect(url_for("intake_web.quarantine_page"))
    made = (_("Создана заявка #%(id)s", id=result["ticket_id"]) if result["outcome"] == "created"
            else _("Добавлен комментарий к заявке #%(id)s", id=result["ticket_id"]))
    flash(made + (" · " + _("адрес запомнен") if result["remembered"] else ""))
    return redirect(url_for("intake_web.quarantine_page"))


@bp.post("/quarantine/<int:message_id>/reject")
@login_required(*STAFF_ROLES)
@permit("intake.manage")
def quarantine_reject(message_id: int):
    """Reject the message (it is kept, marked rejected)."""
    try:
        quarantine.reject(db.session(), message_id=message_id, actor=actor_name())
    except quarantine.QuarantineNotFound:
        abort(404)
    except quarantine.AlreadyDecided:
        flash(_("Это письмо уже разобрано."))
    return redirect(url_for("intake_web.quarantine_page"))


@bp.get("/outbox")
@login_required(*STAFF_ROLES)
def outbox_page():
    """Messages that could not be delivered after every attempt, with their error; and what waits."""
    counts = dict(db.session().execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    return render_template("intake/outbox.html", failed=outbox.messages(db.session(), status="failed"),
                           counts=counts)


@bp.post("/outbox/<int:message_id>/resend")
@login_required(*STAFF_ROLES)
@permit("intake.manage")
def outbox_resend(message_id: int):
    """Put a failed message back in line."""
    try:
        outbox.resend(db.session(), message_id=message_id, actor=actor_name())
    except outbox.OutboxError as exc:
        if exc.status == 404:
            abort(404)
        flash(_("Письмо уже не в списке недоставленных."))
        return redirect(url_for("intake_web.outbox_page"))
    flash(_("Письмо %(id)s поставлено в очередь снова", id=message_id))
    return redirect(url_for("intake_web.outbox_page"))


@bp.get("/alerts/unmatched")
@login_required(*STAFF_ROLES)
def unmatched_alerts_page():
    """Monitoring alerts no node matched, firing first; each can be linked to a node."""
    rows = alertmanager.unmatched_alerts(db.session())
    nodes = db.session().execute(select(Node.id, Node.name, Client.name).join(Client, Node.client_id == Client.id)
                                 .order_by(Client.name, Node.name)).all()
    return render_template("intake/unmatched_alerts.html", alerts=rows, nodes=nodes,
                           reason_label=unmatched_reason)


@bp.post("/alerts/unmatched/<int:alert_id>/link")
@login_required(*STAFF_ROLES)
@permit("intake.manage")
def unmatched_alert_link(alert_id: int):
    """Link the alert to a node: the mapping is learnt and a firing alert becomes its incident."""
    try:
        result = alertmanager.link_to_node(db.session(), alert_id=alert_id, node_id=_form_int("node_id"),
                                           actor=actor_name())
    except WorkflowInputError as exc:
        if exc.field == "alert_id":
            abort(404)
        flash(_("Выберите существующий узел."))
        return redirect(url_for("intake_web.unmatched_alerts_page"))
    flash(_("Алерт привязан к узлу, открыт инцидент #%(id)s", id=result["ticket_id"]) if result["ticket_id"]
          else _("Алерт привязан к узлу"))
    return redirect(url_for("intake_web.unmatched_alerts_page"))


@bp.get("/tickets/<int:ticket_id>/attachments/<int:attachment_id>")
@login_required()
def attachment_download(ticket_id: int, attachment_id: int):
    """One attachment of a ticket: staff, or a user of the ticket's client; anyone else 404."""
    ticket = db.session().get(Ticket, ticket_id)
    limit = visible_client_id()
    if ticket is None or (limit is not None and ticket.client_id != limit):
        abort(404)
    attachment = db.session().get(Attachment, attachment_id)
    if attachment is None or attachment.ticket_id != ticket_id:
        abort(404)
    name = attachment.filename.replace('"', "'")
    from urllib.parse import quote

    # Always a download (never rendered inline: an attached HTML file must not run on our origin).
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
               "X-Content-Type-Options": "nosniff"}
    return Response(attachment.content, mimetype="application/octet-stream", headers=headers)
