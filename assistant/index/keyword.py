"""The keyword (BM25) index beside the dense one, built and saved with bm25s.

Owns the bm25s backend of ``KeywordBackend`` (:mod:`assistant.index.backends`) and
tokenising (lower case, English stop words, Snowball stemming) so that
passages and questions are tokenised the same way.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Sequence

import numpy as np

from assistant.index.backends import Match, Ranked

_local = threading.local()
_import_lock = threading.Lock()
_module: ModuleType | None = None  # bm25s, once imported by _bm25s


def _bm25s() -> ModuleType:
    """The bm25s module, imported without SciPy when SciPy is not loaded yet.

    bm25s imports ``scipy.sparse`` only for an optional way of building its matrix
    (``csc_backend="scipy"``); the default this project uses (``"numpy"``) and its
    retrieval need numpy alone. Importing ``scipy.sparse`` costs about 0.25 s (SciPy's
    array-API shim touches every lazy numpy submodule, ``numpy.f2py`` included), a
    quarter of a cold ``assistant ask``. So when nothing has loaded it yet, bm25s's
    optional import is made to fail (``sys.modules[name] = None`` is Python's documented
    way to make an import raise ImportError) and bm25s falls back as it is written to.
    """
    global _module
    if _module is None:  # set only once the import has finished: no half-imported module is handed out
        with _import_lock:
            if _module is None:
                blocked = "bm25s" not in sys.modules and "scipy.sparse" not in sys.modules
                if blocked:
                    sys.modules["scipy.sparse"] = None  # type: ignore[assignment]
                try:
                    import bm25s
                finally:
                    if blocked and sys.modules.get("scipy.sparse", 0) is None:
                        del sys.modules["scipy.sparse"]
                _module = bm25s
    return _module


def _stemmer():
    # One per thread: a PyStemmer object must not be shared by threads (the web chat
    # answers two questions at once), and making one per call costs ~0.5 ms.
    if not hasattr(_local, "stemmer"):
        import Stemmer

        _local.stemmer = Stemmer.Stemmer("english")
    return _local.stemmer


def stems(words: list[str]) -> list[str]:
    """The English (Snowball) stems of lower-cased words, as the keyword index uses them."""
    return list(_stemmer().stemWords(words))


def stopwords() -> frozenset[str]:
    """The English stop words the keyword index leaves out."""
    return frozenset(_bm25s().stopwords.STOPWORDS_EN)


def tokenize(texts: list[str]) -> list[list[str]]:
    """Stemmed tokens without stop words, one list per text."""
    return _bm25s().tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


class KeywordIndex:
    """A bm25s index of passage texts by row: the ``KeywordBackend`` of
    :mod:`assistant.index.backends`.

    Scores are bm25s's own (its precomputed BM25 weight of each term in each passage,
    summed over the question's terms in their order, in float32), computed for the
    rows asked about only: the passages holding a question's terms for ``top_k``, the
    candidates for ``scores``. No call does work proportional to the collection.
    """

    kind = "bm25s"

    def __init__(self, retriever: object, size: int, corpus: list[list[str]] | None = None) -> None:
        self._retriever = retriever
        self.size = size
        self._corpus = corpus  # the tokenised texts, when built here (add and delete rebuild from them)

    @classmethod
    def build(cls, texts: Sequence[str]) -> KeywordIndex:
        return cls._of(tokenize(list(texts)))

    @classmethod
    def _of(cls, corpus: list[list[str]]) -> KeywordIndex:
        retriever = _bm25s().BM25()
        retriever.index(corpus, show_progress=False)
        return cls(retriever, len(corpus), corpus)

    def save(self, path: Path) -> None:
        self._retriever.save(str(path), show_progress=False)
        (path / "size.txt").write_text(str(self.size))

    @classmethod
    def load(cls, path: Path, *, mmap: bool = False) -> KeywordIndex:
        """``mmap``: read the postings from disk as questions need them."""
        retriever = _bm25s().BM25.load(str(path), show_progress=False, mmap=mmap)
        return cls(retriever, int((path / "size.txt").read_text()))

    def count(self) -> int:
        return self.size

    def terms(self, text: str) -> list[str]:
        return tokenize([text])[0]

    def top_k(self, terms: Sequence[str], k: int, *, allowed: np.ndarray | None = None,
              match: Match | None = None) -> Ranked:
        rows = self._matching(terms)
        if allowed is not None:
            rows = rows[np.asarray(allowed, dtype=bool)[rows]]
        scores = self.scores(terms, rows)
        positive = scores > 0
        rows, scores = rows[positive], scores[positive]
        if len(rows) > k:  # the k best (which of equal scores: as argpartition leaves them)
            keep = np.argpartition(-scores, k)[:k]
            rows, scores = rows[keep], scores[keep]
        order = np.lexsort((rows, -scores))
        return Ranked(rows[order].astype(np.int64), scores[order].astype(np.float32))

    def scores(self, terms: Sequence[str], rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        ids = self._ids(terms)
        r = self._retriever
        if r.nonoccurrence_array is not None:  # a BM25 variant that scores absent terms too
            return np.asarray(r.get_scores_from_ids(ids), dtype=np.float32)[rows]
        sorter = np.argsort(rows, kind="stable")
        ordered = rows[sorter]
        total = np.zeros(len(rows), dtype=np.dtype(r.dtype))
        data, indices, indptr = r.scores["data"], r.scores["indices"], r.scores["indptr"]
        for t in ids:  # term by term, as bm25s adds them, so the float32 sums are its own
            a, b = int(indptr[t]), int(indptr[t + 1])
            holders = np.asarray(indices[a:b], dtype=np.int64)
            at = np.searchsorted(ordered, holders)
            found = at < len(ordered)
            found[found] = ordered[at[found]] == holders[found]
            total[at[found]] += np.asarray(data[a:b])[found]
        out = np.empty(len(rows), dtype=np.float32)
        out[sorter] = total
        return out

    def _ids(self, terms: Sequence[str]) -> list[int]:
        vocab = self._retriever.vocab_dict
        return [vocab[t] for t in terms if t in vocab]

    def _matching(self, terms: Sequence[str]) -> np.ndarray:
        """The rows holding at least one of the terms, ascending."""
        indices, indptr = self._retriever.scores["indices"], self._retriever.scores["indptr"]
        parts = [np.asarray(indices[int(indptr[t]) : int(indptr[t + 1])], dtype=np.int64) for t in self._ids(terms)]
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def add(self, texts: Sequence[str]) -> None:
        self._rebuild(self._tokens() + tokenize(list(texts)))

    def delete(self, rows: np.ndarray) -> None:
        gone = set(np.asarray(rows, dtype=np.int64).tolist())
        self._rebuild([t for i, t in enumerate(self._tokens()) if i not in gone])

    def _tokens(self) -> list[list[str]]:
        if self._corpus is None:
            raise ValueError("a loaded bm25s index keeps no texts to change; build it again from the passages' texts")
        return self._corpus

    def _rebuild(self, corpus: list[list[str]]) -> None:
        # BM25 weights depend on every passage (term frequencies across the collection,
        # mean length): bm25s indexes the whole tokenised collection again.
        fresh = KeywordIndex._of(corpus)
        self._retriever, self.size, self._corpus = fresh._retriever, fresh.size, fresh._corpus
