"""The sentences and tokens of passages: what the second stage of search measures on its candidates.

Owns the protocol ``PassageDetail``: for candidate passage rows, their passage vectors'
and their sentences' cosines with the question (and the sentences' spans), and their token match with the question's
word pieces, whole and by best sentence; and in how many passages each piece
occurs (the question's piece weights). Two implementations: ``ArrayDetail`` on the
index folder's arrays (:class:`assistant.index.tokens.TokenVectors` and the
sentence arrays), and the Qdrant one (:mod:`assistant.index.qdrant_detail`), where
the engine computes both on the vectors it holds. Search code sees only this.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import numpy as np

from assistant.encoders.embed import Tokens
from assistant.index.tokens import TokenVectors, late_interaction


class SentenceScores(NamedTuple):
    """The sentences of candidate rows, each candidate's a run: ``ids[start[j]:start[j + 1]]``."""

    start: np.ndarray  # (len(rows) + 1,) int64
    ids: np.ndarray  # (m,) int64: the index's sentence rows, ascending within each candidate
    spans: np.ndarray  # (m, 2) int64: offsets in the document
    sims: np.ndarray  # (m,) float32: cosine with the question
    scoring: np.ndarray  # (m,) bool: long enough to stand for its paragraph


class PassageDetail(Protocol):
    """Sentence and token vectors by passage row."""

    @property
    def passages(self) -> int: ...

    def cosines(self, rows: np.ndarray, question: np.ndarray) -> np.ndarray:
        """Each of ``rows``' passage vector's cosine with ``question`` (float32, aligned)."""
        ...

    def sentences(self, rows: np.ndarray, question: np.ndarray) -> SentenceScores:
        """The sentences of ``rows`` (ascending passage rows) and their cosine with ``question``."""
        ...

    def token_match(self, query: Tokens, weights: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Token match of each of ``rows`` (any order), whole and by its best scoring sentence
        (``assistant.index.tokens.late_interaction``)."""
        ...

    def piece_counts(self) -> dict[str, int]:
        """In how many passages each word piece occurs."""
        ...


class ArrayDetail:
    """``PassageDetail`` on the arrays of an index folder (or of a build in memory)."""

    def __init__(self, sentences: Any, tokens: TokenVectors, vectors: Any) -> None:
        self.s = sentences  # assistant.index.folder.Sentences
        self.t = tokens
        self.v = vectors  # passage vectors by row (an array, or the dense backend's rows)

    def cosines(self, rows: np.ndarray, question: np.ndarray) -> np.ndarray:
        return (self.v[rows] @ question).astype(np.float32)  # read for the candidates only

    @property
    def passages(self) -> int:
        return self.t.passages

    def sentences(self, rows: np.ndarray, question: np.ndarray) -> SentenceScores:
        first = self.s.first  # passage i owns sentence rows first[i]:first[i + 1]
        starts, ends = first[rows], first[rows + 1]
        counts = ends - starts
        start = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=start[1:])
        if len(rows) == len(first) - 1:
            ids = np.arange(len(self.s.row), dtype=np.int64)
        else:
            ids = np.repeat(starts - start[:-1], counts) + np.arange(start[-1])
        sims = self.s.similarities(ids, question)
        return SentenceScores(start, ids, np.asarray(self.s.spans[ids], dtype=np.int64).reshape(-1, 2), sims,
                              np.asarray(self.s.scores[ids], dtype=bool))

    def token_match(self, query: Tokens, weights: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return late_interaction(query, weights, self.t, rows, self.s.row, self.s.scores)

    def piece_counts(self) -> dict[str, int]:
        return self.t.passage_counts()
