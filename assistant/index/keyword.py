"""The keyword (BM25) index beside the dense one, built and saved with bm25s.

Owns tokenising (lower case, English stop words, Snowball stemming) so that
passages and questions are tokenised the same way.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from types import ModuleType

import numpy as np


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
    """BM25 scores of every passage for a question."""

    def __init__(self, retriever: object, size: int) -> None:
        self._retriever = retriever
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> KeywordIndex:
        retriever = _bm25s().BM25()
        retriever.index(tokenize(texts), show_progress=False)
        return cls(retriever, len(texts))

    def save(self, path: Path) -> None:
        self._retriever.save(str(path), show_progress=False)
        (path / "size.txt").write_text(str(self.size))

    @classmethod
    def load(cls, path: Path, *, mmap: bool = False) -> KeywordIndex:
        """``mmap``: read the postings from disk as questions need them."""
        retriever = _bm25s().BM25.load(str(path), show_progress=False, mmap=mmap)
        return cls(retriever, int((path / "size.txt").read_text()))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of each passage (row order), zeros when no query word is known."""
        tokens = tokenize([query])[0]
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)
