"""The service's Prometheus metrics beyond HTTP: triage, suggestions, SLA and the search index.

Counters and histograms are process-wide (prometheus-client writes them to ``PROMETHEUS_MULTIPROC_DIR`` under
gunicorn, so a scrape of any worker sums all of them). Triage predictions and suggestion verdicts are counted
when the transaction that stores them commits (SQLAlchemy session events), whatever entry point stored
them; suggestions served are counted by the API. SLA states and the index are read from the database and the
index manifests when scraped (:class:`StateCollector`), so they are right in every worker without gauges.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from kb.models import SuggestionFeedback, Ticket, TriagePrediction
from kb.vocab import OPEN_STATUSES

#: Where the process-wide metrics live (the per-app HTTP metrics have their own registry, see service.api.meta).
REGISTRY = CollectorRegistry()
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)

triage_confidence = Histogram(
    "precedent_triage_confidence", "Confidence of triage predictions stored with new tickets",
    ["field"], buckets=CONFIDENCE_BUCKETS, registry=REGISTRY)
triage_routed = Counter(
    "precedent_triage_routed_total", "New tickets by where triage sent them", ["route"], registry=REGISTRY)
suggestions_served = Counter(
    "precedent_suggestions_served_total", "Suggestions answered by the search API", ["kind"], registry=REGISTRY)
suggestion_verdicts = Counter(
    "precedent_suggestion_feedback_total", "Engineers' verdicts on suggestions", ["kind", "useful"],
    registry=REGISTRY)

_PENDING = "precedent.metrics.pending"
_KINDS = {"incidents": "incident", "articles": "article", "known_problems": "known_problem"}


def count_served(result: dict) -> None:
    """Count the suggestions of one search answer (``incidents``, ``articles``, ``known_problems``)."""
    for key, kind in _KINDS.items():
        served = len(result.get(key) or ())
        if served:
            suggestions_served.labels(kind).inc(served)


def _observe_prediction(row: TriagePrediction) -> None:
    triage_routed.labels("human_queue" if row.needs_human else "auto_routed").inc()
    for field, confidence in (("group", row.group_confidence), ("priority", row.priority_confidence)):
        if confidence is not None:
            triage_confidence.labels(field).observe(confidence)


def _observe_feedback(row: SuggestionFeedback) -> None:
    suggestion_verdicts.labels(row.kind, "true" if row.useful else "false").inc()


_OBSERVERS: dict[type, Callable] = {TriagePrediction: _observe_prediction, SuggestionFeedback: _observe_feedback}


def _remember_new_rows(session: Session, flush_context, instances) -> None:
    pending = session.info.setdefault(_PENDING, [])
    pending.extend(row for row in session.new if type(row) in _OBSERVERS)


def _observe_committed(session: Session) -> None:
    for row in session.info.pop(_PENDING, ()):
        _OBSERVERS[type(row)](row)


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def install_session_events() -> None:
    """Count stored predictions and verdicts on commit (idempotent; every session of the process)."""
    if not event.contains(Session, "before_flush", _remember_new_rows):
        event.listen(Session, "before_flush", _remember_new_rows)
        event.listen(Session, "after_commit", _observe_committed)
        event.listen(Session, "after_rollback", _forget)


class StateCollector(Collector):
    """SLA states of the open tickets and the search index's size and age, read at scrape time."""

    def __init__(self, session_factory: Callable[[], Session], index_dir: Path):
        self.session_factory = session_factory
        self.index_dir = Path(index_dir)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        sla = GaugeMetricFamily("precedent_sla_open_tickets", "Open tickets by SLA state", labels=["state"])
        with self.session_factory() as session:
            rows = session.execute(select(Ticket.sla_state, func.count()).where(Ticket.status.in_(OPEN_STATUSES))
                                   .group_by(Ticket.sla_state)).all()
        counts = {state or "none": n for state, n in rows}
        for state in ("on_track", "at_risk", "breached", "paused"):
            sla.add_metric([state], counts.pop(state, 0))
        for state, n in counts.items():
            sla.add_metric([state], n)
        yield sla
        yield from self._index()

    def _index(self) -> Iterator[GaugeMetricFamily]:
        size = GaugeMetricFamily("precedent_index_documents", "Documents in the search index", labels=["kind"])
        age = GaugeMetricFamily("precedent_index_age_seconds", "Seconds since the search index was built",
                                labels=["kind"])
        now = datetime.now(UTC)
        for manifest_path in sorted(self.index_dir.glob("*/manifest.json")):
            try:
                manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
                built = datetime.fromisoformat(manifest["built_at"])
            except (OSError, ValueError, KeyError):
                continue  # an index being rewritten or broken: the search answers say so, not the scrape
            kind = manifest_path.parent.name
            size.add_metric([kind], float(manifest.get("count", 0)))
            built = built if built.tzinfo else built.replace(tzinfo=UTC)
            age.add_metric([kind], max(0.0, (now - built).total_seconds()))
        yield size
        yield age
