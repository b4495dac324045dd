"""The two retrieval protocols the search stage holds: dense (vectors) and keyword (BM25).

Owns what an engine must offer to stand behind the search code: build, add and
delete rows, the best rows for a question within a filter, the count, save and
load. A row is a passage's position in the index (``Index.passages[row]``); the
search code never sees an engine's own objects. Implementations: the FAISS kinds
of :mod:`assistant.index.dense` and the bm25s index of :mod:`assistant.index.keyword`;
:mod:`assistant.index.factory` picks one from the manifest. Every implementation
is checked against brute force by ``tests/test_backends.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, NamedTuple, Protocol, Sequence

import numpy as np


# The rows a filter allows, named by the passages' fields: each field's allowed values
# ("doc_id" and "date"); a row is allowed when every named field's value is among them.
Match = Mapping[str, Sequence[str]]


class Ranked(NamedTuple):
    """Rows best first, and their scores (aligned)."""

    rows: np.ndarray  # int64
    scores: np.ndarray  # float32


class DenseBackend(Protocol):
    """Unit vectors by row; a question's nearest rows by inner product (= cosine)."""

    kind: str

    @property
    def dimension(self) -> int: ...

    def count(self) -> int: ...

    def nearest(self, question: np.ndarray, k: int, *, allowed: np.ndarray | None = None,
                match: Match | None = None) -> Ranked:
        """The ``k`` rows with the largest inner product with ``question`` (approximately,
        for approximate kinds), only rows where the boolean mask ``allowed`` is True;
        fewer when fewer are allowed. ``match`` names the same rows by their fields
        (an engine that filters on stored fields uses it instead of the mask)."""
        ...

    def search(self, questions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """For each question (row of ``questions``), its ``k`` nearest rows: (scores, rows),
        each of shape (len(questions), k), rows -1 past what the index holds."""
        ...

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of ``rows``, as float32 (as the engine stores them: an
        approximate kind may have rounded them)."""
        ...

    def add(self, vectors: np.ndarray) -> None:
        """Append rows (``count()`` onwards)."""
        ...

    def delete(self, rows: np.ndarray) -> None:
        """Remove rows; the rows after them move up, as passages do."""
        ...

    def save(self, path: Path) -> None: ...


class KeywordBackend(Protocol):
    """A BM25-style index of passage texts by row."""

    kind: str

    def count(self) -> int: ...

    def terms(self, text: str) -> list[str]:
        """A question's terms as the index matches them (stemmed, without stop words)."""
        ...

    def top_k(self, terms: Sequence[str], k: int, *, allowed: np.ndarray | None = None,
              match: Match | None = None) -> Ranked:
        """Up to ``k`` rows with a positive score, best first, only rows ``allowed``
        (``match``: the same rows by their fields, as for ``DenseBackend.nearest``)."""
        ...

    def scores(self, terms: Sequence[str], rows: np.ndarray) -> np.ndarray:
        """The score of each of ``rows`` (0 where no term occurs), float32, aligned with ``rows``."""
        ...

    def add(self, texts: Sequence[str]) -> None:
        """Append rows, one per text."""
        ...

    def delete(self, rows: np.ndarray) -> None:
        """Remove rows; the rows after them move up."""
        ...

    def save(self, path: Path) -> None: ...
