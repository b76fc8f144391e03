"""The regional partner engineer's web workspace: its company's tickets and the work on one of them.

A partner engineer (role ``partner_engineer``) sees only the tickets assigned to an engineer of its company
(``auth._wall_partner`` answers 404 for any other ticket before these views run), only their public
conversation, and its own company's SLA clock. Writes go through the same workflow use cases as the staff
ticket page: the actions of ``PARTNER_TICKET_ACTIONS``, public comments, work time of its own engineers.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from kb import vocab
from kb.models import utcnow
from kb.queries import tickets as ticket_queries
from service.platform import db
from service.platform.auth import csrf_matches, current_user
from service.platform.permissions import PARTNER, PARTNER_TICKET_ACTIONS, permit
from service.tickets import partner_worklist, transitions, workflow
from service.web import i18n
from service.web.views import login_required, page_url_for, requested_page, run_use_case, time_entry_fields

bp = Blueprint("partner_desk", __name__, url_prefix="/partner")

PAGE_SIZE = 50
#: The list's status filter: every status, the open ones, or one status.
STATUS_CHOICES = (partner_worklist.OPEN, *vocab.STATUSES)


@bp.before_request
def _check_csrf():
    """The forms of these pages post the session's CSRF token, like every form of the web UI."""
    if request.method == "POST" and not csrf_matches(request.form.get("csrf")):
        abort(400, gettext("Форма устарела: обновите страницу и повторите."))


def _partner_zone() -> ZoneInfo:
    partner = partner_worklist.partner_of(db.session(), current_user().partner_id)
    return ZoneInfo(partner.timezone if partner is not None and partner.timezone else "Europe/Moscow")


@bp.get("/tickets")
@login_required(PARTNER)
def tickets_page():
    """The company's tickets: open ones first by the partner's next due instant, filtered by status."""
    status = request.args.get("status") or None
    status = status if status in STATUS_CHOICES else None
    page = requested_page()
    worklist = partner_worklist.partner_worklist(db.session(), partner_id=current_user().partner_id, status=status,
                                                 page=page, page_size=PAGE_SIZE)
    open_count = sum(n for s, n in worklist.counts.items() if s in vocab.OPEN_STATUSES)
    return render_template("partner/tickets.html", worklist=worklist, status=status, page=page,
                           page_size=PAGE_SIZE, statuses=vocab.STATUSES, open_count=open_count,
                           zone=_partner_zone(), page_url=page_url_for, now=utcnow())


def _ticket(ticket_id: int):
    """The ticket (its company's: the wall has answered 404 for any other) or 404 when it does not exist."""
    ticket = ticket_queries.get_ticket(db.session(), ticket_id=ticket_id)
    if ticket is None:
        abort(404)
    return ticket


@bp.get("/tickets/<int:ticket_id>")
@login_required(PARTNER)
def ticket_page(ticket_id: int):
    """One ticket as the partner sees it: request, client, nodes, public conversation, its SLA clock, actions,
    a comment form and a work-time form for its own engineers."""
    session = db.session()
    ticket = _ticket(ticket_id)
    partner_id = current_user().partner_id
    row = partner_worklist.worklist_row(session, ticket, partner_id, utcnow())
    zone = _partner_zone()
    return render_template(
        "partner/ticket.html", ticket=ticket, row=row, zone=zone, now=utcnow(),
        comments=[c for c in sorted(ticket.comments, key=lambda c: c.created_at) if c.public],
        actions=[a for a in transitions.allowed_actions(ticket.status) if a in PARTNER_TICKET_ACTIONS],
        engineers=partner_worklist.company_engineers(session, partner_id),
        entries=[e for e in sorted(ticket.time_entries, key=lambda e: e.started_at)
                 if e.specialist is not None and e.specialist.partner_id == partner_id],
        me=current_user().specialist_id, now_local=utcnow().astimezone(zone).strftime("%Y-%m-%dT%H:%M"))


def _company_engineer(value: str) -> int | None:
    """The id of the form's engineer when it is one of the company's active engineers, else None (flashed)."""
    ids = {e.id for e in partner_worklist.company_engineers(db.session(), current_user().partner_id)}
    if value.strip().isdigit() and len(value.strip()) < 10 and int(value) in ids:
        return int(value)
    flash(gettext("Не выполнено: «%(field)s» — %(why)s.", field=gettext("инженер"),
                  why=gettext("выберите инженера вашей компании")))
    return None


def _back(ticket_id: int, anchor: str = "") -> str:
    return url_for("partner_desk.ticket_page", ticket_id=ticket_id) + anchor


@bp.post("/tickets/<int:ticket_id>/action")
@login_required(PARTNER)
@permit("ticket.act")
def ticket_action(ticket_id: int):
    """Take the ticket (for one of the company's engineers) or resolve it, through the workflow."""
    ticket = _ticket(ticket_id)
    action = request.form.get("action", "")
    if action not in PARTNER_TICKET_ACTIONS:
        flash(gettext("Не выполнено: «%(field)s» — %(why)s.", field=gettext("действие"),
                      why=gettext("доступны только «Взять в работу» и «Решить»")))
        return redirect(_back(ticket.id))
    params = {}
    if action == "take":
        params["specialist_id"] = _company_engineer(request.form.get("specialist_id", ""))
        if params["specialist_id"] is None:
            return redirect(_back(ticket.id))
    else:
        resolution = request.form.get("resolution", "").strip()
        if not resolution:
            flash(gettext("Не выполнено: «%(field)s» — %(why)s.", field=gettext("решение"),
                          why=gettext("заполните это поле")))
            return redirect(_back(ticket.id))
        params["resolution"] = resolution
    if run_use_case(workflow.apply_action, ticket_id=ticket.id, action=action, **params):
        flash(gettext("Выполнено: %(action)s", action=i18n.label(i18n.ACTION_LABELS, action)))
    return redirect(_back(ticket.id))


@bp.post("/tickets/<int:ticket_id>/comment")
@login_required(PARTNER)
@permit("ticket.comment")
def ticket_comment(ticket_id: int):
    """Add a comment; a partner's comment is always public (seen by the client and by us)."""
    ticket = _ticket(ticket_id)
    body = request.form.get("body", "").strip()
    if not body:
        flash(gettext("Не выполнено: «%(field)s» — %(why)s.", field=gettext("комментарий"),
                      why=gettext("заполните это поле")))
    elif run_use_case(workflow.add_comment, ticket_id=ticket.id, body=body, public=True):
        flash(gettext("Комментарий добавлен."))
    return redirect(_back(ticket.id, "#conversation"))


@bp.post("/tickets/<int:ticket_id>/time")
@login_required(PARTNER)
@permit("ticket.log_work")
def ticket_time_entry(ticket_id: int):
    """Log work of one of the company's engineers; the start is a local time of the partner's time zone; an
    on-site entry is what reaches the partner's "on site" target."""
    ticket = _ticket(ticket_id)
    try:
        fields = time_entry_fields(request.form, _partner_zone(), specialist_required=False)
    except ValueError as exc:
        flash(gettext("Не выполнено: %(why)s", why=exc))
        return redirect(_back(ticket.id, "#work"))
    specialist_id = _company_engineer(request.form.get("specialist_id", ""))
    if specialist_id is None:
        return redirect(_back(ticket.id, "#work"))
    # Billing terms (work kind, an agreed off-hours rate) are ours to set, not the partner's.
    fields.update(specialist_id=specialist_id, work_kind=None, off_hours_agreed=False)
    if run_use_case(workflow.add_time_entry, ticket_id=ticket.id, **fields):
        flash(gettext("Записано: %(n)d мин", n=fields["minutes"]))
    return redirect(_back(ticket.id, "#work"))
