"""The search modes: one registry that says what each mode computes and how it ranks.

Owns ``MODES``, name -> :class:`Mode`. Everything that depends on the mode reads
it here: the request check (``assistant.search.request``), the searcher (which
signals a hit shows, how its score is made), evidence and abstention (whether the
scores are the calibrated hybrid scale). A new mode is one function and one entry.

Light on import (no numpy; the scoring functions import it when they run), since
the CLI checks a request's mode before it loads anything heavy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from assistant.search.fusion import RankingConfig
    from assistant.search.signals import Found

    # positions (into the candidates) -> their token match, whole and by best sentence
    TokenMatch = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Scored:
    """A mode's score of each candidate, and their token matches (None when the mode
    measures none; aligned with the candidates, 0 past the token-matched pool)."""

    score: np.ndarray
    tokens: np.ndarray | None = None
    sentence_tokens: np.ndarray | None = None


@dataclass(frozen=True)
class Mode:
    """What a mode computes and how it ranks."""

    name: str
    summary: str  # in a reader's words
    signals: frozenset[str]  # the Signals its score is made of (what a hit shows)
    score: Callable[[Found, TokenMatch, RankingConfig, int], Scored]  # (candidates, token matcher, config, k)
    calibrated: bool = False  # its scores are those the abstention threshold and evidence floor were set on


def _hybrid(found: Found, match: TokenMatch, config: RankingConfig, k: int) -> Scored:
    from assistant.search import fusion

    return _token_matched(found, match, k + config.token_margin, config.weights, lambda cheap, tokens, best: (
        fusion.hybrid(config.weights, cheap=cheap, token=tokens, sentence_token=best)))


def _tokens(found: Found, match: TokenMatch, config: RankingConfig, k: int) -> Scored:
    from assistant.search import fusion

    # the pool is chosen by the fixed LONG weights, so that the mode means the same on every collection
    return _token_matched(found, match, max(config.tokens_pool, k), fusion.LONG,
                          lambda cheap, tokens, best: tokens + config.tokens_sentence_weight * best)


def _token_matched(found: Found, match: TokenMatch, size: int, weights, combine) -> Scored:
    """Token matching, exact for every candidate up to ``size`` of them; past that for
    the ``size`` best by ``fusion.cheap_score`` with ``weights``. The rest score -inf."""
    import numpy as np

    from assistant.search import fusion

    cheap = fusion.cheap_score(
        weights, paragraph_cosine=found.dense, best_cosine=np.maximum(found.dense, found.sentence),
        keyword=found.scaled, year=found.year,
    )
    pool = np.arange(len(found.rows))
    if len(pool) > size:
        pool = np.argsort(-cheap, kind="stable")[:size]
    whole, best = match(pool)
    tokens = np.zeros(len(found.rows), dtype=np.float32)
    sentence_tokens = tokens.copy()
    tokens[pool], sentence_tokens[pool] = whole, best
    score = np.full(len(found.rows), -np.inf, dtype=np.float32)
    score[pool] = combine(cheap[pool], tokens[pool], sentence_tokens[pool])
    return Scored(score, tokens, sentence_tokens)


def _dense(found: Found, match: TokenMatch, config: RankingConfig, k: int) -> Scored:
    return Scored(found.dense)


def _keyword(found: Found, match: TokenMatch, config: RankingConfig, k: int) -> Scored:
    return Scored(found.bm25)


def _rrf(found: Found, match: TokenMatch, config: RankingConfig, k: int) -> Scored:
    return Scored(rrf(found.dense, found.bm25, k=config.rrf_k))


def rrf(*scores: np.ndarray, k: int) -> np.ndarray:
    """Reciprocal rank fusion of complete score vectors: the sum of 1 / (k + rank)."""
    import numpy as np

    total = np.zeros_like(scores[0], dtype=np.float64)
    for s in scores:
        ranks = np.empty(len(s), dtype=np.int64)
        ranks[np.argsort(-s, kind="stable")] = np.arange(1, len(s) + 1)
        total += 1.0 / (k + ranks)
    return total.astype(np.float32)


MODES: dict[str, Mode] = {m.name: m for m in (
    Mode("hybrid", "token match of the passage and its best sentence, paragraph and best-sentence cosines, "
         "BM25 scaled by the best, and the year, weighted by the collection's RankingConfig (assistant.search.fusion)",
         frozenset({"token_match", "sentence_token_match", "paragraph_cosine", "sentence_cosine", "bm25",
                    "bm25_scaled", "year"}), _hybrid, calibrated=True),
    Mode("tokens", "token match of the passage + tokens_sentence_weight x token match of its best sentence",
         frozenset({"token_match", "sentence_token_match"}), _tokens),
    Mode("rrf", "reciprocal rank fusion of the paragraph cosine's and BM25's rankings",
         frozenset({"paragraph_cosine", "bm25"}), _rrf),
    Mode("dense", "the paragraph's cosine with the question", frozenset({"paragraph_cosine"}), _dense),
    Mode("keyword", "BM25", frozenset({"bm25"}), _keyword),
)}
NAMES = tuple(MODES)  # in the order they are offered
DEFAULT_MODE = "hybrid"
