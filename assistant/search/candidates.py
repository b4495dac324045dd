"""Stage 1 of search: which passages a question scores at all.

Owns the arrow ``question + filter -> candidate rows``. Up to
``RankingConfig.exhaustive_up_to`` allowed passages, every one of them (exact).
Beyond, the ``RankingConfig.candidates`` nearest by the dense backend and as many
best by the keyword backend, both within the filter, merged. Only the backends'
protocols (:mod:`assistant.index.backends`) are used: the engines behind them are
the index's business. Measured in docs/speed.md and ``bench/candidates.py``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from assistant.index.backends import DenseBackend, KeywordBackend, Match
from assistant.search.fusion import RankingConfig


def candidates(
    dense: DenseBackend, keyword: KeywordBackend, *, question: np.ndarray, terms: Sequence[str],
    allowed: np.ndarray, k: int, config: RankingConfig, match: Match | None = None,
) -> np.ndarray:
    """The passage rows worth scoring for a question (ascending), all within ``allowed``.

    Args:
        dense: the index's dense backend.
        keyword: the index's keyword backend.
        question: the question's unit vector.
        terms: its keyword terms (``keyword.terms``).
        allowed: boolean mask of the passages the filter lets through.
        match: the same passages named by their fields (``Columns.match``), for an engine
            that filters on them.
        k: how many hits are asked for (at least that many candidates are taken).
        config: the index's ranking configuration (``exhaustive_up_to``, ``candidates``).
    """
    n_allowed = int(np.count_nonzero(allowed))
    if n_allowed <= config.exhaustive_up_to:
        return np.flatnonzero(allowed)
    want = max(config.candidates, k)
    within = None if n_allowed == len(allowed) else allowed  # no filter: no mask to apply
    fields = None if within is None else match
    near = dense.nearest(question, want, allowed=within, match=fields).rows
    best = keyword.top_k(terms, want, allowed=within, match=fields).rows  # only passages with a question word
    return np.union1d(near, best).astype(np.int64)
