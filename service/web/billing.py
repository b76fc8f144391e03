"""Printable billing pages: a client's monthly invoice and work report (staff, and the client's own users)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, render_template
from flask_babel import gettext
from sqlalchemy import select

from kb.models import Client
from kb.models import Contract as ContractRow
from service.billing import service as billing_service
from service.billing.contract import BillingInputError, month_value
from service.billing.engine import compute_invoice, invoice_to_dict, work_report
from service.platform import db
from service.platform.auth import visible_client_id
from service.sla.calendar import month_of, previous_month
from service.web.views import login_required

bp = Blueprint("billing_web", __name__)

PLACE_NAMES = {"on_site": "выезд", "remote": "удалённо"}
MODE_NAMES = {"included": "в рамках договора", "hourly": "почасовая", "fixed": "фикс. стоимость"}


def _check_visible(client_id: int) -> None:
    limit = visible_client_id()
    if limit is not None and limit != client_id:
        abort(404)


def _usage(client_id: int, month: str):
    _check_visible(client_id)
    try:
        month = month_value(month, "month")
    except BillingInputError as exc:
        abort(400, str(exc))
    try:
        draft = billing_service.invoice_is_draft(db.session(), client_id=client_id, month=month)
        return (*billing_service.client_usage(db.session(), client_id=client_id, month=month), draft)
    except billing_service.FutureMonth as exc:
        abort(422, gettext("Месяц %(month)s ещё не начался (сейчас %(current)s): счёта и отчёта за него нет.",
                           month=exc.month, current=exc.current))
    except billing_service.NotFound as exc:
        abort(404, str(exc))
    except BillingInputError as exc:
        abort(409, f"данные договора некорректны: {exc}")


@bp.get("/clients/<int:client_id>/invoices/<month>.html")
@login_required()
def invoice_page(client_id: int, month: str):
    """The month's invoice, printable."""
    client, row, contract, usage, draft = _usage(client_id, month)
    invoice = invoice_to_dict(compute_invoice(contract, usage))
    return render_template("billing/invoice.html", client=client, contract=row, invoice=invoice,
                           zone=client.zone, draft=draft)


@bp.get("/clients/<int:client_id>/work-report/<month>.html")
@login_required()
def work_report_page(client_id: int, month: str):
    """Every ticket worked in the month: who, hours, on site or remote."""
    client, _, _, usage, _ = _usage(client_id, month)
    return render_template("billing/work_report.html", client=client, report=work_report(usage),
                           places=PLACE_NAMES, modes=MODE_NAMES)


@bp.get("/clients/<int:client_id>/billing")
@login_required()
def billing_index(client_id: int):
    """The client's contracts and a link to the invoice and work report of every contract month, newest first."""
    _check_visible(client_id)
    client = db.session().get(Client, client_id)
    if client is None:
        abort(404)
    contracts = db.session().scalars(select(ContractRow).where(ContractRow.client_id == client_id)
                                     .order_by(ContractRow.valid_from.desc())).all()
    zone = client.zone
    current = month_of(datetime.now(UTC), zone)
    months: list[str] = []
    if contracts:
        first = month_of(min(c.valid_from for c in contracts), zone)
        cursor = current
        while cursor >= first and len(months) < billing_service.MAX_REPLAY_MONTHS:
            months.append(cursor)
            cursor = previous_month(cursor)
    return render_template("billing/index.html", client=client, contracts=contracts, months=months, zone=zone,
                           current=current)
