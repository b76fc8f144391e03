"""Web UI views. Reads go through the same kb queries as the API; writes go through the workflow use cases."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import wraps
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from sqlalchemy import select

from kb import vocab
from kb.models import Client, SlaEvent, Ticket, utcnow
from kb.queries import tickets as ticket_queries
from service.config import current_settings
from service.platform import db, metrics
from service.platform.auth import (
    STAFF_ROLES,
    actor_name,
    attempt_login,
    csrf_matches,
    csrf_token,
    current_user,
    end_session,
    public,
    start_session,
    visible_client_id,
)
from service.platform.permissions import (
    CLIENT_TICKET_ACTIONS,
    PARTNER,
    STAFF_WRITERS,
    bind_ticket_create,
    permit,
)
from service.platform.validation import instant_in_range
from service.sla.calendar import month_of, previous_month
from service.tickets import queue as ticket_queue
from service.tickets import transitions, workflow, workspace
from service.tickets.errors import IllegalTransition, TicketNotFound, WorkflowInputError
from service.web import i18n, journal

bp = Blueprint("web", __name__)

PAGE_SIZE = 50


@bp.before_app_request
def _check_csrf():
    """Every form of the web UI posts the session's token (auth.csrf_token) in its hidden ``csrf`` field."""
    if request.method == "POST" and request.blueprint == "web" and not csrf_matches(request.form.get("csrf")):
        abort(400, gettext("Форма устарела: обновите страницу и повторите."))


@bp.app_context_processor
def _template_globals():
    return {"csrf_token": csrf_token, "current_user": current_user(), "vocab": vocab,
            "report_month": _last_month(), "status_name": lambda c: i18n.label(i18n.STATUS_LABELS, c),
            "priority_name": lambda c: i18n.label(i18n.PRIORITY_LABELS, c),
            "group_name": lambda c: i18n.label(i18n.GROUP_LABELS, c),
            "sla_name": lambda c: i18n.label(i18n.SLA_STATE_LABELS, c)}


def _last_month() -> str:
    """The latest complete month (YYYY-MM, in UTC), the default period of reports."""
    return previous_month(month_of(utcnow(), UTC))


def login_required(*roles: str):
    """Redirect anonymous visitors to the login page; refuse users without one of ``roles``."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None:
                return redirect(url_for("web.login", next=request.path))
            if roles and user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Log in with a username and password."""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        attempt = attempt_login(db.session(), username=username, password=request.form.get("password", ""),
                                address=request.remote_addr or "unknown", settings=current_settings())
        if attempt.retry_after is not None:
            flash(gettext("Слишком много неудачных попыток входа. Повторите через %(n)d мин.",
                          n=(attempt.retry_after + 59) // 60))
            page = render_template("web/login.html", username=username)
            return page, 429, {"Retry-After": str(attempt.retry_after)}
        if attempt.user is None:
            flash(gettext("Неверное имя пользователя или пароль."))
            return render_template("web/login.html", username=username), 401
        start_session(attempt.user)
        target = request.args.get("next", "")
        return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("web.home"))
    return render_template("web/login.html", username="")


@bp.post("/logout")
def logout():
    """Log out and void this user's session cookies everywhere (they carry an older session version)."""
    end_session(db.session())
    return redirect(url_for("web.login"))


@bp.get("/")
@login_required()
def home():
    if current_user().role == "client":
        return redirect(url_for("web.portal"))
    if current_user().role == PARTNER:
        return redirect(url_for("partner_desk.tickets_page"))
    return redirect(url_for("web.queue"))


def requested_page() -> int:
    """The ?page= number asked for (1 when missing or malformed)."""
    try:
        return max(int(request.args.get("page", 1)), 1)
    except ValueError:
        return 1


def _filter(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name) or None
    return value if value in allowed else None


@bp.get("/language/<code>")  # not @public: anyone may switch, but a logged-in user's login must be known
def set_language(code: str):
    """Switch the UI language (remembered in a cookie for a year, and for a logged-in user on its login, so that
    its other browsers and its mail follow) and go back to the page."""
    if code not in i18n.LANGUAGES:
        abort(404)
    if current_user() is not None:
        from service.directory import users as users_service

        users_service.set_language(db.session(), user_id=current_user().id, language=code, actor=actor_name())
    target = request.args.get("next", "")
    local = target.startswith("/") and not target.startswith(("//", "/\\"))
    response = make_response(redirect(target if local else url_for("web.home")))
    response.set_cookie(i18n.LANGUAGE_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


def _queue_filters() -> ticket_queue.QueueFilters:
    """The queue's filters from the query string; unknown values are ignored (never an error page)."""
    return ticket_queue.QueueFilters(
        status=_filter("status", vocab.STATUSES), priority=_filter("priority", vocab.PRIORITIES),
        group=_filter("group", vocab.GROUPS), client_id=_int_arg("client_id"),
        sla_state=_filter("sla_state", ticket_queue.SLA_STATES), mine=request.args.get("mine") == "1",
        needs_triage=request.args.get("needs_triage") == "1", text=request.args.get("q", "").strip()[:200] or None)


def page_url_for(page: int) -> str:
    """This page's URL with every filter kept and another page number."""
    args = {key: value for key, value in request.args.items() if key != "page" and value}
    return url_for(request.endpoint, **(request.view_args or {}), **args, page=page)


@bp.get("/queue")
@login_required(*STAFF_ROLES)
def queue():
    """Open tickets by live SLA urgency, with filters that survive paging and counts per filter value."""
    filters = _queue_filters()
    page = requested_page()
    result = ticket_queue.queue_page(db.session(), filters, specialist_id=current_user().specialist_id, page=page,
                                     page_size=PAGE_SIZE, settings=current_settings())
    clients = dict(db.session().execute(select(Client.id, Client.name).order_by(Client.name)).all())
    return render_template(
        "web/queue.html", result=result, filters=filters, page=page, page_size=PAGE_SIZE, args=request.args,
        statuses=vocab.STATUSES, priorities=vocab.PRIORITIES[::-1], groups=vocab.GROUPS, client_ids=list(clients),
        client_name=lambda value: clients.get(value, value), sla_states=ticket_queue.SLA_STATES[::-1],
        page_url=page_url_for)


def _suggestions_for(ticket: Ticket) -> dict | None:
    """Suggestions from the search index (never the ticket itself), or None when no usable index exists."""
    from service.search import service as search

    try:
        found = search.suggest_for_ticket(db.session(), ticket=ticket, k=5)
    except search.SearchUnavailable:  # the ticket page renders without them; the log says what to run
        current_app.logger.warning("suggestions unavailable for ticket %s", ticket.id, exc_info=True)
        return None
    found["incidents"] = [item for item in found.get("incidents", []) if item["id"] != ticket.id]
    metrics.count_served(found)
    return found


def _recommended(ticket: Ticket) -> list[dict]:
    """The ranked specialists for the ticket with their reasons and current load (empty for closed tickets)."""
    from service.triage import service as triage

    if ticket.status in ("resolved", "closed"):
        return []
    ranked = triage.rank_for_ticket(db.session(), ticket=ticket, settings=current_settings())
    loads = {row.specialist.id: row for row in workspace.specialists_load(db.session(), ids=[r.id for r in ranked])}
    return [{"id": r.id, "name": r.name, "score": r.score, "reasons": [i18n.reason(x) for x in r.reasons],
             "load": loads.get(r.id)} for r in ranked]


def _verdicts(ticket_id: int) -> dict[tuple[str, int], bool]:
    """The latest useful / not useful verdict on each suggestion for this ticket."""
    from kb.models import SuggestionFeedback

    rows = db.session().scalars(select(SuggestionFeedback).where(SuggestionFeedback.ticket_id == ticket_id)
                                .order_by(SuggestionFeedback.id)).all()
    return {(row.kind, row.ref): row.useful for row in rows}


@bp.get("/tickets/<int:ticket_id>")
@login_required(*STAFF_ROLES)
def ticket_page(ticket_id: int):
    """The workspace of one ticket: conversation and actions; triage, specialists, SLA, context, suggestions."""
    from service.sla import service as sla_service

    session = db.session()
    ticket = ticket_queries.get_ticket(session, ticket_id=ticket_id)
    if ticket is None:
        abort(404)
    events = workspace.ticket_journal(session, ticket_id)
    names = workspace.specialist_names(session, journal.specialist_ids_of(events)
                                       | {e.specialist_id for e in ticket.time_entries})
    can_write = current_user().role in WRITER_ROLES
    return render_template(
        "web/ticket.html", ticket=ticket, journal=journal.worded(events, names), names=names,
        prediction=workspace.latest_prediction(session, ticket_id), suggestions=_suggestions_for(ticket),
        verdicts=_verdicts(ticket_id), clock=sla_service.evaluate_ticket(session, ticket=ticket),
        actions=transitions.allowed_actions(ticket.status), can_write=can_write,
        recommended=_recommended(ticket) if can_write else [],
        specialists=workspace.specialists_load(session) if can_write else [],
        assigned={a.specialist_id for a in ticket.assignees if a.released_at is None},
        me=current_user().specialist_id, zone=ticket.client.timezone, client=ticket.client, now_utc=utcnow(),
        now_local=utcnow().astimezone(ticket.client.zone).strftime("%Y-%m-%dT%H:%M"),
        work_hours=i18n.calendar_hours(ticket.client.calendar), hourly=_hourly(ticket))


@bp.get("/search")
@login_required(*STAFF_ROLES)
def search_page():
    """Search similar past fixes, articles and known problems."""
    query = request.args.get("q", "").strip()
    results, error = None, None
    if query:
        from service.search import service as search

        try:
            results = search.suggest(db.session(), text=query, client_id=None, k=10)
            metrics.count_served(results)
        except search.SearchUnavailable as exc:  # shown to the engineer instead of a 500
            error = gettext("Поиск недоступен: %(why)s", why=exc)
    return render_template("web/search.html", query=query, results=results, error=error)


@bp.get("/sla")
@login_required(*STAFF_ROLES)
def sla_dashboard():
    """Open tickets per client by live SLA state (each count links to the queue behind it), and the latest
    recorded at-risk and breached events."""
    everything = ticket_queue.queue_page(db.session(), ticket_queue.QueueFilters(), page_size=10**6,
                                         settings=current_settings())
    by_client: dict[int, dict] = {}
    for row in everything.rows:
        client = row.ticket.client
        entry = by_client.setdefault(client.id, {"name": client.name, "policy": client.sla_policy, "states": {}})
        entry["states"][row.state] = entry["states"].get(row.state, 0) + 1
    events = db.session().scalars(select(SlaEvent).order_by(SlaEvent.recorded_at.desc()).limit(30)).all()
    return render_template("web/sla.html", clients=dict(sorted(by_client.items(), key=lambda kv: kv[1]["name"])),
                           events=events, states=ticket_queue.SLA_STATES[::-1])


@bp.get("/quality")
@login_required("manager", "analyst")
def quality_page():
    """Triage accuracy against what engineers kept; on request, suggestion feedback replayed through search."""
    from service.search import service as search
    from service.triage import quality

    replay, error = None, None
    if request.args.get("replay"):
        try:
            replay = quality.suggestion_quality(db.session(), k=5)
        except search.SearchUnavailable as exc:
            error = gettext("Поиск недоступен: %(why)s", why=exc)
    return render_template("web/quality.html", triage=quality.triage_quality(db.session()), replay=replay,
                           error=error)


def _portal_scope(client: Client) -> str:
    """"mine" (the user's own requests) or "company" (all of the company's); the default is "company" for the
    company's manager and for the company's own contact address (its IT lead), "mine" for everybody else."""
    chosen = request.args.get("scope")
    if chosen in ("mine", "company"):
        return chosen
    user = current_user()
    if user.client_manager:
        return "company"
    return "company" if user.email and client.email and user.email.lower() == client.email.lower() else "mine"


@bp.get("/portal")
@login_required("client")
def portal():
    """The client portal: the user's own requests by default, or the company's; filters by status and text."""
    session = db.session()
    user, page = current_user(), requested_page()
    client = session.get(Client, visible_client_id())
    scope = _portal_scope(client)
    statuses = vocab.OPEN_STATUSES if request.args.get("status") == "open" else _filter("status", vocab.STATUSES)
    rows, total = workspace.portal_tickets(
        session, client_id=client.id, statuses=statuses, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
        requester=(user.username, user.email) if scope == "mine" else None,
        text=request.args.get("q", "").strip()[:200] or None)
    waiting = [t for t in rows if t.status == "waiting_for_client"]
    return render_template("web/portal.html", tickets=rows, total=total, page=page, page_size=PAGE_SIZE,
                           client=client, scope=scope, args=request.args, waiting=waiting,
                           balance=_balance(client), page_url=page_url_for, statuses=vocab.STATUSES)


def _balance(client: Client) -> dict | None:
    """The running month's hours and package balance of the client (a draft), or None without a contract."""
    from service.billing import service as billing_service
    from service.billing.contract import BillingInputError
    from service.billing.engine import compute_invoice, invoice_to_dict

    month = month_of(utcnow(), client.zone)
    try:
        _client, _row, contract, usage = billing_service.client_usage(db.session(), client_id=client.id, month=month)
    except (billing_service.NotFound, BillingInputError):
        return None
    return {"month": month, **invoice_to_dict(compute_invoice(contract, usage))}


def _hourly(ticket: Ticket) -> dict | None:
    """The running balance of an hourly ticket (spent against the estimate), None for other billing modes."""
    from service.billing import service as billing_service

    return billing_service.ticket_balance(db.session(), ticket=ticket) if ticket.billing_mode == "hourly" else None


def _question(ticket: Ticket) -> str | None:
    """The engineer's open question while the ticket waits for the client (the reason of the open pause)."""
    if ticket.status != "waiting_for_client":
        return None
    open_pauses = [p for p in ticket.pauses if p.ended_at is None]
    return open_pauses[-1].reason if open_pauses else None


@bp.get("/portal/tickets/<int:ticket_id>")
@login_required("client")
def portal_ticket(ticket_id: int):
    """One of the client's tickets: its public conversation, the engineer's question with a reply box."""
    ticket = ticket_queries.get_ticket(db.session(), ticket_id=ticket_id)
    if ticket is None or ticket.client_id != visible_client_id():
        abort(404)
    return render_template("web/portal_ticket.html", ticket=ticket, question=_question(ticket), hourly=_hourly(ticket),
                           zone=ticket.client.timezone,
                           allowed=set(transitions.allowed_actions(ticket.status)) & CLIENT_TICKET_ACTIONS)


@bp.post("/portal/tickets/<int:ticket_id>/reply")
@login_required("client")
@permit("ticket.act")
def portal_reply(ticket_id: int):
    """The client answers the engineer's question: the answer becomes a public comment and the ticket resumes."""
    ticket = _own_ticket(ticket_id)
    body = request.form.get("body", "").strip()
    if not body:
        flash(gettext("Не выполнено: «%(field)s» — %(why)s.", field=gettext("ответ"), why=gettext("заполните это поле")))
    elif run_use_case(workflow.apply_action, ticket_id=ticket.id, action="client_replied", comment=body):
        flash(gettext("Спасибо! Ответ передан инженеру."))
    return redirect(url_for("web.portal_ticket", ticket_id=ticket.id))


@bp.post("/portal/tickets/<int:ticket_id>/stop-work")
@login_required("client")
@permit("ticket.stop_work")
def portal_stop_work(ticket_id: int):
    """The client stops the ticket's hourly work: what was spent is billed, nothing after."""
    _stop_work(ticket_id)
    return redirect(url_for("web.portal_ticket", ticket_id=ticket_id))


@bp.post("/tickets/<int:ticket_id>/stop-work")
@login_required(*STAFF_WRITERS)
@permit("ticket.stop_work")
def ticket_stop_work(ticket_id: int):
    """Staff record the client's word to stop the ticket's hourly work."""
    _stop_work(ticket_id)
    return redirect(url_for("web.ticket_page", ticket_id=ticket_id))


def _stop_work(ticket_id: int) -> None:
    """Stop a ticket's hourly work (billing.stop_work), saying what happened."""
    from service.billing import service as billing_service

    ticket = _own_ticket(ticket_id)
    try:
        billing_service.stop_work(db.session(), ticket=ticket, actor=actor_name(), now=utcnow())
    except billing_service.Conflict:
        flash(gettext("Почасовые работы по этой заявке уже остановлены или не ведутся."))
    else:
        flash(gettext("Почасовые работы остановлены: оплачивается только то, что уже сделано."))


# --- writes: every form goes through the same workflow use cases as the API ------------------------

WRITER_ROLES = STAFF_WRITERS
#: Form fields each action may carry (empty fields are left out).
ACTION_FORM_FIELDS = ("priority", "group", "resolution", "comment", "reason")


def run_use_case(use_case, **kwargs) -> bool:
    """Run a workflow use case; a refusal becomes a flashed message instead of an error page."""
    try:
        use_case(db.session(), actor=actor_name(), **kwargs)
        return True
    except (WorkflowInputError, IllegalTransition, TicketNotFound) as exc:
        flash(i18n.refusal(exc))
        return False


def _own_ticket(ticket_id: int) -> Ticket:
    ticket = db.session().get(Ticket, ticket_id)
    limit = visible_client_id()
    if ticket is None or (limit is not None and ticket.client_id != limit):
        abort(404)
    return ticket


def _action_params(action: str) -> dict:
    """The parameters of ``action`` the form carried (empty fields left out; ids as numbers)."""
    allowed = transitions.ACTION_PARAMS.get(action, ())
    params = {name: request.form[name].strip() for name in ACTION_FORM_FIELDS
              if name in allowed and request.form.get(name, "").strip()}
    if "specialist_id" in allowed and request.form.get("specialist_id", "").strip().isdigit():
        params["specialist_id"] = int(request.form["specialist_id"])
    if "specialist_ids" in allowed:
        ids = [int(v) for v in request.form.getlist("specialist_ids") if v.strip().isdigit() and len(v) < 10]
        params["specialist_ids"] = ids  # empty: the use case names the field that is missing
    return params


@bp.post("/tickets/<int:ticket_id>/action")
@login_required(*WRITER_ROLES, "client")
@permit("ticket.act")
def ticket_action(ticket_id: int):
    """Apply a workflow action from the ticket page (client users: only confirm, reopen, reply)."""
    ticket = _own_ticket(ticket_id)
    action = request.form.get("action", "")
    if current_user().role == "client" and action not in CLIENT_TICKET_ACTIONS:
        abort(403)
    if run_use_case(workflow.apply_action, ticket_id=ticket.id, action=action, **_action_params(action)):
        flash(gettext("Выполнено: %(action)s", action=i18n.label(i18n.ACTION_LABELS, action)))
    return redirect(_ticket_url(ticket.id))


@bp.post("/tickets/<int:ticket_id>/suggestions/<kind>/<int:ref>/feedback")
@login_required(*WRITER_ROLES)
@permit("search.feedback")
def suggestion_feedback(ticket_id: int, kind: str, ref: int):
    """Mark a suggestion useful or not useful for this ticket (the quality page and the ranking use it)."""
    from service.search import feedback

    ticket = _own_ticket(ticket_id)
    try:
        feedback.record_feedback(db.session(), ticket_id=ticket.id, kind=kind, ref=ref,
                                 useful=request.form.get("useful") == "1", actor=actor_name())
    except feedback.FeedbackTargetNotFound:
        abort(404)
    flash(gettext("Спасибо, оценка учтена."))
    return redirect(_ticket_url(ticket.id) + "#suggestions")


@bp.post("/tickets/<int:ticket_id>/comment")
@login_required(*WRITER_ROLES, "client")
@permit("ticket.comment")
def ticket_comment(ticket_id: int):
    """Add a comment: staff's notes are internal unless marked for the client; a client's are public."""
    ticket = _own_ticket(ticket_id)
    public_comment = current_user().role == "client" or request.form.get("visibility") == "public"
    run_use_case(workflow.add_comment, ticket_id=ticket.id, body=request.form.get("body", ""), public=public_comment)
    return redirect(_ticket_url(ticket.id))


@bp.post("/tickets/<int:ticket_id>/time")
@login_required(*WRITER_ROLES)
@permit("ticket.log_work")
def ticket_time_entry(ticket_id: int):
    """Log work from the ticket page; the start is a local time of the client's time zone."""
    ticket = _own_ticket(ticket_id)
    try:
        fields = time_entry_fields(request.form, ticket.client.zone)
    except ValueError as exc:
        flash(gettext("Не выполнено: %(why)s", why=exc))
    else:
        if run_use_case(workflow.add_time_entry, ticket_id=ticket.id, **fields):
            flash(gettext("Записано: %(n)d мин", n=fields["minutes"]))
            _warn_off_hours(ticket, fields)
    return redirect(_ticket_url(ticket.id) + "#work")


def _warn_off_hours(ticket: Ticket, fields: dict) -> None:
    """An explicit warning when work started outside the client's support calendar (weekends, holidays, off
    hours: the rule billing applies) without an off-hours agreement."""
    from service.billing import service as billing_service

    calendar = billing_service.client_calendar(ticket.client)
    if not fields["off_hours_agreed"] and billing_service.outside_calendar(fields["started_at"], calendar=calendar):
        flash(gettext("Внимание: работа начата вне рабочего времени клиента (%(hours)s), а нерабочее время не "
                      "согласовано — она будет учтена как обычная.",
                      hours=i18n.calendar_hours(ticket.client.calendar)))


@bp.post("/tickets/<int:ticket_id>/time/<int:entry_id>")
@login_required(*WRITER_ROLES)
@permit("ticket.log_work")
def ticket_time_entry_change(ticket_id: int, entry_id: int):
    """Correct or delete a time entry (its author or a manager); audited."""
    from service.tickets import time_entries

    ticket = _own_ticket(ticket_id)
    who = {"ticket_id": ticket.id, "entry_id": entry_id, "specialist_id": current_user().specialist_id,
           "is_manager": current_user().role == "manager",
           "reason": request.form.get("reason", "").strip() or None}
    try:
        if request.form.get("delete") == "1":
            if run_use_case(time_entries.delete_time_entry, **who):
                flash(gettext("Запись удалена."))
        else:
            fields = time_entry_fields(request.form, ticket.client.zone, specialist_required=False)
            if run_use_case(time_entries.correct_time_entry, **who, started_at=fields["started_at"],
                    minutes=fields["minutes"], note=fields["note"], off_hours_agreed=fields["off_hours_agreed"]):
                flash(gettext("Запись исправлена."))
    except time_entries.TimeEntryNotFound:
        abort(404)
    except ValueError as exc:
        flash(gettext("Не выполнено: %(why)s", why=exc))
    return redirect(_ticket_url(ticket.id) + "#work")


def time_entry_fields(form, zone: ZoneInfo, *, specialist_required: bool = True) -> dict:
    """The use case's arguments from the form; ValueError naming the field that is wrong."""
    def whole_number(name: str, title: str) -> int:
        value = form.get(name, "").strip()
        if not value.isdigit() or len(value) > 9:
            raise ValueError(gettext("«%(field)s»: нужно целое число, получено «%(value)s»", field=title,
                                     value=value))
        return int(value)

    text = form.get("started_at", "").strip()
    try:
        started_at = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(gettext("«Начало»: нужны дата и время (ГГГГ-ММ-ДДTЧЧ:ММ), получено «%(value)s»",
                                 value=text)) from None
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=zone)
    if not instant_in_range(started_at):
        raise ValueError(gettext("«Начало»: «%(value)s» — неправдоподобные дата и время", value=text))
    fields = {"started_at": started_at, "minutes": whole_number("minutes", gettext("Минут")),
              "on_site": form.get("on_site") == "on", "off_hours_agreed": form.get("off_hours_agreed") == "on",
              "work_kind": form.get("work_kind", "").strip() or None, "note": form.get("note", "").strip() or None}
    if specialist_required:
        fields["specialist_id"] = whole_number("specialist_id", gettext("Специалист"))
    return fields


def _ticket_url(ticket_id: int) -> str:
    endpoint = "web.portal_ticket" if current_user().role == "client" else "web.ticket_page"
    return url_for(endpoint, ticket_id=ticket_id)


#: How a client says how urgent a request is (a priority value; triage and staff set the priority itself).
URGENCY_CHOICES = ("low", "standard", "high", "highest")


def _portal_form() -> dict:
    """The portal request form as given: subject, description, urgency and the affected device (node)."""
    form = {"subject": request.form.get("subject", "").strip(),
            "description": request.form.get("description", "").strip()}
    if request.form.get("urgency") in URGENCY_CHOICES:
        form["urgency"] = request.form["urgency"]
    node = request.form.get("node_id", "").strip()
    if node.isdigit() and len(node) < 10:
        form["node_ids"] = [int(node)]
    return form


def _uploads() -> list:
    """The files of the form's ``attachments`` field (the browser's name and type are only hints: the use case
    makes the name safe and checks size, count and type). Each is read to one byte over the limit, no further."""
    from service.tickets.attachments import ParsedAttachment

    limit = current_settings().intake_max_attachment_bytes
    return [ParsedAttachment(filename=f.filename, content_type=f.mimetype or "", content=f.read(limit + 1))
            for f in request.files.getlist("attachments") if f.filename]


@bp.route("/portal/new", methods=["GET", "POST"])
@login_required("client")
@permit("ticket.create")
def portal_new_ticket():
    """The client portal's request form; triage sets priority and group, the client may say how urgent it is and
    which of its devices is affected."""
    from kb.queries.directory import list_nodes

    form = _portal_form() if request.method == "POST" else {"subject": "", "description": ""}
    nodes = list_nodes(db.session(), client_id=visible_client_id())
    if request.method == "POST":
        try:
            ticket = workflow.create_ticket(db.session(), actor=actor_name(), attachments=_uploads(),
                                            **bind_ticket_create(current_user(), form,
                                                               staff_fields=workflow.CREATE_FIELDS))
        except WorkflowInputError as exc:
            flash(i18n.refusal(exc))
            return _portal_form_page(form, nodes), 422
        flash(gettext("Заявка #%(n)d создана.", n=ticket.id))
        return redirect(url_for("web.portal_ticket", ticket_id=ticket.id))
    return _portal_form_page(form, nodes)


def _portal_form_page(form: dict, nodes) -> str:
    from service.tickets.attachments import ACCEPTED_TYPES

    settings = current_settings()
    return render_template("web/portal_new.html", form=form, nodes=nodes, urgencies=URGENCY_CHOICES,
                           accepted_types=sorted(ACCEPTED_TYPES), max_files=settings.intake_max_attachments,
                           max_mb=i18n.number(settings.intake_max_attachment_bytes / 1024 / 1024, 0))


@bp.get("/clients")
@login_required("manager", "engineer_l2", "engineer_l1", "analyst")
def clients_page():
    """Clients with links to their SLA reports, invoices and work reports."""
    from kb.queries.directory import list_clients

    return render_template("web/clients.html", clients=list_clients(db.session()))


@bp.get("/clients/<int:client_id>")
@login_required(*STAFF_ROLES)
def client_page(client_id: int):
    """A client: contract, SLA tier, calendar, field engineer, manager, nodes and open tickets."""
    from kb.models import Contract

    session = db.session()
    client = session.get(Client, client_id)
    if client is None:
        abort(404)
    contracts = session.scalars(select(Contract).where(Contract.client_id == client_id)
                                .order_by(Contract.valid_from.desc())).all()
    opened = ticket_queue.queue_page(session, ticket_queue.QueueFilters(client_id=client_id), page_size=20,
                                     settings=current_settings())
    return render_template("web/client.html", client=client, contracts=contracts, queue=opened,
                           nodes=sorted(client.nodes, key=lambda n: (n.kind, n.name)),
                           work_hours=i18n.calendar_hours(client.calendar))


@bp.get("/nodes/<int:node_id>")
@login_required(*STAFF_ROLES)
def node_page(node_id: int):
    """A node: attributes, what it depends on and what depends on it, its incident history."""
    node, tickets = workspace.node_with_history(db.session(), node_id)
    if node is None:
        abort(404)
    return render_template("web/node.html", node=node, tickets=tickets,
                           dependents=workspace.dependents_of(db.session(), node_id), zone=node.client.timezone)


@bp.get("/specialists")
@login_required(*STAFF_ROLES)
def specialists_page():
    """Specialists' load: open tickets against capacity, absences, who is working now."""
    rows = workspace.specialists_load(db.session())
    now = utcnow()
    return render_template("web/specialists.html", rows=rows, now=now,
                           upcoming={row.specialist.id: [a for a in row.specialist.absences if a.ends_at > now][:2]
                                     for row in rows})


@bp.get("/knowledge/articles/<int:article_id>")
@login_required(*STAFF_ROLES)
def article_page(article_id: int):
    """A knowledge-base article."""
    from kb.models import Article

    article = db.session().get(Article, article_id)
    if article is None:
        abort(404)
    return render_template("web/knowledge_item.html", title=article.title, group=article.group,
                           sections=[(None, article.body)], updated_at=article.updated_at)


@bp.get("/knowledge/problems/<int:problem_id>")
@login_required(*STAFF_ROLES)
def problem_page(problem_id: int):
    """A known problem: symptoms, cause, workaround and the incidents linked to it."""
    from kb.models import KnownProblem

    problem = db.session().get(KnownProblem, problem_id)
    if problem is None:
        abort(404)
    sections = [(gettext("Симптомы"), problem.symptoms), (gettext("Причина"), problem.cause),
                (gettext("Обходное решение"), problem.workaround)]
    return render_template("web/knowledge_item.html", title=problem.title, group=problem.group,
                           sections=[(t, b) for t, b in sections if b], updated_at=problem.updated_at,
                           incidents=sorted(problem.incidents, key=lambda t: t.created_at, reverse=True)[:20])
