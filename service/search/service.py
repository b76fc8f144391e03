"""Similar-fix search over the knowledge store: index build, lazy loading, incremental updates, suggestions.

Three retrievers share one configuration: resolved incidents, knowledge articles and known problems, each
persisted under ``<var>/index/<kind>/``. A process loads them once, on the first search. It stays current
in two ways: the in-process signals queue changed tickets and knowledge for the next search, and every
search (at most once per second) picks up rows whose ``updated_at`` passed the index's watermark, which is
how the other worker processes of a gunicorn deployment see changes. Rows deleted from the store are
dropped when results are rendered, so a stale index never shows something that no longer exists.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from kb.models import Article, Client, KnownProblem, Ticket
from ml.embedders import CachedEmbedder, Embedder, make_embedder
from ml.lexical import shared_terms
from ml.retrieval import Document, FusionConfig, HybridRetriever, IndexMismatchError
from ml.retrieval_tuning import config_from
from service.config import Settings, current_settings, load_settings
from service.search.feedback import verdict_boosts
from service.search.tuning import read_tuning

log = logging.getLogger(__name__)

KINDS = ("incident", "article", "known_problem")
RESOLVED_STATUSES = ("resolved", "closed")
SECTIONS = {"incident": "incidents", "article": "articles", "known_problem": "known_problems"}
#: How many articles / known problems a suggestion shows besides the k incidents.
KNOWLEDGE_K = 3
SYNC_INTERVAL_SECONDS = 1.0
#: Most rows changed by other processes that one search re-embeds; the rest follow on the next searches.
SYNC_BATCH = 500
MAX_K = 50


class SearchUnavailable(RuntimeError):
    """No usable index (none built, or built with another model); the message says what to run."""


# --- configuration ------------------------------------------------------------------------------------


def fusion_config(settings: Settings, kind: str | None = None) -> FusionConfig:
    """The fusion configuration of collection ``kind``: what ``precedent search tune`` stored for it, else the
    settings (with the kind's relevance floor; none without a kind)."""
    config = _configured_fusion(settings, kind)
    tuned = read_tuning(settings, kind) if kind else None
    return config_from(tuned["config"], config) if tuned and "config" in tuned else config


def collection_weights(settings: Settings, kind: str | None) -> dict[str, float]:
    """The fusion weights of collection ``kind``: its ``search_weights_<kind>`` pairs, else the global ones."""
    pairs = getattr(settings, f"search_weights_{kind}", ()) if kind else ()
    if not pairs:
        return {"title": settings.search_weight_title, "document": settings.search_weight_document,
                "lexical": settings.search_weight_lexical, "char": settings.search_weight_char}
    weights = {}
    for pair in pairs:
        name, _, value = pair.partition(":")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"PRECEDENT_SEARCH_WEIGHTS_{kind.upper()}: {pair!r} is not signal:weight") from None
    return weights


def _configured_fusion(settings: Settings, kind: str | None) -> FusionConfig:
    return FusionConfig(
        min_similarity=getattr(settings, f"search_min_score_{kind}") if kind else 0.0,
        min_similarity_shared_words=getattr(settings, f"search_min_score_words_{kind}") if kind else None,
        method=settings.search_fusion,
        weights=collection_weights(settings, kind), rrf_k=settings.search_rrf_k, pool=settings.search_pool,
        same_client_boost=settings.search_same_client_boost,
        same_node_kind_boost=settings.search_same_node_kind_boost,
        recency_boost=settings.search_recency_boost,
        recency_half_life_days=settings.search_recency_half_life_days)


@lru_cache(maxsize=4)
def _model(name: str, device: str, threads: int, bulk_threads: int) -> Embedder:
    # One model object per process and configuration: loading weights is the slow part.
    return make_embedder(name, device=device, threads=threads, bulk_threads=bulk_threads)


def embedder(settings: Settings) -> Embedder:
    """The configured embedder with its on-disk cache under ``<var>/cache/embeddings``."""
    return CachedEmbedder(_model(settings.search_embedder, settings.search_device, settings.search_threads,
                                 settings.search_bulk_threads),
                          settings.var_dir / "cache" / "embeddings")


def new_retriever(settings: Settings, model: Embedder, kind: str | None = None) -> HybridRetriever:
    """An empty retriever configured from settings (for collection ``kind``: its relevance floor)."""
    return HybridRetriever(model, fusion_config(settings, kind), dense_max_chars=settings.search_dense_max_chars,
                           hnsw_threshold=settings.search_hnsw_threshold, ef_search=settings.search_ef_search,
                           clean=settings.search_clean_text)


# --- documents from the store ---------------------------------------------------------------------------


def ticket_document(ticket: Ticket) -> Document:
    """A resolved ticket as a document: subject is the title; description and resolution the body."""
    body = "\n".join(part for part in (ticket.description, ticket.resolution) if part)
    return Document(ref=ticket.id, title=ticket.subject or "", body=body, client_id=ticket.client_id,
                    node_kinds=tuple(sorted({node.kind for node in ticket.nodes})),
                    resolved=ticket.status in RESOLVED_STATUSES,
                    at=ticket.resolved_at or ticket.closed_at or ticket.updated_at)


def article_document(article: Article) -> Document:
    """An article as a document: title and body."""
    return Document(ref=article.id, title=article.title, body=article.body or "", at=article.updated_at)


def problem_document(problem: KnownProblem) -> Document:
    """A known problem: its title, then symptoms, cause and workaround."""
    body = "\n".join(part for part in (problem.symptoms, problem.cause, problem.workaround) if part)
    return Document(ref=problem.id, title=problem.title, body=body, at=problem.updated_at)


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


MODELS = {"incident": Ticket, "article": Article, "known_problem": KnownProblem}


def _rows(session: Session, kind: str, *, refs: Iterable[int] | None = None, batch_size: int = 2000):
    """Rows of ``kind`` in id order: those with the given ids (whatever their status), or else every
    indexable one."""
    model = MODELS[kind]
    query = select(model)
    if kind == "incident":
        query = query.options(selectinload(Ticket.nodes))
    if refs is not None:
        refs = sorted({int(ref) for ref in refs})
        for start in range(0, len(refs), batch_size):
            chunk = refs[start:start + batch_size]
            yield from session.scalars(query.where(model.id.in_(chunk)).order_by(model.id)).all()
        return
    if kind == "incident":
        query = query.where(Ticket.status.in_(RESOLVED_STATUSES))
    last_id = 0
    while True:
        batch = session.scalars(query.where(model.id > last_id).order_by(model.id).limit(batch_size)).all()
        if not batch:
            return
        yield from batch
        last_id = batch[-1].id


def _changed_since(session: Session, kind: str, since: datetime | None, limit: int):
    """Ids of the rows changed after ``since``, oldest change first and at most ``limit`` of them (rows
    sharing the last one's ``updated_at`` come along, so no change is skipped), the ``updated_at`` reached,
    and whether more changes remain. Reads the ``updated_at`` index, not the table."""
    model = MODELS[kind]
    query = select(model.id, model.updated_at).order_by(model.updated_at, model.id).limit(limit + 1)
    if since is not None:
        query = query.where(model.updated_at > since)
    rows = session.execute(query).all()
    if len(rows) <= limit:
        return [row.id for row in rows], (_as_utc(rows[-1].updated_at) if rows else None), False
    reached = rows[limit - 1].updated_at
    ties = session.scalars(select(model.id).where(model.updated_at == reached)).all()
    return [row.id for row in rows[:limit]] + list(ties), _as_utc(reached), True


def _document(kind: str, row) -> Document:
    return {"incident": ticket_document, "article": article_document, "known_problem": problem_document}[kind](row)


def _watermark(session: Session, kind: str) -> datetime | None:
    model = MODELS[kind]
    return _as_utc(session.scalar(select(func.max(model.updated_at))))


# --- the per-process search index ----------------------------------------------------------------------


@dataclass
class SearchIndex:
    """The three retrievers of one process plus what keeps them current."""

    settings: Settings
    retrievers: dict[str, HybridRetriever]
    watermarks: dict[str, datetime | None]
    pending: dict[str, set[int]] = field(default_factory=lambda: {kind: set() for kind in KINDS})
    last_sync: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock)

    def note_change(self, kind: str, ref: int) -> None:
        """Queue a changed row for the next search."""
        with self.lock:
            self.pending[kind].add(int(ref))

    def sync(self, session: Session, *, force: bool = False) -> int:
        """Apply queued changes and rows updated since the watermark; returns how many documents changed."""
        with self.lock:
            now = time.monotonic()
            has_pending = any(self.pending.values())
            if not force and not has_pending and now - self.last_sync < SYNC_INTERVAL_SECONDS:
                return 0
            self.last_sync = now
            changed = 0
            for kind in KINDS:
                retriever = self.retrievers[kind]
                refs = self.pending[kind]
                self.pending[kind] = set()
                latest = _watermark(session, kind)  # one lookup in the updated_at index
                mark = self.watermarks[kind]
                nothing_new = latest is None or (mark is not None and latest <= mark)
                if not refs and nothing_new:
                    continue
                changed_ids, reached, more = (
                    ([], None, False) if nothing_new else _changed_since(session, kind, mark, SYNC_BATCH))
                if more:
                    log.warning("search index %s: more than %d rows changed elsewhere; catching up %d per "
                                "search (run `precedent index build` after bulk changes)", kind, SYNC_BATCH,
                                SYNC_BATCH)
                rows = {row.id: row for row in _rows(session, kind, refs=set(refs) | set(changed_ids))}
                keep, drop = [], [ref for ref in refs if ref not in rows]
                for row in rows.values():
                    if kind == "incident" and row.status not in RESOLVED_STATUSES:
                        drop.append(row.id)  # reopened or not yet resolved: not a precedent
                    else:
                        keep.append(_document(kind, row))
                # Every change up to ``reached`` has been applied (up to ``latest`` when none remain).
                caught_up_to = reached if more else max(filter(None, (reached, latest)), default=None)
                if caught_up_to is not None and (mark is None or caught_up_to > mark):
                    self.watermarks[kind] = caught_up_to
                drop = [ref for ref in drop if ref in retriever]
                if drop:
                    retriever.remove(drop)
                if keep:
                    retriever.add(keep)
                changed += len(keep) + len(drop)
            return changed

    def save(self) -> None:
        """Write the current state of every retriever to disk."""
        with self.lock:
            for kind, retriever in self.retrievers.items():
                mark = self.watermarks[kind]
                retriever.save(self.settings.index_dir / kind, kind=kind,
                               watermark=mark.isoformat() if mark else None)


def build_index(session: Session, settings: Settings | None = None, *, save: bool = True) -> SearchIndex:
    """Index every resolved incident, article and known problem of the store (and persist it)."""
    settings = current_settings(settings)
    model = embedder(settings)
    retrievers, watermarks = {}, {}
    for kind in KINDS:
        watermarks[kind] = _watermark(session, kind)
        documents = [_document(kind, row) for row in _rows(session, kind)]
        retrievers[kind] = new_retriever(settings, model, kind).fit(documents)
    index = SearchIndex(settings, retrievers, watermarks, last_sync=time.monotonic())
    if save:
        index.save()
    return index


def load_index(settings: Settings | None = None) -> SearchIndex:
    """Load the persisted index; :class:`SearchUnavailable` when missing or built for another model."""
    settings = current_settings(settings)
    model = embedder(settings)
    retrievers, watermarks = {}, {}
    for kind in KINDS:
        directory = settings.index_dir / kind
        try:
            manifest = HybridRetriever.read_manifest(directory)
            retrievers[kind] = HybridRetriever.load(
                directory, model, fusion_config(settings, kind), hnsw_threshold=settings.search_hnsw_threshold,
                ef_search=settings.search_ef_search)
        except IndexMismatchError as exc:
            raise SearchUnavailable(str(exc)) from None
        mark = manifest.get("watermark")
        watermarks[kind] = datetime.fromisoformat(mark) if mark else None
    return SearchIndex(settings, retrievers, watermarks)


_loaded: dict[tuple[str, str], SearchIndex] = {}
_loading = threading.Lock()


def _key(settings: Settings) -> tuple[str, str]:
    return (str(Path(settings.index_dir).resolve()), settings.resolved_database_url)


def get_index(session: Session, settings: Settings | None = None) -> SearchIndex:
    """This process's index, loaded once; built from the store when nothing is on disk yet."""
    settings = settings or _settings_for(session)
    key = _key(settings)
    index = _loaded.get(key)
    if index is not None:
        return index
    with _loading:
        index = _loaded.get(key)
        if index is None:
            if (settings.index_dir / "incident" / "manifest.json").exists():
                index = load_index(settings)
            else:
                log.info("no search index in %s: building it from the store", settings.index_dir)
                index = build_index(session, settings)
            _loaded[key] = index
    return index


def forget_loaded() -> None:
    """Drop the loaded indexes of this process (after a rebuild, and between tests)."""
    with _loading:
        _loaded.clear()


def _settings_for(session: Session) -> Settings:
    """Settings of the running app, else the environment's with the session's database."""
    from dataclasses import replace

    from flask import has_app_context

    if has_app_context():
        return current_settings()
    return replace(load_settings(), database_url=session.get_bind().url.render_as_string(hide_password=False))


# --- signals ---------------------------------------------------------------------------------------------


def _on_ticket_changed(sender, ticket_id: int | None = None, **_facts) -> None:
    if ticket_id is None:
        return
    for index in list(_loaded.values()):
        index.note_change("incident", ticket_id)


def _on_knowledge_changed(sender, kind: str | None = None, ref: int | None = None, **_facts) -> None:
    if kind not in ("article", "known_problem") or ref is None:
        return
    for index in list(_loaded.values()):
        index.note_change(kind, ref)


def connect_signals() -> None:
    """Subscribe to ticket and knowledge changes (idempotent; done on import)."""
    from service.platform import signals

    signals.ticket_changed.connect(_on_ticket_changed, weak=False)
    signals.ticket_created.connect(_on_ticket_changed, weak=False)
    signals.knowledge_changed.connect(_on_knowledge_changed, weak=False)


connect_signals()


# --- suggestions -----------------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    moment = _as_utc(moment)
    return moment.isoformat() if moment else None


def _snippet(text: str, limit: int = 300) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _reasons(terms: Sequence[str], same_client: bool, same_kind: bool) -> list[str]:
    reasons = []
    if terms:
        reasons.append("общие слова: " + ", ".join(terms))
    if same_client:
        reasons.append("тот же клиент")
    if same_kind:
        reasons.append("тот же тип узла")
    return reasons or ["близкий смысл"]


def suggest(session: Session, *, text: str, client_id: int | None = None, k: int = 5,
            node_kinds: Sequence[str] = (), exclude_ticket_id: int | None = None,
            only_client: bool = False, verdicts_except_ticket: int | None = None) -> dict:
    """Similar resolved incidents (k), knowledge articles and known problems for ``text``, with reasons;
    engineers' verdicts rank too, except those given for ``verdicts_except_ticket``."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text must not be empty")
    if not 1 <= int(k) <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K}")
    started = time.perf_counter()
    index = get_index(session)
    index.sync(session)
    settings = index.settings
    boosts = {kind: verdict_boosts(session, kind, per_verdict=settings.search_feedback_boost,
                                   cap=settings.search_feedback_max_boost, except_ticket=verdicts_except_ticket)
              for kind in KINDS}
    with index.lock:
        incident_retriever = index.retrievers["incident"]
        hits = {
            "incident": incident_retriever.search(
                text, _incident_depth(int(k)), client_id=client_id, node_kinds=node_kinds, only_client=only_client,
                resolved_only=True, exclude=[exclude_ticket_id] if exclude_ticket_id else (),
                boosts=boosts["incident"]),
            "article": index.retrievers["article"].search(text, KNOWLEDGE_K, boosts=boosts["article"]),
            "known_problem": index.retrievers["known_problem"].search(text, KNOWLEDGE_K,
                                                                      boosts=boosts["known_problem"]),
        }
    result: dict = {"query": text, "client_id": client_id, "k": int(k)}
    result["incidents"] = _incident_items(session, text, hits["incident"], int(k), settings)
    result["articles"] = _article_items(session, text, hits["article"], settings)
    result["known_problems"] = _problem_items(session, text, hits["known_problem"], settings)
    result["took_ms"] = round((time.perf_counter() - started) * 1000.0, 2)
    return result


def _incident_depth(k: int) -> int:
    """Incident hits to fetch for ``k`` shown: rows gone since indexing and grouped duplicates need spares."""
    return 3 * k + 5


_NON_WORD = re.compile(r"[\W_]+")


def duplicate_key(subject: str | None, resolution: str | None) -> tuple[str, str]:
    """What makes two incidents near-duplicates: the same subject and the same resolution once lower-cased,
    with punctuation and runs of spaces dropped ("VPN: ошибка 809!" = "vpn ошибка 809")."""
    def normal(text: str | None) -> str:
        return " ".join(_NON_WORD.sub(" ", (text or "").casefold()).split())
    return normal(subject), normal(resolution)


def _relative_cut(hits, settings: Settings):
    if not hits or settings.search_min_relative_score <= 0:
        return hits
    best = hits[0].score
    return [h for h in hits if h.score >= best * settings.search_min_relative_score]


def _incident_items(session: Session, text: str, hits, k: int, settings: Settings) -> list[dict]:
    hits = _relative_cut(hits, settings)
    if not hits:
        return []
    rows = {t.id: (t, name) for t, name in session.execute(
        select(Ticket, Client.name).join(Client, Client.id == Ticket.client_id)
        .where(Ticket.id.in_([h.ref for h in hits])))}
    items, by_key = [], {}
    for hit in hits:
        found = rows.get(hit.ref)
        if found is None or found[0].status not in RESOLVED_STATUSES:
            continue  # deleted or reopened since the index saw it
        ticket, client_name = found
        key = duplicate_key(ticket.subject, ticket.resolution)
        if key in by_key:  # a near-duplicate of a better-ranked hit: counted there, not shown again
            by_key[key]["duplicates"] += 1
            continue
        if len(items) >= k:
            continue  # full: later hits only count as duplicates of the shown ones
        terms = shared_terms(text, f"{ticket.subject}\n{ticket.description}\n{ticket.resolution or ''}")
        items.append({
            "kind": "incident", "id": ticket.id, "subject": ticket.subject,
            "resolution": ticket.resolution or "", "client_id": ticket.client_id, "client": client_name,
            "group": ticket.group, "resolved_at": _iso(ticket.resolved_at or ticket.closed_at),
            "score": round(hit.score, 6), "shared_terms": terms, "same_client": hit.same_client,
            "same_node_kind": hit.same_node_kind,
            "reasons": _reasons(terms, hit.same_client, hit.same_node_kind), "duplicates": 0})
        by_key[key] = items[-1]
    return items


def _article_items(session: Session, text: str, hits, settings: Settings) -> list[dict]:
    hits = _relative_cut(hits, settings)
    rows = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_([h.ref for h in hits])))} \
        if hits else {}
    items = []
    for hit in hits:
        article = rows.get(hit.ref)
        if article is None:
            continue
        terms = shared_terms(text, f"{article.title}\n{article.body}")
        items.append({"kind": "article", "id": article.id, "title": article.title,
                      "snippet": _snippet(article.body), "group": article.group, "score": round(hit.score, 6),
                      "shared_terms": terms, "reasons": _reasons(terms, False, False)})
    return items


def _problem_items(session: Session, text: str, hits, settings: Settings) -> list[dict]:
    hits = _relative_cut(hits, settings)
    rows = {p.id: p for p in session.scalars(
        select(KnownProblem).where(KnownProblem.id.in_([h.ref for h in hits])))} if hits else {}
    items = []
    for hit in hits:
        problem = rows.get(hit.ref)
        if problem is None:
            continue
        terms = shared_terms(text, f"{problem.title}\n{problem.symptoms}\n{problem.cause}")
        items.append({"kind": "known_problem", "id": problem.id, "title": problem.title,
                      "symptoms": _snippet(problem.symptoms), "workaround": problem.workaround,
                      "status": problem.status, "group": problem.group, "score": round(hit.score, 6),
                      "shared_terms": terms, "reasons": _reasons(terms, False, False)})
    return items


def suggest_for_ticket(session: Session, *, ticket: Ticket, k: int = 5, own_verdicts: bool = True) -> dict:
    """Suggestions for a stored ticket: its subject and description, its client and node kinds, itself excluded;
    ``own_verdicts=False`` ignores the verdicts given for this very ticket (replaying them)."""
    text = f"{ticket.subject}\n{ticket.description or ''}".strip()
    result = suggest(session, text=text, client_id=ticket.client_id, k=k,
                     node_kinds=sorted({n.kind for n in ticket.nodes}), exclude_ticket_id=ticket.id,
                     verdicts_except_ticket=None if own_verdicts else ticket.id)
    result["ticket_id"] = ticket.id
    return result
