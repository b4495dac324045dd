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

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.encoders.embed import Tokens

CONTEXT = -1  # a token of the title, section and metadata the passage is embedded with
NO_SENTENCE = -2  # a token outside any sentence (a bullet, or offsets unknown)
COMMON_SHARE = 0.5  # a piece in more than this share of passages carries no topic
MIN_PASSAGES_FOR_COMMON = 10  # below this, shares say little and common pieces count


@dataclass(frozen=True)
class TokenVectors:
    """Every passage's contextual token vectors, concatenated in passage order."""

    vectors: np.ndarray  # (t, d) unit length: float32 when built; int8 (memory-mapped) with ``scale`` when loaded
    piece: np.ndarray  # (t,) int32: index into ``pieces`` of each token
    first: np.ndarray  # (n + 1,) int64: passage i owns rows first[i]:first[i + 1]
    pieces: tuple[str, ...]  # the distinct word pieces
    sentence: np.ndarray  # (t,) int32: the sentence row a token lies in; CONTEXT or NO_SENTENCE
    scale: np.ndarray | None = None  # (t,) float32: row i is vectors[i] * scale[i] (int8 vectors)
    counts: np.ndarray | None = None  # (len(pieces),) in how many passages each piece occurs (stored; else computed)
    dropped: np.ndarray | None = None  # (t,) bool: tokens matching leaves out (calibration's pseudo-index), else None

    def rows(self, take) -> np.ndarray:
        """The token vectors ``take`` selects, as float32."""
        return dequantize(self.vectors, self.scale, take)

    @classmethod
    def of(
        cls, tokens: list[Tokens], dimension: int, sentence: list[list[int]] | None = None, *, quantize: bool = False
    ) -> TokenVectors:
        """Concatenate per-passage tokens; a passage without tokens is refused.

        ``sentence`` gives, per passage, each token's sentence row (or CONTEXT /
        NO_SENTENCE); without it no token belongs to a sentence. ``quantize`` stores
        them as the index does (int8 with a scale per row: a quarter of float32's size,
        and read back far faster than float16), a chunk of passages at a time, so a build never holds every token vector as float32 (3.7 GB for 10,000
        passages).
        """
        if any(not t.pieces for t in tokens):
            raise ValueError("every passage needs at least one token")
        lookup: dict[str, int] = {}
        piece = np.array([lookup.setdefault(p, len(lookup)) for t in tokens for p in t.pieces], dtype=np.int32)
        first = np.zeros(len(tokens) + 1, dtype=np.int64)
        first[1:] = np.cumsum([len(t.pieces) for t in tokens])
        if quantize:
            vectors = np.empty((int(first[-1]), dimension), dtype=np.int8)
            scale = np.empty(int(first[-1]), dtype=np.float32)
            for a in range(0, len(tokens), QUANTIZE_CHUNK):
                chunk = tokens[a : a + QUANTIZE_CHUNK]
                rows_of = slice(int(first[a]), int(first[a + len(chunk)]))
                vectors[rows_of], scale[rows_of] = quantize_rows(np.concatenate([t.vectors for t in chunk]))
        else:
            vectors = np.concatenate([t.vectors for t in tokens]) if tokens else np.zeros((0, dimension), np.float32)
            vectors, scale = vectors.astype(np.float32), None
        if sentence is None:
            rows = np.full(len(piece), NO_SENTENCE, dtype=np.int32)
        else:
            rows = np.array([r for s in sentence for r in s], dtype=np.int32)
            if len(rows) != len(piece):
                raise ValueError("one sentence row per token")
        return cls(vectors, piece, first, tuple(lookup), rows, scale)

    @classmethod
    def stream(
        cls, counts: np.ndarray, dimension: int, entries: Iterable[tuple[int, Tokens, list[int]]],
        *, vectors_file: Path | None = None,
    ) -> TokenVectors:
        """Quantised token vectors (as ``of(..., quantize=True)`` makes them) from
        passages given in any order, one at a time: ``counts[i]`` is passage i's number
        of tokens, and ``entries`` yields ``(i, its Tokens, each token's sentence row)``
        once for every passage. Only the int8 result is held, never every passage's
        float vectors (a build of 10^5 passages would need about 12 GB for them).
        Word pieces are numbered in passage order, as ``of`` numbers them. With
        ``vectors_file`` the int8 vectors are written into that ``.npy`` file as they
        come (memory-mapped), so not even they are held in memory.
        """
        counts = np.asarray(counts, dtype=np.int64)
        if np.any(counts <= 0):
            raise ValueError("every passage needs at least one token")
        first = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=first[1:])
        total = int(first[-1])
        if vectors_file is None:
            vectors = np.empty((total, dimension), dtype=np.int8)
        else:
            vectors = np.lib.format.open_memmap(vectors_file, mode="w+", dtype=np.int8, shape=(total, dimension))
        scale = np.empty(total, dtype=np.float32)
        raw = np.empty(total, dtype=np.int32)  # piece ids in the order met; renumbered below
        sentence = np.empty(total, dtype=np.int32)
        lookup: dict[str, int] = {}
        seen = np.zeros(len(counts), dtype=bool)
        for i, t, rows in entries:
            a, b = int(first[i]), int(first[i + 1])
            if seen[i] or len(t.pieces) != b - a or len(rows) != b - a:
                raise ValueError(f"passage {i}: {len(t.pieces)} tokens and {len(rows)} sentence rows given, {b - a} counted")
            seen[i] = True
            vectors[a:b], scale[a:b] = quantize_rows(t.vectors)
            raw[a:b] = [lookup.setdefault(p, len(lookup)) for p in t.pieces]
            sentence[a:b] = rows
        if not seen.all():
            raise ValueError(f"no tokens given for passage {int(np.flatnonzero(~seen)[0])}")
        met = np.array(list(lookup), dtype=object)
        where = np.full(len(met), total, dtype=np.int64)  # each piece's first position
        np.minimum.at(where, raw, np.arange(total, dtype=np.int64))
        order = np.argsort(where, kind="stable")
        renumber = np.empty(len(met), dtype=np.int32)
        renumber[order] = np.arange(len(met), dtype=np.int32)
        return cls(vectors, renumber[raw], first, tuple(met[order].tolist()), sentence, scale)

    @property
    def passages(self) -> int:
        return len(self.first) - 1

    def passage_counts(self) -> dict[str, int]:
        """In how many passages each piece occurs."""
        if self.counts is not None:
            return {p: int(c) for p, c in zip(self.pieces, self.counts)}
        return {p: int(c) for p, c in zip(self.pieces, self.piece_passages())}

    def piece_passages(self) -> np.ndarray:
        """In how many passages each piece occurs, aligned with ``pieces`` (computed)."""
        rows = np.repeat(np.arange(self.passages, dtype=np.int64), np.diff(self.first))
        pairs = np.unique(rows * len(self.pieces) + np.asarray(self.piece, dtype=np.int64))  # (passage, piece), once each
        return np.bincount(pairs % len(self.pieces), minlength=len(self.pieces)).astype(np.int64)


QUANTIZE_CHUNK = 256  # passages quantised at a time


def dequantize(vectors, scale: np.ndarray | None, take) -> np.ndarray:
    """The rows ``take`` of ``vectors`` as float32 (a copy), times their ``scale`` when
    the vectors are stored as int8 (``quantize_rows``)."""
    block = np.array(vectors[take], dtype=np.float32)
    if scale is not None:
        block *= np.asarray(scale[take])[..., None]
    return block


def quantize_rows(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 rows and a float32 scale per row: row i is about ``q[i] * scale[i]``."""
    v = np.asarray(vectors, dtype=np.float32)
    top = np.abs(v).max(axis=1) if len(v) else np.zeros(0, np.float32)
    scale = np.where(top > 0, top / 127.0, 1.0).astype(np.float32)
    return np.clip(np.rint(v / scale[:, None]), -127, 127).astype(np.int8), scale


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


def late_interaction(
    query: Tokens,
    weights: np.ndarray,
    tv: TokenVectors,
    rows: np.ndarray,
    sentence_row: np.ndarray | None = None,
    sentence_ok: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Token match of each passage in ``rows``, whole and by its best sentence.

    The passage score is the weighted mean, over question pieces, of each piece's
    best cosine similarity with any token of the passage. The sentence score does
    the same within one sentence and the passage's title/metadata context, and
    takes the passage's best sentence (only sentences with ``sentence_ok``); a
    passage without such a sentence gets its passage score. ``sentence_row[s]``
    is the passage row of sentence s.
    """
    n = len(rows)
    whole = np.zeros(n, dtype=np.float32)
    used = weights > 0  # pieces that do not count need no similarities
    if n == 0 or not used.any():
        return whole, whole.copy()
    q, w = query.vectors[used], weights[used]
    order = np.argsort(rows, kind="stable")  # work in passage order, answer in the caller's
    srows = rows[order]
    starts, ends = tv.first[srows], tv.first[srows + 1]
    if n == tv.passages and np.array_equal(srows, np.arange(tv.passages)):
        take = slice(None)  # every passage: no copy
    else:
        take = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
    # stored as int8 with a scale per row (memory-mapped from the index): only the chosen rows are read
    sims = q @ np.asarray(tv.vectors[take], dtype=np.float32).T  # (pieces, tokens of the chosen passages)
    if tv.scale is not None:
        sims *= tv.scale[take]
    if tv.dropped is not None:  # tokens left out: they match nothing (and belong to no sentence)
        sims[:, tv.dropped[take]] = -np.inf
    offsets = np.concatenate([[0], np.cumsum(ends - starts)[:-1]])
    whole_sorted = (w @ np.maximum.reduceat(sims, offsets, axis=1)) / float(w.sum())
    best_sorted = whole_sorted.copy()
    if sentence_row is not None and sentence_ok is not None:
        best_sorted = _best_sentence(sims, w, tv.sentence[take], np.repeat(np.arange(n), ends - starts),
                                     srows, sentence_row, sentence_ok, whole_sorted)
    whole[order] = whole_sorted
    best = np.empty(n, dtype=np.float32)
    best[order] = best_sorted
    return whole, best


def _group_max(sims: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column-wise max of ``sims`` per run of equal ``keys`` (non-decreasing)."""
    if len(keys) == 0:
        return np.zeros(0, dtype=keys.dtype), np.zeros((sims.shape[0], 0), dtype=sims.dtype)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[starts], np.maximum.reduceat(sims, starts, axis=1)


def _best_sentence(
    sims: np.ndarray, w: np.ndarray, token_sentence: np.ndarray, token_pos: np.ndarray, srows: np.ndarray,
    sentence_row: np.ndarray, sentence_ok: np.ndarray, fallback: np.ndarray,
) -> np.ndarray:
    in_sentence = token_sentence >= 0
    sent_ids, sent_max = _group_max(sims[:, in_sentence], token_sentence[in_sentence])
    context = token_sentence == CONTEXT
    ctx_pos, ctx_max = _group_max(sims[:, context], token_pos[context])
    pos = np.searchsorted(srows, sentence_row[sent_ids])  # each sentence's place among the rows
    ctx = np.full((sims.shape[0], len(srows)), -np.inf, dtype=sims.dtype)
    ctx[:, ctx_pos] = ctx_max
    per_sentence = (w @ np.maximum(sent_max, ctx[:, pos])) / float(w.sum())
    best = np.full(len(srows), -np.inf, dtype=np.float32)
    ok = sentence_ok[sent_ids]
    np.maximum.at(best, pos[ok], per_sentence[ok])
    return np.where(np.isfinite(best), best, fallback).astype(np.float32)
