"""SQLAlchemy models of the knowledge store.

All instants are stored as UTC and come back as timezone-aware UTC datetimes on every backend.
Vocabularies (priorities, groups, statuses...) are plain strings checked against ``kb.vocab``
at the boundary (importers, API), so that adding a value never needs a migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: Time zone of a client whose own is unset or unknown (the desk works from Moscow).
DEFAULT_TIMEZONE = "Europe/Moscow"
#: Largest id an Integer primary key holds on every backend (PostgreSQL INTEGER).
MAX_ID = 2**31 - 1
#: Rows of the partial unique index ``uq_tickets_open_alert``: open tickets created from monitoring.
OPEN_ALERT = text("channel = 'monitoring' AND alert_fingerprint IS NOT NULL "
                  "AND status NOT IN ('resolved', 'closed')")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on SQLite and PostgreSQL alike; naive input is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store timezone-aware instants only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


Money = Numeric(14, 2)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, Decimal: Money}


# --- association tables -------------------------------------------------------------------------

node_dependencies = Table(
    "node_dependencies",
    Base.metadata,
    Column("node_id", ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True),
    Column("depends_on_id", ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True),
)

ticket_nodes = Table(
    "ticket_nodes",
    Base.metadata,
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("node_id", ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True),
)

known_problem_tickets = Table(
    "known_problem_tickets",
    Base.metadata,
    Column("known_problem_id", ForeignKey("known_problems.id", ondelete="CASCADE"), primary_key=True),
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
)


# --- clients and infrastructure -----------------------------------------------------------------


class Client(Base):
    """A client company under contract."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: SLA policy key (bronze, silver, gold, platinum, or a plan of seed 002/003).
    sla_policy: Mapped[str] = mapped_column(String(50), default="bronze")
    #: Support calendar key: 10x5 (Mon-Fri 09-19), 8x5 (Mon-Fri 09-18), 24x7.
    calendar: Mapped[str] = mapped_column(String(20), default="10x5")
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    country: Mapped[str] = mapped_column(String(2), default="RU")
    region: Mapped[str | None] = mapped_column(String(100))
    manager: Mapped[str | None] = mapped_column(String(200))
    manager_email: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    #: Mail domains registered as the client's own ("vektor.ru"): e-mail intake matches a sender by them
    #: (besides the domain of ``email``) and by the client's contacts, never by addresses tickets stored.
    email_domains: Mapped[list] = mapped_column(JSON, default=list)
    #: Language of the mail the client's people get: "ru" or "en"; None: by ``country`` (RU, BY, KZ: ru).
    language: Mapped[str | None] = mapped_column(String(2))
    field_engineer_id: Mapped[int | None] = mapped_column(ForeignKey("specialists.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    field_engineer: Mapped[Specialist | None] = relationship(foreign_keys=[field_engineer_id])
    nodes: Mapped[list[Node]] = relationship(back_populates="client", cascade="all, delete-orphan")
    contracts: Mapped[list[Contract]] = relationship(back_populates="client", cascade="all, delete-orphan")
    contacts: Mapped[list[ClientContact]] = relationship(back_populates="client", cascade="all, delete-orphan")

    @property
    def zone(self) -> ZoneInfo:
        """The client's time zone as a ZoneInfo (Europe/Moscow when unset or unknown)."""
        try:
            return ZoneInfo(self.timezone or DEFAULT_TIMEZONE)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(DEFAULT_TIMEZONE)


class ClientContact(Base):
    """A person registered as the client's contact: e-mail from this address becomes the client's ticket."""

    __tablename__ = "client_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    #: Stored lower-case; one address belongs to one client.
    email: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))

    client: Mapped[Client] = relationship(back_populates="contacts")


class Node(Base):
    """An infrastructure node of a client ("узел ИТ комплекса")."""

    __tablename__ = "nodes"
    __table_args__ = (UniqueConstraint("client_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    criticality: Mapped[str] = mapped_column(String(20), default="medium")
    monitored: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Site or regional office where the node stands (None: the client's main office).
    region: Mapped[str | None] = mapped_column(String(100))
    #: The node that takes over when this one fails (a standby, a replica); None: no redundancy.
    backup_node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id", ondelete="SET NULL"))
    #: The runbook article answering "what do we do when it fails"; None: a gap the audit shows.
    runbook_article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))

    client: Mapped[Client] = relationship(back_populates="nodes")
    depends_on: Mapped[list[Node]] = relationship(
        secondary=node_dependencies,
        primaryjoin=lambda: Node.id == node_dependencies.c.node_id,
        secondaryjoin=lambda: Node.id == node_dependencies.c.depends_on_id,
    )
    backup_node: Mapped[Node | None] = relationship(remote_side=lambda: Node.id, foreign_keys=[backup_node_id])


# --- specialists --------------------------------------------------------------------------------


class Partner(Base):
    """A regional service partner: a company whose field engineers work our clients' sites under contract."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: Regions the partner serves (the strings of ``Client.region`` / ``Node.region``).
    regions: Mapped[list] = mapped_column(JSON, default=list)
    contract_ref: Mapped[str | None] = mapped_column(String(100))
    #: The partner's SLA towards us, in working hours of its own calendar.
    reaction_hours: Mapped[float] = mapped_column(Float, default=2.0)
    onsite_hours: Mapped[float] = mapped_column(Float, default=8.0)
    resolution_hours: Mapped[float] = mapped_column(Float, default=24.0)
    #: What we pay the partner per hour of its engineers' work (the contract's rate).
    hourly_rate: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    calendar: Mapped[str] = mapped_column(String(20), default="10x5")
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    country: Mapped[str] = mapped_column(String(2), default="RU")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Specialist(Base):
    """An engineer of the service desk or of a regional partner."""

    __tablename__ = "specialists"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    #: Support line: 1, 2 or 3 (narrow expert).
    line: Mapped[int] = mapped_column(Integer, default=1)
    region: Mapped[str | None] = mapped_column(String(100))
    #: Regional service partner company, None for own staff.
    partner: Mapped[str | None] = mapped_column(String(200))
    #: The partner company as data (``partner`` above stays readable for older stores and imports).
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="SET NULL"), index=True)
    calendar: Mapped[str] = mapped_column(String(20), default="10x5")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    #: Maximum number of open tickets at once.
    capacity: Mapped[int] = mapped_column(Integer, default=10)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    skills: Mapped[list[Skill]] = relationship(back_populates="specialist", cascade="all, delete-orphan")
    absences: Mapped[list[Absence]] = relationship(back_populates="specialist", cascade="all, delete-orphan")


class Skill(Base):
    __tablename__ = "skills"
    __table_args__ = (UniqueConstraint("specialist_id", "group"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    specialist_id: Mapped[int] = mapped_column(ForeignKey("specialists.id", ondelete="CASCADE"), index=True)
    #: A specialist group from ``kb.vocab.GROUPS``.
    group: Mapped[str] = mapped_column(String(40))
    #: 1 (basic) .. 5 (expert).
    level: Mapped[int] = mapped_column(Integer, default=3)

    specialist: Mapped[Specialist] = relationship(back_populates="skills")


class Absence(Base):
    __tablename__ = "absences"

    id: Mapped[int] = mapped_column(primary_key=True)
    specialist_id: Mapped[int] = mapped_column(ForeignKey("specialists.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(200))

    specialist: Mapped[Specialist] = relationship(back_populates="absences")


# --- tickets ------------------------------------------------------------------------------------


class Ticket(Base):
    """A support request: incident, service request, change request or consultation."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_client_status", "client_id", "status"),
        Index("ix_tickets_alert_fingerprint", "alert_fingerprint"),
        # One open monitoring incident per client and alert: concurrent identical notifications cannot
        # both create one (the loser of the race comments on the winner's ticket instead).
        Index("uq_tickets_open_alert", "client_id", "alert_fingerprint", unique=True,
              sqlite_where=OPEN_ALERT, postgresql_where=OPEN_ALERT),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    requester_name: Mapped[str | None] = mapped_column(String(200))
    requester_email: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20), default="email")
    type: Mapped[str] = mapped_column(String(30), default="incident")
    subject: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[str] = mapped_column(String(20), default="standard")
    #: Specialist group (category) from ``kb.vocab.GROUPS``; None until triaged.
    group: Mapped[str | None] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(30), default="new", index=True)
    resolution: Mapped[str | None] = mapped_column(Text)
    billing_mode: Mapped[str] = mapped_column(String(20), default="included")
    #: Hourly work: the agreed estimate; the client may stop the work once it is spent.
    estimate_hours: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    #: Fixed-price work: the agreed price (changes only through a change request).
    fixed_price: Mapped[Decimal | None]
    #: Monitoring alerts: Alertmanager fingerprint, for de-duplication while open.
    alert_fingerprint: Mapped[str | None] = mapped_column(String(100))
    #: The requester's own view of the urgency (a hint for triage and staff; priority is theirs to set).
    urgency: Mapped[str | None] = mapped_column(String(20))
    #: Monitoring alerts: the alert's severity label.
    alert_severity: Mapped[str | None] = mapped_column(String(20))

    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)
    #: First public response or first status change out of "new" by an engineer.
    reacted_at: Mapped[datetime | None]
    work_started_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    # SLA state as last computed by the SLA engine (service/sla).
    reaction_due: Mapped[datetime | None]
    work_start_due: Mapped[datetime | None]
    resolution_due: Mapped[datetime | None]
    sla_state: Mapped[str | None] = mapped_column(String(20))

    client: Mapped[Client] = relationship()
    nodes: Mapped[list[Node]] = relationship(secondary=ticket_nodes)
    assignees: Mapped[list[Assignment]] = relationship(back_populates="ticket", cascade="all, delete-orphan")
    comments: Mapped[list[Comment]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="Comment.created_at"
    )
    time_entries: Mapped[list[TimeEntry]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="TimeEntry.started_at"
    )
    pauses: Mapped[list[SlaPause]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="SlaPause.started_at"
    )


class Assignment(Base):
    """A specialist working a ticket; several may work one ticket."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("ticket_id", "specialist_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    specialist_id: Mapped[int] = mapped_column(ForeignKey("specialists.id", ondelete="CASCADE"), index=True)
    #: primary (owns the ticket) or helper.
    role: Mapped[str] = mapped_column(String(20), default="primary")
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the specialist left the ticket (reassigned or done); None while working it.
    released_at: Mapped[datetime | None]

    ticket: Mapped[Ticket] = relationship(back_populates="assignees")
    specialist: Mapped[Specialist] = relationship()


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    #: Public comments are visible to (and e-mailed to) the requester.
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="comments")


class TimeEntry(Base):
    """Work spent on a ticket by a specialist."""

    __tablename__ = "time_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    specialist_id: Mapped[int | None] = mapped_column(ForeignKey("specialists.id", ondelete="SET NULL"))
    started_at: Mapped[datetime]
    minutes: Mapped[int] = mapped_column(Integer)
    on_site: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Work outside the client's calendar agreed in advance is billed at the normal rate.
    off_hours_agreed: Mapped[bool] = mapped_column(Boolean, default=False)
    #: included, hourly or fixed (see kb.vocab.BILLING_MODES).
    work_kind: Mapped[str] = mapped_column(String(20), default="included")
    note: Mapped[str | None] = mapped_column(Text)

    ticket: Mapped[Ticket] = relationship(back_populates="time_entries")
    specialist: Mapped[Specialist | None] = relationship()


class SlaPause(Base):
    """An interval during which SLA clocks stop (waiting for the client)."""

    __tablename__ = "sla_pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(200))

    ticket: Mapped[Ticket] = relationship(back_populates="pauses")


class SlaEvent(Base):
    """An at-risk or breached state of one SLA target of a ticket, recorded once per state change."""

    __tablename__ = "sla_events"
    __table_args__ = (UniqueConstraint("ticket_id", "target", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    #: reaction, work_start or resolution.
    target: Mapped[str] = mapped_column(String(20))
    #: at_risk or breached.
    state: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    overdue_minutes: Mapped[int] = mapped_column(Integer, default=0)
    penalty: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    notified: Mapped[bool] = mapped_column(Boolean, default=False)


# --- knowledge ----------------------------------------------------------------------------------


class Article(Base):
    """A knowledge article of the professional knowledge base."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    group: Mapped[str | None] = mapped_column(String(40))
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)


class KnownProblem(Base):
    """A recurring problem ("учет типичных проблем") with its cause, workaround and incidents."""

    __tablename__ = "known_problems"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    symptoms: Mapped[str] = mapped_column(Text, default="")
    cause: Mapped[str] = mapped_column(Text, default="")
    workaround: Mapped[str] = mapped_column(Text, default="")
    group: Mapped[str | None] = mapped_column(String(40))
    #: open (being investigated), known (workaround exists) or fixed.
    status: Mapped[str] = mapped_column(String(20), default="known")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)

    incidents: Mapped[list[Ticket]] = relationship(secondary=known_problem_tickets)


# --- audit, feedback, predictions ---------------------------------------------------------------


class AuditEvent(Base):
    """Every change to a ticket (and other entities): who, when, what."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(60))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Details: from/to status, changed fields, reason.
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SuggestionFeedback(Base):
    """An engineer's verdict on a suggestion shown for a ticket."""

    __tablename__ = "suggestion_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    #: incident, article or known_problem.
    kind: Mapped[str] = mapped_column(String(20))
    ref: Mapped[int] = mapped_column(Integer)
    useful: Mapped[bool] = mapped_column(Boolean)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TriagePrediction(Base):
    """What triage predicted when a ticket was created, to measure accuracy against what engineers set."""

    __tablename__ = "triage_predictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    priority: Mapped[str | None] = mapped_column(String(20))
    priority_confidence: Mapped[float | None]
    priority_rule: Mapped[str | None] = mapped_column(String(100))
    group: Mapped[str | None] = mapped_column(String(40))
    group_confidence: Mapped[float | None]
    needs_human: Mapped[bool] = mapped_column(Boolean, default=False)
    specialist_ids: Mapped[dict[str, Any]] = mapped_column(default=dict)
    model_versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


# --- billing ------------------------------------------------------------------------------------


class Contract(Base):
    """A client's service contract; the plan's detailed terms are a documented JSON document."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    #: subscription, package, prepaid, unlimited or hourly.
    plan_kind: Mapped[str] = mapped_column(String(30))
    tier: Mapped[str] = mapped_column(String(20), default="bronze")
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]
    #: Rates, hours, discounts, coefficients, penalty terms, VAT (see docs/billing.md).
    terms: Mapped[dict[str, Any]] = mapped_column(default=dict)

    client: Mapped[Client] = relationship(back_populates="contracts")


class ChangeRequest(Base):
    """An agreed change of a fixed-price work's price, scope or deadline."""

    __tablename__ = "change_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    old_price: Mapped[Decimal | None]
    new_price: Mapped[Decimal]
    scope: Mapped[str | None] = mapped_column(Text)
    deadline: Mapped[datetime | None]
    agreed_by: Mapped[str] = mapped_column(String(200))
    agreed_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- users --------------------------------------------------------------------------------------


class User(Base):
    """A login: engineer, manager, analyst or client user (who sees only its client's data)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    #: One of kb.vocab.ROLES.
    role: Mapped[str] = mapped_column(String(20))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    specialist_id: Mapped[int | None] = mapped_column(ForeignKey("specialists.id", ondelete="SET NULL"))
    #: A partner engineer's company (role ``partner_engineer``); None for everyone else.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: A client user who manages its company's IT (set by an admin): reads the company's infrastructure audit
    #: and sees the company's requests by default. Meaningless for every other role.
    client_manager: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The user's own address (a client user's tickets are requested from it).
    email: Mapped[str | None] = mapped_column(String(200))
    #: The language the user chose for pages and mail ("ru" or "en"); None: not chosen yet.
    language: Mapped[str | None] = mapped_column(String(5))
    #: Bumped on logout and password change: a session cookie carrying an older version is void.
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginFailure(Base):
    """A failed login, by account or by address: recent ones rate-limit further attempts."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``user:<username>`` or ``ip:<address>``.
    key: Mapped[str] = mapped_column(String(300), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ApiToken(Base):
    """An API token; only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    #: What the token may do: "read" (GET), "write" (every change), "intake" (create tickets, triage).
    scopes: Mapped[list] = mapped_column(JSON, default=lambda: ["read", "write"])
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: None: valid until revoked.
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    #: Written on use, at most once a minute (a write per request would double the load of reads).
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class Setting(Base):
    """A named settings document editable by an admin (e.g. ``rates``: the price list of the calculator)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(200))


class Lease(Base):
    """A named lease that one process holds until it expires (e.g. the background SLA scheduler), so that
    several service workers with the scheduler enabled run each round once."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]


# --- intake and outgoing mail (migration 0006) ---------------------------------------------------


class Attachment(Base):
    """A file that came with a ticket (an e-mail's attachment); the bytes live in the row (size-limited)."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    #: The comment it came with (a reply by e-mail); None: it came with the ticket itself.
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuarantinedMessage(Base):
    """An e-mail no client could be found for: kept whole until staff accept (a ticket) or reject it."""

    __tablename__ = "quarantined_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    sender: Mapped[str] = mapped_column(String(200), index=True)
    subject: Mapped[str] = mapped_column(String(500))
    #: Why it was not taken (no client matches, the domain belongs to several clients...).
    reason: Mapped[str] = mapped_column(String(500))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: pending, accepted or rejected.
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))


class OutboxMessage(Base):
    """An e-mail to send, written in the transaction of the change that caused it; a worker delivers it."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What caused it: ticket_created, status_changed, comment_added, assigned, sla_event, time_box, sla_report.
    kind: Mapped[str] = mapped_column(String(40))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    recipients: Mapped[list] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    #: pending (to send, at next_attempt_at), sent, or failed (after the last attempt; staff may resend).
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class UnmatchedAlert(Base):
    """A monitoring alert no node could be found for, kept for staff to link to a node."""

    __tablename__ = "unmatched_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(100), index=True)
    alert_status: Mapped[str] = mapped_column(String(20))
    alertname: Mapped[str | None] = mapped_column(String(200))
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Why no node matched.
    reason: Mapped[str] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: How many notifications repeated it while unmatched.
    repeats: Mapped[int] = mapped_column(Integer, default=1)
    #: The node staff linked it to (and the incident then opened), None while open.
    node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id", ondelete="SET NULL"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    linked_by: Mapped[str | None] = mapped_column(String(200))
