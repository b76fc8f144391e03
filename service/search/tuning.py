"""``precedent search tune``: fusion weights and relevance floor per collection, chosen on the desk's own pairs.

Labelled pairs come from what the desk already records: suggestions engineers marked useful (their latest
verdict per ticket and item; a "not useful" verdict removes a pair any other source proposed), incidents
linked to a known problem (relevant to that problem, and to each other), incidents whose resolution cites an
article by its external id, and optionally a labelled CSV. :func:`ml.retrieval_tuning.tune_fusion` chooses
by cross-validation; the choice is stored as ``<var>/index/tuning/<kind>.json`` (with a numbered copy per
version and the metrics), which :func:`service.search.service.fusion_config` reads, and the collection's
index is saved with every signal the choice may need.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb.models import Article, KnownProblem, SuggestionFeedback, Ticket
from ml.retrieval import SIGNALS, FusionConfig, HybridRetriever
from ml.retrieval_tuning import tune_fusion
from service.config import Settings

log = logging.getLogger(__name__)
Pairs = dict[str, set[int]]  # query text -> relevant refs


def tuning_path(settings: Settings, kind: str, version: int | None = None) -> Path:
    """Where the tuned setting of collection ``kind`` lives (``version``: its numbered copy)."""
    name = f"{kind}.json" if version is None else f"{kind}-v{version}.json"
    return Path(settings.index_dir) / "tuning" / name


def read_tuning(settings: Settings, kind: str) -> dict | None:
    """The stored tuning of ``kind``, or None when there is none, it is unreadable, or it was chosen for
    another embedder (weights and floors are cosines of that model: they do not carry over)."""
    path = tuning_path(settings, kind)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("embedder_setting", settings.search_embedder) != settings.search_embedder:
        log.warning("search tuning %s was chosen for embedder %r, %r is configured: ignored (run `precedent "
                    "search tune` again)", path, record.get("embedder_setting"), settings.search_embedder)
        return None
    return record


def ticket_query(ticket: Ticket) -> str:
    """What a ticket asks: subject and description (never its resolution, which is the answer)."""
    return f"{ticket.subject}\n{ticket.description or ''}".strip()


def _latest_verdicts(session: Session, kind: str) -> dict[tuple[int, int], bool]:
    rows = session.execute(select(SuggestionFeedback.ticket_id, SuggestionFeedback.ref, SuggestionFeedback.useful)
                           .where(SuggestionFeedback.kind == kind).order_by(SuggestionFeedback.id))
    return {(ticket_id, ref): bool(useful) for ticket_id, ref, useful in rows}


def _linked_incidents(session: Session) -> dict[int, list[int]]:
    problems = session.scalars(select(KnownProblem).options(selectinload(KnownProblem.incidents))).all()
    return {p.id: [t.id for t in p.incidents] for p in problems}


def _citations(session: Session) -> dict[int, set[int]]:
    """``{ticket id: {article id}}`` for resolutions that cite an article's external id."""
    articles = [(a.id, a.external_id.casefold()) for a in session.scalars(select(Article))
                if a.external_id and len(a.external_id) >= 4]
    found: dict[int, set[int]] = {}
    if not articles:
        return found
    for ticket_id, resolution in session.execute(select(Ticket.id, Ticket.resolution)
                                                 .where(Ticket.resolution.is_not(None))):
        text = resolution.casefold()
        cited = {article_id for article_id, external in articles if external in text}
        if cited:
            found[ticket_id] = cited
    return found


def labelled_pairs(session: Session, kind: str) -> tuple[dict[int, set[int]], dict[str, int]]:
    """``({query ticket id: relevant refs of kind}, {source: pairs})`` from the store."""
    by_ticket: dict[int, set[int]] = {}
    sources = {"verdicts_useful": 0, "verdicts_not_useful": 0, "known_problem_links": 0, "article_citations": 0}

    def add(ticket_id: int, refs: Iterable[int], source: str) -> None:
        refs = {r for r in refs if not (kind == "incident" and r == ticket_id)}
        if refs:
            by_ticket.setdefault(ticket_id, set()).update(refs)
            sources[source] += len(refs)

    links = _linked_incidents(session)
    for problem_id, tickets in links.items():
        for ticket_id in tickets:
            add(ticket_id, [problem_id] if kind == "known_problem" else tickets if kind == "incident" else [],
                "known_problem_links")
    if kind == "article":
        for ticket_id, cited in _citations(session).items():
            add(ticket_id, cited, "article_citations")
    for (ticket_id, ref), useful in _latest_verdicts(session, kind).items():
        if useful:
            add(ticket_id, [ref], "verdicts_useful")
        else:
            sources["verdicts_not_useful"] += 1
            by_ticket.get(ticket_id, set()).discard(ref)
    return {t: refs for t, refs in by_ticket.items() if refs}, sources


def _queries(session: Session, by_ticket: Mapping[int, set[int]]) -> tuple[list[str], list[set[int]], list[int]]:
    tickets = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(list(by_ticket))))} \
        if by_ticket else {}
    ids = [t for t in sorted(by_ticket) if t in tickets]
    return [ticket_query(tickets[t]) for t in ids], [by_ticket[t] for t in ids], ids


def _store(settings: Settings, kind: str, report: dict, model: str) -> int:
    previous = read_tuning(settings, kind)
    version = int(previous["version"]) + 1 if previous else 1
    record = {"version": version, "kind": kind, "tuned_at": datetime.now(UTC).isoformat(), "model": model,
              "embedder_setting": settings.search_embedder, "config": report["config"], "report": report}
    path = tuning_path(settings, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, indent=1, ensure_ascii=False)
    tuning_path(settings, kind, version).write_text(text, encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    return version


@dataclass
class TuningSet:
    """One collection's labelled queries and a retriever fitted with every signal, ready to re-rank."""

    kind: str
    retriever: HybridRetriever | None
    current: FusionConfig
    queries: list[str]
    relevant: list[set[int]]
    exclude: list[set[int]]
    sources: dict[str, int]
    model: str


def tuning_set(session: Session, settings: Settings, kind: str, *, extra_pairs: Pairs | None = None,
               model=None, fit: bool = True) -> TuningSet:
    """The desk's labelled pairs of ``kind`` (plus ``extra_pairs``: query text -> refs) and, with ``fit``, a
    retriever over the whole collection with every signal, as :func:`tune_search` and notebooks/03 use them."""
    from service.search import service as search

    model = model or search.embedder(settings)
    by_ticket, sources = labelled_pairs(session, kind)
    queries, relevant, ticket_ids = _queries(session, by_ticket)
    excluded = [{t} if kind == "incident" else set() for t in ticket_ids]
    for text, refs in (extra_pairs or {}).items():
        queries.append(text)
        relevant.append(set(refs))
        excluded.append(set())
    sources["csv"] = sum(len(r) for r in (extra_pairs or {}).values())
    pairs = TuningSet(kind, None, search.fusion_config(settings, kind), queries, relevant, excluded, sources,
                      model.name)
    return fitted(session, settings, pairs, model) if fit else pairs


def fitted(session: Session, settings: Settings, pairs: TuningSet, model) -> TuningSet:
    """``pairs`` with a retriever over the whole collection fitted with every signal."""
    from service.search import service as search

    everything = search.new_retriever(settings, model, pairs.kind)
    everything.config = replace(pairs.current, weights=dict.fromkeys(SIGNALS, 1.0))
    everything.fit([search._document(pairs.kind, row) for row in search._rows(session, pairs.kind)])
    return replace(pairs, retriever=everything)


def tune_search(session: Session, settings: Settings, *, kinds: Sequence[str], folds: int = 5,
                extra_pairs: Mapping[str, Pairs] | None = None, min_queries: int = 20,
                store: bool = True) -> dict:
    """Tune every collection of ``kinds`` on its labelled pairs; store and apply each choice unless
    ``store`` is False. Returns ``{kind: report}`` (see :func:`ml.retrieval_tuning.tune_fusion`)."""
    from service.search import service as search

    out = {}
    model = search.embedder(settings)
    for kind in kinds:
        pairs = tuning_set(session, settings, kind, extra_pairs=(extra_pairs or {}).get(kind), model=model,
                           fit=False)
        if len(pairs.queries) < max(min_queries, folds):  # decided without indexing anything
            out[kind] = {**tune_fusion(None, pairs.queries, pairs.relevant, current=pairs.current, folds=folds,
                                       min_queries=min_queries), "sources": pairs.sources, "stored": False}
            continue
        pairs = fitted(session, settings, pairs, model)
        report = tune_fusion(pairs.retriever, pairs.queries, pairs.relevant, current=pairs.current, folds=folds,
                             min_queries=min_queries, exclude=pairs.exclude)
        report["sources"] = pairs.sources
        if store and report.get("cv") is not None:
            report["version"] = _store(settings, kind, report, model.name)
        report["stored"] = bool(store and report.get("cv") is not None)
        out[kind] = report
    if any(r["stored"] for r in out.values()):
        # The index is rebuilt with the stored choices (each needs its own signals); the embedding cache
        # makes that a re-read of vectors computed for tuning.
        search.build_index(session, settings)
    search.forget_loaded()
    return out
