"""The request and response models of the JSON API (see :mod:`service.platform.schema` and docs/api.md).

Bodies are strict (JSON types as given, unknown keys refused); ``None`` stands for an absent field, as the
views read it. Responses list the keys the views write; instants are ISO 8601 strings with an offset and
money a decimal string ("52000.00").
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Field

from kb import vocab
from kb.models import MAX_ID
from service.billing import quote
from service.billing.contract import PLAN_KINDS, TIER_COEFFICIENTS
from service.knowledge.service import PROBLEM_STATUSES
from service.platform.schema import Body, Query, Reply
from service.search.service import MAX_K
from service.tickets.transitions import ACTIONS

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Instant = Annotated[str, Field(description="ISO 8601 date-time with a UTC offset, e.g. 2026-11-23T10:00:00+03:00")]
Money = Annotated[str | int, Field(description='a decimal string such as "1500.00" (never a float)')]
Text = Annotated[str, Field(max_length=10_000)]
Priority = Literal[vocab.PRIORITIES]
Group = Literal[vocab.GROUPS]

_MONEY_MESSAGE = 'must be a decimal string such as "1500.00"'

# --- errors ----------------------------------------------------------------------------------------------


class ErrorDetail(Reply):
    code: str = Field(description="stable machine-readable code: unknown_field, field_not_allowed, "
                                  "invalid_field, illegal_transition, duplicate, not_found, forbidden, ...")
    message: str
    field: str | None = Field(None, description="the offending field or parameter, where one is to blame")


class Error(BaseModel):
    """Every 4xx/5xx answer of the API."""

    error: ErrorDetail


# --- query strings -----------------------------------------------------------------------------------------


class Page(Query):
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    offset: Annotated[int, Field(ge=0, le=MAX_ID)] = 0


class TicketListQuery(Page):
    client: Annotated[int, Field(ge=0, le=MAX_ID)] | None = None
    status: Literal[vocab.STATUSES] | None = None
    group: Group | None = None
    priority: Priority | None = None


class SearchQuery(Query):
    q: Annotated[str, Field(min_length=1, max_length=5000, description="the problem in free text")]
    client: Id | None = None
    k: Annotated[int, Field(ge=1, le=MAX_K)] = 5


class KQuery(Query):
    k: Annotated[int, Field(ge=1, le=MAX_K)] = 5


class ArticleListQuery(Page):
    group: Group | None = None
    q: Annotated[str, Field(description="substring of the title or body")] | None = None


class ProblemListQuery(Page):
    status: Literal[PROBLEM_STATUSES] | None = None


class NodeQuery(Query):
    kind: Literal[vocab.NODE_KINDS] | None = None


class MonthQuery(Query):
    month: Annotated[str, Field(description="YYYY-MM; the last whole month when absent")] | None = None


class SinceQuery(Query):
    since: Annotated[str, Field(description="ISO 8601 date or date-time")] | None = None


# --- request bodies ----------------------------------------------------------------------------------------


class TicketCreate(Body):
    """Staff give any of these; a client user only subject, description, urgency, node_ids (and its own
    client_id): other fields are ``field_not_allowed`` for it."""

    client_id: Id | None = None
    subject: Annotated[str, Field(max_length=10_000)] | None = None
    description: str | None = None
    urgency: Priority | None = None
    requester_name: str | None = None
    requester_email: str | None = None
    channel: Literal[vocab.CHANNELS] | None = None
    type: Literal[vocab.TICKET_TYPES] | None = None
    priority: Priority | None = None
    group: Group | None = None
    node_ids: list[int] | None = None
    billing_mode: Literal[vocab.BILLING_MODES] | None = None
    estimate_hours: Money | None = None
    fixed_price: Money | None = None
    alert_fingerprint: str | None = None
    alert_severity: str | None = None
    external_id: str | None = None
    type_messages: ClassVar[dict[str, str]] = {"estimate_hours": f"estimate_hours {_MONEY_MESSAGE}",
                                               "fixed_price": f"fixed_price {_MONEY_MESSAGE}"}


class TicketUpdate(Body):
    priority: Priority | None = None
    group: Group | None = None
    reason: Annotated[str, Field(max_length=2000)] | None = None


class ActionBody(Body):
    """``action`` and the parameters that action takes (GET .../actions lists them per action)."""

    action: Literal[ACTIONS]
    reason: Annotated[str, Field(max_length=2000)] | None = None
    comment: str | None = None
    resolution: str | None = None
    priority: Priority | None = None
    group: Group | None = None
    specialist_id: Id | None = None
    specialist_ids: list[int] | None = None


class CommentBody(Body):
    body: Annotated[str, Field(max_length=100_000)]
    public: bool | None = None


class TimeEntryBody(Body):
    specialist_id: Id
    started_at: Instant
    minutes: Annotated[int, Field(ge=1, le=24 * 60)]
    on_site: bool | None = None
    off_hours_agreed: bool | None = None
    work_kind: Literal[vocab.BILLING_MODES] | None = None
    note: Text | None = None


class TriageBody(Body):
    subject: Annotated[str, Field(max_length=500)]
    description: Annotated[str, Field(max_length=50_000)] | None = None
    client_id: Id | None = None
    channel: Literal[vocab.CHANNELS] | None = None
    node_ids: list[int] | None = None
    alert_severity: Literal["critical", "warning", "info", "none"] | None = None


class FeedbackBody(Body):
    useful: bool


class ArticleBody(Body):
    """All of title and body on create; any of the fields on edit."""

    title: Annotated[str, Field(max_length=500)] | None = None
    body: Annotated[str, Field(max_length=100_000)] | None = None
    group: Group | None = None


class ProblemBody(Body):
    title: Annotated[str, Field(max_length=500)] | None = None
    symptoms: Annotated[str, Field(max_length=50_000)] | None = None
    cause: Annotated[str, Field(max_length=50_000)] | None = None
    workaround: Annotated[str, Field(max_length=50_000)] | None = None
    group: Group | None = None
    status: Literal[PROBLEM_STATUSES] | None = None
    incident_ids: list[int] | None = None


class ContractBody(Body):
    plan_kind: Literal[PLAN_KINDS]
    tier: Literal[tuple(TIER_COEFFICIENTS)] | None = None
    valid_from: Instant
    valid_to: Instant | None = None
    terms: dict[str, Any] | None = Field(None, description="the plan's terms, as in docs/billing.md")


class ChangeRequestBody(Body):
    new_price: Money
    agreed_by: Annotated[str, Field(max_length=200)]
    scope: Text | None = None
    deadline: Instant | None = None
    type_messages: ClassVar[dict[str, str]] = {"new_price": f"new_price {_MONEY_MESSAGE}"}


class OperationBody(Body):
    kind: Annotated[str, Field(max_length=100)]
    quantity: Annotated[int, Field(ge=1, le=1000)]
    visit: Annotated[str, Field(description="YYYY-MM-DD")] | None = None


# --- responses ---------------------------------------------------------------------------------------------


class TicketSummary(Reply):
    id: int
    external_id: str | None
    client_id: int
    subject: str
    type: str
    channel: str
    priority: str | None
    group: str | None
    status: str
    created_at: str | None
    resolved_at: str | None
    sla_state: str | None


class TicketList(Reply):
    total: int
    items: list[TicketSummary]


class CommentOut(Reply):
    id: int
    ticket_id: int | None = None
    author: str
    body: str
    public: bool
    created_at: str | None


class TicketDetail(TicketSummary):
    """A ticket with its comments (internal ones for staff only), work log, pauses and SLA due instants."""

    description: str | None
    urgency: str | None
    requester_name: str | None
    requester_email: str | None
    billing_mode: str | None
    estimate_hours: str | None
    fixed_price: str | None
    comments: list[CommentOut]
    time_entries: list[dict[str, Any]]
    pauses: list[dict[str, Any]]
    nodes: list[dict[str, Any]]
    assignees: list[dict[str, Any]]
    #: The partner's own SLA clock per partner company working the ticket (staff and that partner only).
    partner_sla: list[dict[str, Any]] = []


class TimeEntryOut(Reply):
    id: int
    ticket_id: int
    specialist_id: int
    started_at: str | None
    minutes: int
    on_site: bool
    off_hours_agreed: bool
    work_kind: str | None
    note: str | None


class AllowedActions(Reply):
    ticket_id: int
    current_status: str
    allowed_actions: list[str]
    flagged_for_escalation: bool
    transitions: Any


class History(Reply):
    ticket_id: int
    items: list[dict[str, Any]]


class Prediction(Reply):
    value: str | None
    confidence: float | None


class TriageOut(Reply):
    priority: Prediction
    group: Prediction
    needs_human: bool
    needs_human_reasons: list[str]
    specialists: list[dict[str, Any]]
    nearest_incidents_from: str
    model_versions: dict[str, str | None]


class SearchOut(Reply):
    query: str
    client_id: int | None
    k: int
    incidents: list[dict[str, Any]]
    articles: list[dict[str, Any]]
    known_problems: list[dict[str, Any]]
    took_ms: float


class FeedbackOut(Reply):
    id: int
    ticket_id: int
    kind: str
    ref: int
    useful: bool
    actor: str
    at: str


class ArticleOut(Reply):
    id: int
    external_id: str | None
    title: str
    body: str
    group: str | None
    tags: Any
    created_at: str | None
    updated_at: str | None


class ArticleList(Reply):
    total: int
    items: list[ArticleOut]


class ProblemOut(Reply):
    id: int
    external_id: str | None
    title: str
    symptoms: str | None
    cause: str | None
    workaround: str | None
    group: str | None
    status: str
    incident_ids: list[int]
    created_at: str | None
    updated_at: str | None


class ProblemList(Reply):
    total: int
    items: list[ProblemOut]


class ClientOut(Reply):
    id: int
    external_id: str | None
    name: str
    sla_policy: str | None
    calendar: str | None
    timezone: str | None
    country: str | None
    region: str | None


class Items(Reply):
    """A list answer: ``items`` (and, where paged, ``total``)."""

    items: list[dict[str, Any]]


class ClientList(Reply):
    items: list[ClientOut]


class ChangeRequestOut(Reply):
    id: int
    ticket_id: int
    old_price: str | None
    new_price: str | None
    scope: str | None
    deadline: str | None
    agreed_by: str
    agreed_at: str | None


class ChangeRequestList(Reply):
    ticket_id: int
    billing_mode: str | None
    fixed_price: str | None
    items: list[ChangeRequestOut]


class TicketSla(Reply):
    ticket_id: int
    priority: str | None
    state: str
    paused: bool
    evaluated_at: str
    targets: dict[str, dict[str, Any]]


class Policies(Reply):
    policies: list[dict[str, Any]]


class Document(Reply):
    """A JSON report (its keys are described in the operation's docs/*.md)."""


# --- price calculator and infrastructure audit (docs/quote.md, docs/audit.md) ----------------------------

class QuoteBody(Body):
    """The calculator's input; the rate card decides which package sizes exist."""

    workstations: Annotated[int, Field(ge=0, le=quote.MAX_WORKSTATIONS)] = 0
    servers: Annotated[int, Field(ge=0, le=quote.MAX_SERVERS)] = 0
    tier: Literal[tuple(TIER_COEFFICIENTS)] | None = None  # type: ignore[valid-type]
    plan: Literal[quote.QUOTE_PLANS] | None = None  # type: ignore[valid-type]
    package_hours: str | None = Field(None, description="one of the rate card's package sizes (package plan)")
    on_site_visits: Literal[quote.VISIT_FREQUENCIES] | None = None  # type: ignore[valid-type]
    prepayment_months: Annotated[int, Field(ge=0, le=quote.MAX_PREPAYMENT_MONTHS)] = 1
    month: str | None = Field(None, description="first month of the contract, YYYY-MM (default: next month)")


class QuoteOut(Reply):
    request: dict[str, Any]
    month: str
    plan_kind: str
    tier: str
    currency: str
    lines: list[dict[str, Any]]
    monthly_total: str
    prepayment: dict[str, Any]
    terms: dict[str, Any]


class AuditOut(Reply):
    client: dict[str, Any]
    generated_at: str
    single_points_of_failure: list[dict[str, Any]]
    critical_gaps: list[dict[str, Any]]
    recurring_incidents: list[dict[str, Any]]
    restore_times: Any
    failure_plans: list[dict[str, Any]]
    summary: dict[str, Any]
