"""Token-level matching ("late interaction"): each word of the question is
matched to its most similar token in a passage, and the passage scores the
average of those best matches.

Owns the arrow ``(question tokens, passage tokens) -> score``. A paragraph's
single vector blurs its topics; matching word by word keeps "Red Cross" and
"penal institutions" visible inside a long paragraph about something else. The
token vectors are the encoder's own contextual outputs (the same forward pass
that makes the paragraph vector), stored with the index.

Question words that carry no topic are left out of the average: stop words,
punctuation, word-piece continuations, and (in collections of at least
MIN_PASSAGES_FOR_COMMON passages) pieces found in more than half of the
passages (in the default corpus "north", "korea", "human", "rights"), which
match every passage equally.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assistant.embed import Tokens

COMMON_SHARE = 0.5  # a piece in more than this share of passages carries no topic
MIN_PASSAGES_FOR_COMMON = 20  # below this, shares say little and common pieces count


@dataclass(frozen=True)
class TokenVectors:
    """Every passage's contextual token vectors, concatenated in passage order."""

    vectors: np.ndarray  # (t, d) float32, unit length
    piece: np.ndarray  # (t,) int32: index into ``pieces`` of each token
    first: np.ndarray  # (n + 1,) int64: passage i owns rows first[i]:first[i + 1]
    pieces: tuple[str, ...]  # the distinct word pieces

    @classmethod
    def of(cls, tokens: list[Tokens], dimension: int) -> TokenVectors:
        """Concatenate per-passage tokens; a passage without tokens is refused."""
        if any(not t.pieces for t in tokens):
            raise ValueError("every passage needs at least one token")
        lookup: dict[str, int] = {}
        piece = np.array([lookup.setdefault(p, len(lookup)) for t in tokens for p in t.pieces], dtype=np.int32)
        first = np.zeros(len(tokens) + 1, dtype=np.int64)
        first[1:] = np.cumsum([len(t.pieces) for t in tokens])
        vectors = np.concatenate([t.vectors for t in tokens]) if tokens else np.zeros((0, dimension), np.float32)
        return cls(vectors.astype(np.float32), piece, first, tuple(lookup))

    @property
    def passages(self) -> int:
        return len(self.first) - 1

    def passage_counts(self) -> dict[str, int]:
        """In how many passages each piece occurs."""
        rows = np.repeat(np.arange(self.passages), np.diff(self.first))
        pairs = np.unique(np.stack([rows, self.piece]), axis=1)
        counts = np.bincount(pairs[1], minlength=len(self.pieces))
        return {p: int(c) for p, c in zip(self.pieces, counts)}


def query_weights(pieces: tuple[str, ...], counts: dict[str, int], passages: int, stopwords: frozenset[str]) -> np.ndarray:
    """1 for each question piece that names a topic, 0 for the others.

    A question without any such piece ("what is it?", "???") gets all zeros: it
    names nothing to match, and its token match is 0.
    """
    common = passages >= MIN_PASSAGES_FOR_COMMON
    w = np.array(
        [
            0.0
            if (p in stopwords or not p.isalnum() or (common and counts.get(p, 0) > COMMON_SHARE * passages))
            else 1.0
            for p in pieces
        ],
        dtype=np.float32,
    )
    return w


def late_scores(query: Tokens, weights: np.ndarray, tv: TokenVectors, rows: np.ndarray) -> np.ndarray:
    """The weighted mean, over question pieces, of each piece's best cosine
    similarity with a token of the passage; one score per row in ``rows``."""
    out = np.zeros(len(rows), dtype=np.float32)
    used = weights > 0  # pieces that do not count need no similarities
    if len(rows) == 0 or not used.any():
        return out
    q, w = query.vectors[used], weights[used]
    starts, ends = tv.first[rows], tv.first[rows + 1]
    if len(rows) == tv.passages and np.array_equal(rows, np.arange(tv.passages)):
        sims = q @ tv.vectors.T  # every passage: no copy
    else:
        take = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
        sims = q @ tv.vectors[take].T  # (pieces, tokens of the chosen passages)
    offsets = np.concatenate([[0], np.cumsum(ends - starts)[:-1]])
    best = np.maximum.reduceat(sims, offsets, axis=1)  # (pieces, len(rows))
    return (w @ best) / float(w.sum())
