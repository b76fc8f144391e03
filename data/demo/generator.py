"""The demo knowledge base generator: clients, nodes, specialists, tickets, articles, known problems, users.

One ``random.Random(seed)`` drives everything and no value depends on the clock, so a seed always
produces the same rows (ids included). Each concern has its own ``build_*`` step, run in order by
:func:`build_demo`; they share a :class:`DemoContext` that holds what later steps need (ids, pools).
Rows are written with bulk ``INSERT``s in batches, so 100,000 tickets build in minutes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, or_, select, text
from sqlalchemy.orm import Session

from kb import vocab
from kb.models import (
    Absence,
    ApiToken,
    Article,
    Assignment,
    AuditEvent,
    Base,
    Client,
    Comment,
    KnownProblem,
    Node,
    Partner,
    Skill,
    SlaPause,
    Specialist,
    Ticket,
    TimeEntry,
    User,
    known_problem_tickets,
    node_dependencies,
    ticket_nodes,
)
from service.platform.auth import hash_password
from service.sla.calendar import WEEKLY_HOURS, BusinessCalendar
from service.sla.policies import get_policy

from . import contracts as demo_contracts
from . import text as tx
from .resilience import build_resilience
from .scenarios import ALERTS, SCENARIOS, SOFTWARE

DEFAULT_SEED = 42
DEFAULT_TICKETS = 6000
#: The demo history ends here (UTC); tickets span the 18 months before it.
HISTORY_END = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
HISTORY_DAYS = 548
BATCH = 4000
DEMO_PASSWORD = "demo-password"
OUR_DOMAIN = "precedent-service.ru"
#: Every demo client is in Russia: its calendar skips Russian public holidays.
COUNTRY = "RU"
PARTNER = "ООО «УралТехСервис»"
#: The regional service partner as data: it serves the regional offices of АО «УралТоргСеть» (no rng drawn,
#: so a seed's other rows stay as they were). Login ``partner-ural`` sees only the tickets assigned to it.
PARTNER_ROW = {"name": PARTNER, "regions": ["Челябинск", "Тюмень", "Пермь"], "contract_ref": "СП-2024/03",
               "reaction_hours": 2.0, "onsite_hours": 8.0, "resolution_hours": 24.0, "hourly_rate": Decimal("1100.00"),
               "calendar": "10x5", "timezone": "Asia/Yekaterinburg", "country": "RU", "active": True}
PARTNER_LOGIN = "partner-ural"


class DemoError(Exception):
    """The demo cannot be built as asked (e.g. the database already holds data)."""


# --- clients -------------------------------------------------------------------------------------

CLIENTS = [
    {"key": "vektor", "name": "ООО «Вектор Логистик»", "sla": "silver", "calendar": "10x5", "tz": "Europe/Moscow",
     "region": "Москва", "domain": "vektor-log.ru", "prefix": "VKL", "nodes": 46, "profile": "office",
     "manager": "Воронцова Екатерина", "engineer": "Соколов Дмитрий", "weight": 1.0},
    {"key": "uts", "name": "АО «УралТоргСервис»", "sla": "platinum", "calendar": "24x7", "tz": "Asia/Yekaterinburg",
     "region": "Екатеринбург", "domain": "uraltorg.ru", "prefix": "UTS", "nodes": 80, "profile": "retail",
     "offices": ["Челябинск", "Тюмень", "Пермь"], "manager": "Малышев Степан", "engineer": "Ефимов Роман",
     "weight": 1.8},
    {"key": "sibmed", "name": "ООО «СибМедЦентр»", "sla": "24x7x4", "calendar": "24x7", "tz": "Asia/Novosibirsk",
     "region": "Новосибирск", "domain": "sibmedcenter.ru", "prefix": "SMC", "nodes": 62, "profile": "clinic",
     "manager": "Малышев Степан", "engineer": "Зайцев Игорь", "weight": 1.3},
    {"key": "kontur", "name": "ООО «Архитектурное бюро Контур»", "sla": "bronze", "calendar": "8x5",
     "tz": "Europe/Moscow", "region": "Москва", "domain": "ab-kontur.ru", "prefix": "ABK", "nodes": 31,
     "profile": "office", "manager": "Воронцова Екатерина", "engineer": "Соколов Дмитрий", "weight": 0.6},
    {"key": "promsnab", "name": "ЗАО «ПромСнаб-Сибирь»", "sla": "gold", "calendar": "8x5", "tz": "Asia/Novosibirsk",
     "region": "Новосибирск", "domain": "promsnab-sib.ru", "prefix": "PSS", "nodes": 55, "profile": "industry",
     "manager": "Кудрявцева Алина", "engineer": "Зайцев Игорь", "weight": 1.1},
    {"key": "lexis", "name": "ООО «Лексис и партнёры»", "sla": "kit_package", "calendar": "10x5",
     "tz": "Europe/Moscow", "region": "Москва", "domain": "lexis-law.ru", "prefix": "LEX", "nodes": 34,
     "profile": "office", "manager": "Кудрявцева Алина", "engineer": "Титова Ольга", "weight": 0.7},
]

#: Node kinds per client profile: kind -> count (workstations fill up to the client's node count).
PROFILES = {
    "office": {"server": 3, "virtualization_host": 1, "storage": 1, "network_device": 4, "vpn_gateway": 1,
               "printer": 4, "pbx": 1, "1c_base": 2, "mail": 1, "backup": 1, "camera": 2, "website": 1},
    "retail": {"server": 3, "virtualization_host": 2, "storage": 1, "network_device": 5, "vpn_gateway": 4,
               "printer": 3, "pbx": 1, "1c_base": 3, "mail": 1, "backup": 1, "camera": 8, "website": 1,
               "retail_device": 30},
    "clinic": {"server": 4, "virtualization_host": 2, "storage": 1, "network_device": 5, "vpn_gateway": 1,
               "printer": 7, "pbx": 1, "1c_base": 2, "mail": 1, "backup": 1, "camera": 6, "website": 1,
               "retail_device": 2},
    "industry": {"server": 4, "virtualization_host": 2, "storage": 1, "network_device": 6, "vpn_gateway": 2,
                 "printer": 5, "pbx": 1, "1c_base": 3, "mail": 1, "backup": 1, "camera": 6, "website": 1,
                 "retail_device": 4},
}
SERVER_ROLES = [("DC01", "Контроллер домена AD, DNS, DHCP", "Windows Server 2019"),
                ("FS01", "Файловый сервер", "Windows Server 2019"),
                ("APP1C", "Сервер 1С:Предприятие 8.3 + MS SQL 2019", "Windows Server 2022"),
                ("TS01", "Терминальный сервер RDS", "Windows Server 2022"),
                ("DC02", "Резервный контроллер домена", "Windows Server 2022")]
BASES_1C = [("1C-BP", "Бухгалтерия предприятия 3.0"), ("1C-ZUP", "Зарплата и управление персоналом 3.1"),
            ("1C-UT", "Управление торговлей 11"), ("1C-ERP", "1С:ERP 2"), ("1C-MED", "Медицина. Поликлиника")]
RETAIL_DEVICES = [("POS", "fiscal", ["АТОЛ 30Ф", "Штрих-М-01Ф", "Эвотор 7.2", "АТОЛ Sigma 10"]),
                  ("SC", "scales", ["CAS CL5000J", "Штрих-Принт М", "Mettler Toledo bPlus"]),
                  ("LP", "label", ["Zebra ZD421", "Godex G500", "Zebra GK420t"]),
                  ("BS", "scanner", ["Honeywell 1450g", "Zebra DS2208", "Mertech 2310 P2D"])]
MODELS = {
    "workstation": ["Dell OptiPlex 3080", "HP ProDesk 400 G7", "Lenovo ThinkCentre M70q", "iRU Office 313",
                    "Lenovo ThinkPad E14", "HP ProBook 450 G8"],
    "server": ["Dell PowerEdge R740", "HPE ProLiant DL380 Gen10", "VM"],
    "virtualization_host": ["Dell PowerEdge R750 (Hyper-V)", "HPE ProLiant DL360 Gen10 (VMware ESXi 7)"],
    "storage": ["Synology RS1221+", "HPE MSA 2050", "QNAP TS-873A"],
    "network_device": ["Cisco Catalyst 2960X", "MikroTik CCR1036", "Cisco Catalyst 9200", "Ubiquiti UniFi AP AC Pro",
                       "MikroTik RB4011"],
    "vpn_gateway": ["Cisco ASA 5516-X", "Cisco ISR 4331", "Cisco ASA 5506-X"],
    "printer": ["Kyocera ECOSYS M2540dn", "HP LaserJet Pro M428fdn", "Canon i-SENSYS MF443dw", "Xerox B215",
                "Kyocera TASKalfa 2553ci"],
    "pbx": ["Asterisk 18 (FreePBX 16)", "Asterisk 20 (Issabel)"],
    "mail": ["Microsoft Exchange 2019", "Microsoft 365 (гибрид)", "Postfix + Dovecot"],
    "backup": ["Veeam Backup & Replication 12", "Synology Active Backup"],
    "camera": ["Hikvision DS-2CD2143G2", "Dahua IPC-HFW2431S", "Hikvision NVR DS-7616NI"],
    "website": ["Bitrix, VPS Ubuntu 22.04", "WordPress, VPS Debian 12"],
}
OS_BY_KIND = {"workstation": ["Windows 10 Pro 22H2", "Windows 11 Pro 23H2", "Windows 10 Pro 21H2"],
              "virtualization_host": ["Windows Server 2019 Hyper-V", "VMware ESXi 7.0U3"],
              "website": ["Ubuntu 22.04", "Debian 12"], "pbx": ["Debian 11", "Rocky Linux 8"]}
MANAGER_EMAILS = {"Воронцова Екатерина": "e.vorontsova", "Малышев Степан": "s.malyshev",
                  "Кудрявцева Алина": "a.kudryavtseva"}

# --- specialists ---------------------------------------------------------------------------------

SPECIALISTS = [
    # name, line, region, partner, calendar, tz, capacity, skills
    ("Кравченко Анна", 1, "Москва", None, "10x5", "Europe/Moscow", 25,
     {"workstations": 3, "printers": 3, "mail": 2, "1c": 1}),
    ("Белов Кирилл", 1, "Москва", None, "24x7", "Europe/Moscow", 25,
     {"workstations": 3, "security": 2, "telephony": 2, "network": 1}),
    ("Гусева Дарья", 1, "Новосибирск", None, "24x7", "Asia/Novosibirsk", 25,
     {"workstations": 2, "1c": 2, "retail": 2, "printers": 2}),
    ("Соколов Дмитрий", 2, "Москва", None, "10x5", "Europe/Moscow", 15,
     {"workstations": 4, "network": 3, "printers": 4, "cabling": 3}),
    ("Лебедев Артём", 2, "Москва", None, "10x5", "Europe/Moscow", 12,
     {"servers": 4, "backup": 4, "network": 3, "mail": 2}),
    ("Орлова Мария", 2, "Москва", None, "10x5", "Europe/Moscow", 12, {"1c": 4, "backup": 2, "retail": 2}),
    ("Никитин Павел", 2, "Москва", None, "10x5", "Europe/Moscow", 12,
     {"network": 4, "security": 4, "telephony": 3}),
    ("Зайцев Игорь", 2, "Новосибирск", None, "10x5", "Asia/Novosibirsk", 15,
     {"workstations": 4, "printers": 4, "cabling": 4, "retail": 3, "network": 2}),
    ("Ефимов Роман", 2, "Екатеринбург", None, "10x5", "Asia/Yekaterinburg", 15,
     {"retail": 4, "workstations": 3, "network": 2, "cabling": 2}),
    ("Титова Ольга", 2, "Москва", None, "10x5", "Europe/Moscow", 12,
     {"mail": 4, "workstations": 3, "security": 3}),
    ("Громов Константин", 3, "Москва", None, "10x5", "Europe/Moscow", 8, {"1c": 5, "servers": 3}),
    ("Шестаков Виктор", 3, "Москва", None, "10x5", "Europe/Moscow", 8,
     {"network": 5, "security": 5, "telephony": 4}),
    ("Фролов Андрей", 3, "Новосибирск", None, "10x5", "Asia/Novosibirsk", 8,
     {"servers": 5, "backup": 5, "mail": 4, "cabling": 2}),
    ("Мухаметов Ринат", 2, "Челябинск", PARTNER, "10x5", "Asia/Yekaterinburg", 10,
     {"retail": 4, "workstations": 3, "cabling": 3, "printers": 2}),
    ("Чернова Светлана", 2, "Тюмень", PARTNER, "10x5", "Asia/Yekaterinburg", 10,
     {"workstations": 3, "printers": 4, "retail": 3, "network": 2}),
]
#: Groups worked mostly on site.
ON_SITE_SHARE = {"printers": 0.5, "cabling": 0.9, "retail": 0.45, "workstations": 0.25, "servers": 0.1,
                 "network": 0.2, "telephony": 0.2}
#: Why the SLA clock of a ticket was paused (waiting for the client).
PAUSE_REASONS = ["Ожидание ответа клиента", "Ожидание доступа от клиента", "Ожидание поставки запчасти",
                 "Клиент просил отложить", "Ждём пользователя на месте"]
#: Misrouting noise: a ticket's group is sometimes a neighbouring one (real desks disagree too).
NEIGHBOUR_GROUPS = {"workstations": ["printers", "mail", "security"], "network": ["security", "cabling", "servers"],
                    "servers": ["backup", "network"], "1c": ["servers", "retail"], "telephony": ["network"],
                    "printers": ["workstations"], "retail": ["1c", "workstations"], "mail": ["workstations", "security"],
                    "security": ["workstations", "network"], "backup": ["servers"], "cabling": ["network"]}
#: Known problems beyond those in the scenarios.
EXTRA_PROBLEMS = {
    "ws_update_fail": {"title": "Накопительное обновление Windows не устанавливается (0x800f081f)",
                       "cause": "Повреждено хранилище компонентов WinSxS после неудачного обновления.",
                       "workaround": "DISM /Online /Cleanup-Image /RestoreHealth с источником install.wim, затем установка."},
    "srv_disk_full": {"title": "Переполнение системного диска серверов логами IIS и WinSxS",
                      "cause": "Не настроена ротация логов IIS, хранилище компонентов не чистится.",
                      "workaround": "Удалить логи старше 30 дней, DISM /StartComponentCleanup; настроить задание очистки."},
    "rt_egais": {"title": "УТМ ЕГАИС не стартует после перезагрузки кассового сервера",
                 "cause": "Служба транспортного модуля запускается раньше драйвера токена и падает.",
                 "workaround": "Запустить службу УТМ вручную; поставить отложенный запуск службы."},
}
ALERT_SCENARIO = {"NodeDown": "srv_hyperv", "DiskSpaceLow": "srv_disk_full", "HostHighCpuLoad": "srv_cpu",
                  "BackupJobFailed": "bk_job_failed", "SipTrunkDown": "tel_no_calls", "VpnTunnelDown": "net_site_vpn",
                  "InterfaceDown": "net_no_internet", "SslCertExpiring": "sec_cert",
                  "MailQueueHigh": "mail_server_down", "CameraOffline": "cab_camera", "RaidDegraded": "srv_raid"}
GENERAL_ARTICLES = [
    ("Регламент эскалации заявок на вторую и третью линию", None,
     ["Первая линия работает заявку не дольше отведённого тайм-бокса.",
      "Если решение не найдено — эскалация на вторую линию с описанием сделанного.",
      "Узкие специалисты подключаются по группе; над заявкой могут работать несколько человек."]),
    ("Как правильно оформить заявку: памятка для пользователей клиента", None,
     ["Одна проблема — одна заявка.", "Укажите имя компьютера или узла, текст ошибки и скриншот.",
      "Укажите, у скольких сотрудников проблема и насколько она мешает работе."]),
    ("Работы вне графика поддержки: согласование и тарификация", None,
     ["Работы вне календаря клиента согласуются заранее.", "Несогласованные работы вне графика — с повышающим коэффициентом.",
      "Согласование фиксируется в заявке комментарием."]),
    ("Выезд инженера на площадку клиента", "workstations",
     ["Выезд планируется, если удалённо решить нельзя.", "Выездной инженер фиксирует время на площадке в заявке.",
      "В регионах выезды выполняют сервис-партнёры."]),
    ("Приоритеты заявок и сроки SLA", None,
     ["Наивысший: остановлен бизнес-процесс у всех.", "Высокий: не работает отдел или критичный узел.",
      "Стандартный: проблема одного пользователя.", "Низкий: консультации и плановые запросы."]),
    ("Работа с региональными сервис-партнёрами", None,
     ["Заявки по региональным офисам назначаются партнёру региона.", "Партнёр работает по нашему SLA и фиксирует работы.",
      "Контроль и приёмка — ответственный инженер второй линии."]),
]


@dataclass
class DemoContext:
    """What the build steps share: the random source, sizes and the ids created so far."""

    rng: random.Random
    tickets: int
    clients: list[dict] = field(default_factory=list)
    nodes_by_client: dict[int, list[dict]] = field(default_factory=dict)
    specialists: list[dict] = field(default_factory=list)
    specialist_by_name: dict[str, int] = field(default_factory=dict)
    scenario_tickets: dict[str, list[int]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    partner_id: int | None = None

    def next_id(self, table: str) -> int:
        """Explicit ids keep the rows identical for a seed and let children reference parents before insert."""
        self.ids[table] = self.ids.get(table, 0) + 1
        return self.ids[table]


def _bulk(session: Session, model, rows: list[dict]) -> None:
    """Core executemany INSERT (no ORM unit of work: ten times faster for history-sized batches)."""
    if rows:
        session.execute(insert(getattr(model, "__table__", model)), rows)


# --- calendar ------------------------------------------------------------------------------------


@cache
def _calendar(name: str, timezone: str) -> BusinessCalendar:
    """The business calendar of SLA, billing and the workflow (``service.sla.calendar``): weekly hours in
    ``timezone``, minus Russian public holidays, plus the Saturdays Russia made working days."""
    return BusinessCalendar(name, timezone, COUNTRY)


def _sla_calendar(client: dict) -> BusinessCalendar:
    """The calendar the client's SLA clocks run in (the policy's own calendar wins, e.g. 24x7x4)."""
    return _calendar(get_policy(client["sla"]).calendar or client["calendar"], client["tz"])


# --- build steps ---------------------------------------------------------------------------------


def build_specialists(session: Session, ctx: DemoContext) -> None:
    """About 15 specialists on lines 1-3 with skills, regions, a regional partner, absences and capacity."""
    rng = ctx.rng
    skill_rows, absence_rows, rows = [], [], []
    ctx.partner_id = ctx.next_id("partners")
    _bulk(session, Partner, [{"id": ctx.partner_id, **PARTNER_ROW, "created_at": HISTORY_END}])
    for name, line, region, partner, calendar, tz, capacity, skills in SPECIALISTS:
        sid = ctx.next_id("specialists")
        last, first = name.split(" ")
        email = f"{tx.translit(first[0])}.{tx.translit(last)}@" + (
            "uraltechservice.ru" if partner else OUR_DOMAIN)
        rows.append({"id": sid, "external_id": f"DEMO-SP-{sid:03d}", "name": name, "email": email, "line": line,
                     "region": region, "partner": partner, "calendar": calendar, "timezone": tz,
                     "partner_id": ctx.partner_id if partner == PARTNER else None,
                     "capacity": capacity, "active": True})
        for group, level in skills.items():
            skill_rows.append({"id": ctx.next_id("skills"), "specialist_id": sid, "group": group, "level": level})
        # Two to four absences over the history: vacations and sick leave.
        for _ in range(rng.randint(2, 4)):
            start = HISTORY_END - timedelta(days=rng.randint(5, HISTORY_DAYS))
            vacation = rng.random() < 0.6
            length = rng.randint(7, 14) if vacation else rng.randint(2, 6)
            start = start.replace(hour=0, minute=0, second=0, microsecond=0)
            absence_rows.append({"id": ctx.next_id("absences"), "specialist_id": sid, "starts_at": start,
                                 "ends_at": start + timedelta(days=length),
                                 "reason": "Отпуск" if vacation else "Больничный"})
        ctx.specialists.append({"id": sid, "name": name, "line": line, "region": region, "partner": partner,
                                "skills": skills, "calendar": calendar})
        ctx.specialist_by_name[name] = sid
    # Someone is away right now, so "working now" matters in the demo.
    away = ctx.specialist_by_name["Лебедев Артём"]
    absence_rows.append({"id": ctx.next_id("absences"), "specialist_id": away,
                         "starts_at": HISTORY_END - timedelta(days=3), "ends_at": HISTORY_END + timedelta(days=9),
                         "reason": "Отпуск"})
    _bulk(session, Specialist, rows)
    _bulk(session, Skill, skill_rows)
    _bulk(session, Absence, absence_rows)
    ctx.counts.update(specialists=len(rows), skills=len(skill_rows), absences=len(absence_rows))


def build_clients(session: Session, ctx: DemoContext) -> None:
    """Six client companies with different SLA tiers, calendars, time zones and a regional partner set-up."""
    rng = ctx.rng
    rows = []
    for spec in CLIENTS:
        cid = ctx.next_id("clients")
        manager_login = MANAGER_EMAILS[spec["manager"]]
        rows.append({"id": cid, "external_id": f"DEMO-CL-{spec['key']}", "name": spec["name"],
                     "sla_policy": spec["sla"], "calendar": spec["calendar"], "timezone": spec["tz"],
                     "country": COUNTRY, "region": spec["region"], "manager": spec["manager"],
                     "manager_email": f"{manager_login}@{OUR_DOMAIN}", "email": f"it@{spec['domain']}",
                     "email_domains": [spec["domain"]],
                     "field_engineer_id": ctx.specialist_by_name[spec["engineer"]],
                     "created_at": HISTORY_END - timedelta(days=HISTORY_DAYS + rng.randint(10, 400))})
        people = [tx.person(rng, spec["profile"]) for _ in range(rng.randint(25, 60))]
        for who in people:
            who["email"] = f"{tx.translit(who['first'][0])}.{tx.translit(who['last'])}@{spec['domain']}"
        ctx.clients.append({**spec, "id": cid, "people": people, "zone": ZoneInfo(spec["tz"])})
    _bulk(session, Client, rows)
    ctx.counts["clients"] = len(rows)


def _ip(rng: random.Random, subnet: int) -> str:
    return f"10.{subnet}.{rng.randint(0, 3)}.{rng.randint(10, 250)}"


@dataclass
class _Site:
    """One client's infrastructure while its nodes are drawn: ``add`` appends a node row to ``nodes``."""

    ctx: DemoContext
    client: dict
    subnet: int
    plan: dict[str, int]
    nodes: list[dict] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return self.client["prefix"]

    @property
    def offices(self) -> list[str]:
        return self.client.get("offices", [])

    def ip(self) -> str:
        return _ip(self.ctx.rng, self.subnet)

    def add(self, kind: str, name: str, attributes: dict, criticality: str, monitored: bool, region=None) -> dict:
        node = {"id": self.ctx.next_id("nodes"), "external_id": f"DEMO-ND-{self.prefix}-{name}",
                "client_id": self.client["id"], "kind": kind, "name": name, "attributes": attributes,
                "criticality": criticality, "monitored": monitored, "region": region}
        self.nodes.append(node)
        return node


def _core_nodes(site: _Site, rng: random.Random) -> None:
    """Servers by role, virtualization hosts, storage, the network and the VPN gateways."""
    plan, prefix, subnet, offices = site.plan, site.prefix, site.subnet, site.offices
    for number in range(plan.get("server", 0)):
        suffix, role, os_name = SERVER_ROLES[number % len(SERVER_ROLES)]
        site.add("server", f"{prefix}-{suffix}", {"os": os_name, "model": rng.choice(MODELS["server"]),
                                                  "ip": site.ip(), "role": role},
                 "critical" if suffix in ("DC01", "APP1C") else "high", True)
    for number in range(plan.get("virtualization_host", 0)):
        site.add("virtualization_host", f"{prefix}-HV{number + 1:02d}",
                 {"os": rng.choice(OS_BY_KIND["virtualization_host"]), "model": rng.choice(MODELS["virtualization_host"]),
                  "ip": site.ip(), "role": "Хост виртуализации"}, "critical", True)
    for number in range(plan.get("storage", 0)):
        site.add("storage", f"{prefix}-NAS{number + 1:02d}", {"model": rng.choice(MODELS["storage"]),
                                                               "ip": site.ip(), "role": "СХД / NAS"}, "high", True)
    for number in range(plan.get("network_device", 0)):
        model = rng.choice(MODELS["network_device"])
        if number == plan["network_device"] - 1:
            model = "Ubiquiti UniFi AP AC Pro"  # every office has Wi-Fi
        label = "AP" if "UniFi" in model else ("GW" if number == 0 else "SW")
        site.add("network_device", f"{prefix}-{label}{number + 1:02d}",
                 {"model": model, "ip": f"10.{subnet}.0.{number + 1}",
                  "role": "Точка доступа Wi-Fi" if label == "AP" else ("Маршрутизатор / шлюз" if label == "GW" else "Коммутатор доступа")},
                 "critical" if label == "GW" else "medium", label != "AP")
    for number in range(plan.get("vpn_gateway", 0)):
        region = offices[number - 1] if 0 < number <= len(offices) else None
        site.add("vpn_gateway", f"{prefix}-ASA{number + 1:02d}",
                 {"model": rng.choice(MODELS["vpn_gateway"]), "ip": f"10.{subnet + (number if region else 0)}.0.254",
                  "role": f"VPN-шлюз{(' офиса ' + region) if region else ' (AnyConnect, site-to-site)'}"},
                 "critical", True, region)


def _service_nodes(site: _Site, rng: random.Random) -> None:
    """1C bases, mail, backup, the PBX and the website."""
    plan, prefix = site.plan, site.prefix
    for number in range(plan.get("1c_base", 0)):
        code, title = BASES_1C[number if site.client["profile"] != "clinic" or number == 0 else 4]
        site.add("1c_base", code, {"configuration": title, "platform": "8.3.24", "dbms": "MS SQL Server 2019",
                                   "server": f"{prefix}-APP1C", "role": title}, "critical" if number == 0 else "high", True)
    for number in range(plan.get("mail", 0)):
        site.add("mail", f"{prefix}-MAIL{number + 1:02d}", {"product": rng.choice(MODELS["mail"]), "ip": site.ip(),
                                                             "role": "Почтовый сервер"}, "high", True)
    for number in range(plan.get("backup", 0)):
        site.add("backup", f"{prefix}-BKP{number + 1:02d}", {"product": rng.choice(MODELS["backup"]),
                                                              "ip": site.ip(), "role": "Резервное копирование"},
                 "high", True)
    for number in range(plan.get("pbx", 0)):
        site.add("pbx", f"{prefix}-PBX{number + 1:02d}", {"os": rng.choice(OS_BY_KIND["pbx"]), "model": rng.choice(MODELS["pbx"]),
                                                           "ip": site.ip(), "role": "IP-АТС Asterisk"}, "high", True)
    for _ in range(plan.get("website", 0)):
        site.add("website", f"www.{site.client['domain']}", {"stack": rng.choice(MODELS["website"]),
                                                             "os": rng.choice(OS_BY_KIND["website"]), "role": "Сайт компании"},
                 "medium", True)


def _office_nodes(site: _Site, rng: random.Random) -> None:
    """Printers and cameras (some in the regional offices), then the workstations."""
    plan, prefix, offices = site.plan, site.prefix, site.offices
    for number in range(plan.get("printer", 0)):
        region = rng.choice(offices) if offices and rng.random() < 0.4 else None
        site.add("printer", f"{prefix}-MFP{number + 1:02d}", {"model": rng.choice(MODELS["printer"]),
                                                               "ip": site.ip(), "role": "МФУ отдела"},
                 "low", False, region)
    for number in range(plan.get("camera", 0)):
        region = rng.choice(offices) if offices and rng.random() < 0.5 else None
        model = rng.choice(MODELS["camera"])
        site.add("camera", f"{prefix}-{'NVR' if 'NVR' in model else 'CAM'}{number + 1:02d}",
                 {"model": model, "ip": site.ip(), "role": "Видеонаблюдение"}, "low", rng.random() < 0.5, region)
    _retail_nodes(site, rng)
    for number in range(plan["workstation"]):
        region = rng.choice(offices) if offices and rng.random() < 0.35 else None
        site.add("workstation", f"{prefix}-WS{number + 1:03d}",
                 {"os": rng.choice(OS_BY_KIND["workstation"]), "model": rng.choice(MODELS["workstation"]),
                  "ip": site.ip(), "role": "Рабочее место"}, "low", False, region)


def _retail_nodes(site: _Site, rng: random.Random) -> None:
    """Fiscal registers, scales, label printers and barcode scanners, one set per store."""
    offices = site.offices
    stores = (["Екатеринбург"] + offices) if offices else [None]
    for number in range(site.plan.get("retail_device", 0)):
        code, device, models = RETAIL_DEVICES[number % len(RETAIL_DEVICES)]
        region = stores[(number // len(RETAIL_DEVICES)) % len(stores)]
        city = tx.translit(region)[:3].upper() if region else "MSK"
        site.add("retail_device", f"{site.prefix}-{city}-{code}{number // len(RETAIL_DEVICES) + 1:02d}",
                 {"device": device, "model": rng.choice(models), "ip": site.ip() if device != "scanner" else None,
                  "role": {"fiscal": "Фискальный регистратор", "scales": "Весы с печатью этикеток",
                           "label": "Принтер этикеток", "scanner": "Сканер штрихкода"}[device]},
                 "high" if device == "fiscal" else "medium", device == "fiscal",
                 region if region != "Екатеринбург" else None)


def _dependency_links(nodes: list[dict], rng: random.Random) -> list[dict]:
    """Depends-on links: 1C base -> 1C server -> host -> storage, devices -> DC, services -> gateway, ..."""
    by_kind: dict[str, list[dict]] = {}
    for node in nodes:
        by_kind.setdefault(node["kind"], []).append(node)
    servers = {n["name"].rsplit("-", 1)[-1]: n for n in by_kind.get("server", [])}
    hosts = by_kind.get("virtualization_host", [])
    links = []
    for node in nodes:
        targets = []
        if node["kind"] == "server" and hosts:
            targets.append(rng.choice(hosts))
        if node["kind"] == "virtualization_host" and by_kind.get("storage"):
            targets.append(by_kind["storage"][0])
        if node["kind"] == "1c_base" and "APP1C" in servers:
            targets.append(servers["APP1C"])
        if node["kind"] in ("workstation", "printer") and "DC01" in servers and rng.random() < 0.3:
            targets.append(servers["DC01"])
        if node["kind"] == "retail_device" and by_kind.get("1c_base"):
            targets.append(by_kind["1c_base"][-1])
        if node["kind"] == "backup" and "FS01" in servers:
            targets.append(servers["FS01"])
        if node["kind"] in ("mail", "pbx", "website") and by_kind.get("network_device"):
            targets.append(by_kind["network_device"][0])
        links.extend({"node_id": node["id"], "depends_on_id": target["id"]} for target in targets)
    return links


def build_nodes(session: Session, ctx: DemoContext) -> None:
    """30-80 nodes per client with attributes, criticality, monitoring and depends-on links."""
    rng = ctx.rng
    rows, links = [], []
    for index, client in enumerate(ctx.clients):
        plan = dict(PROFILES[client["profile"]])
        plan["workstation"] = max(client["nodes"] - sum(plan.values()), 8)
        site = _Site(ctx, client, subnet=10 + index * 10, plan=plan)
        _core_nodes(site, rng)
        _service_nodes(site, rng)
        _office_nodes(site, rng)
        links.extend(_dependency_links(site.nodes, rng))
        rows.extend(site.nodes)
        ctx.nodes_by_client[client["id"]] = site.nodes
    _bulk(session, Node, rows)
    _bulk(session, node_dependencies, links)
    ctx.counts.update(nodes=len(rows), node_links=len(links))


# --- tickets -------------------------------------------------------------------------------------


def _priority_from(weights: tuple, rng: random.Random) -> str:
    return rng.choices(vocab.PRIORITIES, weights=weights)[0]


def _skeletons(ctx: DemoContext) -> list[tuple]:
    """(created_at UTC, client index, scenario index or -1 for a monitoring alert) for every ticket, by time."""
    rng = ctx.rng
    weights = [c["weight"] for c in ctx.clients]
    start = HISTORY_END - timedelta(days=HISTORY_DAYS)
    usable: list[list[int]] = []
    for client in ctx.clients:
        kinds = {n["kind"] for n in ctx.nodes_by_client[client["id"]]}
        usable.append([i for i, s in enumerate(SCENARIOS) if kinds & set(s["kinds"])])
    result = []
    for _ in range(ctx.tickets):
        index = rng.choices(range(len(ctx.clients)), weights=weights)[0]
        client = ctx.clients[index]
        calendar = client["calendar"]
        business = _calendar(calendar, client["tz"])
        # Slightly more tickets later in the history (the client base grew).
        day = start + timedelta(days=int((HISTORY_DAYS + 1) * rng.random() ** 0.85))
        local = day.astimezone(client["zone"]).replace(hour=0, minute=0, second=0, microsecond=0)
        if not business.is_working_day(local.date()) and rng.random() < 0.85:
            while not business.is_working_day(local.date()):  # most requests wait for the next working day
                local += timedelta(days=1)
        if calendar == "24x7":
            hour = rng.choices(range(24), weights=[1, 1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 10, 9, 9, 10, 10, 9, 8, 6, 4,
                                                   3, 2, 2, 1])[0]
        elif rng.random() < 0.92:
            opens, closes = WEEKLY_HOURS[calendar][0]
            hour = rng.randint(opens.hour, closes.hour - 1)
        else:
            hour = rng.choice([7, 8, 19, 20, 21, 22, 23])
        local = local.replace(hour=hour, minute=rng.randint(0, 59), second=rng.randint(0, 59))
        created = local.astimezone(UTC)
        if created > HISTORY_END:
            created = HISTORY_END - timedelta(minutes=rng.randint(5, 600))
        scenario = -1 if rng.random() < 0.03 else rng.choice(usable[index])
        result.append((created, index, scenario))
    result.sort(key=lambda item: item[0])
    return result


def _pick_node(ctx: DemoContext, client: dict, kinds: list[str], rng: random.Random, retail: str | None,
               prefer: list[str] | None = None) -> dict:
    """A node of ``client`` of one of ``kinds``; a retail device type or name parts (``prefer``) narrow it."""
    nodes = [n for n in ctx.nodes_by_client[client["id"]] if n["kind"] in kinds]
    if retail:
        matching = [n for n in nodes if n["attributes"].get("device") == retail]
        nodes = matching or nodes
    if prefer and rng.random() < 0.85:
        matching = [n for n in nodes if any(part in n["name"] for part in prefer)]
        nodes = matching or nodes
    return rng.choice(nodes)


def _pick_specialist(ctx: DemoContext, group: str, rng: random.Random, *, line: int | None = None,
                     region: str | None = None, exclude: int | None = None) -> dict:
    candidates = [s for s in ctx.specialists if group in s["skills"] and s["id"] != exclude
                  and (line is None or s["line"] == line) and s["partner"] is None]
    if region:
        partners = [s for s in ctx.specialists if s["partner"] and s["region"] == region and group in s["skills"]]
        if partners and rng.random() < 0.75:
            return rng.choice(partners)
    if not candidates:
        candidates = [s for s in ctx.specialists if s["partner"] is None and s["id"] != exclude
                      and (line is None or s["line"] == line)]
    return rng.choices(candidates, weights=[s["skills"].get(group, 1) ** 2 for s in candidates])[0]


def _slots(ctx: DemoContext, client: dict, scenario: dict, node: dict, rng: random.Random) -> dict:
    """The values a scenario's phrases are filled with (node, IP, the user's PC, an error code, ...)."""
    workstation = node if node["kind"] == "workstation" else _pick_node(ctx, client, ["workstation"], rng, None)
    return {"node": node["name"], "ip": node["attributes"].get("ip") or "-", "ws": workstation["name"],
            "code": rng.choice(scenario["codes"]) if scenario["codes"] else "", "n": rng.randint(2, 15),
            "user": rng.choice(client["people"])["short"], "soft": rng.choice(SOFTWARE),
            "model": node["attributes"].get("model", ""), "ext": rng.randint(100, 599),
            "mob": f"{rng.randint(10, 99)} {rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}",
            "anydesk": f"{rng.randint(100, 999)} {rng.randint(100, 999)} {rng.randint(100, 999)}",
            "date": f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}", "room": rng.randint(101, 512)}


def _subject(scenario: dict, node: dict, channel: str, slots: dict, rng: random.Random) -> str:
    """A subject line as people write them: sometimes with the node or "since when", shouting, "RE:"."""
    subject = tx.fill(rng.choice(scenario["subjects"]), slots)
    if rng.random() < 0.25:
        subject = f"{subject} ({node['name']})" if rng.random() < 0.5 else f"{subject} — {rng.choice(tx.SINCE)}"
    if rng.random() < 0.12:
        subject = subject.upper() if rng.random() < 0.3 else subject.lower()
    if channel == "email" and rng.random() < 0.1:
        subject = rng.choice(["RE: ", "Re: ", "FW: ", "Fwd: "]) + subject
    return subject


def _sentences(scenario: dict, node: dict, channel: str, priority: str, slots: dict, symptoms: list[str],
               rng: random.Random) -> list[str]:
    """What the requester says: symptoms, maybe the error code, context, an urgency cue, the node."""
    parts = [tx.fill(s, slots) for s in symptoms]
    parts[0] = f"{parts[0]} {rng.choice(tx.SINCE)}" if rng.random() < 0.5 else parts[0]
    if scenario["codes"] and rng.random() < 0.45 and slots["code"] not in " ".join(parts):
        parts.append(rng.choice([f"Ошибка: {slots['code']}", f"Текст ошибки: «{slots['code']}»", f"пишет {slots['code']}",
                                 f"Error: {slots['code']}", f"код {slots['code']}"]))
    context = rng.sample(tx.CONTEXT, k=rng.choice([0, 0, 1, 1, 2, 3]))
    # One mention of the user's PC at most; server-style remarks only about a node that is not a PC.
    context = [c for c in context if "{node}" not in c or (node["kind"] != "workstation"
                                                          and ("{ip}" not in c or node["attributes"].get("ip")))]
    with_ws = [c for c in context if "{ws}" in c]
    context = [c for c in context if "{ws}" not in c] + with_ws[:1]
    parts += [tx.fill(c, slots) for c in context]
    cue_roll = rng.random()
    if cue_roll < 0.7:
        parts.append(rng.choice(tx.SCALE_CUES[priority]))
    elif cue_roll < 0.78:
        parts.append(rng.choice(tx.SCALE_CUES[rng.choice(vocab.PRIORITIES)]))
    if node["kind"] != "workstation" and rng.random() < 0.4 and node["name"] not in " ".join(parts):
        parts.append(rng.choice([f"Узел: {node['name']}", f"({node['name']})", f"сервер/устройство {node['name']}",
                                 f"{node['name']}, {node['attributes'].get('model') or node['attributes'].get('role', '')}"]))
    if channel == "email" and rng.random() < 0.2:
        parts[1:1] = rng.sample(tx.STORY, k=rng.randint(1, 3))
    return [p[:1].upper() + p[1:] if rng.random() < 0.8 else p for p in parts if p]


def _email(client: dict, scenario: dict, who: dict, subject: str, body: str, slots: dict, rough: float,
           rng: random.Random) -> str:
    """An e-mail around ``body`` (roughened): greeting, opener, closing, signature, maybe the quoted original."""
    lines = []
    if rng.random() < 0.75:
        lines.append(rng.choice(tx.GREETINGS))
    opener = rng.choice(tx.OPENERS)
    if opener and rng.random() < 0.4:
        lines.append(opener)
    lines.append(tx.roughen(body, rng, rough))
    closing = rng.choice(tx.CLOSINGS)
    if closing:
        lines.append(closing)
    lines.append("")
    lines.append(tx.signature(rng, who, client["name"], client["domain"], who["email"]))
    if rng.random() < 0.08:
        lines += ["", f"-----Original Message-----\nFrom: {who['email']}\nSubject: {subject}",
                  "> " + tx.fill(rng.choice(scenario["symptoms"]), slots)]
    return "\n".join(lines)


def _in_channel_voice(client: dict, scenario: dict, who: dict, channel: str, subject: str, body: str,
                      slots: dict, rough: float, rng: random.Random) -> str:
    """The description as the channel brings it: an e-mail, a phone note, a chat line or a portal form."""
    if channel == "email":
        return _email(client, scenario, who, subject, body, slots, rough, rng)
    if channel == "phone":
        description = rng.choice(tx.PHONE_LEADS) + body[:1].lower() + body[1:]
        if rng.random() < 0.5:
            description += f" Перезвонить: {who['short']}, доб. {slots['ext']}."
        return description
    if channel == "chat":
        lead = rng.choice(tx.CHAT_LEADS)
        return tx.casual(tx.roughen(((lead + "\n") if lead else "") + body, rng, rough + 0.05), rng)
    description = rng.choice(tx.PORTAL_LEADS) + tx.roughen(body, rng, rough)
    if rng.random() < 0.3:
        description += f"\nКонтактное лицо: {who['short']}, {who['position']}"
    return description


def _compose(ctx: DemoContext, client: dict, scenario: dict, node: dict, who: dict, channel: str, priority: str,
             rng: random.Random) -> tuple[str, str]:
    """Subject and description of one ticket, in the requester's own voice."""
    slots = _slots(ctx, client, scenario, node, rng)
    subject = _subject(scenario, node, channel, slots, rng)
    symptoms = rng.sample(scenario["symptoms"], k=min(len(scenario["symptoms"]), rng.choice([1, 1, 1, 1, 2, 2, 3])))
    sentences = _sentences(scenario, node, channel, priority, slots, symptoms, rng)
    body = ". ".join(s.rstrip(".") for s in sentences) + "."
    rough = rng.choice([0, 0, 0.02, 0.05, 0.1])
    if channel in ("chat", "portal") and rng.random() < 0.12:
        # Some requests are a bare line: "не печатает".
        return subject[:480], tx.roughen(tx.fill(symptoms[0], slots), rng, rough)
    return subject[:480], _in_channel_voice(client, scenario, who, channel, subject, body, slots, rough, rng)


def _resolution(scenario: dict, node: dict, rng: random.Random) -> str:
    """The fix, in one of the ways engineers phrase the same thing."""
    fix = tx.fill(rng.choice(scenario["fixes"]), {"node": node["name"]})
    prefix = rng.choice(["", "", "Решение: ", "Причина найдена. ", "Выполнено: ", "Сделано. ", "Итог: "])
    suffix = rng.choice(["", "", "", " Пользователь подтвердил.", " Проверено с пользователем.",
                         " Заявку закрываем.", " Клиент доволен.", " Если повторится — сообщите."])
    return f"{prefix}{fix}{suffix}"


def _work_minutes(group: str, ticket_type: str, priority: str, rng: random.Random) -> int:
    base = {"incident": (15, 120), "service_request": (15, 90), "change_request": (60, 480),
            "consultation": (10, 40)}[ticket_type]
    minutes = rng.triangular(base[0], base[1], base[0] + (base[1] - base[0]) / 3)
    if group in ("servers", "1c", "backup") or priority in ("high", "highest"):
        minutes *= rng.uniform(1.0, 1.8)
    return int(round(minutes / 5) * 5) or 5


def _targets(policy_key: str, priority: str) -> tuple[float, float | None, float]:
    """(reaction, work start or None, resolution) hours of the client's SLA policy (``service.sla.policies``)."""
    policy = get_policy(policy_key)
    return (policy.target_hours("reaction", priority), policy.target_hours("work_start", priority),
            policy.target_hours("resolution", priority))


def build_tickets(session: Session, ctx: DemoContext) -> None:
    """Tickets over 18 months with priorities, groups, statuses, assignees, comments, work logs and pauses."""
    rng = ctx.rng
    skeletons = _skeletons(ctx)
    totals = dict.fromkeys(("tickets", "ticket_nodes", "assignments", "comments", "time_entries",
                            "sla_pauses", "audit_events"), 0)
    scenario_keys = {s["key"]: s for s in SCENARIOS}
    for batch_start in range(0, len(skeletons), BATCH):
        buffers: dict[str, list[dict]] = {key: [] for key in totals}
        for created, client_index, scenario_index in skeletons[batch_start:batch_start + BATCH]:
            client = ctx.clients[client_index]
            _make_ticket(ctx, client, created, scenario_index, scenario_keys, buffers, rng)
        _bulk(session, Ticket, buffers["tickets"])
        _bulk(session, ticket_nodes, buffers["ticket_nodes"])
        _bulk(session, Assignment, buffers["assignments"])
        _bulk(session, Comment, buffers["comments"])
        _bulk(session, TimeEntry, buffers["time_entries"])
        _bulk(session, SlaPause, buffers["sla_pauses"])
        _bulk(session, AuditEvent, buffers["audit_events"])
        for key, rows in buffers.items():
            totals[key] += len(rows)
    ctx.counts.update(totals)


@dataclass
class _Request:
    """What a ticket asks and how it reached the desk."""

    scenario: dict
    node: dict
    priority: str
    group: str
    channel: str
    type: str
    subject: str
    description: str
    requester_name: str
    requester_email: str | None
    fingerprint: str | None = None
    severity: str | None = None


@dataclass
class _Timeline:
    """Reaction, work start, resolution and closure (UTC, whole seconds) and the SLA pause, if any.

    Instants after HISTORY_END have not happened yet: they place the ticket in an open status.
    """

    reacted: datetime
    work_started: datetime
    resolved: datetime
    closed: datetime
    pause: tuple[datetime, datetime, str] | None


@dataclass
class _Ticket:
    """One generated ticket: its request, its timeline and where it stands when the history ends."""

    id: int
    client: dict
    created: datetime
    request: _Request
    timeline: _Timeline
    status: str = "new"
    escalated: bool = False
    resolution: str | None = None
    billing_mode: str = "included"
    estimate_hours: int | None = None
    fixed_price: int | None = None

    @property
    def calendar(self) -> BusinessCalendar:
        return _sla_calendar(self.client)

    @property
    def is_done(self) -> bool:
        return self.status in ("resolved", "closed")

    @property
    def reacted_at(self) -> datetime | None:
        return self.timeline.reacted if self.timeline.reacted <= HISTORY_END else None

    @property
    def work_started_at(self) -> datetime | None:
        return self.timeline.work_started if self.timeline.work_started <= HISTORY_END else None


@dataclass
class _Staff:
    """Who works a ticket: the primary assignee, a third-line helper on escalations, on site or not."""

    primary: dict
    helper: dict | None
    on_site: bool


def _make_ticket(ctx: DemoContext, client: dict, created: datetime, scenario_index: int, scenario_keys: dict,
                 out: dict[str, list[dict]], rng: random.Random) -> None:
    """One ticket and its history (nodes, people, comments, pause, work log, audit trail) into ``out``."""
    tid = ctx.next_id("tickets")
    who = rng.choice(client["people"])
    if scenario_index < 0:
        request = _alert_request(ctx, client, created, scenario_keys, rng)
    else:
        request = _user_request(ctx, client, SCENARIOS[scenario_index], who, rng)
    if request.channel == "phone":
        request.requester_email = request.requester_email if rng.random() < 0.5 else None
    ticket = _Ticket(tid, client, created, request, _timeline(client, created, request.priority, rng))
    _settle(ticket, rng)
    _bill(ticket, rng)
    out["tickets"].append(_ticket_row(ticket))
    _link_nodes(ctx, ticket, out, rng)
    staff = closing = None
    if ticket.reacted_at is not None:
        staff = _staff(ctx, ticket, out, rng)
        closing = _comments_and_pause(ctx, ticket, staff, out, rng)
        _work_log(ctx, ticket, staff, out, rng)
    out["audit_events"].extend(_audit_trail(ticket, staff, closing))


def _alert_request(ctx: DemoContext, client: dict, created: datetime, scenario_keys: dict,
                   rng: random.Random) -> _Request:
    """A monitoring alert (Alertmanager) about one of the client's nodes."""
    usable = [a for a in ALERTS if any(n["kind"] in a[2] for n in ctx.nodes_by_client[client["id"]])]
    name, group, kinds, summary = rng.choice(usable)
    scenario = scenario_keys[ALERT_SCENARIO[name]]
    node = _pick_node(ctx, client, kinds, rng, None)
    severity = rng.choices(["critical", "warning"], weights=[4, 6])[0]
    if severity == "critical":
        priority = "highest" if node["criticality"] == "critical" else "high"
    else:
        priority = "standard"
    summary = tx.fill(summary, {"node": node["name"], "n": rng.randint(2, 9)})
    description = (f"Alertmanager: {name}\nseverity={severity}\ninstance={node['attributes'].get('ip') or node['name']}"
                   f"\nnode={node['name']}\nsummary: {summary}\nstartsAt: {created.isoformat()}")
    return _Request(scenario, node, priority, group, "monitoring", "incident", f"[FIRING:1] {name} {node['name']}",
                    description, "Alertmanager", f"alertmanager@{OUR_DOMAIN}",
                    fingerprint=f"{rng.getrandbits(64):016x}", severity=severity)


def _user_request(ctx: DemoContext, client: dict, scenario: dict, who: dict, rng: random.Random) -> _Request:
    """A request of one of the client's people about ``scenario``, labelled as a (not always consistent) desk would."""
    node = _pick_node(ctx, client, scenario["kinds"], rng, scenario.get("retail"), scenario.get("prefer"))
    priority = _priority_from(scenario["priority"], rng)
    if node["criticality"] == "critical" and priority in ("low", "standard") and rng.random() < 0.3:
        priority = vocab.PRIORITIES[vocab.PRIORITIES.index(priority) + 1]
    channel = rng.choices(["email", "phone", "portal", "chat"], weights=[45, 25, 20, 10])[0]
    group = scenario["group"]
    alt = scenario.get("alt")
    if alt and (alt[2] is None or node["kind"] in alt[2]) and rng.random() < alt[1]:
        group = alt[0]
    subject, description = _compose(ctx, client, scenario, node, who, channel, priority, rng)
    # Human inconsistency: some tickets sit in a neighbouring group or one priority off.
    if rng.random() < 0.06:
        group = rng.choice(NEIGHBOUR_GROUPS[group])
    if rng.random() < 0.07:
        shift = rng.choice([-1, 1])
        priority = vocab.PRIORITIES[min(3, max(0, vocab.PRIORITIES.index(priority) + shift))]
    requester_name = who["full"] if rng.random() < 0.5 else who["short"]
    return _Request(scenario, node, priority, group, channel, scenario["type"], subject, description,
                    requester_name, who["email"])


def _timeline(client: dict, created: datetime, priority: str, rng: random.Random) -> _Timeline:
    """The desk mostly meets the client's SLA targets (working time), sometimes not; the newest are still open."""
    react_h, start_h, resolve_h = _targets(client["sla"], priority)
    calendar = _sla_calendar(client)

    def after(start: datetime, minutes: float) -> datetime:
        return calendar.add_working_time(start, timedelta(minutes=minutes))

    late_reaction = rng.random() < 0.05
    reacted = after(created, react_h * 60 * (rng.uniform(1.05, 2.0) if late_reaction else rng.uniform(0.03, 0.8)))
    work_started = after(reacted, (start_h or react_h * 2) * 60 * rng.uniform(0.05, 0.5))
    late_resolution = rng.random() < 0.08
    resolved = after(created, resolve_h * 60 * (rng.uniform(1.05, 3.0) if late_resolution else rng.uniform(0.2, 0.95)))
    if resolved <= work_started:
        resolved = after(work_started, rng.uniform(5, 30))
    pause = None
    if rng.random() < 0.13:
        pause_start = after(work_started, rng.uniform(5, 60))
        pause_end = pause_start + timedelta(minutes=rng.uniform(60, 4 * 24 * 60))
        pause = (pause_start, pause_end, rng.choice(PAUSE_REASONS))
        # The clock stops while paused: the work left after the pause starts is done after it ends.
        left = (calendar.working_time_between(pause_start, resolved).total_seconds() / 60
                if resolved > pause_start else 10)
        resolved = after(pause_end, max(left, rng.uniform(5, 30)))
    return _still_open(created, reacted, work_started, resolved, pause, rng)


def _still_open(created: datetime, reacted: datetime, work_started: datetime, resolved: datetime,
                pause: tuple | None, rng: random.Random) -> _Timeline:
    """Push the newest tickets' steps past the end of history (open queues), then round to whole seconds (UTC)."""
    if HISTORY_END - created < timedelta(days=2) and rng.random() < 0.35:
        # The newest requests are not picked up yet: the "new" queue of the demo.
        reacted = max(reacted, HISTORY_END + timedelta(minutes=rng.uniform(5, 120)))
        work_started, resolved = max(work_started, reacted), max(resolved, reacted)
    if HISTORY_END - created < timedelta(days=10) and rng.random() < 0.3:
        # The last days' work is still under way: open tickets in every status.
        resolved = max(resolved, HISTORY_END + timedelta(hours=rng.uniform(1, 96)))
    closed = resolved + timedelta(hours=rng.uniform(1, 72))
    reacted, work_started, resolved, closed = (_whole_utc(t) for t in (reacted, work_started, resolved, closed))
    if pause:
        pause = (_whole_utc(pause[0]), _whole_utc(pause[1]), pause[2])
    return _Timeline(reacted, work_started, resolved, closed, pause)


def _whole_utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(microsecond=0)


def _settle(ticket: _Ticket, rng: random.Random) -> None:
    """Where the ticket stands at HISTORY_END (status, escalation) and the resolution it got."""
    times, end = ticket.timeline, HISTORY_END
    ticket.escalated = ticket.request.priority in ("high", "highest") and rng.random() < 0.35 or rng.random() < 0.12
    if times.resolved <= end:
        ticket.status = "closed" if times.closed <= end else "resolved"
        if end - times.resolved < timedelta(days=20) and rng.random() < 0.04:
            ticket.status = "reopened"  # the problem came back
    elif times.reacted > end:
        ticket.status = "new"
    elif times.work_started > end:
        ticket.status = "triaged"
    elif times.pause and times.pause[0] <= end < times.pause[1]:
        ticket.status = "waiting_for_client"
    else:
        ticket.status = ("with_specialists" if ticket.escalated
                         else rng.choice(["in_progress", "in_progress", "escalated"]))
    if ticket.is_done or ticket.status == "reopened":
        ticket.resolution = _resolution(ticket.request.scenario, ticket.request.node, rng)


def _bill(ticket: _Ticket, rng: random.Random) -> None:
    """How the ticket's work is billed: change requests are often hourly (with an estimate) or fixed-price."""
    if ticket.request.type == "change_request" and rng.random() < 0.6:
        ticket.billing_mode = "hourly" if rng.random() < 0.75 else "fixed"
        if ticket.billing_mode == "hourly":
            ticket.estimate_hours = rng.choice([2, 3, 4, 6, 8, 12])
        else:
            ticket.fixed_price = rng.choice([15000, 25000, 40000, 60000])


def _ticket_row(ticket: _Ticket) -> dict:
    """The ticket's row; its last change is the latest step that happened."""
    request, times, status, is_done = ticket.request, ticket.timeline, ticket.status, ticket.is_done
    reacted_at = ticket.reacted_at
    last_change = min(HISTORY_END, times.closed if status == "closed" else times.resolved if is_done
                      else max(ticket.created, reacted_at or ticket.created))
    return {
        "id": ticket.id, "external_id": f"DEMO-{ticket.id:06d}", "client_id": ticket.client["id"],
        "requester_name": request.requester_name, "requester_email": request.requester_email,
        "channel": request.channel, "type": request.type, "subject": request.subject,
        "description": request.description, "priority": request.priority, "group": request.group, "status": status,
        "resolution": ticket.resolution, "billing_mode": ticket.billing_mode,
        "estimate_hours": ticket.estimate_hours, "fixed_price": ticket.fixed_price, "alert_fingerprint": request.fingerprint, "alert_severity": request.severity,
        "created_at": ticket.created, "updated_at": last_change, "reacted_at": reacted_at,
        "work_started_at": ticket.work_started_at, "resolved_at": times.resolved if is_done else None,
        "closed_at": times.closed if status == "closed" else None,
    }


def _link_nodes(ctx: DemoContext, ticket: _Ticket, out: dict[str, list[dict]], rng: random.Random) -> None:
    """The ticket's node (and sometimes the 1C server behind a 1C base); incidents of known problems noted."""
    node, scenario = ticket.request.node, ticket.request.scenario
    out["ticket_nodes"].append({"ticket_id": ticket.id, "node_id": node["id"]})
    if node["kind"] == "1c_base" and rng.random() < 0.3:
        app = [n for n in ctx.nodes_by_client[ticket.client["id"]] if n["name"].endswith("-APP1C")]
        if app:
            out["ticket_nodes"].append({"ticket_id": ticket.id, "node_id": app[0]["id"]})
    if scenario.get("problem") or scenario["key"] in EXTRA_PROBLEMS:
        ctx.scenario_tickets.setdefault(scenario["key"], []).append(ticket.id)


def _staff(ctx: DemoContext, ticket: _Ticket, out: dict[str, list[dict]], rng: random.Random) -> _Staff:
    """Assign the primary (field engineer or partner on site, else by skill) and, on escalation, a helper."""
    request, client = ticket.request, ticket.client
    group, region = request.group, request.node["region"]
    on_site = rng.random() < ON_SITE_SHARE.get(group, 0.05) and request.channel != "monitoring"
    if on_site and not region and rng.random() < 0.6:
        primary = next(s for s in ctx.specialists if s["name"] == client["engineer"])
    else:
        line = 1 if (not ticket.escalated and group in ("workstations", "printers", "mail", "security")
                     and rng.random() < 0.5) else None
        primary = _pick_specialist(ctx, group, rng, line=line, region=region if on_site or region else None)
    released = ticket.timeline.resolved if ticket.is_done else None
    out["assignments"].append({"id": ctx.next_id("assignments"), "ticket_id": ticket.id,
                               "specialist_id": primary["id"], "role": "primary",
                               "assigned_at": ticket.reacted_at, "released_at": released})
    helper = None
    if ticket.escalated and ticket.work_started_at:
        helper = _pick_specialist(ctx, group, rng, line=3, exclude=primary["id"])
        out["assignments"].append({"id": ctx.next_id("assignments"), "ticket_id": ticket.id,
                                   "specialist_id": helper["id"], "role": "helper",
                                   "assigned_at": ticket.work_started_at, "released_at": released})
    return _Staff(primary, helper, on_site)


def _comments_and_pause(ctx: DemoContext, ticket: _Ticket, staff: _Staff, out: dict[str, list[dict]],
                        rng: random.Random) -> str | None:
    """Public and internal comments along the timeline and the SLA pause; how a closed ticket was closed
    (``confirm``: by the requester, ``close``: by auto-close), None if it is not closed."""
    tid, times, primary, helper = ticket.id, ticket.timeline, staff.primary, staff.helper
    comments = out["comments"]

    def comment(author: str, public: bool, at: datetime, body: str) -> None:
        comments.append({"id": ctx.next_id("comments"), "ticket_id": tid, "author": author, "public": public,
                         "created_at": at, "body": body})

    comment(primary["name"], True, ticket.reacted_at, rng.choice([
        "Добрый день! Заявка принята в работу.", "Здравствуйте, взяли в работу.",
        f"Добрый день! Заявку взял(а) {primary['name']}, свяжусь с вами в ближайшее время.",
        "Принято. Подключаюсь удалённо.", "Принято в работу, уточню детали по телефону.", "Добрый день. Смотрим."]))
    if helper and ticket.work_started_at:
        comment(primary["name"], False, ticket.work_started_at, rng.choice([
            f"Эскалирую на {helper['name']}: нужна экспертиза.", "Передаю на третью линию, логи приложил.",
            f"{helper['name'].split()[1]}, посмотри пожалуйста, похоже на {ticket.request.scenario['article'].lower()}."]))
    if times.pause and times.pause[0] <= HISTORY_END:
        _pause(ctx, ticket, primary, comment, out, rng)
    if rng.random() < 0.35 and ticket.work_started_at:
        comment(primary["name"], False, ticket.work_started_at + timedelta(minutes=rng.randint(5, 90)), rng.choice([
            "Смотрю логи.", "Подключился по AnyDesk.", f"Проверил {ticket.request.node['name']}.",
            "Похоже на известную проблему, проверяю.", "Связался с провайдером/вендором, ждём ответ."]))
    if not ticket.is_done:
        return None
    comment(primary["name"], True, times.resolved, ticket.resolution)
    return rng.choice(["confirm", "close"]) if ticket.status == "closed" else None


def _pause(ctx: DemoContext, ticket: _Ticket, primary: dict, comment, out: dict[str, list[dict]],
           rng: random.Random) -> None:
    """The question that paused the SLA clock, the pause row and, once it ended, the client's answer."""
    started, ends, reason = ticket.timeline.pause
    comment(primary["name"], True, started, rng.choice([
        "Уточните, пожалуйста, когда можно подключиться к компьютеру?",
        "Нужен доступ к оборудованию, подскажите, когда будет на месте ответственный?",
        "Пришлите, пожалуйста, скриншот ошибки.", "Ожидаем поставку запчасти, сообщим сроки.",
        "Подскажите, проблема сохраняется?"]))
    ended = ends if ends <= HISTORY_END else None
    out["sla_pauses"].append({"id": ctx.next_id("sla_pauses"), "ticket_id": ticket.id, "started_at": started,
                              "ended_at": ended, "reason": reason})
    if ended:
        comment(ticket.request.requester_name or "Клиент", True, ended, rng.choice([
            "Можно подключаться, я на месте.", "Скрин во вложении.", "Да, всё ещё не работает.",
            "Завтра с 10 утра удобно.", "ок"]))


def _work_log(ctx: DemoContext, ticket: _Ticket, staff: _Staff, out: dict[str, list[dict]],
              rng: random.Random) -> None:
    """Time entries from the work start: one to three pieces, the last by the helper, off-hours flagged."""
    if ticket.work_started_at is None:
        return
    request, primary, helper = ticket.request, staff.primary, staff.helper
    total = _work_minutes(request.group, request.type, request.priority, rng)
    pieces = 1 if total < 60 else rng.choice([1, 1, 2, 3])
    calendar = ticket.calendar
    moment = ticket.work_started_at
    for number in range(pieces):
        minutes = max(5, int(total / pieces / 5) * 5)
        if moment > HISTORY_END:
            break
        off_hours = not calendar.is_working_time(moment)
        worker = helper if helper and number == pieces - 1 else primary
        out["time_entries"].append({
            "id": ctx.next_id("time_entries"), "ticket_id": ticket.id, "specialist_id": worker["id"],
            "started_at": moment, "minutes": minutes, "on_site": staff.on_site and worker is primary,
            "off_hours_agreed": off_hours and (request.channel == "monitoring" or rng.random() < 0.6),
            "work_kind": ticket.billing_mode,
            "note": rng.choice(["Диагностика", "Удалённое подключение", "Выезд, диагностика", "Настройка",
                                "Работы по заявке", "Проверка после исправления", None])})
        moment = moment + timedelta(minutes=minutes + rng.randint(30, 24 * 60))


#: Actors as the workflow writes them: people of the client are "client:<address>", automation "system:<what>".
ALERTMANAGER_ACTOR = "system:alertmanager"
AUTOCLOSE_ACTOR = "system:autoclose"


def _client_actor(ticket: _Ticket) -> str:
    """The requester as a workflow actor (an alert's client answers through its IT mailbox)."""
    request = ticket.request
    if request.channel == "monitoring":
        return f"client:it@{ticket.client['domain']}"
    return f"client:{request.requester_email or request.requester_name}"


def _event(ticket: _Ticket, action: str, actor: str, at: datetime, data: dict) -> dict:
    return {"entity": "ticket", "entity_id": ticket.id, "action": action, "actor": actor, "at": at, "data": data}


def _step(ticket: _Ticket, action: str, actor: str, at: datetime, from_status: str, to_status: str, *,
          reason: str | None = None, **details) -> dict:
    """One workflow action, with the data ``service.tickets.workflow`` writes: from, to, reason and details."""
    return _event(ticket, action, actor, at, {"from": from_status, "to": to_status, "reason": reason, **details})


def _audit_trail(ticket: _Ticket, staff: _Staff | None, closing: str | None) -> list[dict]:
    """The ticket's audit events in the workflow's own vocabulary, oldest first: ``create``, then one event
    per action along its path (triage, take, assign_specialists, request_info, client_replied, escalate,
    resolve, confirm or close, reopen)."""
    request = ticket.request
    creator = ALERTMANAGER_ACTOR if request.channel == "monitoring" else _client_actor(ticket)
    events = [_event(ticket, "create", creator, ticket.created, {
        "from": None, "to": "new", "channel": request.channel, "priority": request.priority,
        "group": request.group, "triaged_by": "caller", "needs_human": False})]
    if staff is None:
        return events
    engineer = staff.primary["name"]
    events.append(_step(ticket, "triage", engineer, ticket.reacted_at, "new", "triaged"))
    if ticket.work_started_at is None:
        return events
    events.append(_step(ticket, "take", engineer, ticket.work_started_at, "triaged", "in_progress",
                        specialist_id=staff.primary["id"], released=[]))
    working = "in_progress"
    if staff.helper:
        working = "with_specialists"
        events.append(_step(ticket, "assign_specialists", engineer, ticket.work_started_at, "in_progress", working,
                            specialist_ids=[staff.helper["id"]]))
    events += _pause_steps(ticket, engineer, working)
    events += _final_steps(ticket, engineer, working, closing, after=events[-1]["at"])
    return events


def _pause_steps(ticket: _Ticket, engineer: str, working: str) -> list[dict]:
    """``request_info`` when the SLA clock stopped and ``client_replied`` when the client answered."""
    pause = ticket.timeline.pause
    if not pause or pause[0] > HISTORY_END:
        return []
    steps = [_step(ticket, "request_info", engineer, pause[0], working, "waiting_for_client", reason=pause[2])]
    if pause[1] <= HISTORY_END:
        steps.append(_step(ticket, "client_replied", _client_actor(ticket), pause[1], "waiting_for_client", working))
    return steps


def _final_steps(ticket: _Ticket, engineer: str, working: str, closing: str | None, *, after: datetime) -> list[dict]:
    """How the path ends: resolved (then confirmed, closed or reopened), or escalated to the second line.

    A step the timeline does not date (escalation, reopening) happens halfway between the previous
    event and the end of history.
    """
    def halfway(start: datetime) -> datetime:
        return (start + (HISTORY_END - start) / 2).replace(microsecond=0)

    times = ticket.timeline
    if ticket.status == "escalated":
        return [_step(ticket, "escalate", engineer, halfway(after), working, "escalated")]
    if not (ticket.is_done or ticket.status == "reopened"):
        return []
    resolution = (ticket.resolution or "")[:500]
    steps = [_step(ticket, "resolve", engineer, times.resolved, working, "resolved", resolution=resolution)]
    if ticket.status == "reopened":
        steps.append(_step(ticket, "reopen", _client_actor(ticket), halfway(times.resolved), "resolved", "reopened",
                           previous_resolution=resolution))
    elif closing == "confirm":
        steps.append(_step(ticket, "confirm", _client_actor(ticket), times.closed, "resolved", "closed"))
    elif closing == "close":
        steps.append(_step(ticket, "close", AUTOCLOSE_ACTOR, times.closed, "resolved", "closed", automatic=True))
    return steps


# --- knowledge -----------------------------------------------------------------------------------


#: How many of the open tickets in the partner's regions its engineers are sent to at the end of history.
PARTNER_WORKLIST = 6


def build_partner_worklist(session: Session, ctx: DemoContext) -> None:
    """Send the partner's engineers to the open tickets of its regions (our engineer stays primary; the partner's
    is the on-site helper), so that ``partner-ural`` has live work: in turn one reached on site in time, one
    reacted to late and remotely, one not reacted to yet. No rng is drawn: the other rows stay as they were."""
    engineers = [s for s in ctx.specialists if s["partner"] == PARTNER]
    if not engineers:
        return
    theirs = select(Assignment.ticket_id).join(Specialist, Specialist.id == Assignment.specialist_id).where(
        Specialist.partner_id == ctx.partner_id)
    tickets = session.execute(
        select(Ticket.id, Ticket.status, Ticket.created_at, Ticket.reacted_at, Ticket.work_started_at, Node.region)
        .join(ticket_nodes, ticket_nodes.c.ticket_id == Ticket.id).join(Node, Node.id == ticket_nodes.c.node_id)
        .where(Node.region.in_(PARTNER_ROW["regions"]), Ticket.status.not_in(("new", "closed")),
               Ticket.id.not_in(theirs)).order_by(Ticket.id)).all()
    assignments, entries, events, seen = [], [], [], set()
    for ticket_id, status, created, reacted, started, region in tickets:
        if ticket_id in seen or len(seen) == PARTNER_WORKLIST:
            continue
        seen.add(ticket_id)
        engineer = next((e for e in engineers if e["region"] == region), engineers[0])
        assigned = _whole_utc(min(started or reacted or created + timedelta(minutes=30), HISTORY_END))
        assignments.append({"id": ctx.next_id("assignments"), "ticket_id": ticket_id, "specialist_id": engineer["id"],
                            "role": "helper", "assigned_at": assigned, "released_at": None})
        events.append({"entity": "ticket", "entity_id": ticket_id, "action": "assign_specialists", "actor": "system:demo",
                       "at": assigned, "data": {"from": status, "to": status, "specialist_ids": [engineer["id"]]}})
        turn = len(seen) % 3
        start = assigned + timedelta(hours=1 if turn == 1 else 3)
        if turn != 0 and start <= HISTORY_END:
            entries.append({"id": ctx.next_id("time_entries"), "ticket_id": ticket_id, "specialist_id": engineer["id"],
                            "started_at": start, "minutes": 60 if turn == 1 else 30, "on_site": turn == 1,
                            "off_hours_agreed": False, "work_kind": "included",
                            "note": "Выезд в офис, диагностика" if turn == 1 else "Удалённое подключение"})
    _bulk(session, Assignment, assignments)
    _bulk(session, TimeEntry, entries)
    _bulk(session, AuditEvent, events)
    ctx.counts["assignments"] = ctx.counts.get("assignments", 0) + len(assignments)
    ctx.counts["time_entries"] = ctx.counts.get("time_entries", 0) + len(entries)
    ctx.counts["audit_events"] = ctx.counts.get("audit_events", 0) + len(events)


def build_articles(session: Session, ctx: DemoContext) -> None:
    """One knowledge article per scenario plus general regulations (60+ in all)."""
    rng = ctx.rng
    rows = []
    for scenario in SCENARIOS:
        created = HISTORY_END - timedelta(days=rng.randint(30, HISTORY_DAYS + 200), minutes=rng.randint(0, 1440))
        symptoms = "\n".join(f"- {tx.fill(s, {'node': 'узел', 'code': scenario['codes'][0] if scenario['codes'] else ''})}"
                             for s in scenario["symptoms"][:3])
        steps = "\n".join(f"{i}. {step}" for i, step in enumerate(scenario["steps"], 1))
        codes = ("\n\nТиповые сообщения об ошибках: " + "; ".join(scenario["codes"])) if scenario["codes"] else ""
        fixes = "\n".join(f"- {tx.fill(f, {'node': 'узел'})}" for f in scenario["fixes"][:2])
        body = (f"Область: {', '.join(scenario['kinds'])}.\n\nСимптомы:\n{symptoms}{codes}\n\nПорядок действий:\n{steps}"
                f"\n\nКак решали ранее:\n{fixes}")
        rows.append({"id": ctx.next_id("articles"), "external_id": f"DEMO-KB-{scenario['key']}",
                     "title": scenario["article"], "body": body, "group": scenario["group"],
                     "tags": {"node_kinds": scenario["kinds"], "keywords": scenario["subjects"][:3]},
                     "created_at": created, "updated_at": created + timedelta(days=rng.randint(0, 120))})
    for number, (title, group, steps) in enumerate(GENERAL_ARTICLES, 1):
        created = HISTORY_END - timedelta(days=rng.randint(200, HISTORY_DAYS + 300))
        rows.append({"id": ctx.next_id("articles"), "external_id": f"DEMO-KB-general-{number}", "title": title,
                     "body": "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1)), "group": group,
                     "tags": {"keywords": ["регламент"]}, "created_at": created, "updated_at": created})
    _bulk(session, Article, rows)
    ctx.counts["articles"] = len(rows)


def build_known_problems(session: Session, ctx: DemoContext) -> None:
    """Known problems (20+) from recurring scenarios, each linked to the incidents it explains."""
    rng = ctx.rng
    rows, links = [], []
    for scenario in SCENARIOS:
        problem = scenario.get("problem") or EXTRA_PROBLEMS.get(scenario["key"])
        if not problem:
            continue
        tickets = ctx.scenario_tickets.get(scenario["key"], [])
        pid = ctx.next_id("known_problems")
        status = rng.choices(["known", "fixed", "open"], weights=[7, 2, 1])[0]
        created = HISTORY_END - timedelta(days=rng.randint(60, HISTORY_DAYS))
        symptoms = "; ".join(tx.fill(s, {"node": "узел", "code": scenario["codes"][0] if scenario["codes"] else ""})
                             for s in scenario["symptoms"][:3])
        if scenario["codes"]:
            symptoms += ". Ошибки: " + ", ".join(scenario["codes"][:3])
        rows.append({"id": pid, "external_id": f"DEMO-KP-{scenario['key']}", "title": problem["title"],
                     "symptoms": symptoms, "cause": problem["cause"], "workaround": problem["workaround"],
                     "group": scenario["group"], "status": status, "created_at": created,
                     "updated_at": created + timedelta(days=rng.randint(1, 60))})
        # Engineers link most, not all, incidents of a known problem.
        links.extend({"known_problem_id": pid, "ticket_id": t} for t in tickets if rng.random() < 0.8)
    _bulk(session, KnownProblem, rows)
    _bulk(session, known_problem_tickets, links)
    ctx.counts.update(known_problems=len(rows), known_problem_links=len(links))


DEMO_STAFF = [("engineer1", "engineer_l1", "Кравченко Анна"), ("engineer2", "engineer_l2", "Соколов Дмитрий"),
              ("manager", "manager", None), ("analyst", "analyst", None), ("admin", "admin", None)]


#: A plain client user (not its company's manager) of the retail chain: its own requests, no audit.
PLAIN_CLIENT_LOGIN = ("client-uts-office", "uts")


def demo_usernames() -> list[str]:
    """Usernames the demo creates (staff, one client manager per client, one plain client user, the partner's)."""
    return ([name for name, _, _ in DEMO_STAFF] + [f"client-{c['key']}" for c in CLIENTS]
            + [PLAIN_CLIENT_LOGIN[0], PARTNER_LOGIN])


def build_users(session: Session, ctx: DemoContext) -> None:
    """Demo logins (password ``demo-password``): staff of every role, one client user per client who is its
    company's manager (its IT lead), a plain client user of the retail chain and the partner's engineer."""
    digest = hash_password(DEMO_PASSWORD)  # one hash shared by all demo logins: scrypt is slow on purpose
    existing = set(session.scalars(select(User.username)))
    rows = []
    for username, role, specialist in DEMO_STAFF:
        if username in existing:
            continue
        rows.append({"id": ctx.next_id("users"), "username": username, "password_hash": digest, "role": role,
                     "client_id": None, "specialist_id": ctx.specialist_by_name.get(specialist) if specialist else None,
                     "active": True, "email": None, "created_at": HISTORY_END})
    for client in ctx.clients:
        if f"client-{client['key']}" in existing:
            continue
        rows.append({"id": ctx.next_id("users"), "username": f"client-{client['key']}", "password_hash": digest,
                     "role": "client", "client_id": client["id"], "specialist_id": None, "active": True,
                     "email": f"it@{client['domain']}", "client_manager": True, "created_at": HISTORY_END})
        if client["key"] == PLAIN_CLIENT_LOGIN[1] and PLAIN_CLIENT_LOGIN[0] not in existing:
            rows.append({"id": ctx.next_id("users"), "username": PLAIN_CLIENT_LOGIN[0], "password_hash": digest,
                         "role": "client", "client_id": client["id"], "specialist_id": None, "active": True,
                         "email": f"office@{client['domain']}", "created_at": HISTORY_END})
    if PARTNER_LOGIN not in existing:
        rows.append({"id": ctx.next_id("users"), "username": PARTNER_LOGIN, "password_hash": digest,
                     "role": "partner_engineer", "client_id": None, "partner_id": ctx.partner_id,
                     "specialist_id": ctx.specialist_by_name.get("Мухаметов Ринат"), "active": True,
                     "email": None, "created_at": HISTORY_END})
    for row in rows:
        row.setdefault("partner_id", None)
        row.setdefault("client_manager", False)
    _bulk(session, User, rows)
    ctx.counts["users"] = len(rows)


def build_contracts(session: Session, ctx: DemoContext) -> None:
    """Contracts and project work (:func:`data.demo.contracts.build_contracts`), billing's step."""
    summary = demo_contracts.build_contracts(session, seed=ctx.rng.randrange(2**31))
    session.flush()
    # Tickets it turned into project work got updated_at = now from the ORM; put back the history's own
    # last-change instant (same rule as build_tickets) so that a seed keeps giving identical rows.
    session.execute(Ticket.__table__.update().where(Ticket.updated_at > HISTORY_END).values(
        updated_at=func.coalesce(Ticket.closed_at, Ticket.resolved_at, Ticket.reacted_at, Ticket.created_at)))
    ctx.counts["contracts"] = len(summary.get("contracts", {}))


# --- orchestration -------------------------------------------------------------------------------

#: Tables the demo owns; emptied (children first) by ``replace=True``.
_CONTENT_TABLES = [t for t in reversed(Base.metadata.sorted_tables) if t.name not in ("users", "api_tokens")]


def database_has_content(session: Session) -> bool:
    """Whether any client, specialist, ticket, article or known problem exists."""
    return any(session.scalar(select(func.count()).select_from(model)) for model in
               (Client, Specialist, Ticket, Article, KnownProblem))


def clear_content(session: Session) -> None:
    """Delete every row of the knowledge store, plus the demo's own logins (other logins stay)."""
    demo_users = select(User.id).where(or_(User.username.in_(demo_usernames()), User.client_id.is_not(None),
                                           User.partner_id.is_not(None)))
    session.execute(delete(ApiToken).where(ApiToken.user_id.in_(demo_users)))
    session.execute(delete(User).where(User.id.in_(demo_users)))
    session.execute(User.__table__.update().values(specialist_id=None))
    for table in _CONTENT_TABLES:
        session.execute(table.delete())


def _fix_sequences(session: Session, ctx: DemoContext) -> None:
    """PostgreSQL: move id sequences past the explicit ids the generator inserted."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in ctx.ids:
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                             f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"))


def build_demo(session: Session, *, seed: int = DEFAULT_SEED, tickets: int = DEFAULT_TICKETS,
               replace: bool = False, users: bool = True, contracts: bool = True) -> dict[str, int]:
    """Write the whole demo knowledge base into an (empty or, with ``replace``, emptied) store; commits once.

    Raises DemoError when the store already holds data and ``replace`` is false, or ``tickets`` < 1.
    Returns the number of rows written per kind; contracts (billing's step) are committed separately and a
    failure there is returned as ``contracts_error`` rather than undoing the knowledge base.
    """
    if tickets < 1:
        raise DemoError("tickets must be at least 1")
    if database_has_content(session):
        if not replace:
            raise DemoError("the database already holds data; use --replace to wipe it and build the demo")
    try:
        if replace:
            clear_content(session)
        ctx = DemoContext(rng=random.Random(seed), tickets=tickets)
        if users:
            taken = session.scalar(select(func.max(User.id))) or 0
            ctx.ids["users"] = taken
        build_specialists(session, ctx)
        build_clients(session, ctx)
        build_nodes(session, ctx)
        build_tickets(session, ctx)
        build_partner_worklist(session, ctx)
        build_articles(session, ctx)
        build_known_problems(session, ctx)
        build_resilience(session, ctx, history_end=HISTORY_END)
        if users:
            build_users(session, ctx)
        _fix_sequences(session, ctx)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    if contracts:
        # Billing's own step, in a transaction of its own: should it fail, the knowledge base stays built
        # and the error is reported instead of losing minutes of generation.
        try:
            build_contracts(session, ctx)
            session.commit()
        except Exception as exc:  # any failure of that step is reported in the result, none is hidden
            session.rollback()
            ctx.counts["contracts"] = 0
            ctx.counts["contracts_error"] = f"{exc.__class__.__name__}: {exc}"
    return ctx.counts
