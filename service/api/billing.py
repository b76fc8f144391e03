"""Billing API: invoices and work reports, contracts, hourly-work balance and stop, fixed-price change requests,
and typical operations done on a visit.

A client user sees only its own company's invoices and tickets (404 for another's). Money in bodies is
a decimal string ("52000.00"), never a float. The views parse, call a use case of service.billing.service
(which commits once) and serialize; none of them commits.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, jsonify
from sqlalchemy import select

from kb.models import Client, Ticket
from kb.models import Contract as ContractRow
from service.api import schemas as s
from service.billing import service as billing_service
from service.billing.contract import (
    PLAN_KINDS,
    TIER_COEFFICIENTS,
    BillingInputError,
    month_value,
)
from service.billing.engine import compute_invoice, invoice_to_dict, work_report
from service.platform import db
from service.platform.auth import current_user, ensure_visible
from service.platform.errors import ApiError
from service.platform.permissions import permit
from service.platform.schema import operation
from service.platform.serializers import iso, money
from service.platform.validation import choice, instant, integer, json_body, string
from service.platform.validation import money as money_field

bp = Blueprint("billing", __name__, url_prefix="/api/v1")

def _actor() -> str:
    return current_user().username


def _month(raw: str) -> str:
    try:
        return month_value(raw, "month")
    except BillingInputError as exc:
        raise ApiError(400, str(exc), field="month") from None


def _client_usage(client_id: int, month: str):
    """(client, contract row, contract, usage, draft) of the month; a month not begun yet is refused (422)."""
    ensure_visible(client_id, f"client {client_id}")
    month = _month(month)
    try:
        draft = billing_service.invoice_is_draft(db.session(), client_id=client_id, month=month)
        return (*billing_service.client_usage(db.session(), client_id=client_id, month=month), draft)
    except billing_service.FutureMonth as exc:
        raise ApiError(422, str(exc), field="month", code="month_not_begun") from None
    except billing_service.NotFound as exc:
        raise ApiError(404, str(exc), field=exc.field) from None
    except BillingInputError as exc:
        # The stored contract (or recorded usage) is invalid: the caller cannot fix it by changing the request.
        raise ApiError(409, f"the client's stored billing data is invalid: {exc}", field=exc.field) from None


def _ticket(ticket_id: int) -> Ticket:
    ticket = db.session().get(Ticket, ticket_id)
    if ticket is None:
        raise ApiError(404, f"ticket {ticket_id} not found", field="id")
    ensure_visible(ticket.client_id, f"ticket {ticket_id}")
    return ticket


# --- invoices and work reports -----------------------------------------------------------------------


@bp.get("/clients/<int:client_id>/invoices/<month>")
@operation(responses={200: s.Document})
def get_invoice(client_id: int, month: str):
    """The client's invoice for the month YYYY-MM, computed from its contract and recorded work; ``draft`` is true
    for the current month (still running), false for a closed one; a month not begun is refused (422)."""
    _, _, contract, usage, draft = _client_usage(client_id, month)
    return jsonify({**invoice_to_dict(compute_invoice(contract, usage)), "draft": draft})


@bp.get("/clients/<int:client_id>/work-reports/<month>")
@operation(responses={200: s.Document})
def get_work_report(client_id: int, month: str):
    """Every ticket worked in the month: who, when, hours, on site or remote."""
    _, _, _, usage, _ = _client_usage(client_id, month)
    return jsonify(work_report(usage))


# --- contracts -----------------------------------------------------------------------------------------


def contract_dict(row: ContractRow) -> dict:
    return {"id": row.id, "client_id": row.client_id, "plan_kind": row.plan_kind, "tier": row.tier,
            "valid_from": iso(row.valid_from), "valid_to": iso(row.valid_to), "terms": row.terms}


@bp.get("/clients/<int:client_id>/contracts")
@operation(responses={200: s.Items})
def list_contracts(client_id: int):
    """The client's contracts, newest first."""
    ensure_visible(client_id, f"client {client_id}")
    if db.session().get(Client, client_id) is None:
        raise ApiError(404, f"client {client_id} not found", field="client")
    rows = db.session().scalars(select(ContractRow).where(ContractRow.client_id == client_id)
                                .order_by(ContractRow.valid_from.desc(), ContractRow.id.desc())).all()
    return jsonify({"items": [contract_dict(r) for r in rows]})


@bp.post("/clients/<int:client_id>/contracts")
@permit("billing.contract")
@operation(body=s.ContractBody, responses={201: s.Document})
def create_contract(client_id: int):
    """Add a contract: {plan_kind, tier, valid_from, valid_to?, terms} with terms as in docs/billing.md."""
    client = db.session().get(Client, client_id)
    if client is None:
        raise ApiError(404, f"client {client_id} not found", field="client")
    body = json_body(("plan_kind", "tier", "valid_from", "valid_to", "terms"))
    plan_kind = choice(body, "plan_kind", PLAN_KINDS, required=True)
    tier = choice(body, "tier", tuple(TIER_COEFFICIENTS), default="bronze")
    valid_from = instant(body, "valid_from", required=True)
    valid_to = instant(body, "valid_to")
    try:
        row = billing_service.create_contract(db.session(), client=client, plan_kind=plan_kind, tier=tier,
                                              valid_from=valid_from, valid_to=valid_to, terms=body.get("terms"))
    except BillingInputError as exc:
        raise ApiError(422, str(exc), field=exc.field) from None
    return jsonify(contract_dict(row)), 201


# --- hourly work -----------------------------------------------------------------------------------------


@bp.get("/tickets/<int:ticket_id>/balance")
@operation(responses={200: s.Document})
def get_balance(ticket_id: int):
    """The running balance of the ticket's hourly work against its estimate."""
    ticket = _ticket(ticket_id)
    return jsonify(billing_service.ticket_balance(db.session(), ticket=ticket))


@bp.post("/tickets/<int:ticket_id>/stop-work")
@permit("ticket.stop_work")
@operation(responses={200: s.Document})
def stop_work(ticket_id: int):
    """Stop the ticket's hourly work (the client's right): what was spent is billed, nothing after."""
    ticket = _ticket(ticket_id)
    try:
        balance = billing_service.stop_work(db.session(), ticket=ticket, actor=_actor(), now=datetime.now(UTC))
    except billing_service.Conflict as exc:
        raise ApiError(409, str(exc), field=exc.field) from None
    return jsonify(balance)


# --- fixed-price work ------------------------------------------------------------------------------------


def change_request_dict(change) -> dict:
    return {"id": change.id, "ticket_id": change.ticket_id, "old_price": money(change.old_price),
            "new_price": money(change.new_price), "scope": change.scope, "deadline": iso(change.deadline),
            "agreed_by": change.agreed_by, "agreed_at": iso(change.agreed_at)}


@bp.get("/tickets/<int:ticket_id>/change-requests")
@operation(responses={200: s.ChangeRequestList})
def list_change_requests(ticket_id: int):
    """The agreed changes of a fixed-price work, oldest first, with its current price."""
    ticket = _ticket(ticket_id)
    changes = billing_service.change_requests(db.session(), ticket_id=ticket.id)
    return jsonify({"ticket_id": ticket.id, "billing_mode": ticket.billing_mode,
                    "fixed_price": money(ticket.fixed_price), "items": [change_request_dict(c) for c in changes]})


@bp.post("/tickets/<int:ticket_id>/change-requests")
@permit("billing.change_request")
@operation(body=s.ChangeRequestBody, responses={201: s.ChangeRequestOut})
def create_change_request(ticket_id: int):
    """Record an agreed change: {new_price, agreed_by, scope?, deadline?}; the ticket's price becomes new_price."""
    ticket = _ticket(ticket_id)
    body = json_body(("new_price", "agreed_by", "scope", "deadline"))
    new_price = money_field(body, "new_price", required=True)
    agreed_by = string(body, "agreed_by", required=True, max_length=200)
    scope = string(body, "scope", max_length=10_000)
    deadline = instant(body, "deadline")
    try:
        change = billing_service.add_change_request(db.session(), ticket=ticket, new_price=new_price,
                                                    agreed_by=agreed_by, actor=_actor(), scope=scope,
                                                    deadline=deadline)
    except billing_service.Conflict as exc:
        raise ApiError(409, str(exc), field=exc.field) from None
    except BillingInputError as exc:
        raise ApiError(422, exc.message, field=exc.field) from None
    return jsonify(change_request_dict(change)), 201


# --- typical operations ---------------------------------------------------------------------------------


@bp.post("/tickets/<int:ticket_id>/operations")
@permit("billing.operation")
@operation(body=s.OperationBody, responses={201: s.Document})
def record_operation(ticket_id: int):
    """Record typical operations done on a visit: {kind, quantity, visit?: YYYY-MM-DD}."""
    ticket = _ticket(ticket_id)
    body = json_body(("kind", "quantity", "visit"))
    kind = string(body, "kind", required=True, max_length=100)
    quantity = integer(body, "quantity", required=True, minimum=1, maximum=1000)
    visit_raw = string(body, "visit")
    visit = None
    if visit_raw is not None:
        try:
            visit = datetime.strptime(visit_raw, "%Y-%m-%d").date()
        except ValueError:
            raise ApiError(422, f"visit must be a date YYYY-MM-DD, got {visit_raw!r}", field="visit") from None
    try:
        event = billing_service.record_operation(db.session(), ticket=ticket, kind=kind, quantity=quantity,
                                                 actor=_actor(), visit=visit)
    except billing_service.Conflict as exc:
        raise ApiError(409 if exc.field != "kind" else 422, str(exc), field=exc.field) from None
    return jsonify({"id": event.id, "ticket_id": ticket.id, **event.data}), 201

