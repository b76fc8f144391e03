"""Regional service partners as data: the companies whose field engineers work our clients' regional sites."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from kb import vocab
from kb.models import MAX_ID, Assignment, Partner, Specialist, Ticket, User
from kb.queries import audit
from service.platform.auth import create_user
from service.platform.unit_of_work import unit_of_work
from service.sla.calendar import CALENDAR_NAMES, CalendarError, check_country, check_timezone

#: The partner's SLA targets towards us, in working hours of its calendar.
TARGET_FIELDS = ("reaction_hours", "onsite_hours", "resolution_hours")


class PartnerError(ValueError):
    """A partner cannot be stored as given; ``field`` names what is wrong."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def _hours(name: str, value: object) -> float:
    try:
        hours = float(value)
    except (TypeError, ValueError):
        raise PartnerError(f"{name} must be a number of hours, got {value!r}", name) from None
    if not 0 < hours <= 24 * 366:
        raise PartnerError(f"{name} must be more than 0 and at most a year of hours, got {value!r}", name)
    return hours


def _rate(value: object) -> Decimal:
    try:
        rate = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise PartnerError(f"hourly_rate must be an amount such as 1500.00, got {value!r}", "hourly_rate") from None
    if not rate.is_finite() or rate < 0 or rate >= Decimal("1e12"):
        raise PartnerError(f"hourly_rate must be a non-negative amount, got {value!r}", "hourly_rate")
    return rate.quantize(Decimal("0.01"))


def _regions(regions: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(r.strip() for r in regions if r and r.strip()))
    if not cleaned:
        raise PartnerError("a partner serves at least one region", "regions")
    if any(len(r) > 100 for r in cleaned):
        raise PartnerError("a region name has at most 100 characters", "regions")
    return cleaned


def _calendar(calendar: str, timezone: str, country: str) -> None:
    if calendar not in CALENDAR_NAMES:
        raise PartnerError(f"calendar must be one of {', '.join(CALENDAR_NAMES)}, got {calendar!r}", "calendar")
    for field, check, value in (("timezone", check_timezone, timezone), ("country", check_country, country)):
        try:
            check(value)
        except CalendarError as exc:
            raise PartnerError(str(exc), field) from None


def create_partner(session: Session, *, name: str, regions: list[str], actor: str, contract_ref: str | None = None,
                   reaction_hours: object = 2, onsite_hours: object = 8, resolution_hours: object = 24,
                   hourly_rate: object = "0", calendar: str = "10x5", timezone: str = "Europe/Moscow",
                   country: str = "RU") -> Partner:
    """Register a partner company with its regions, contract and SLA targets towards us (audited)."""
    title = (name or "").strip()
    if not title or len(title) > 200:
        raise PartnerError("name must be 1 to 200 characters", "name")
    given = (reaction_hours, onsite_hours, resolution_hours)
    targets = {f: _hours(f, v) for f, v in zip(TARGET_FIELDS, given, strict=True)}
    if not targets["reaction_hours"] <= targets["onsite_hours"] <= targets["resolution_hours"]:
        raise PartnerError("targets must grow: reaction <= on-site arrival <= resolution", "onsite_hours")
    _calendar(calendar, timezone, country)
    with unit_of_work(session):
        # Compared in Python: SQLite's lower() folds only ASCII, and Russian names are the rule here.
        if title.casefold() in {n.casefold() for n in session.scalars(select(Partner.name))}:
            raise PartnerError(f"a partner named {title!r} exists already", "name")
        partner = Partner(name=title, regions=_regions(regions), contract_ref=(contract_ref or "").strip()[:100] or None,
                          hourly_rate=_rate(hourly_rate), calendar=calendar, timezone=timezone,
                          country=(country or "RU").upper(), **targets)
        session.add(partner)
        session.flush()
        audit.record(session, entity="partner", entity_id=partner.id, action="create", actor=actor,
                     name=title, regions=partner.regions)
    return partner


def list_partners(session: Session) -> list[Partner]:
    """Every partner, by name."""
    return list(session.scalars(select(Partner).order_by(Partner.name)))


def open_tickets_by_partner(session: Session) -> dict[int, int]:
    """Partner id -> how many open tickets its engineers are working now (assigned and not released)."""
    rows = session.execute(
        select(Specialist.partner_id, func.count(distinct(Assignment.ticket_id)))
        .join(Assignment, Assignment.specialist_id == Specialist.id).join(Ticket, Ticket.id == Assignment.ticket_id)
        .where(Specialist.partner_id.is_not(None), Assignment.released_at.is_(None),
               Ticket.status.in_(vocab.OPEN_STATUSES))
        .group_by(Specialist.partner_id))
    return {partner_id: count for partner_id, count in rows}


def partners_serving(session: Session, region: str | None) -> list[Partner]:
    """The active partners that serve ``region`` (none for an unknown or empty region)."""
    if not region:
        return []
    wanted = region.strip().lower()
    return [p for p in list_partners(session) if p.active and wanted in {r.lower() for r in p.regions or []}]


def partner_dict(partner: Partner) -> dict:
    """The partner as JSON-ready data (money as a string, never a float)."""
    return {"id": partner.id, "name": partner.name, "regions": list(partner.regions or []),
            "contract_ref": partner.contract_ref, "hourly_rate": str(partner.hourly_rate),
            "targets_hours": {"reaction": partner.reaction_hours, "onsite": partner.onsite_hours,
                              "resolution": partner.resolution_hours},
            "calendar": partner.calendar, "timezone": partner.timezone, "country": partner.country,
            "active": partner.active}


def add_partner_login(session: Session, *, partner_id: int, username: str, password: str, actor: str,
                      specialist_id: int | None = None) -> User:
    """A ``partner_engineer`` login of the partner (optionally tied to one of its engineers), audited."""
    with unit_of_work(session):
        partner = session.get(Partner, partner_id) if 0 < partner_id <= MAX_ID else None
        if partner is None:
            raise PartnerError(f"partner {partner_id} not found", "partner")
        if specialist_id is not None:
            engineer = session.get(Specialist, specialist_id) if 0 < specialist_id <= MAX_ID else None
            if engineer is None or engineer.partner_id != partner.id:
                raise PartnerError(f"specialist {specialist_id} is not an engineer of {partner.name}", "specialist")
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise PartnerError(f"user {username!r} exists already", "username")
        try:
            user = create_user(session, username=username, password=password, role="partner_engineer",
                               partner_id=partner.id, specialist_id=specialist_id)
        except ValueError as exc:
            raise PartnerError(str(exc), "password") from None
        session.flush()
        audit.record(session, entity="partner", entity_id=partner.id, action="login_added", actor=actor,
                     username=username)
    return user
