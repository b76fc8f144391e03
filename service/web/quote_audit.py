"""Pages of the price calculator (public), the rate card (admin), a quote turned into a draft contract (manager)
and the printable infrastructure audit (staff and the client's own users).

Text is Russian in the templates inside ``t()`` and translated to English by this module's own catalogue
(``translations_quote_audit``, domain ``quote_audit``), so it merges with any other catalogue of the app.
The language is the ``precedent_lang`` cookie (``?lang=en`` sets it), else the browser's, else Russian.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import Babel, Domain, get_locale

from service.billing import rates as rates_service
from service.billing.contract import TIER_COEFFICIENTS, BillingInputError
from service.billing.quote import (
    MAX_PREPAYMENT_MONTHS,
    MAX_SERVERS,
    MAX_WORKSTATIONS,
    QUOTE_FIELDS,
    VISIT_FREQUENCIES,
    flatten_rates,
    quote_to_dict,
    unflatten_rates,
)
from service.directory import audit
from service.platform import db
from service.platform.auth import actor_name, csrf_matches, current_user, visible_client_id
from service.platform.permissions import allowed, permit, require, require_audit_reader
from service.web.views import login_required

bp = Blueprint("quote_audit", __name__)

LANGUAGES = ("ru", "en")
NBSP = "\u00a0"  # groups of digits never wrap apart
LANGUAGE_COOKIE = "precedent_lang"
DOMAIN = Domain(translation_directories=[str(Path(__file__).parent / "translations_quote_audit")],
                domain="quote_audit")
t = DOMAIN.gettext
lt = DOMAIN.lazy_gettext

TIER_LABELS = {"bronze": lt("Бронзовый"), "silver": lt("Серебряный"), "gold": lt("Золотой"),
               "platinum": lt("Платиновый")}
PLAN_LABELS = {"subscription": lt("Абонентское обслуживание по рабочим местам"),
               "package": lt("Пакет часов (неизрасходованные часы сгорают)"),
               "unlimited": lt("Безлимитное обслуживание")}
VISIT_LABELS = {"none": lt("без регулярных выездов"), "monthly": lt("раз в месяц"),
                "biweekly": lt("раз в две недели"), "weekly": lt("каждую неделю")}
KIND_LABELS = {
    "workstation": lt("рабочее место"), "server": lt("сервер"), "virtualization_host": lt("хост виртуализации"),
    "storage": lt("СХД"), "network_device": lt("сетевое устройство"), "vpn_gateway": lt("VPN-шлюз"),
    "printer": lt("принтер"), "pbx": lt("АТС"), "1c_base": lt("база 1С"), "mail": lt("почта"),
    "backup": lt("резервное копирование"), "retail_device": lt("торговое оборудование"),
    "camera": lt("камера"), "website": lt("сайт"),
}
CRITICALITY_LABELS = {"low": lt("низкая"), "medium": lt("средняя"), "high": lt("высокая"),
                      "critical": lt("критичная")}
#: The calculator's fields, named as on the form (an error names the field this way).
FIELD_LABELS = {"workstations": lt("Рабочие места"), "servers": lt("Серверы"), "tier": lt("Уровень обслуживания"),
                "plan": lt("Тариф"), "package_hours": lt("Пакет, часов в месяц"),
                "on_site_visits": lt("Регулярные выезды инженера"), "prepayment_months": lt("Предоплата, месяцев"),
                "month": lt("Первый месяц"), "client_name": lt("Название клиента")}
#: The rate card's fields on the admin's form.
RATE_LABELS = {
    "currency": lt("Валюта"), "hourly_rate": lt("Ставка часа работ"),
    "off_hours_coefficient": lt("Коэффициент работ вне графика (1,5–2)"),
    "subscription.workstation_rate": lt("Абонемент: рабочее место в месяц"),
    "subscription.server_rate": lt("Абонемент: сервер в месяц"),
    "subscription.hourly_discount_percent": lt("Абонемент: скидка на час, % (до 15)"),
    "package.hourly_discount_percent": lt("Пакет часов: скидка на час, % (до 15)"),
    "unlimited.workstation_rate": lt("Безлимит: рабочее место в месяц"),
    "unlimited.server_rate": lt("Безлимит: сервер в месяц"),
    "unlimited.minimum_fee": lt("Безлимит: минимальная плата в месяц"),
    "unlimited.hourly_discount_percent": lt("Безлимит: скидка на час, % (до 50)"),
    "visits.monthly": lt("Выезды раз в месяц: надбавка, % (10–20)"),
    "visits.biweekly": lt("Выезды раз в две недели: надбавка, % (10–20)"),
    "visits.weekly": lt("Выезды каждую неделю: надбавка, % (10–20)"),
}


def quote_problem(error: BillingInputError) -> str:
    """What is wrong with a calculator field, in the reader's language."""
    field = error.field
    if field in ("workstations", "servers", "prepayment_months"):
        if "whole number" in error.message:
            return t("введите целое число")
        if "need support" in error.message:
            return t("укажите, сколько рабочих мест и серверов нужно обслуживать")
        limit = {"workstations": MAX_WORKSTATIONS, "servers": MAX_SERVERS,
                 "prepayment_months": MAX_PREPAYMENT_MONTHS}[field]
        return t("введите число от 0 до %(max)s; больший парк рассчитает менеджер", max=limit)
    messages = {"package_hours": lt("выберите пакет часов — он указывается только для тарифа «Пакет часов»"),
                "on_site_visits": lt("регулярные выезды считаются только в абонементе по рабочим местам"),
                "client_name": lt("укажите название нового клиента; клиента с таким названием ещё нет")}
    return str(messages.get(field, lt("выберите значение из списка")))


def rate_label(name: str) -> str:
    """A rate card field named for people ("package.fees.15" -> "Пакет 15 ч: плата в месяц")."""
    if name.startswith("package.fees."):
        return t("Пакет %(hours)s ч: плата в месяц", hours=name.rsplit(".", 1)[1])
    label = RATE_LABELS.get(name) or FIELD_LABELS.get(name)
    return str(label) if label is not None else name


def select_language() -> str:
    """``?lang=``, then the language cookie, then the browser's preference, then Russian."""
    for given in (request.args.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if given in LANGUAGES:
            return given
    return request.accept_languages.best_match(LANGUAGES) or "ru"


@bp.record_once
def _install(state) -> None:
    # The app may already run Flask-Babel (with its own catalogue): this module then only adds its domain.
    if "babel" not in state.app.extensions:
        state.app.config.setdefault("BABEL_DEFAULT_LOCALE", "ru")
        Babel(state.app, locale_selector=select_language)


@bp.before_request
def _check_csrf():
    if request.method == "POST" and not csrf_matches(request.form.get("csrf")):
        abort(400, "the form expired; reload the page and try again")


@bp.after_request
def _remember_language(response):
    if request.args.get("lang") in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, request.args["lang"], max_age=365 * 24 * 3600, samesite="Lax")
    return response


@bp.context_processor
def _labels():
    return {"t": t, "language": str(get_locale() or "ru"), "LANGUAGES": LANGUAGES, "tier_labels": TIER_LABELS,
            "plan_labels": PLAN_LABELS, "visit_labels": VISIT_LABELS, "kind_labels": KIND_LABELS,
            "criticality_labels": CRITICALITY_LABELS, "amount": amount, "num": num, "rate_label": rate_label,
            "quote_problem": quote_problem}


def amount(value: str | None) -> str:
    """A decimal string as money with thin groups: "45000.00" -> "45 000,00" (ru) / "45,000.00" (en)."""
    if value is None:
        return ""
    whole, _, cents = f"{Decimal(value):,.2f}".partition(".")
    if str(get_locale() or "ru") == "ru":
        return whole.replace(",", NBSP) + "," + cents
    return f"{whole}.{cents}"


def num(value) -> str:
    """A coefficient or percentage as the reader writes it: 1.5 -> "1,5" in Russian."""
    text = format(Decimal(str(value)).normalize(), "f")
    return text.replace(".", ",") if str(get_locale() or "ru") == "ru" else text


def _form() -> dict:
    return {name: request.values.get(name, "").strip() for name in QUOTE_FIELDS if name != "month"}


@bp.get("/quote")
def quote_page():
    """The public calculator (no login: a web page without ``login_required`` is open to anonymous visitors):
    the form and, once submitted, the monthly price with each line explained."""
    form = _form()
    result = error = None
    if request.args.get("workstations") is not None or request.args.get("plan"):
        try:
            result = quote_to_dict(rates_service.quote_for(db.session(), {k: v for k, v in form.items() if v}, now=datetime.now(UTC)))
        except BillingInputError as exc:
            error = exc
    user = current_user()
    status = 422 if error is not None else 200
    return render_template("quote_audit/quote.html", form=form, result=result, error=error,
                           tiers=TIER_COEFFICIENTS, visits=VISIT_FREQUENCIES,
                           package_hours=list(rates_service.current_rates(db.session()).package_fees),
                           limits={"workstations": MAX_WORKSTATIONS, "servers": MAX_SERVERS,
                                   "prepayment_months": MAX_PREPAYMENT_MONTHS},
                           can_draft=user is not None and allowed(user.role, "billing.contract")), status


@bp.post("/quote/contract")
@login_required()
@permit("billing.contract")
def quote_contract():
    """A manager turns the submitted quote into a new client with a draft contract."""
    form = _form()
    try:
        quote = rates_service.quote_for(db.session(), {k: v for k, v in form.items() if v}, now=datetime.now(UTC))
        row = rates_service.draft_contract(db.session(), quote=quote, client_name=request.form.get("client_name", ""),
                                           client_email=request.form.get("client_email", "").strip() or None,
                                           actor=actor_name())
    except BillingInputError as exc:
        flash(t("Договор не создан: %(field)s — %(message)s", field=rate_label(exc.field), message=quote_problem(exc)))
        return redirect(url_for("quote_audit.quote_page", **form))
    flash(t("Клиент «%(name)s» и черновик договора созданы; ниже первый счёт по нему.", name=row.client.name))
    return redirect(url_for("billing_web.invoice_page", client_id=row.client_id, month=quote.month))


@bp.route("/admin/rates", methods=["GET", "POST"])
@login_required()
@permit("billing.rates")
def rates_page():
    """The admin's form of the calculator's rate card."""
    session = db.session()
    document = rates_service.rates_document(session)
    error = None
    if request.method == "POST":
        changed = unflatten_rates(request.form.to_dict(), document)
        try:
            rates_service.save_rates(session, document=changed, actor=actor_name())
            flash(t("Тарифы сохранены."))
            return redirect(url_for("quote_audit.rates_page"))
        except BillingInputError as exc:
            error, document = exc, changed
    return render_template("quote_audit/rates.html", fields=flatten_rates(document), error=error), \
        422 if error else 200


@bp.get("/clients/<int:client_id>/audit")
@login_required()
def audit_page(client_id: int):
    """The client's infrastructure audit, printable."""
    require("audit.read")
    limit = visible_client_id()
    if limit is not None and limit != client_id:
        abort(404)
    require_audit_reader()
    try:
        report = audit.client_audit(db.session(), client_id=client_id, now=datetime.now(UTC))
    except audit.AuditNotFound:
        abort(404)
    return render_template("quote_audit/audit.html", report=report)
