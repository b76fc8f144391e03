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
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import func, select

from kb import vocab
from kb.models import AuditEvent, Client, SlaEvent, Specialist, Ticket, TriagePrediction, utcnow
from kb.queries import tickets as ticket_queries
from service.config import current_settings
from service.platform import db
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
from service.platform.permissions import CLIENT_TICKET_ACTIONS, STAFF_WRITERS, bind_ticket_create, permit
from service.platform.validation import instant_in_range
from service.sla.calendar import month_of, previous_month
from service.tickets import transitions, workflow
from service.tickets.errors import IllegalTransition, TicketNotFound, WorkflowInputError

bp = Blueprint("web", __name__)

PAGE_SIZE = 50


@bp.before_app_request
def _check_csrf():
    """Every form of the web UI posts the session's token (auth.csrf_token) in its hidden ``csrf`` field."""
    if request.method == "POST" and request.blueprint == "web" and not csrf_matches(request.form.get("csrf")):
        abort(400, "the form expired; reload the page and try again")


@bp.app_context_processor
def _template_globals():
    return {"csrf_token": csrf_token, "current_user": current_user(), "vocab": vocab,
            "report_month": _last_month()}


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
            flash(f"Слишком много неудачных попыток входа. Повторите через {(attempt.retry_after + 59) // 60} мин.")
            page = render_template("web/login.html", username=username)
            return page, 429, {"Retry-After": str(attempt.retry_after)}
        if attempt.user is None:
            flash("Неверное имя пользователя или пароль.")
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
    return redirect(url_for("web.queue"))


def _page() -> int:
    try:
        return max(int(request.args.get("page", 1)), 1)
    except ValueError:
        return 1


def _filter(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name) or None
    return value if value in allowed else None


@bp.get("/queue")
@login_required(*STAFF_ROLES)
def queue():
    """Open tickets, newest first, filterable by status, group and priority."""
    status = _filter("status", vocab.STATUSES)
    page = _page()
    rows, total = ticket_queries.list_tickets(
        db.session(),
        status=status or vocab.OPEN_STATUSES,
        group=_filter("group", vocab.GROUPS),
        priority=_filter("priority", vocab.PRIORITIES),
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    clients = dict(db.session().execute(select(Client.id, Client.name)).all())
    return render_template("web/queue.html", tickets=rows, total=total, page=page, page_size=PAGE_SIZE,
                           clients=clients, args=request.args)


def _suggestions_for(ticket: Ticket) -> dict | None:
    """Suggestions from the search index, or None when no usable index exists."""
    from service.search import service as search

    try:
        # The ticket itself is never its own precedent (and its node kinds boost like in the API).
        return search.suggest_for_ticket(db.session(), ticket=ticket, k=5)
    except search.SearchUnavailable:  # the ticket page renders without them; the log says what to run
        current_app.logger.warning("suggestions unavailable for ticket %s", ticket.id, exc_info=True)
        return None


@bp.get("/tickets/<int:ticket_id>")
@login_required(*STAFF_ROLES)
def ticket_page(ticket_id: int):
    """A ticket with its history, triage prediction, SLA clocks and suggested fixes."""
    ticket = ticket_queries.get_ticket(db.session(), ticket_id=ticket_id)
    if ticket is None:
        abort(404)
    audit = db.session().scalars(
        select(AuditEvent).where(AuditEvent.entity == "ticket", AuditEvent.entity_id == ticket_id)
        .order_by(AuditEvent.at)
    ).all()
    prediction = db.session().scalar(
        select(TriagePrediction).where(TriagePrediction.ticket_id == ticket_id)
        .order_by(TriagePrediction.at.desc()).limit(1)
    )
    can_write = current_user().role in WRITER_ROLES
    specialists = db.session().scalars(  # for the work-log form
        select(Specialist).where(Specialist.active.is_(True)).order_by(Specialist.name)).all() if can_write else []
    return render_template("web/ticket.html", ticket=ticket, audit=audit, prediction=prediction,
                           suggestions=_suggestions_for(ticket),
                           actions=transitions.allowed_actions(ticket.status),
                           can_write=can_write, specialists=specialists,
                           me=current_user().specialist_id, client_zone=ticket.client.zone.key)


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
        except search.SearchUnavailable as exc:  # shown to the engineer instead of a 500
            error = f"Поиск недоступен: {exc}"
    return render_template("web/search.html", query=query, results=results, error=error)


@bp.get("/sla")
@login_required(*STAFF_ROLES)
def sla_dashboard():
    """Open tickets per client by SLA state, and the latest recorded at-risk and breached events."""
    counts = db.session().execute(
        select(Client.id, Client.name, Client.sla_policy, Ticket.sla_state, func.count(Ticket.id))
        .join(Ticket, Ticket.client_id == Client.id)
        .where(Ticket.status.in_(vocab.OPEN_STATUSES))
        .group_by(Client.id, Client.name, Client.sla_policy, Ticket.sla_state)
        .order_by(Client.name)
    ).all()
    by_client: dict[int, dict] = {}
    for client_id, name, policy, state, count in counts:
        row = by_client.setdefault(client_id, {"name": name, "policy": policy, "states": {}})
        row["states"][state or "unknown"] = count
    events = db.session().scalars(select(SlaEvent).order_by(SlaEvent.recorded_at.desc()).limit(30)).all()
    return render_template("web/sla.html", clients=by_client, events=events)


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
            error = f"Поиск недоступен: {exc}"
    return render_template("web/quality.html", triage=quality.triage_quality(db.session()), replay=replay,
                           error=error)


@bp.get("/portal")
@login_required("client")
def portal():
    """The client portal: the client's own tickets only."""
    page = _page()
    rows, total = ticket_queries.list_tickets(db.session(), client_id=visible_client_id(), limit=PAGE_SIZE,
                                              offset=(page - 1) * PAGE_SIZE)
    client = db.session().get(Client, visible_client_id())
    return render_template("web/portal.html", tickets=rows, total=total, page=page, page_size=PAGE_SIZE,
                           client=client)


@bp.get("/portal/tickets/<int:ticket_id>")
@login_required("client")
def portal_ticket(ticket_id: int):
    """One of the client's tickets with its public comments."""
    ticket = ticket_queries.get_ticket(db.session(), ticket_id=ticket_id)
    if ticket is None or ticket.client_id != visible_client_id():
        abort(404)
    return render_template("web/portal_ticket.html", ticket=ticket,
                           allowed=set(transitions.allowed_actions(ticket.status)) & CLIENT_TICKET_ACTIONS)


# --- writes: every form goes through the same workflow use cases as the API ------------------------

WRITER_ROLES = STAFF_WRITERS
#: Form fields each action may carry (empty fields are left out).
ACTION_FORM_FIELDS = ("priority", "group", "resolution", "comment", "reason")


def _run(use_case, **kwargs) -> bool:
    """Run a workflow use case; a refusal becomes a flashed message instead of an error page."""
    try:
        use_case(db.session(), actor=actor_name(), **kwargs)
        return True
    except (WorkflowInputError, IllegalTransition, TicketNotFound) as exc:
        flash(f"Не выполнено: {exc}")
        return False


def _own_ticket(ticket_id: int) -> Ticket:
    ticket = db.session().get(Ticket, ticket_id)
    limit = visible_client_id()
    if ticket is None or (limit is not None and ticket.client_id != limit):
        abort(404)
    return ticket


@bp.post("/tickets/<int:ticket_id>/action")
@login_required(*WRITER_ROLES, "client")
@permit("ticket.act")
def ticket_action(ticket_id: int):
    """Apply a workflow action from the ticket page (client users: only confirm, reopen, reply)."""
    ticket = _own_ticket(ticket_id)
    action = request.form.get("action", "")
    if current_user().role == "client" and action not in CLIENT_TICKET_ACTIONS:
        abort(403)
    allowed = transitions.ACTION_PARAMS.get(action, ())
    params = {name: request.form[name].strip() for name in ACTION_FORM_FIELDS
              if name in allowed and request.form.get(name, "").strip()}
    if _run(workflow.apply_action, ticket_id=ticket.id, action=action, **params):
        flash(f"Выполнено: {action}")
    return redirect(_ticket_url(ticket.id))


@bp.post("/tickets/<int:ticket_id>/comment")
@login_required(*WRITER_ROLES, "client")
@permit("ticket.comment")
def ticket_comment(ticket_id: int):
    """Add a comment; client users' comments are always public."""
    ticket = _own_ticket(ticket_id)
    public_comment = current_user().role == "client" or request.form.get("public") == "on"
    _run(workflow.add_comment, ticket_id=ticket.id, body=request.form.get("body", ""), public=public_comment)
    return redirect(_ticket_url(ticket.id))


@bp.post("/tickets/<int:ticket_id>/time")
@login_required(*WRITER_ROLES)
@permit("ticket.log_work")
def ticket_time_entry(ticket_id: int):
    """Log work from the ticket page; the start is a local time of the client's time zone."""
    ticket = _own_ticket(ticket_id)
    try:
        fields = _time_entry_fields(request.form, ticket.client.zone)
    except ValueError as exc:
        flash(f"Не выполнено: {exc}")
    else:
        if _run(workflow.add_time_entry, ticket_id=ticket.id, **fields):
            flash(f"Записано: {fields['minutes']} мин")
    return redirect(_ticket_url(ticket.id))


def _time_entry_fields(form, zone: ZoneInfo) -> dict:
    """The use case's arguments from the form; ValueError naming the field that is wrong."""
    def whole_number(name: str) -> int:
        value = form.get(name, "").strip()
        if not value.isdigit():
            raise ValueError(f"{name}: a whole number is required, got {value!r}")
        return int(value)

    text = form.get("started_at", "").strip()
    try:
        started_at = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"started_at: a date and time is required (YYYY-MM-DDTHH:MM), got {text!r}") from None
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=zone)
    if not instant_in_range(started_at):
        raise ValueError(f"started_at: {text!r} is not a plausible date and time")
    return {"specialist_id": whole_number("specialist_id"), "started_at": started_at,
            "minutes": whole_number("minutes"), "on_site": form.get("on_site") == "on",
            "off_hours_agreed": form.get("off_hours_agreed") == "on",
            "work_kind": form.get("work_kind", "").strip() or None, "note": form.get("note", "").strip() or None}


def _ticket_url(ticket_id: int) -> str:
    endpoint = "web.portal_ticket" if current_user().role == "client" else "web.ticket_page"
    return url_for(endpoint, ticket_id=ticket_id)


@bp.route("/portal/new", methods=["GET", "POST"])
@login_required("client")
@permit("ticket.create")
def portal_new_ticket():
    """The client portal's request form; triage sets priority and group."""
    form = {"subject": request.form.get("subject", "").strip(), "description": request.form.get("description", "").strip()}
    if request.method == "POST":
        try:
            ticket = workflow.create_ticket(db.session(), actor=actor_name(),
                                            **bind_ticket_create(current_user(), form,
                                                               staff_fields=workflow.CREATE_FIELDS))
        except WorkflowInputError as exc:
            flash(f"Заявка не создана: {exc}")
            return render_template("web/portal_new.html", form=form), 422
        flash(f"Заявка #{ticket.id} создана.")
        return redirect(url_for("web.portal_ticket", ticket_id=ticket.id))
    return render_template("web/portal_new.html", form=form)


@bp.get("/clients")
@login_required("manager", "engineer_l2", "engineer_l1", "analyst")
def clients_page():
    """Clients with links to their SLA reports, invoices and work reports."""
    from kb.queries.directory import list_clients

    return render_template("web/clients.html", clients=list_clients(db.session()))
