"""Languages of the web UI: Russian (the default, the source text of every template) and English.

Templates and views write their text in Russian inside ``_()``; the English catalogue
(``service/web/translations/en``) translates it. Codes of the store (statuses, priorities, groups, SLA
states, actions, targets) never reach a page: the filters below name them in the reader's language.
The chosen language lives in a long-lived cookie (this browser) and, for a logged-in user, on its login
(``users.language``), which wins over the cookie and decides the language of the mail it gets.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal
from flask import Flask, request
from flask_babel import Babel, get_locale, gettext, lazy_gettext

LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"
LANGUAGE_COOKIE = "precedent_lang"

_ = lazy_gettext

STATUS_LABELS = {
    "new": _("новая"), "triaged": _("рассортирована"), "in_progress": _("в работе"),
    "escalated": _("эскалирована"), "with_specialists": _("у специалистов"),
    "waiting_for_client": _("ждёт клиента"), "resolved": _("решена"), "closed": _("закрыта"),
    "reopened": _("переоткрыта"),
}
PRIORITY_LABELS = {"low": _("низкий"), "standard": _("обычный"), "high": _("высокий"), "highest": _("критический")}
GROUP_LABELS = {
    "workstations": _("рабочие места"), "network": _("сеть и VPN"), "servers": _("серверы"), "1c": _("1С"),
    "telephony": _("телефония"), "printers": _("принтеры и оргтехника"), "retail": _("торговое оборудование"),
    "mail": _("почта"), "security": _("безопасность и доступ"), "backup": _("резервное копирование"),
    "cabling": _("СКС и видеонаблюдение"),
}
SLA_STATE_LABELS = {"met": _("выполнен"), "on_track": _("в срок"), "paused": _("на паузе"),
                    "at_risk": _("под угрозой"), "breached": _("нарушен")}
ACTION_LABELS = {
    "triage": _("Рассортировать"), "take": _("Взять в работу"), "escalate": _("Эскалировать"),
    "assign_specialists": _("Назначить специалистов"), "request_info": _("Запросить информацию"),
    "client_replied": _("Клиент ответил"), "resolve": _("Решить"), "confirm": _("Подтвердить решение"),
    "close": _("Закрыть"), "reopen": _("Переоткрыть"),
    # journal-only events
    "create": _("создана"), "comment": _("комментарий"), "time_entry": _("трудозатраты"),
    "time_entry_corrected": _("трудозатраты исправлены"), "time_entry_deleted": _("трудозатраты удалены"),
    "update": _("изменены приоритет или группа"), "billing.stop_work": _("почасовые работы остановлены"),
    "billing.operation": _("типовая операция"), "billing.change_request": _("согласовано изменение цены"),
    "merged": _("объединена"),
}
TARGET_LABELS = {"reaction": _("реакция"), "work_start": _("начало работ"), "resolution": _("решение")}
#: The partner's own SLA towards us (service.sla.partner_clock): targets and states.
PARTNER_TARGET_LABELS = {"reaction": _("реакция"), "onsite": _("прибытие на место"), "resolution": _("решение")}
PARTNER_STATE_LABELS = {"met": _("выполнен"), "breached": _("нарушен"), "running": _("идёт"),
                        "overdue": _("просрочен"), "not_needed": _("не требовался")}
CHANNEL_LABELS = {"phone": _("телефон"), "email": _("почта"), "portal": _("портал"), "chat": _("чат"),
                  "monitoring": _("мониторинг")}
TYPE_LABELS = {"incident": _("инцидент"), "service_request": _("запрос на обслуживание"),
               "change_request": _("запрос на изменение"), "consultation": _("консультация")}
BILLING_LABELS = {"included": _("в абонементе"), "hourly": _("почасово"), "fixed": _("фиксированная цена")}
ROLE_LABELS = {"engineer_l1": _("инженер 1-й линии"), "engineer_l2": _("инженер 2-й линии"),
               "manager": _("менеджер"), "analyst": _("аналитик"), "admin": _("администратор"),
               "client": _("клиент"), "partner_engineer": _("инженер сервис-партнёра")}
NODE_KIND_LABELS = {
    "workstation": _("рабочая станция"), "server": _("сервер"), "virtualization_host": _("хост виртуализации"),
    "storage": _("хранилище"), "network_device": _("сетевое устройство"), "vpn_gateway": _("VPN-шлюз"),
    "printer": _("принтер"), "pbx": _("АТС"), "1c_base": _("база 1С"), "mail": _("почтовый сервер"),
    "backup": _("резервное копирование"), "retail_device": _("торговое оборудование"), "camera": _("камера"),
    "website": _("сайт"),
}
PLAN_LABELS = {"subscription": _("абонемент за рабочие места"), "package": _("пакет часов"),
               "prepaid": _("предоплата часов"), "unlimited": _("безлимитный"), "hourly": _("почасовой")}
CRITICALITY_LABELS = {"low": _("низкая"), "medium": _("средняя"), "high": _("высокая"), "critical": _("критичная")}
#: Journal fields, named for people.
FIELD_LABELS = {"from": _("из"), "to": _("в"), "reason": _("причина"), "priority": _("приоритет"),
                "group": _("группа"), "specialist_id": _("специалист"), "specialist_ids": _("специалисты"),
                "minutes": _("минут"), "resolution": _("решение"), "public": _("виден клиенту"),
                "on_site": _("выезд"), "off_hours_agreed": _("нерабочее время согласовано"),
                "work_kind": _("вид работ"), "released": _("снят с заявки"), "time_entry_id": _("запись"),
                "channel": _("канал"), "type": _("тип"), "triaged_by": _("кто сортировал"),
                "needs_human": _("нужна ручная сортировка"), "billing_mode": _("оплата"), "started_at": _("начало"),
                "note": _("что сделано"), "urgency": _("срочность"), "node_ids": _("узлы"),
                "spent_hours": _("потрачено часов"), "spent_amount": _("сумма"), "quantity": _("количество"),
                "kind": _("вид"), "new_price": _("новая цена"), "old_price": _("прежняя цена"),
                "previous_resolution": _("прежнее решение")}
TRIAGED_BY_LABELS = {"caller": _("указано при создании"), "triage": _("автосортировка"),
                     "triage failed": _("автосортировка не сработала")}
#: The search's reasons (Russian, from service.search) in the reader's language.
_SEARCH_REASONS = {"тот же клиент": _("тот же клиент"), "тот же тип узла": _("тот же тип узла"),
                   "близкий смысл": _("близкий смысл")}


def search_reason(text: str) -> str:
    """A reason of a search hit in the reader's language."""
    if text.startswith("общие слова: "):
        return gettext("общие слова: %(words)s", words=text.split(": ", 1)[1])
    return str(_SEARCH_REASONS.get(text, text))

ERROR_TITLES = {400: _("Неверный запрос"), 401: _("Нужен вход"), 403: _("Доступ запрещён"),
                404: _("Страница не найдена"), 405: _("Метод не поддерживается"), 409: _("Конфликт"),
                413: _("Слишком большой запрос"), 422: _("Проверьте введённые данные"),
                429: _("Слишком много запросов"), 500: _("Внутренняя ошибка")}
ERROR_TEXTS = {403: _("У вашей роли нет доступа к этой странице."),
               404: _("Такой страницы нет, или она вам недоступна."),
               500: _("Что-то пошло не так. Мы уже знаем об этом; попробуйте ещё раз позже.")}


def select_language() -> str:
    """The language of this request: ``?lang=`` (a shared link), else the logged-in user's own choice, else the
    one remembered on this browser, else Russian."""
    from service.platform.auth import current_user

    user = current_user()
    for chosen in (request.args.get("lang"), user.language if user is not None else None,
                   request.cookies.get(LANGUAGE_COOKIE)):
        if chosen in LANGUAGES:
            return chosen
    return DEFAULT_LANGUAGE


def label(table: dict, code) -> str:
    """The reader's name of ``code`` in ``table``; an unknown code as it is (never an empty cell)."""
    if code is None or code == "":
        return "—"
    text = table.get(code)
    return str(text) if text is not None else str(code)


def local_time(moment: datetime | None, zone: str | ZoneInfo | None = None, *, with_zone: bool = True) -> str:
    """``moment`` in ``zone`` (default UTC), formatted for the reader's language, with the zone's name."""
    if moment is None:
        return "—"
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone or "UTC")
    local = moment.astimezone(tz)
    text = format_datetime(local, "dd.MM.yyyy HH:mm" if str(get_locale()) == "ru" else "yyyy-MM-dd HH:mm",
                           locale=str(get_locale()))
    return f"{text} {local.tzname()}" if with_zone else text


def duration(seconds: float | None) -> str:
    """A span of time as days, hours and minutes in the reader's language ("−" in front when overdue)."""
    if seconds is None:
        return "—"
    sign = "−" if seconds < 0 else ""
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(gettext("%(n)d д", n=days))
    if hours or days:
        parts.append(gettext("%(n)d ч", n=hours))
    if not days:
        parts.append(gettext("%(n)d мин", n=minutes))
    return sign + " ".join(parts)


def number(value, digits: int = 2) -> str:
    """A number (money, hours) formatted for the reader's language."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = Decimal(value)
    return format_decimal(value, format="#,##0." + "0" * digits if digits else "#,##0", locale=str(get_locale()))


#: The ranking's reasons (ml.ranking, in English) as patterns, and how to say them.
_REASONS = (
    (re.compile(r"skill (\S+) level (\d+)"), lambda m: gettext("навык «%(g)s», уровень %(n)s",
                                                             g=label(GROUP_LABELS, m[1]), n=m[2])),
    (re.compile(r"top skill level (\d+)"), lambda m: gettext("лучший навык: уровень %(n)s", n=m[1])),
    (re.compile(r"resolved similar past incidents \((\S+) of the nearest\)"),
     lambda m: gettext("решал похожие инциденты (%(s)s ближайших)", s=m[1])),
    (re.compile(r"at capacity: (\d+)/(\d+) open tickets"),
     lambda m: gettext("загружен полностью: %(a)s из %(b)s заявок", a=m[1], b=m[2])),
    (re.compile(r"load (\d+)/(\d+) open tickets"), lambda m: gettext("нагрузка %(a)s из %(b)s заявок", a=m[1], b=m[2])),
    (re.compile(r"absent now"), lambda m: gettext("сейчас отсутствует")),
    (re.compile(r"working now"), lambda m: gettext("сейчас работает")),
    (re.compile(r"outside working hours"), lambda m: gettext("вне рабочего времени")),
    (re.compile(r"the client's field engineer \(on-site work\)"),
     lambda m: gettext("выездной инженер клиента (работа на месте)")),
    (re.compile(r"in region (.+)"), lambda m: gettext("в регионе %(r)s", r=m[1])),
    (re.compile(r"regional partner (.+)"), lambda m: gettext("региональный партнёр %(p)s", p=m[1])),
)

#: Working hours of each calendar, as people say them.
_CALENDAR_HOURS = {"10x5": _("пн–пт 9:00–19:00"), "8x5": _("пн–пт 9:00–18:00"), "24x7": _("круглосуточно")}


def reason(text: str) -> str:
    """One reason of the specialist ranking in the reader's language."""
    for pattern, say in _REASONS:
        found = pattern.fullmatch(text)
        if found:
            return say(found)
    return text


def calendar_hours(calendar: str | None) -> str:
    """The working hours of a calendar key in words."""
    return str(_CALENDAR_HOURS.get(calendar or "10x5", calendar or ""))


#: The workflow's refusals (English, for the API) as patterns, and how to say them on a page.
_REFUSALS = (
    (re.compile(r"\S+ (is required.*|must not be empty)"), lambda m: gettext("заполните это поле")),
    (re.compile(r"\S+ must have at most (\d+) characters"), lambda m: gettext("не длиннее %(n)s символов", n=m[1])),
    (re.compile(r"group is required.*"), lambda m: gettext("укажите группу: автоматическая сортировка её не определила")),
    (re.compile(r"specialist_ids must be a non-empty list.*"), lambda m: gettext("выберите хотя бы одного специалиста")),
    (re.compile(r"specialist \d+ is on line \d+.*"), lambda m: gettext("эскалировать можно только на 2-ю или 3-ю линию")),
    (re.compile(r"specialist \d+ (not found|is not active)"), lambda m: gettext("такого активного специалиста нет")),
    (re.compile(r".* must not be in the future|.*not in the future"), lambda m: gettext("не может быть в будущем")),
    (re.compile(r"\S+ must (not contain NUL characters|be valid Unicode text.*)"),
     lambda m: gettext("недопустимые символы в тексте")),
    (re.compile(r"nodes not found: .*"), lambda m: gettext("такого устройства у вас нет")),
    (re.compile(r"at most (\d+) files can be attached"), lambda m: gettext("не больше %(n)s файлов", n=m[1])),
    (re.compile(r"file (.+) is larger than (\d+) bytes"),
     lambda m: gettext("файл «%(f)s» больше %(n)s КБ", f=m[1], n=int(m[2]) // 1024)),
    (re.compile(r"file (.+) is empty"), lambda m: gettext("файл «%(f)s» пустой", f=m[1])),
    (re.compile(r"file (.+) is of a type not accepted.*"),
     lambda m: gettext("файлы такого типа не принимаются: «%(f)s»", f=m[1])),
    (re.compile(r"file (.+) is not a (\S+) file"),
     lambda m: gettext("файл «%(f)s» не является файлом %(t)s", f=m[1], t=m[2])),
    (re.compile(r"minutes must be an integer between 1 and 1440"), lambda m: gettext("от 1 до 1440 минут")),
    (re.compile(r"only the author of the entry or a manager.*"),
     lambda m: gettext("исправить запись может только её автор или менеджер")),
    (re.compile(r"open incident #(\d+) tracks the same alert.*"),
     lambda m: gettext("по этому оповещению уже открыт инцидент #%(n)s — дополните его", n=m[1])),
)
_FIELD_NAMES = {"body": _("текст"), "resolution": _("решение"), "reason": _("причина"), "group": _("группа"),
                "priority": _("приоритет"), "specialist_id": _("специалист"), "specialist_ids": _("специалисты"),
                "started_at": _("начало"), "minutes": _("минут"), "subject": _("тема"), "description": _("описание"),
                "action": _("действие"), "time_entry": _("запись о работе"), "comment": _("комментарий"),
                "node_ids": _("устройство"), "urgency": _("срочность"),
                "attachments": _("файлы")}


def refusal(error: Exception) -> str:
    """Why a form was refused, in the reader's language, naming the field (no internal codes)."""
    status = getattr(error, "status", None)
    if status is not None and hasattr(error, "allowed"):
        return gettext("Не выполнено: это действие недоступно, пока заявка в статусе «%(status)s».",
                       status=label(STATUS_LABELS, status))
    text = str(error)
    why = next((say(found) for pattern, say in _REFUSALS if (found := pattern.fullmatch(text))),
               gettext("недопустимое значение"))
    field = getattr(error, "field", None)
    if field:
        return gettext("Не выполнено: «%(field)s» — %(why)s.", field=label(_FIELD_NAMES, field), why=why)
    return gettext("Не выполнено: %(why)s.", why=why)


def error_title(code: int) -> str:
    """The heading of an error page."""
    return str(ERROR_TITLES.get(code, ERROR_TITLES[500] if code >= 500 else ERROR_TITLES[400]))


def error_text(code: int, message: str | None) -> str:
    """What an error page says: our own words for 403, 404 and 500 (never the framework's English)."""
    return str(ERROR_TEXTS[code]) if code in ERROR_TEXTS else (message or "")


def init_app(app: Flask) -> None:
    """Install Flask-Babel and the label filters the templates use."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "web/translations")
    Babel(app, locale_selector=select_language)
    tables = {"status": STATUS_LABELS, "priority": PRIORITY_LABELS, "group": GROUP_LABELS,
              "sla_state": SLA_STATE_LABELS, "action": ACTION_LABELS, "target": TARGET_LABELS,
              "channel": CHANNEL_LABELS, "ticket_type": TYPE_LABELS, "billing_mode": BILLING_LABELS,
              "role": ROLE_LABELS, "criticality": CRITICALITY_LABELS, "node_kind": NODE_KIND_LABELS, "plan": PLAN_LABELS, "field_name": FIELD_LABELS,
              "partner_target": PARTNER_TARGET_LABELS, "partner_state": PARTNER_STATE_LABELS}
    for name, table in tables.items():
        app.jinja_env.filters[name] = lambda code, _table=table: label(_table, code)
    app.jinja_env.filters["local"] = local_time
    app.jinja_env.filters["search_reason"] = search_reason
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.filters["number"] = number
    app.jinja_env.globals["current_language"] = lambda: str(get_locale())
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["error_title"] = error_title
    app.jinja_env.globals["error_text"] = error_text
