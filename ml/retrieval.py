"""Field-aware hybrid retrieval: dense title and whole-document embeddings plus BM25, fused by rank.

A document has a title-like field and body fields. Three signals rank it against a query:
``title`` (query embedding vs. title embedding), ``document`` (vs. the embedding of title + body) and
``lexical`` (BM25 over stemmed words of title + body); an optional ``char`` signal uses BM25 over
character n-grams. Each signal proposes a pool of candidates; :func:`fuse` combines them (weighted
reciprocal rank or weighted normalised score), then filters and boosts (same client, same node kind,
resolved only, recency) apply. Weights are configuration and were tuned on data (docs/search.md).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ml.cleaning import clean_text
from ml.embedders import Embedder, encode_queries
from ml.index import VectorIndex
from ml.lexical import BM25Index

SIGNALS = ("title", "document", "lexical", "char")
FUSION_METHODS = ("rrf", "weighted")
MANIFEST_VERSION = 1


class IndexMismatchError(RuntimeError):
    """A persisted index does not match the configured embedder (or is unreadable)."""


@dataclass(frozen=True)
class Document:
    """One retrievable item: a resolved ticket, an article or a known problem."""

    ref: int
    title: str
    body: str = ""
    client_id: int | None = None
    node_kinds: tuple[str, ...] = ()
    resolved: bool = True
    #: When it happened (resolved-at for tickets, updated-at for articles), for the recency boost.
    at: datetime | None = None


@dataclass(frozen=True)
class FusionConfig:
    """How the signals are combined and which boosts apply."""

    method: str = "weighted"
    #: Chosen on the dev splits of the real (Endava) and demo sets, see docs/search.md.
    weights: Mapping[str, float] = field(
        default_factory=lambda: {"title": 0.0, "document": 2.0, "lexical": 1.0, "char": 0.0})
    rrf_k: float = 60.0
    #: Candidates each signal proposes before fusion.
    pool: int = 100
    #: Multiplicative boosts of the fused score.
    same_client_boost: float = 0.1
    same_node_kind_boost: float = 0.1
    #: Recency: score *= 1 + recency_boost * 0.5 ** (age_days / half_life_days); 0 disables it.
    recency_boost: float = 0.0
    recency_half_life_days: float = 180.0
    #: Relevance floor: a hit whose best dense cosine (title or document signal) is below it is dropped, so
    #: a query that matches nothing gets nothing. 0 disables it; so does a fusion without dense signals.
    min_similarity: float = 0.0
    #: The floor for a hit that shares a word stem with the query (the word BM25 signal proposed it): words in
    #: common are evidence of their own, so it may be lower. ``None``: the same as ``min_similarity``.
    min_similarity_shared_words: float | None = None

    def __post_init__(self):
        if self.method not in FUSION_METHODS:
            raise ValueError(f"unknown fusion method {self.method!r}; expected one of {FUSION_METHODS}")
        unknown = set(self.weights) - set(SIGNALS)
        if unknown:
            raise ValueError(f"unknown signals in fusion weights: {sorted(unknown)}; expected {SIGNALS}")
        if any(w < 0 for w in self.weights.values()) or not any(w > 0 for w in self.weights.values()):
            raise ValueError("fusion weights must be non-negative with at least one positive")
        if self.pool < 1:
            raise ValueError("pool must be at least 1")

    def weight(self, signal: str) -> float:
        return float(self.weights.get(signal, 0.0))


@dataclass
class Hit:
    """One fused result with the ranks each signal gave it (1-based; absent when not proposed)."""

    ref: int
    score: float
    ranks: dict[str, int] = field(default_factory=dict)
    same_client: bool = False
    same_node_kind: bool = False
    #: The raw cosine of the document signal, else the title signal (None without one): what the floor reads.
    similarity: float | None = None


SignalResults = dict[str, tuple[np.ndarray, np.ndarray]]


def fuse(signals: SignalResults, config: FusionConfig) -> dict[int, tuple[float, dict[str, int]]]:
    """Combine per-signal (refs, scores) lists, best first, into ``{ref: (score, ranks)}``.

    ``rrf``: sum of ``weight / (rrf_k + rank)``. ``weighted``: sum of ``weight * score / best score of the
    signal`` (cosines and BM25 scores thereby share a 0..1 scale); a candidate a signal did not propose
    gets that signal's lowest pooled score, a lower bound of its true score.
    """
    fused: dict[int, list] = {}
    for name, (refs, _scores) in signals.items():
        weight = config.weight(name)
        if weight <= 0 or len(refs) == 0:
            continue
        for rank, ref in enumerate(refs.tolist(), start=1):
            entry = fused.setdefault(ref, [0.0, {}])
            entry[1][name] = rank
    for name, (refs, scores) in signals.items():
        weight = config.weight(name)
        if weight <= 0 or len(refs) == 0:
            continue
        if config.method == "rrf":
            for rank, ref in enumerate(refs.tolist(), start=1):
                fused[ref][0] += weight / (config.rrf_k + rank)
        else:
            top = float(scores[0]) if float(scores[0]) > 0 else 1.0
            floor = max(float(scores[-1]), 0.0) / top
            by_ref = dict(zip(refs.tolist(), (np.maximum(scores, 0) / top).tolist(), strict=True))
            for ref, entry in fused.items():
                entry[0] += weight * by_ref.get(ref, floor)
    return {ref: (score, ranks) for ref, (score, ranks) in fused.items()}


DENSE_SIGNALS = ("title", "document")


def dense_similarity(signals: SignalResults, config: FusionConfig) -> tuple[dict[int, float], float | None]:
    """``({ref: raw cosine of the document signal, else of the title signal}, cosine of a ref none proposed)``.

    A ref missing from a signal's pool scores at most that pool's lowest cosine, which is used for it (an upper
    bound, so the floor never drops a document it cannot tell apart); ``(…, None)`` without dense signals.
    """
    best: dict[int, float] = {}
    default = None
    # The whole-document embedding (title + body) decides when it is in use: a short title alone gives random
    # text cosines as high as a real match's (0.8 on Endava's titles), which would force the floor up.
    names = ("document",) if config.weight("document") > 0 and "document" in signals else DENSE_SIGNALS
    for name in names:
        if config.weight(name) <= 0 or name not in signals:
            continue
        refs, scores = signals[name]
        lowest = float(scores[-1]) if len(scores) else -1.0
        default = lowest if default is None else max(default, lowest)
        for ref, score in zip(refs.tolist(), scores.tolist(), strict=True):
            best[ref] = max(best.get(ref, -1.0), float(score))
    if default is None:
        return {}, None
    return {ref: max(score, default) for ref, score in best.items()}, default


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit]


class HybridRetriever:
    """Index documents with several signals and search them with fusion, filters and boosts."""

    def __init__(self, embedder: Embedder, config: FusionConfig | None = None, *, dense_max_chars: int = 200,
                 hnsw_threshold: int = 20_000, ef_search: int = 64, clean: bool = False):
        self.embedder = embedder
        self.config = config or FusionConfig()
        self.dense_max_chars = dense_max_chars
        #: Strip greetings, signatures, quotes, links and invisible characters (ml.cleaning) from documents
        #: and queries before every signal sees them.
        self.clean = clean
        self.hnsw_threshold = hnsw_threshold
        self.ef_search = ef_search

    # --- building ---------------------------------------------------------------------------------

    def _cleaned(self, documents: Sequence[Document]) -> list[Document]:
        if not self.clean:
            return list(documents)
        return [Document(d.ref, clean_text(d.title), clean_text(d.body), d.client_id, d.node_kinds, d.resolved, d.at)
                for d in documents]

    def _dense_texts(self, documents: Sequence[Document]) -> tuple[list[str], list[str]]:
        titles = [_truncate(d.title or d.body, self.dense_max_chars) for d in documents]
        whole = [_truncate(f"{d.title}. {d.body}" if d.body else d.title, self.dense_max_chars) for d in documents]
        return titles, whole

    @staticmethod
    def _lexical_texts(documents: Sequence[Document]) -> list[str]:
        return [f"{d.title}\n{d.body}" for d in documents]

    def _uses_char(self) -> bool:
        return self.config.weight("char") > 0

    def _uses(self, signal: str) -> bool:
        # A signal with weight 0 is not built at all: embedding a field nobody reads only costs build time.
        return self.config.weight(signal) > 0

    @property
    def dense_kind(self) -> str:
        """``exact`` or ``hnsw``: the kind of the dense index in use."""
        index = self.document_index_ or self.title_index_
        return index.kind if index is not None else "none"

    def fit(self, documents: Sequence[Document]) -> HybridRetriever:
        """Index ``documents`` from scratch."""
        started = time.perf_counter()
        documents = self._cleaned(documents)
        refs = [d.ref for d in documents]
        if len(set(refs)) != len(refs):
            raise ValueError("document refs must be unique")
        dimension = self.embedder.dimension
        titles, whole = self._dense_texts(documents)
        ids = np.asarray(refs, dtype=np.int64)
        self.title_index_ = self.document_index_ = None
        if self._uses("title"):
            self.title_index_ = VectorIndex(dimension, hnsw_threshold=self.hnsw_threshold, ef_search=self.ef_search)
            self.title_index_.build(ids, self.embedder.encode(titles) if documents else np.zeros((0, dimension)))
        if self._uses("document"):
            self.document_index_ = VectorIndex(dimension, hnsw_threshold=self.hnsw_threshold,
                                               ef_search=self.ef_search)
            self.document_index_.build(ids, self.embedder.encode(whole) if documents else np.zeros((0, dimension)))
        lexical_texts = self._lexical_texts(documents)
        self.lexical_index_ = BM25Index("word").fit(refs, lexical_texts)
        self.char_index_ = BM25Index("char").fit(refs, lexical_texts) if self._uses_char() else None
        self.meta_: dict[int, Document] = {d.ref: Document(d.ref, "", "", d.client_id, tuple(d.node_kinds),
                                                           d.resolved, d.at) for d in documents}
        self.built_at_ = datetime.now(UTC)
        self.build_seconds_ = time.perf_counter() - started
        return self

    def add(self, documents: Sequence[Document]) -> None:
        """Add new documents or replace existing ones (same ref); searchable immediately."""
        documents = self._cleaned(documents)
        if not documents:
            return
        titles, whole = self._dense_texts(documents)
        ids = np.asarray([d.ref for d in documents], dtype=np.int64)
        if self.title_index_ is not None:
            self.title_index_.add(ids, self.embedder.encode(titles))
        if self.document_index_ is not None:
            self.document_index_.add(ids, self.embedder.encode(whole))
        lexical_texts = self._lexical_texts(documents)
        self.lexical_index_.add(ids.tolist(), lexical_texts)
        if self.char_index_ is not None:
            self.char_index_.add(ids.tolist(), lexical_texts)
        for d in documents:
            self.meta_[d.ref] = Document(d.ref, "", "", d.client_id, tuple(d.node_kinds), d.resolved, d.at)

    def remove(self, refs: Iterable[int]) -> None:
        """Forget documents; unknown refs are ignored."""
        refs = [int(r) for r in refs]
        for index in (self.title_index_, self.document_index_):
            if index is not None:
                index.remove(refs)
        self.lexical_index_.remove(refs)
        if self.char_index_ is not None:
            self.char_index_.remove(refs)
        for ref in refs:
            self.meta_.pop(ref, None)

    def __len__(self) -> int:
        return len(self.meta_)

    def __contains__(self, ref: int) -> bool:
        return int(ref) in self.meta_

    # --- searching --------------------------------------------------------------------------------

    def encode_query(self, text: str) -> np.ndarray:
        """The query's embedding (one row; ``text`` as given, already cleaned if cleaning is on)."""
        return encode_queries(self.embedder, [_truncate(text, self.dense_max_chars)])

    def signals(self, text: str, *, pool: int | None = None, query_vector: np.ndarray | None = None) -> SignalResults:
        """Every signal's candidate pool for ``text``: ``{signal: (refs, scores)}``, best first."""
        pool = pool or self.config.pool
        if self.clean:
            text = clean_text(text)
        results: SignalResults = {}
        dense = [(n, i) for n, i in (("title", self.title_index_), ("document", self.document_index_)) if i is not None]
        vector = None
        if dense:
            vector = self.encode_query(text) if query_vector is None else query_vector.reshape(1, -1)
        for name, index in dense:
            ids, scores = index.search(vector, pool)
            keep = ids[0] >= 0
            results[name] = (ids[0][keep], scores[0][keep])
        results["lexical"] = self.lexical_index_.search(text, pool)
        if self.char_index_ is not None:
            results["char"] = self.char_index_.search(text, pool)
        return results

    def rank(self, signals: SignalResults, k: int, *, client_id: int | None = None,
             node_kinds: Iterable[str] = (), only_client: bool = False, resolved_only: bool = False,
             exclude: Iterable[int] = (), now: datetime | None = None,
             config: FusionConfig | None = None, boosts: Mapping[int, float] | None = None) -> list[Hit]:
        """Fuse ``signals``, apply filters and boosts, and return the ``k`` best hits.

        ``boosts`` adds a caller's own multiplicative term per ref (e.g. engineers' verdicts): the fused score
        is multiplied by ``1 + same client + same node kind + recency + boosts[ref]`` (never below 0).
        Hits under ``config.min_similarity`` (see :func:`dense_similarity`) are dropped."""
        config = config or self.config
        fused = fuse(signals, config)
        similarity, unseen = dense_similarity(signals, config)
        floor = config.min_similarity if unseen is not None else 0.0
        word_floor = floor if config.min_similarity_shared_words is None or unseen is None \
            else config.min_similarity_shared_words
        worded = set(signals["lexical"][0].tolist()) if "lexical" in signals and word_floor != floor else set()
        boosts = boosts or {}
        node_kinds = set(node_kinds)
        excluded = {int(x) for x in exclude}
        now = now or datetime.now(UTC)
        hits: list[Hit] = []
        for ref, (score, ranks) in fused.items():
            meta = self.meta_.get(ref)
            if meta is None or ref in excluded:
                continue
            if resolved_only and not meta.resolved:
                continue
            if only_client and client_id is not None and meta.client_id != client_id:
                continue
            cosine = similarity.get(ref, unseen)
            threshold = word_floor if ref in worded else floor
            if threshold > 0 and cosine < threshold:
                continue
            same_client = client_id is not None and meta.client_id == client_id
            same_kind = bool(node_kinds & set(meta.node_kinds))
            factor = 1.0
            if same_client:
                factor += config.same_client_boost
            if same_kind:
                factor += config.same_node_kind_boost
            if config.recency_boost and meta.at is not None:
                at = meta.at if meta.at.tzinfo else meta.at.replace(tzinfo=UTC)
                age_days = max((now - at).total_seconds() / 86400.0, 0.0)
                factor += config.recency_boost * 0.5 ** (age_days / config.recency_half_life_days)
            factor = max(factor + boosts.get(ref, 0.0), 0.0)
            hits.append(Hit(ref, score * factor, ranks, same_client, same_kind, cosine))
        hits.sort(key=lambda h: (-h.score, h.ref))
        return hits[:k]

    def search(self, text: str, k: int = 10, **filters) -> list[Hit]:
        """The ``k`` best documents for ``text`` (keyword filters as in :meth:`rank`)."""
        if not text or not text.strip():
            return []
        return self.rank(self.signals(text), k, **filters)

    # --- persistence ------------------------------------------------------------------------------

    def manifest(self, **extra) -> dict:
        """What the persisted index was built with."""
        return {
            "version": MANIFEST_VERSION,
            "model": self.embedder.name,
            "dimension": int(self.embedder.dimension),
            "count": len(self),
            "fields": [name for name, index in (("title", self.title_index_), ("document", self.document_index_),
                                                 ("lexical", self.lexical_index_), ("char", self.char_index_))
                       if index is not None],
            "dense_max_chars": self.dense_max_chars,
            "clean_text": self.clean,
            "index_kind": self.dense_kind,
            "built_at": self.built_at_.isoformat(),
            "saved_at": datetime.now(UTC).isoformat(),
            "fusion": {**asdict(self.config), "weights": dict(self.config.weights)},
            **extra,
        }

    def save(self, directory: str | Path, **manifest_extra) -> dict:
        """Persist everything under ``directory`` (manifest written last, so a half-written save is unreadable)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "manifest.json").unlink(missing_ok=True)
        for name, index in (("title", self.title_index_), ("document", self.document_index_)):
            if index is not None:
                index.save(directory / f"{name}.faiss")
        np.savez(directory / "lexical.npz", **self.lexical_index_.state())
        if self.char_index_ is not None:
            np.savez(directory / "char.npz", **self.char_index_.state())
        meta = [[d.ref, d.client_id, list(d.node_kinds), d.resolved, d.at.isoformat() if d.at else None]
                for d in self.meta_.values()]
        (directory / "documents.json").write_text(json.dumps(meta), encoding="utf-8")
        manifest = self.manifest(**manifest_extra)
        (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False),
                                                 encoding="utf-8")
        return manifest

    @staticmethod
    def read_manifest(directory: str | Path) -> dict:
        """The manifest of a saved index, or :class:`IndexMismatchError` when there is none."""
        path = Path(directory) / "manifest.json"
        if not path.exists():
            raise IndexMismatchError(f"no search index in {directory} (run `precedent index build`)")
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise IndexMismatchError(f"unreadable index manifest {path}: {exc}") from None

    @classmethod
    def load(cls, directory: str | Path, embedder: Embedder, config: FusionConfig | None = None,
             **params) -> HybridRetriever:
        """Load a saved index without re-embedding; refuse one built with another model or dimension."""
        directory = Path(directory)
        manifest = cls.read_manifest(directory)
        if manifest.get("version") != MANIFEST_VERSION:
            raise IndexMismatchError(f"index in {directory} has format version {manifest.get('version')}, "
                                     f"expected {MANIFEST_VERSION}; rebuild it with `precedent index build`")
        if manifest.get("model") != embedder.name:
            raise IndexMismatchError(
                f"index in {directory} was built with embedder {manifest.get('model')!r} but "
                f"{embedder.name!r} is configured; rebuild it with `precedent index build`")
        if int(manifest.get("dimension", -1)) != int(embedder.dimension):
            raise IndexMismatchError(f"index in {directory} has dimension {manifest.get('dimension')}, "
                                     f"the embedder gives {embedder.dimension}; rebuild the index")
        retriever = cls(embedder, config, dense_max_chars=int(manifest["dense_max_chars"]),
                        clean=bool(manifest.get("clean_text", False)), **params)
        search_params = {"hnsw_threshold": retriever.hnsw_threshold, "ef_search": retriever.ef_search}
        fields = manifest.get("fields", [])
        for name in ("title", "document"):
            index = None
            if name in fields:
                index = VectorIndex.load(directory / f"{name}.faiss", **search_params)
            elif retriever._uses(name):
                raise IndexMismatchError(f"the configured fusion uses the {name} signal but the index in "
                                         f"{directory} has none; rebuild it with `precedent index build`")
            setattr(retriever, f"{name}_index_", index)
        with np.load(directory / "lexical.npz", allow_pickle=False) as state:
            retriever.lexical_index_ = BM25Index.from_state(state)
        retriever.char_index_ = None
        if (directory / "char.npz").exists() and "char" in manifest.get("fields", []):
            with np.load(directory / "char.npz", allow_pickle=False) as state:
                retriever.char_index_ = BM25Index.from_state(state)
        if retriever._uses_char() and retriever.char_index_ is None:
            raise IndexMismatchError(f"the configured fusion uses the char signal but the index in {directory} "
                                     "has none; rebuild it with `precedent index build`")
        rows = json.loads((directory / "documents.json").read_text(encoding="utf-8"))
        retriever.meta_ = {
            int(ref): Document(int(ref), "", "", client, tuple(kinds), bool(resolved),
                               datetime.fromisoformat(at) if at else None)
            for ref, client, kinds, resolved, at in rows}
        retriever.built_at_ = datetime.fromisoformat(manifest["built_at"])
        retriever.build_seconds_ = math.nan
        return retriever
