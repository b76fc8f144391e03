"""Lexical retrieval: BM25 over Russian/English word stems or character n-grams, updatable in place.

The index is a sparse document-term matrix of BM25 term-frequency weights plus document frequencies, so a
query is one sparse column slice times the query's IDF vector. Adding or removing documents touches only
the new rows and the document-frequency counts: new text is searchable immediately, without a rebuild.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
from scipy import sparse

ANALYZERS = ("word", "char")

_WORD = re.compile(r"[0-9a-zа-яё]+(?:[._-][0-9a-zа-яё]+)*", re.IGNORECASE)
_CYRILLIC = re.compile(r"[а-яё]")

#: Very frequent function words that carry no topic (Russian and English).
STOP_WORDS = frozenset(
    """и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было вот от
    меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь опять уж вам
    ведь там потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего
    раз тоже себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы
    нее сейчас были куда зачем всех никогда можно при наконец два об другой хоть после над больше тот через эти
    нас про всего них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя
    такой им более всегда конечно всю между это
    a an the and or of to in on at for from by with is are was were be been it this that these those as not no
    please hi hello thanks thank regards dear""".split()
)


@lru_cache(maxsize=2)
def _stemmer(language: str):
    import Stemmer

    return Stemmer.Stemmer(language)


def word_tokens(text: str) -> list[str]:
    """Lower-cased word stems of ``text``: Russian words stemmed as Russian, the rest as English."""
    words = [w for w in _WORD.findall(text.lower().replace("ё", "е")) if w not in STOP_WORDS]
    if not words:
        return []
    russian_at = [i for i, w in enumerate(words) if _CYRILLIC.search(w)]
    tokens = list(words)
    if russian_at:
        for i, stem in zip(russian_at, _stemmer("russian").stemWords([words[i] for i in russian_at]), strict=True):
            tokens[i] = stem
    other_at = [i for i, w in enumerate(words) if not _CYRILLIC.search(w) and w.isalpha()]
    if other_at:
        for i, stem in zip(other_at, _stemmer("english").stemWords([words[i] for i in other_at]), strict=True):
            tokens[i] = stem
    return tokens


def char_tokens(text: str, sizes: Sequence[int] = (3, 4, 5)) -> list[str]:
    """Character n-grams of each word padded with spaces (robust to inflection, typos and odd tokens)."""
    grams: list[str] = []
    for word in _WORD.findall(text.lower().replace("ё", "е")):
        padded = f" {word} "
        for n in sizes:
            if len(padded) < n:
                continue
            grams.extend(padded[i:i + n] for i in range(len(padded) - n + 1))
    return grams


def analyze(text: str, analyzer: str) -> list[str]:
    """Tokens of ``text`` under the named analyzer (``word`` or ``char``)."""
    if analyzer == "word":
        return word_tokens(text)
    if analyzer == "char":
        return char_tokens(text)
    raise ValueError(f"unknown analyzer {analyzer!r}; expected one of {ANALYZERS}")


class BM25Index:
    """Okapi BM25 (Lucene's IDF) over rows identified by non-negative integer ids."""

    def __init__(self, analyzer: str = "word", k1: float = 1.2, b: float = 0.75):
        self.analyzer = analyzer
        self.k1 = k1
        self.b = b

    # --- building ---------------------------------------------------------------------------------

    def fit(self, ids: Sequence[int], texts: Sequence[str]) -> BM25Index:
        """Index ``texts`` under ``ids`` from scratch."""
        analyze("", self.analyzer)  # an unknown analyzer fails here, before any work
        if len(ids) != len(texts):
            raise ValueError("ids and texts differ in length")
        self.vocabulary_: dict[str, int] = {}
        self.doc_freq_ = np.zeros(0, dtype=np.int64)
        self.ids_ = np.zeros(0, dtype=np.int64)
        self.alive_ = np.zeros(0, dtype=bool)
        self.row_of_: dict[int, int] = {}
        self.avg_length_ = 0.0
        self._blocks: list[sparse.csc_matrix] = []
        self._pending: list[tuple[int, Counter]] = []
        self._pending_ids: list[int] = []
        token_lists = [analyze(t, self.analyzer) for t in texts]
        lengths = [len(t) for t in token_lists]
        self.avg_length_ = float(np.mean(lengths)) if lengths and np.mean(lengths) > 0 else 1.0
        self._append(list(ids), token_lists)
        self._flush()
        return self

    def _term_ids(self, tokens: Iterable[str], grow: bool) -> list[int]:
        out = []
        for token in tokens:
            term = self.vocabulary_.get(token)
            if term is None:
                if not grow:
                    continue
                term = len(self.vocabulary_)
                self.vocabulary_[token] = term
            out.append(term)
        return out

    def _append(self, ids: list[int], token_lists: list[list[str]]) -> None:
        for doc_id, tokens in zip(ids, token_lists, strict=True):
            if doc_id in self.row_of_:
                self.remove([doc_id])
            row = len(self.ids_) + len(self._pending)
            counts = Counter(self._term_ids(tokens, grow=True))
            self._pending.append((row, counts))
            self.row_of_[doc_id] = row
            self._pending_ids.append(doc_id)

    def _flush(self) -> None:
        pending, pending_ids = self._pending, self._pending_ids
        if not pending:
            return
        n_terms = len(self.vocabulary_)
        if len(self.doc_freq_) < n_terms:
            self.doc_freq_ = np.concatenate([self.doc_freq_, np.zeros(n_terms - len(self.doc_freq_), np.int64)])
        rows, cols, vals = [], [], []
        for local, (_, counts) in enumerate(pending):
            length = sum(counts.values())
            norm = self.k1 * (1 - self.b + self.b * length / self.avg_length_)
            for term, tf in counts.items():
                rows.append(local)
                cols.append(term)
                vals.append(tf * (self.k1 + 1) / (tf + norm))
                self.doc_freq_[term] += 1
        block = sparse.csc_matrix((np.asarray(vals, np.float32), (rows, cols)), shape=(len(pending), n_terms))
        self._blocks.append(block)
        self.ids_ = np.concatenate([self.ids_, np.asarray(pending_ids, dtype=np.int64)])
        self.alive_ = np.concatenate([self.alive_, np.ones(len(pending), dtype=bool)])
        self._pending, self._pending_ids = [], []
        # Many small blocks slow queries down: merge once they pile up.
        if len(self._blocks) > 8:
            self._compact()

    def _compact(self) -> None:
        if not self._blocks:  # nothing indexed yet
            return
        width = len(self.vocabulary_)
        blocks = [self._resize(b, width) for b in self._blocks]
        self._blocks = [sparse.vstack(blocks, format="csc")]

    @staticmethod
    def _resize(block: sparse.csc_matrix, width: int) -> sparse.csc_matrix:
        if block.shape[1] == width:
            return block
        block = block.copy()
        block.resize((block.shape[0], width))
        return block.tocsc()

    def add(self, ids: Sequence[int], texts: Sequence[str]) -> None:
        """Index more documents (an id already present is replaced)."""
        self._append(list(ids), [analyze(t, self.analyzer) for t in texts])
        self._flush()

    def remove(self, ids: Iterable[int]) -> None:
        """Forget documents; unknown ids are ignored."""
        for doc_id in ids:
            row = self.row_of_.pop(doc_id, None)
            if row is None:
                continue
            if row >= len(self.ids_):  # still pending: flush first so the row exists
                self.row_of_[doc_id] = row
                self._flush()
                self.row_of_.pop(doc_id)
            if self.alive_[row]:
                self.alive_[row] = False
                terms = self._row_terms(row)
                self.doc_freq_[terms] -= 1

    def _row_terms(self, row: int) -> np.ndarray:
        start = 0
        for block in self._blocks:
            if row < start + block.shape[0]:
                return block.getrow(row - start).indices
            start += block.shape[0]
        raise IndexError(row)

    def __len__(self) -> int:
        return len(self.row_of_)

    # --- searching --------------------------------------------------------------------------------

    def query_terms(self, text: str) -> list[str]:
        """The query's tokens that occur in the index."""
        return [t for t in analyze(text, self.analyzer) if t in self.vocabulary_]

    def scores(self, text: str) -> np.ndarray:
        """BM25 score of every row (dead rows score 0)."""
        terms = np.asarray(self._term_ids(analyze(text, self.analyzer), grow=False), dtype=np.int64)
        total = np.zeros(len(self.ids_), dtype=np.float32)
        if terms.size == 0 or not len(self.ids_):
            return total
        terms, repeats = np.unique(terms, return_counts=True)
        n_docs = max(int(self.alive_.sum()), 1)
        df = self.doc_freq_[terms].astype(np.float64)
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32) * repeats
        start = 0
        for block in self._blocks:
            known = terms < block.shape[1]  # a block built earlier has no column for newer terms
            if known.any():
                part = block[:, terms[known]] @ idf[known]
                total[start:start + block.shape[0]] += np.asarray(part).ravel()
            start += block.shape[0]
        total[~self.alive_] = 0.0
        return total

    def search(self, text: str, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best (ids, scores), best first; documents sharing no term are left out."""
        scores = self.scores(text)
        positive = np.flatnonzero(scores > 0)
        if positive.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if positive.size > k:
            top = positive[np.argpartition(-scores[positive], k - 1)[:k]]
        else:
            top = positive
        top = top[np.argsort(-scores[top], kind="stable")]
        return self.ids_[top], scores[top]

    # --- persistence ------------------------------------------------------------------------------

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that fully describe the index (for ``numpy.savez``)."""
        self._compact()
        matrix = self._blocks[0].tocsr() if self._blocks else sparse.csr_matrix((0, len(self.vocabulary_)))
        terms = np.array(sorted(self.vocabulary_, key=self.vocabulary_.get), dtype=object)
        return {
            "data": matrix.data, "indices": matrix.indices, "indptr": matrix.indptr,
            "shape": np.asarray(matrix.shape), "terms": terms.astype(str), "doc_freq": self.doc_freq_,
            "ids": self.ids_, "alive": self.alive_,
            "params": np.asarray([self.k1, self.b, self.avg_length_], dtype=np.float64),
            "analyzer": np.asarray(self.analyzer),
        }

    @classmethod
    def from_state(cls, state) -> BM25Index:
        """Rebuild an index saved with :meth:`state`."""
        k1, b, avg_length = (float(x) for x in state["params"])
        index = cls(analyzer=str(state["analyzer"]), k1=k1, b=b)
        index.avg_length_ = avg_length
        index.vocabulary_ = {str(t): i for i, t in enumerate(state["terms"])}
        index.doc_freq_ = np.asarray(state["doc_freq"], dtype=np.int64)
        index.ids_ = np.asarray(state["ids"], dtype=np.int64)
        index.alive_ = np.asarray(state["alive"], dtype=bool)
        index.row_of_ = {int(i): row for row, i in enumerate(index.ids_) if index.alive_[row]}
        shape = tuple(int(x) for x in state["shape"])
        matrix = sparse.csr_matrix((state["data"], state["indices"], state["indptr"]), shape=shape)
        index._blocks = [matrix.tocsc()] if shape[0] else []
        index._pending, index._pending_ids = [], []
        return index


def shared_terms(query: str, text: str, limit: int = 6) -> list[str]:
    """Words of ``query`` (as written there) whose stem also occurs in ``text``, in query order."""
    document_stems = set(word_tokens(text))
    shared: list[str] = []
    seen: set[str] = set()
    for word in _WORD.findall(query):
        stems = word_tokens(word)
        if not stems or stems[0] in seen or stems[0] not in document_stems:
            continue
        seen.add(stems[0])
        shared.append(word.lower())
        if len(shared) >= limit:
            break
    return shared
