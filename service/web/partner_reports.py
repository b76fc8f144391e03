"""Pages of the regional service partners for managers and admins: the partners list and the printable
monthly report of one partner (the JSON of ``GET /api/v1/partners/<id>/report/<YYYY-MM>``, rendered).

Text is Russian inside ``_()`` and translated to English by the app's catalogue (``service/web/translations``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_decimal
from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext, lazy_gettext

from kb.models import Partner
from service.billing.quote import next_month
from service.directory import partners as partner_directory
from service.platform import db
from service.platform.permissions import permit
from service.sla.calendar import MAX_MONTH_YEAR, MonthError, parse_month, previous_month
from service.sla.partner_report import PartnerReportError, build_partner_report
from service.web import i18n
from service.web.views import login_required

bp = Blueprint("partner_reports", __name__)

#: The partner's SLA targets towards us and the states of its clock, named for people.
TARGET_NAMES = {"reaction": lazy_gettext("реакция"), "onsite": lazy_gettext("прибытие на место"),
                "resolution": lazy_gettext("решение")}
STATE_NAMES = {"met": lazy_gettext("выполнена"), "breached": lazy_gettext("нарушена"),
               "running": lazy_gettext("идёт"), "overdue": lazy_gettext("просрочена"),
               "not_needed": lazy_gettext("не требовалась")}
STATE_BADGES = {"met": "s-met", "breached": "s-breached", "running": "", "overdue": "s-at_risk", "not_needed": ""}


def _bad_month(month: str):
    abort(400, gettext("Месяц «%(month)s» не распознан: укажите его как ГГГГ-ММ, например 2026-11.",
                       month=month[:20]))


def hours(minutes: int) -> str:
    """Minutes as hours with two decimals, as the invoice pages write them ("90" -> "1.50")."""
    return str((Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def target_hours(value: float) -> str:
    """A target's hours as people write them: 2 -> "2", 1.5 -> "1,5" in Russian."""
    return format_decimal(value, format="#,##0.##", locale=str(get_locale()))


def percent(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a whole percentage ("—" for nothing to count)."""
    return "—" if not whole else f"{round(100 * part / whole)} %"


@bp.get("/partners")
@login_required()
@permit("partners.report")
def partners_page():
    """Every partner: regions, contract, SLA targets, hourly rate and the open tickets its engineers work."""
    session = db.session()
    return render_template("partners/list.html", partners=partner_directory.list_partners(session),
                           open_tickets=partner_directory.open_tickets_by_partner(session),
                           target_hours=target_hours, calendar_hours=i18n.calendar_hours)


@bp.get("/partners/<int:partner_id>/report")
@login_required()
@permit("partners.report")
def report_for_month(partner_id: int):
    """The month picker's target: redirect to the report of ``?month=YYYY-MM``."""
    month = request.args.get("month", "").strip()
    try:
        parse_month(month)
    except MonthError:
        _bad_month(month)
    return redirect(url_for("partner_reports.report_page", partner_id=partner_id, month=month))


@bp.get("/partners/<int:partner_id>/report/<month>")
@login_required()
@permit("partners.report")
def report_page(partner_id: int, month: str):
    """The partner's month, printable: tasks, its SLA met/breached per target, time, what we owe, remote vs on site."""
    try:
        report = build_partner_report(db.session(), partner_id=partner_id, month=month)
    except PartnerReportError as exc:
        if exc.field == "partner":
            abort(404, str(exc))
        _bad_month(month)
    following = next_month(month)
    return render_template("partners/report.html", r=report, partner=db.session().get(Partner, partner_id),
                           targets=TARGET_NAMES, states=STATE_NAMES, badges=STATE_BADGES, hours=hours,
                           percent=percent, target_hours=target_hours, calendar_hours=i18n.calendar_hours, previous=previous_month(month),
                           following=following if following[:4] <= str(MAX_MONTH_YEAR) else None)
