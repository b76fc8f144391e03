"""Who may do what: the one role × action table, and what a client user may set on a ticket.

Every write route and every page that changes something names its action here (``@permit("...")`` or
:func:`require`); ``docs/security.md`` shows the same table and ``tests/service/test_route_walk.py`` walks
every route as every role against it. Reads of a client's data are further limited to the client user's own
company by :func:`service.auth.ensure_visible`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from service.platform.errors import ApiError

ENGINEERS = ("engineer_l1", "engineer_l2")
#: Everyone of ours; the admin manages logins and tokens (`precedent users`, `precedent tokens`) and reads.
STAFF = (*ENGINEERS, "manager", "analyst", "admin")
#: Staff who change tickets, knowledge and billing records (analysts and admins only read).
STAFF_WRITERS = (*ENGINEERS, "manager")

#: A regional service partner's field engineer: walled to the tickets assigned to its company's engineers.
PARTNER = "partner_engineer"

#: action -> roles allowed to take it. Reads open to everyone are not listed; ``client`` is bound to its company.
ROLE_ACTIONS: dict[str, tuple[str, ...]] = {
    "ticket.create": (*STAFF_WRITERS, "client"),
    "ticket.act": (*STAFF_WRITERS, "client", PARTNER),  # a client/partner only the *_TICKET_ACTIONS below
    "ticket.comment": (*STAFF_WRITERS, "client", PARTNER),  # a client's or partner's comment is always public
    "ticket.read_internal": STAFF,                     # internal comments, audit trail, triage details
    "ticket.update": STAFF_WRITERS,                    # priority and group
    "ticket.log_work": (*STAFF_WRITERS, PARTNER),      # a partner only for its own company's engineers
    "ticket.stop_work": (*STAFF_WRITERS, "client"),    # the client's right; staff record it on the client's word
    "billing.change_request": STAFF_WRITERS,
    "billing.operation": STAFF_WRITERS,
    "billing.contract": ("manager",),                  # also: a quote turned into a draft contract
    "billing.rates": ("admin",),                       # the calculator's rate card
    "audit.read": (*STAFF, "client"),                  # a client user: its own company's, if it is its manager
    "knowledge.read": STAFF,
    "knowledge.edit": STAFF_WRITERS,
    "knowledge.delete": ("engineer_l2", "manager"),
    "search.run": STAFF,
    "search.feedback": STAFF_WRITERS,
    "triage.run": STAFF,                               # computes a prediction, stores nothing
    "directory.specialists": STAFF,
    "partners.report": ("manager", "admin"),           # what we owe a regional partner, its SLA towards us
    "quality.read": ("manager", "analyst"),
    "intake.manage": STAFF_WRITERS,                    # accept/reject quarantined mail, resend, link alerts
    "users.manage": ("admin",),                        # logins and API tokens (web pages; the CLI too)
    "pages.staff": STAFF,
    "pages.portal": ("client",),
}

#: Workflow actions a client user (or a requester by e-mail) may take; every other action is staff's.
CLIENT_TICKET_ACTIONS = frozenset({"client_replied", "confirm", "reopen"})

#: Workflow actions a partner engineer may take on a ticket assigned to its company.
PARTNER_TICKET_ACTIONS = frozenset({"take", "resolve"})

#: Every endpoint a partner engineer may reach (anything else answers 403); each ticket-scoped one further
#: answers 404 unless the ticket is assigned to an engineer of the user's partner company.
PARTNER_ENDPOINTS = frozenset({
    "tickets.list_tickets", "tickets.get_ticket", "workflow.allowed_actions", "workflow.apply_action",
    "workflow.add_comment", "workflow.add_time_entry", "web.login", "web.logout", "static",
    "web.home", "web.set_language",  # the web workspace (service/web/partner_desk.py)
    "partner_desk.tickets_page", "partner_desk.ticket_page", "partner_desk.ticket_action",
    "partner_desk.ticket_comment", "partner_desk.ticket_time_entry",
})

#: Ticket fields a client user may give on create: everything else (priority, group, type, channel, billing,
#: requester, alert and external ids) is set by triage, staff or the intake itself.
CLIENT_CREATE_FIELDS = ("client_id", "subject", "description", "urgency", "node_ids")


def allowed(role: str | None, action: str) -> bool:
    """Whether ``role`` may take ``action`` (an unknown action is refused to everyone)."""
    return role is not None and role in ROLE_ACTIONS.get(action, ())


def bind_ticket_create(user, data: dict, *, staff_fields: tuple[str, ...]) -> dict:
    """The create fields ``user`` may give — ``staff_fields`` for staff, :data:`CLIENT_CREATE_FIELDS` for a
    client user — checked against that allow-list (422 naming the first field it may not set); a client
    user's ticket is its company's, from the portal, requested by itself."""
    permitted = CLIENT_CREATE_FIELDS if user.role == "client" else staff_fields
    refused = sorted(set(data) - set(permitted))
    if refused:
        who = "triage or staff" if user.role == "client" else "nobody"
        raise ApiError(422, f"{refused[0]!r} cannot be given here: it is set by {who} "
                            f"(allowed: {', '.join(permitted)})", field=refused[0],
                       code="field_not_allowed" if user.role == "client" else "unknown_field")
    if user.role != "client":
        return dict(data)
    given = data.get("client_id")
    if given is not None and given != user.client_id:
        raise ApiError(404, f"client {given} not found", field="client_id")
    return {**data, "client_id": user.client_id, "channel": "portal", "requester_name": user.username,
            "requester_email": user.email}


def require(action: str) -> None:
    """403 unless the current user's role may take ``action``."""
    from service.platform.auth import current_user

    user = current_user()
    if not allowed(user.role if user is not None else None, action):
        roles = ", ".join(ROLE_ACTIONS.get(action, ()))
        raise ApiError(403, f"this action needs one of the roles: {roles}")


def reads_client_audit(user) -> bool:
    """Whether ``user`` may read an infrastructure audit: staff, and a client user who is its company's manager
    (``users.client_manager``, set by an admin); which company's audit is the wall's concern, not this one's."""
    return user is not None and allowed(user.role, "audit.read") and (user.role != "client" or user.client_manager)


def require_audit_reader() -> None:
    """403 for a client user who is not its company's manager (call it after the company wall's 404)."""
    from service.platform.auth import current_user

    if not reads_client_audit(current_user()):
        raise ApiError(403, "the infrastructure audit is read by staff and the client's manager only")


def permit(action: str) -> Callable:
    """Decorator: the view answers 403 unless the current user's role may take ``action``."""
    if action not in ROLE_ACTIONS:
        raise KeyError(f"unknown action {action!r}: add it to ROLE_ACTIONS")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            require(action)
            return view(*args, **kwargs)

        wrapped.precedent_action = action
        return wrapped

    return decorator

