"""Stage 2 of search: the signals of a question's candidate passages, and of nothing else.

Owns the arrow ``candidate rows -> Found``: each candidate's paragraph cosine, its
best sentence's cosine (sentences of fewer than five words do not score), its BM25
score from the keyword backend and that score scaled by the best candidate's, and
whether it is of a year the question names. Cosines come from the index's
``PassageDetail`` (``Index.detail``): on the candidates only, from the folder's arrays
(passage vectors through the dense backend, sentence vectors from their row file) or,
on Qdrant, computed by the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from assistant.index.columns import YEAR, Columns
from assistant.index.folder import Index


@dataclass(frozen=True)
class Signals:
    """What a hit's score can be made of (None: not measured, or not used by the mode)."""

    token_match: float | None = None
    sentence_token_match: float | None = None  # token match within the passage's best sentence
    paragraph_cosine: float | None = None
    sentence_cosine: float | None = None  # None also when no sentence has five words
    bm25: float | None = None
    bm25_scaled: float | None = None  # BM25 / the best BM25 among the candidates
    year: float | None = None  # 1.0 when the question names a year the passage is of


@dataclass(frozen=True)
class Found:
    """Stage 2's signals of the candidates, each array aligned with the candidate rows;
    the candidates' sentences are ``sentence_rows[sentence_start[j]:sentence_start[j + 1]]``."""

    rows: np.ndarray  # the candidate passage rows, ascending
    dense: np.ndarray  # paragraph cosine
    sentence: np.ndarray  # best cosine of a scoring sentence; -1 when none
    bm25: np.ndarray
    scaled: np.ndarray  # BM25 / the best BM25 among the candidates
    year: np.ndarray
    sentence_rows: np.ndarray
    sentence_sims: np.ndarray
    sentence_start: np.ndarray
    sentence_spans: np.ndarray  # (m, 2) each of ``sentence_rows``' offsets in its document

    def signals(self, j: int, tokens: float | None = None, sentence_tokens: float | None = None) -> Signals:
        """Every signal of candidate ``j``, with its token matches when they were measured."""
        return Signals(
            token_match=tokens, sentence_token_match=sentence_tokens,
            paragraph_cosine=float(self.dense[j]),
            sentence_cosine=float(self.sentence[j]) if self.sentence[j] > -1.0 else None,
            bm25=float(self.bm25[j]), bm25_scaled=float(self.scaled[j]), year=float(self.year[j]),
        )


def measure(index: Index, columns: Columns, rows: np.ndarray, question: np.ndarray, terms: Sequence[str],
            text: str) -> Found:
    """Every signal of the candidate ``rows`` (ascending) for a question: its vector,
    its keyword terms (``index.keyword.terms``) and its text (for the years it names)."""
    detail = index.detail
    dense = detail.cosines(rows, question)
    found = detail.sentences(rows, question)
    sentence_start, sims = found.start, found.sims
    counts = np.diff(sentence_start)
    sentence = np.full(len(rows), -1.0, dtype=np.float32)  # -1: no sentence scores
    scoring = np.where(found.scoring, sims, np.float32(-1.0))
    some = counts > 0  # each candidate's sentences are one run: the best of each run
    if some.any():
        sentence[some] = np.maximum.reduceat(scoring, sentence_start[:-1][some])
    keyword = index.keyword.scores(terms, rows)
    top = float(keyword.max()) if len(keyword) else 0.0
    scaled = keyword / top if top > 0 else keyword
    year = columns.year_signal(set(YEAR.findall(text)), rows)
    return Found(rows, dense, sentence, keyword, scaled, year, found.ids, sims, sentence_start, found.spans)
