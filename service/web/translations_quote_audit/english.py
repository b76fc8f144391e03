"""English of the calculator and audit pages (domain ``quote_audit``); ``make_catalogue`` writes the .po and
.mo files from it: ``python -m service.web.translations_quote_audit.english``."""

from __future__ import annotations

from pathlib import Path

ENGLISH = {
    "Бронзовый": "Bronze", "Серебряный": "Silver", "Золотой": "Gold", "Платиновый": "Platinum",
    "Абонентское обслуживание по рабочим местам": "Subscription per workstation and server",
    "Пакет часов (неизрасходованные часы сгорают)": "Hour package (unused hours expire)",
    "Безлимитное обслуживание": "Unlimited support",
    "без регулярных выездов": "no regular visits", "раз в месяц": "monthly", "раз в две недели": "every two weeks",
    "каждую неделю": "weekly",
    "рабочее место": "workstation", "сервер": "server", "хост виртуализации": "virtualization host",
    "СХД": "storage", "сетевое устройство": "network device", "VPN-шлюз": "VPN gateway", "принтер": "printer",
    "АТС": "PBX", "база 1С": "1C database", "почта": "mail", "резервное копирование": "backup",
    "торговое оборудование": "retail device", "камера": "camera", "сайт": "website",
    "низкая": "low", "средняя": "medium", "высокая": "high", "критичная": "critical",
    "Рабочие места": "Workstations", "Серверы": "Servers", "Уровень обслуживания": "Service level",
    "Тариф": "Plan", "Пакет, часов в месяц": "Package, hours a month",
    "Регулярные выезды инженера": "Regular on-site visits", "Предоплата, месяцев": "Prepayment, months",
    "Первый месяц": "First month", "Название клиента": "Client name",
    "Валюта": "Currency", "Ставка часа работ": "Hourly rate",
    "Коэффициент работ вне графика (1,5–2)": "Off-hours coefficient (1.5–2)",
    "Абонемент: рабочее место в месяц": "Subscription: workstation a month",
    "Абонемент: сервер в месяц": "Subscription: server a month",
    "Абонемент: скидка на час, % (до 15)": "Subscription: hourly discount, % (up to 15)",
    "Пакет часов: скидка на час, % (до 15)": "Hour package: hourly discount, % (up to 15)",
    "Безлимит: рабочее место в месяц": "Unlimited: workstation a month",
    "Безлимит: сервер в месяц": "Unlimited: server a month",
    "Безлимит: минимальная плата в месяц": "Unlimited: minimum monthly fee",
    "Безлимит: скидка на час, % (до 50)": "Unlimited: hourly discount, % (up to 50)",
    "Выезды раз в месяц: надбавка, % (10–20)": "Monthly visits: surcharge, % (10–20)",
    "Выезды раз в две недели: надбавка, % (10–20)": "Visits every two weeks: surcharge, % (10–20)",
    "Выезды каждую неделю: надбавка, % (10–20)": "Weekly visits: surcharge, % (10–20)",
    "Пакет %(hours)s ч: плата в месяц": "Package of %(hours)s h: monthly fee",
    "Договор не создан: %(field)s — %(message)s": "No contract created: %(field)s — %(message)s",
    "Клиент «%(name)s» и черновик договора созданы; ниже первый счёт по нему.":
        "Client “%(name)s” and a draft contract created; below is its first invoice.",
    "Тарифы сохранены.": "Rates saved.",
    "Аудит ИТ-инфраструктуры": "IT infrastructure audit",
    "Справка по состоянию инфраструктуры и типовым ИТ-рискам по узлам и истории инцидентов за %(days)s дней "
    "(по %(to)s).": "The state of the infrastructure and its typical IT risks, from its nodes and the incident "
                    "history of %(days)s days (up to %(to)s).",
    "Узлов: %(nodes)s, критичных: %(critical)s, под мониторингом: %(monitored)s; инцидентов за период: "
    "%(incidents)s.": "Nodes: %(nodes)s, critical: %(critical)s, monitored: %(monitored)s; incidents in the period: "
                      "%(incidents)s.",
    "Единых точек отказа: %(spof)s; критичных узлов без мониторинга: %(unmonitored)s, без резерва: "
    "%(nobackup)s; без плана на случай отказа: %(gaps)s.":
        "Single points of failure: %(spof)s; critical nodes without monitoring: %(unmonitored)s, without a "
        "backup: %(nobackup)s; without a plan for their failure: %(gaps)s.",
    "Что мы будем делать, когда узел выйдет из строя": "What we do when a node fails",
    "Критичный узел": "Critical node", "Зависят": "Dependents", "Резерв": "Backup", "План действий": "Plan",
    "нет": "none", "Инструкция": "Runbook", "пробел: инструкции нет — её нужно написать":
        "gap: no runbook — one must be written",
    "Критичных узлов не отмечено.": "No node is marked critical.",
    "Единые точки отказа": "Single points of failure",
    "Узлы, от которых зависят не менее %(n)s других, без резервного узла.":
        "Nodes at least %(n)s others depend on, with no backup node.",
    "Узел": "Node", "Критичность": "Criticality", "Что остановится": "What stops", "Мониторинг": "Monitoring",
    "есть": "yes", "Не найдено.": "None found.",
    "Критичные узлы без мониторинга или резерва": "Critical nodes without monitoring or a backup",
    "Резервный узел": "Backup node", "Повторяющиеся инциденты": "Recurring incidents",
    "Узлы с %(n)s и более инцидентами за период и связанные известные проблемы.":
        "Nodes with %(n)s or more incidents in the period, and the known problems linked to them.",
    "Инцидентов": "Incidents", "Последние": "Latest", "Известные проблемы": "Known problems",
    "не заведена — стоит разобрать причину": "none recorded — the cause is worth a look",
    "Среднее время восстановления по типам узлов": "Mean time to restore by node kind",
    "Тип узла": "Node kind", "Решённых инцидентов": "Resolved incidents", "Среднее, ч": "Mean, h",
    "Медиана, ч": "Median, h", "Максимум, ч": "Maximum, h",
    "Время от регистрации инцидента до его решения, в календарных часах.":
        "From an incident's registration to its resolution, in calendar hours.",
    "Решённых инцидентов за период нет.": "No incident resolved in the period.",
    "Калькулятор стоимости ИТ-обслуживания": "IT support price calculator",
    "Введите количество техники, требующей поддержки, — предложение рассчитывается автоматически по тем же "
    "тарифам, по которым выставляются счета.": "Enter how much equipment needs support — the offer is computed "
                                              "at once, by the same rates invoices are billed at.",
    "Проверьте поле «%(field)s»: %(message)s": "Check “%(field)s”: %(message)s",
    "Уровень обслуживания (SLA)": "Service level (SLA)", "Рассчитать": "Calculate", "уровень": "level",
    "Что входит": "What is included", "Кол-во": "Qty", "Цена": "Price", "Сумма в месяц": "Monthly amount",
    "Обслуживание серверов": "Server support", "Обслуживание рабочих мест": "Workstation support",
    "Ставка %(rate)s за единицу": "Rate %(rate)s per unit", "коэффициент уровня": "level coefficient",
    "регулярные выезды (%(visits)s) +%(percent)s %%": "regular visits (%(visits)s) +%(percent)s %%",
    "Пакет %(hours)s ч в месяц": "Package of %(hours)s h a month",
    "Абонентская плата пакета %(fee)s": "Package fee %(fee)s",
    "Неизрасходованные часы сгорают; сверх пакета — по ставке часа со скидкой тарифа.":
        "Unused hours expire; beyond the package, the hourly rate less the plan's discount.",
    "%(ws)s рабочих мест × %(ws_rate)s + %(srv)s серверов × %(srv_rate)s = %(by_seats)s; не меньше %(minimum)s":
        "%(ws)s workstations × %(ws_rate)s + %(srv)s servers × %(srv_rate)s = %(by_seats)s; at least %(minimum)s",
    "Количество выездов не ограничено.": "On-site visits are not limited.",
    "Скидка за предоплату": "Prepayment discount",
    "Предоплата за %(months)s мес.: %(percent)s %% от абонентской платы":
        "Prepaid for %(months)s months: %(percent)s %% off the monthly fee",
    "Итого в месяц": "Total a month", "К оплате за %(months)s мес. вперёд": "Due for %(months)s months ahead",
    "Работы вне договора — по ставке %(rate)s за час со скидкой тарифа %(discount)s %%; вне графика без "
    "согласования — с коэффициентом %(coefficient)s. Первый месяц договора: %(month)s.":
        "Work outside the contract: %(rate)s an hour less the plan's %(discount)s %%; outside the calendar "
        "without agreement, times %(coefficient)s. The contract's first month: %(month)s.",
    "Черновик договора для нового клиента": "Draft contract for a new client",
    "Создать клиента и договор": "Create the client and the contract",
    "Тарифы калькулятора": "Calculator rates",
    "По этим ставкам считает калькулятор и составляются договоры из расчётов; действующие договоры хранят свои "
    "ставки.": "The calculator prices by these rates, and contracts made from quotes get them; contracts in "
              "force keep their own rates.",
    "Не сохранено: %(field)s — %(message)s": "Not saved: %(field)s — %(message)s",
    "введите целое число": "enter a whole number",
    "укажите, сколько рабочих мест и серверов нужно обслуживать": "enter how many workstations and servers need support",
    "введите число от 0 до %(max)s; больший парк рассчитает менеджер":
        "enter a number from 0 to %(max)s; a manager quotes a larger fleet",
    "выберите пакет часов — он указывается только для тарифа «Пакет часов»":
        "choose an hour package — it is given with the hour package plan only",
    "регулярные выезды считаются только в абонементе по рабочим местам":
        "regular visits are priced with the per-seat subscription only",
    "укажите название нового клиента; клиента с таким названием ещё нет":
        "enter the new client's name; no client may have it yet",
    "выберите значение из списка": "choose a value from the list",
    "И ещё узлов с повторяющимися инцидентами: %(n)s (полный список — в JSON аудита).":
        "And %(n)s more nodes with recurring incidents (the full list is in the audit's JSON).",
    "Ставка": "Rate", "Значение": "Value", "Сохранить": "Save",
}


def make_catalogue(directory: Path = Path(__file__).parent) -> Path:
    """Write en/LC_MESSAGES/quote_audit.po and .mo from :data:`ENGLISH`."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import write_po

    catalog = Catalog(locale="en", domain="quote_audit", project="Precedent")
    for source, english in ENGLISH.items():
        catalog.add(source, english, flags=("python-format",) if "%(" in source else ())
    target = directory / "en" / "LC_MESSAGES"
    target.mkdir(parents=True, exist_ok=True)
    with open(target / "quote_audit.po", "wb") as po:
        write_po(po, catalog, omit_header=False, width=120)
    with open(target / "quote_audit.mo", "wb") as mo:
        write_mo(mo, catalog)
    return target


if __name__ == "__main__":
    print(make_catalogue())
