"""Which engine stands behind each retrieval protocol: chosen from the index manifest.

Owns the registry of backends: the dense kinds (the manifest's ``dense_index``) and
the keyword engine, and the functions that build, or open from an index folder,
the one a collection uses. A new engine is one module implementing
:mod:`assistant.index.backends` and one line here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from assistant.index import dense
from assistant.index.backends import DenseBackend, KeywordBackend
from assistant.index.keyword import KeywordIndex
from assistant.index.qdrant import Place, QdrantDense, QdrantKeyword

DENSE: dict[str, type] = dict(dense.KINDS) | {QdrantDense.kind: QdrantDense}  # kind -> class with build(vectors) and load(path, mmap=)
KEYWORD: dict[str, type] = {KeywordIndex.kind: KeywordIndex, QdrantKeyword.kind: QdrantKeyword}  # kind -> class with build(texts) and load(path, mmap=)
DENSE_FILE = "dense.faiss"
KEYWORD_FOLDER = "keyword"
# The engines of a whole index (``build --backend``): the embedded files, or a Qdrant
# collection behind both protocols (its dense and keyword kinds).
BACKENDS = ("embedded", "qdrant")
QDRANT_KINDS = (QdrantDense.kind, QdrantKeyword.kind)


def dense_file(kind: str) -> str:
    """The name in an index folder of what a dense backend of ``kind`` saves."""
    return getattr(_dense_class(kind), "stored_as", DENSE_FILE)


def keyword_file(kind: str) -> str:
    """The name in an index folder of what a keyword backend of ``kind`` saves."""
    return getattr(KEYWORD[kind], "stored_as", KEYWORD_FOLDER)


def _dense_class(kind: str) -> type:
    if kind not in DENSE:
        raise ValueError(f"unknown dense index kind {kind!r}; choose from {', '.join(DENSE)}")
    return DENSE[kind]


def build_dense(vectors: np.ndarray, *, kind: str, place: Place | None = None) -> DenseBackend:
    """A dense backend of ``kind`` over ``vectors`` (rows of unit float32 vectors);
    ``place``: where an engine of its own (Qdrant) keeps them."""
    if place is not None:
        return _dense_class(kind).build(vectors, place=place)
    return _dense_class(kind).build(vectors)


def open_dense(folder: Path, *, kind: str, mmap: bool = False) -> DenseBackend:
    """The dense backend an index folder holds (``kind``: its manifest's ``dense_index``)."""
    return _dense_class(kind).load(Path(folder) / dense_file(kind), mmap=mmap)


def build_keyword(texts: Sequence[str], *, kind: str = KeywordIndex.kind, place: Place | None = None) -> KeywordBackend:
    """A keyword backend over ``texts``, one row each; ``place`` as for ``build_dense``."""
    if place is not None:
        return KEYWORD[kind].build(texts, place=place)
    return KEYWORD[kind].build(texts)


def open_keyword(folder: Path, *, kind: str = KeywordIndex.kind, mmap: bool = False) -> KeywordBackend:
    """The keyword backend an index folder holds."""
    return KEYWORD[kind].load(Path(folder) / keyword_file(kind), mmap=mmap)


class StoredVectors:
    """Every row of a dense backend as an array-like (``[rows]``, ``len``, ``shape``,
    ``np.asarray``), read from the backend as asked: ``Index.vectors``."""

    def __init__(self, backend: DenseBackend) -> None:
        self._backend = backend
        self.shape = (backend.count(), backend.dimension)
        self.dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        if isinstance(rows, slice):
            rows = np.arange(*rows.indices(self.shape[0]))
        picked = self._backend.vectors(np.atleast_1d(np.asarray(rows, dtype=np.int64)))
        return picked[0] if np.ndim(rows) == 0 else picked

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self._backend.vectors(np.arange(self.shape[0]))
        return whole if dtype is None else whole.astype(dtype)

    def copy(self) -> np.ndarray:
        return np.array(self.__array__())
