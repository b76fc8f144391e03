"""Triage of a new request: priority, specialist group, confidence, rules that fired, specialists.

``triage_request`` is what ticket creation runs and what ``POST /api/v1/triage`` answers (a
:class:`TriageResult`; its ``to_dict()`` is the JSON); ``record_prediction`` stores it as a TriagePrediction
so that production accuracy can later be measured against what engineers set.  With no published model it still answers: rules only,
``needs_human`` true.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb import vocab
from kb.models import Assignment, Client, Node, Partner, Ticket, TriagePrediction
from kb.queries.directory import get_nodes, list_specialists
from ml.classify import ticket_frame
from ml.ranking import Candidate, IncidentNeighbours, RankedSpecialist, RankingContext, rank_specialists
from ml.registry import ModelError, PublishedModels
from ml.rules import NodeSignal, apply_priority_rules, priority_rules
from ml.training import PRIORITY_MODEL, ROUTING_MODEL, signals_for
from service.config import Settings, current_settings

log = logging.getLogger(__name__)

#: Node kinds whose problems usually need someone on site (the client's field engineer).
ON_SITE_NODE_KINDS = frozenset({"workstation", "printer", "retail_device", "camera", "pbx"})
_ON_SITE_WORDS = ("on-site", "on site", "выезд", "приехать", "на месте")
#: Threshold used when a manifest has none for the configured target precision.
FALLBACK_THRESHOLD = 0.5

_registries: dict[Path, PublishedModels] = {}
#: database URL -> (checked at, (count, max id) of resolved tickets, neighbours)
_neighbours: dict[str, tuple[float, tuple, IncidentNeighbours]] = {}


class TriageInputError(ValueError):
    """A triage input is not acceptable; ``field`` names it."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def published_models(models_dir: Path) -> PublishedModels:
    """The process-wide cache of published models under ``models_dir``."""
    key = Path(models_dir).resolve()
    if key not in _registries:
        _registries[key] = PublishedModels(key)
    return _registries[key]


def _threshold(manifest: dict, fixed: float, target: float, label: str | None) -> float:
    if fixed > 0:
        return fixed
    table = (manifest.get("thresholds") or {}).get(f"{target:g}")
    if not table:
        return FALLBACK_THRESHOLD
    per_class = table.get("per_class") or {}
    if label is not None and label in per_class:
        return float(per_class[label])
    value = table.get("global")
    return 1.0 if value is None else float(value)


def _predict(models: PublishedModels, name: str, frame) -> tuple[list[tuple[str, float]], dict] | None:
    """Classes with probabilities, best first, and the manifest; None when no usable model."""
    try:
        loaded = models.get(name)
    except ModelError as exc:  # a broken publication must not take intake down
        log.error("triage: published %s model unusable: %s", name, exc)
        return None
    if loaded is None:
        return None
    estimator, manifest = loaded
    proba = estimator.predict_proba(frame)[0]
    classes = estimator.classes_ if hasattr(estimator, "classes_") else estimator[-1].classes_
    ranked = sorted(zip((str(c) for c in classes), (float(p) for p in proba), strict=True), key=lambda item: -item[1])
    return ranked, manifest


def _open_load(session: Session) -> dict[int, int]:
    rows = session.execute(
        select(Assignment.specialist_id, func.count())
        .join(Ticket, Ticket.id == Assignment.ticket_id)
        .where(Assignment.released_at.is_(None), Ticket.status.in_(vocab.OPEN_STATUSES))
        .group_by(Assignment.specialist_id)
    )
    return {specialist_id: count for specialist_id, count in rows}


def _search_index_exists(settings: Settings) -> bool:
    # Triage must stay fast: it never triggers a first index build (``precedent index build`` does).
    return (settings.index_dir / "incident" / "manifest.json").exists()


def forget_neighbours() -> None:
    """Drop the cached neighbours of every store: for a store emptied under a running process while it
    keeps its URL (a test database truncated between tests)."""
    _neighbours.clear()


def incident_neighbours(session: Session, *, refresh_seconds: int = 300) -> IncidentNeighbours:
    """TF-IDF neighbours over the store's resolved incidents, rebuilt when they changed (checked at
    most every ``refresh_seconds``, so a busy desk does not re-fit on every triage)."""
    key = str(session.get_bind().url)
    now = time.monotonic()
    cached = _neighbours.get(key)
    if cached is not None and now - cached[0] < refresh_seconds:
        return cached[2]
    resolved = Ticket.resolved_at.is_not(None)
    stamp = tuple(session.execute(select(func.count(), func.max(Ticket.id)).where(resolved)).one())
    if cached is not None and cached[1] == stamp:
        _neighbours[key] = (now, stamp, cached[2])
        return cached[2]
    resolver_of: dict[int, int] = {}
    for ticket_id, specialist_id in session.execute(
            select(Assignment.ticket_id, Assignment.specialist_id)
            .join(Ticket, Ticket.id == Assignment.ticket_id)
            .where(resolved, Assignment.role == "primary").order_by(Assignment.assigned_at)):
        resolver_of[ticket_id] = specialist_id  # the last primary owner resolved it
    rows = session.execute(select(Ticket.id, Ticket.subject, Ticket.description).where(resolved)).all()
    neighbours = IncidentNeighbours().fit(
        [r.id for r in rows], [f"{r.subject}\n{r.description or ''}" for r in rows],
        [resolver_of.get(r.id) for r in rows])
    _neighbours[key] = (now, stamp, neighbours)
    return neighbours


def _nearest_resolvers(session: Session, *, text: str, client_id: int | None, group: str | None,
                       use_search: bool, refresh_seconds: int = 300) -> tuple[dict[int, float], str]:
    """specialist id -> weight of the nearest resolved incidents they resolved, and where it came from."""
    incident_scores: dict[int, float] = {}
    source = "none"
    if use_search:
        from service.search import service as search

        try:
            found = search.suggest(session, text=text, client_id=client_id, k=10)
            for item in (found or {}).get("incidents", []):
                ticket_id = item.get("id") or item.get("ticket_id")
                if ticket_id is not None:
                    incident_scores[int(ticket_id)] = max(float(item.get("score") or 0.0), 1e-6)
            source = "search"
        except Exception as exc:  # no index yet, or it is being rebuilt: rank without it
            log.warning("triage: suggest unavailable (%s); ranking without nearest incidents", exc)
    if not incident_scores:
        resolvers = incident_neighbours(session, refresh_seconds=refresh_seconds).resolvers(text)
        if resolvers:
            return resolvers, "tfidf_neighbours"
    if not incident_scores and group is not None:
        # Nothing similar at all: the latest resolved incidents of the same group (and client) stand in.
        query = select(Ticket.id).where(Ticket.group == group, Ticket.resolved_at.is_not(None))
        if client_id is not None:
            query = query.where(Ticket.client_id == client_id)
        incident_scores = {ticket_id: 1.0 for ticket_id in session.scalars(
            query.order_by(Ticket.resolved_at.desc()).limit(20))}
        source = "same_group_history" if incident_scores else "none"
    if not incident_scores:
        return {}, source
    resolvers: dict[int, float] = {}
    rows = session.execute(
        select(Assignment.ticket_id, Assignment.specialist_id)
        .where(Assignment.ticket_id.in_(list(incident_scores)), Assignment.role == "primary"))
    for ticket_id, specialist_id in rows:
        resolvers[specialist_id] = resolvers.get(specialist_id, 0.0) + incident_scores[ticket_id]
    return resolvers, source


def _candidates(session: Session) -> list[Candidate]:
    load = _open_load(session)
    partners = {p.id: p for p in session.scalars(select(Partner).where(Partner.active.is_(True)))}
    out = []
    for specialist in list_specialists(session):
        company = partners.get(specialist.partner_id)
        out.append(Candidate(
            id=specialist.id, name=specialist.name,
            skills={skill.group: skill.level for skill in specialist.skills},
            line=specialist.line, region=specialist.region,
            partner=company.name if company else specialist.partner,
            serves_regions=tuple(company.regions or ()) if company else (),
            capacity=specialist.capacity, open_load=load.get(specialist.id, 0),
            calendar=specialist.calendar, timezone=specialist.timezone,
            absences=[(a.starts_at, a.ends_at) for a in specialist.absences],
        ))
    return out


# --- the result ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alternative:
    """A runner-up class of a prediction."""

    value: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "confidence": self.confidence}


@dataclass
class GroupPrediction:
    """The specialist group: the routing model's best class (None without a model), its calibrated
    confidence, the next classes and the threshold the confidence had to reach (rounded as answered).

    ``needs_human_reasons`` (why this prediction sends the ticket to a human) and ``model_version`` are
    reported at the top of the answer, not in the group's own JSON."""

    value: str | None = None
    confidence: float | None = None
    alternatives: list[Alternative] = field(default_factory=list)
    threshold: float | None = None
    needs_human_reasons: list[str] = field(default_factory=list)
    model_version: str | None = None

    @property
    def needs_human(self) -> bool:
        return bool(self.needs_human_reasons)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "confidence": self.confidence,
                "alternatives": [a.to_dict() for a in self.alternatives], "threshold": self.threshold}


@dataclass
class PriorityPrediction:
    """The priority: what decided it (``source``: rule, model or default), the deciding rule, every rule
    that fired and what the model alone said.  ``confidence`` is 1.0 when a rule decided.

    ``threshold`` (the model's confidence had to reach it; not in the JSON), ``needs_human_reasons``
    and ``model_version`` are reported at the top of the answer."""

    value: str
    source: str
    confidence: float | None = None
    rule: str | None = None
    rule_reason: str | None = None
    rules_fired: list[str] = field(default_factory=list)
    model_value: str | None = None
    threshold: float | None = None
    needs_human_reasons: list[str] = field(default_factory=list)
    model_version: str | None = None

    @property
    def needs_human(self) -> bool:
        return bool(self.needs_human_reasons)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "confidence": self.confidence, "rule": self.rule,
                "rule_reason": self.rule_reason, "rules_fired": list(self.rules_fired), "source": self.source,
                "model_value": self.model_value}


@dataclass
class TriageResult:
    """What triage says about a request; :meth:`to_dict` is the JSON of ``POST /api/v1/triage``."""

    priority: PriorityPrediction
    group: GroupPrediction
    specialists: list[RankedSpecialist] = field(default_factory=list)
    #: where the nearest past incidents came from: "search", "tfidf_neighbours", "same_group_history", "none"
    nearest_incidents_from: str = "none"

    @property
    def needs_human_reasons(self) -> list[str]:
        return [*self.group.needs_human_reasons, *self.priority.needs_human_reasons]

    @property
    def needs_human(self) -> bool:
        """True when a model is missing or not sure enough: the ticket goes to the human triage queue."""
        return self.group.needs_human or self.priority.needs_human

    @property
    def model_versions(self) -> dict[str, str | None]:
        return {ROUTING_MODEL: self.group.model_version, PRIORITY_MODEL: self.priority.model_version}

    def to_dict(self) -> dict[str, Any]:
        return {
            "priority": self.priority.to_dict(),
            "group": self.group.to_dict(),
            "needs_human": self.needs_human,
            "needs_human_reasons": self.needs_human_reasons,
            "specialists": [s.as_dict() for s in self.specialists],
            "nearest_incidents_from": self.nearest_incidents_from,
            "model_versions": self.model_versions,
        }


# --- the steps ----------------------------------------------------------------------------------------


def _checked_request(session: Session, *, subject: str, client_id: int | None, channel: str | None,
                     node_ids: Sequence[int] | None) -> tuple[Client | None, list[Node]]:
    """The client and nodes of a request, or :class:`TriageInputError` naming the field."""
    if not isinstance(subject, str) or not subject.strip():
        raise TriageInputError("subject must not be empty", "subject")
    if channel is not None and channel not in vocab.CHANNELS:
        raise TriageInputError(f"channel must be one of {', '.join(vocab.CHANNELS)}", "channel")
    client: Client | None = None
    if client_id is not None:
        client = session.get(Client, client_id)
        if client is None:
            raise TriageInputError(f"client {client_id} not found", "client_id")
    nodes: list[Node] = []
    if node_ids:
        wanted = list(dict.fromkeys(int(i) for i in node_ids))
        nodes = get_nodes(session, node_ids=wanted)
        missing = sorted(set(wanted) - {n.id for n in nodes})
        if missing:
            raise TriageInputError(f"nodes not found: {', '.join(map(str, missing))}", "node_ids")
        if client_id is not None and any(n.client_id != client_id for n in nodes):
            raise TriageInputError("every node must belong to the ticket's client", "node_ids")
    return client, nodes


def _predict_group(models: PublishedModels, frame, settings: Settings) -> GroupPrediction:
    """The routing model's group, or none (and a human) without a usable published model."""
    routed = _predict(models, ROUTING_MODEL, frame)
    if routed is None:
        return GroupPrediction(needs_human_reasons=["no published routing model"])
    ranked, manifest = routed
    best, confidence = ranked[0]
    threshold = _threshold(manifest, settings.triage_group_threshold, settings.triage_target_precision, best)
    reasons = [f"group confidence {confidence:.2f} below {threshold:.2f}"] if confidence < threshold else []
    return GroupPrediction(
        value=best, confidence=round(confidence, 4),
        alternatives=[Alternative(v, round(p, 4)) for v, p in ranked[1:4]],
        threshold=round(threshold, 4), needs_human_reasons=reasons, model_version=manifest.get("version"))


def _predict_priority(models: PublishedModels, frame, settings: Settings, *, text: str, channel: str | None,
                      alert_severity: str | None, nodes: Sequence[Node]) -> PriorityPrediction:
    """The priority model's value raised by the deterministic rules; "standard" when neither speaks."""
    fired = priority_rules(text=text, channel=channel, alert_severity=alert_severity,
                           nodes=[NodeSignal(n.kind, n.criticality, n.monitored) for n in nodes])
    predicted = _predict(models, PRIORITY_MODEL, frame)
    model_priority, confidence, threshold, version = None, None, None, None
    if predicted is not None:
        ranked, manifest = predicted
        model_priority, confidence = ranked[0]
        threshold = _threshold(manifest, settings.triage_priority_threshold, settings.triage_target_precision,
                               model_priority)
        version = manifest.get("version")
    value, deciding_rule = apply_priority_rules(model_priority, fired)
    reasons: list[str] = []
    if deciding_rule is not None:
        source = "rule"
    elif model_priority is not None:
        source = "model"
        if confidence < threshold:
            reasons.append(f"priority confidence {confidence:.2f} below {threshold:.2f}")
    else:
        value, source = "standard", "default"
        reasons.append("no published priority model and no rule fired")
    return PriorityPrediction(
        value=value, source=source,
        confidence=1.0 if source == "rule" else (round(confidence, 4) if confidence is not None else None),
        rule=deciding_rule.name if deciding_rule else None,
        rule_reason=deciding_rule.reason if deciding_rule else None,
        rules_fired=[rule.name for rule in fired], model_value=model_priority, threshold=threshold,
        needs_human_reasons=reasons, model_version=version)


def _rank(session: Session, *, text: str, group: str | None, client: Client | None, nodes: Sequence[Node],
          settings: Settings, now: datetime) -> tuple[list[RankedSpecialist], str]:
    """Specialists for the group, ranked, and where the nearest past incidents came from."""
    resolvers, resolver_source = _nearest_resolvers(
        session, text=text, client_id=client.id if client else None, group=group,
        use_search=settings.triage_use_search and _search_index_exists(settings),
        refresh_seconds=settings.triage_neighbours_refresh_seconds)
    on_site = any(n.kind in ON_SITE_NODE_KINDS for n in nodes) or any(
        word in text.lower() for word in _ON_SITE_WORDS)
    region = next((n.region for n in nodes if n.region), None) or (client.region if client else None)
    context = RankingContext(
        group=group, now=now, client_field_engineer_id=client.field_engineer_id if client else None,
        on_site=on_site, region=region, nearest_resolvers=resolvers)
    return rank_specialists(_candidates(session), context, limit=settings.triage_specialists), resolver_source


def triage_request(
    session: Session,
    *,
    subject: str,
    description: str | None = None,
    client_id: int | None = None,
    channel: str | None = None,
    node_ids: Sequence[int] | None = None,
    alert_severity: str | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> TriageResult:
    """Priority, group, confidence, fired rule and ranked specialists for a request.

    Raises :class:`TriageInputError` (with ``field``) for an empty subject, an unknown client or
    channel, or nodes that do not exist or belong to another client.
    """
    settings = current_settings(settings)
    now = now or datetime.now(UTC)
    client, nodes = _checked_request(session, subject=subject, client_id=client_id, channel=channel,
                                     node_ids=node_ids)
    signals = signals_for(subject=subject, description=description or "", channel=channel,
                          tier=client.sla_policy if client else None, nodes=nodes,
                          alert_severity=alert_severity)
    frame = ticket_frame([signals])
    models = published_models(settings.models_dir)
    group = _predict_group(models, frame, settings)
    priority = _predict_priority(models, frame, settings, text=signals.text, channel=channel,
                                 alert_severity=alert_severity, nodes=nodes)
    specialists, resolver_source = _rank(session, text=signals.text, group=group.value, client=client,
                                         nodes=nodes, settings=settings, now=now)
    return TriageResult(priority=priority, group=group, specialists=specialists,
                        nearest_incidents_from=resolver_source)


def rank_for_ticket(session: Session, *, ticket: Ticket, settings: Settings | None = None,
                    now: datetime | None = None) -> list[RankedSpecialist]:
    """Specialists for an existing ticket (its group, client and nodes), ranked now, each with its reasons."""
    settings = current_settings(settings)
    text = f"{ticket.subject}\n{ticket.description or ''}"
    client = session.get(Client, ticket.client_id)
    ranked, _source = _rank(session, text=text, group=ticket.group, client=client, nodes=list(ticket.nodes),
                            settings=settings, now=now or datetime.now(UTC))
    return ranked


def record_prediction(session: Session, *, ticket: Ticket, result: TriageResult) -> None:
    """Add a TriagePrediction of ``result`` for ``ticket`` to the session (no commit)."""
    if ticket.id is None:
        session.flush()
    session.add(TriagePrediction(
        ticket_id=ticket.id,
        priority=result.priority.value,
        priority_confidence=result.priority.confidence,
        priority_rule=result.priority.rule,
        group=result.group.value,
        group_confidence=result.group.confidence,
        needs_human=result.needs_human,
        specialist_ids={"ranked": [s.id for s in result.specialists]},
        model_versions=result.model_versions,
    ))
