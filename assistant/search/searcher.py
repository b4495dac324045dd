"""Retrieval: a question in, ranked passages (``Hit``) out.

Owns the arrow ``question -> Hit``: dense (FAISS) and keyword (BM25) ranking,
fusing the two, and filtering by document, organisation and date. The question
is cleaned, and k, mode and filter checked, by :mod:`assistant.search.request`.

A question goes through three stages: candidates (every passage the filter allows,
up to ``EXHAUSTIVE_UP_TO``; past that the dense index's nearest and BM25's best),
signals computed for the candidates only (cosines of the passage and of its
sentences, BM25, year), and fusion (``assistant.search.fusion``, with token matching for
the best ``token_pool(mode, k)`` of them).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields

import numpy as np

from assistant.search import fusion
from assistant.encoders.embed import Encoder, Tokens
from assistant.errors import IndexLoadError, QueryError
from assistant.index.columns import YEAR, Columns
from assistant.index.folder import Index
from assistant.ingest.corpus import Passage
from assistant.index.keyword import stopwords
from assistant.search.request import MAX_QUERY_CHARS, MODES, Filter, Query, check_k, check_mode, clean_query  # noqa: F401 (re-exported)
from assistant.index.tokens import late_interaction, query_weights

# The hybrid weights live in assistant.search.fusion (one RankingConfig per index, recorded
# in its manifest). "tokens" mode = token match + SENTENCE_TOKEN_WEIGHT * token match
# of the best sentence, on every collection.
SENTENCE_TOKEN_WEIGHT = 0.5
# Token matching re-scores the best candidates by the other signals: in hybrid mode the
# k asked for and TOKEN_MARGIN more, so that a passage a little below the top k by the
# other signals can still climb into it (with a fixed 20 and k = 10, ranks 7-10 of the
# default questions lost nDCG@10 0.845 -> 0.842; k + 20 gives every evaluation
# collection the figures of a fixed 40, at a cost between the two); in "tokens" mode at
# least TOKENS_POOL (with 30 or fewer it answers one more unanswerable Debian FAQ question).
TOKEN_MARGIN = 20
TOKENS_POOL = 40


def token_pool(mode: str, k: int) -> int:
    """How many candidates, best by the other signals, are token-matched."""
    return k + TOKEN_MARGIN if mode == "hybrid" else max(TOKENS_POOL, k)


# Stage 1 (candidates): a question scores every allowed passage exactly up to
# EXHAUSTIVE_UP_TO of them; past that, the CANDIDATES nearest by the dense index and the
# CANDIDATES best by BM25 (both within the filter). Measured in docs/performance.md.
EXHAUSTIVE_UP_TO = 5_000
CANDIDATES = 400
RRF_K = 60
MASK_CACHE = 64  # filters whose masks a Searcher keeps


@dataclass(frozen=True)
class Signals:
    """What a hit's score is made of; None for what its mode does not use."""

    token_match: float | None = None
    sentence_token_match: float | None = None  # token match within the passage's best sentence
    paragraph_cosine: float | None = None
    sentence_cosine: float | None = None  # None also when no sentence has five words
    bm25: float | None = None
    bm25_scaled: float | None = None  # BM25 / the best BM25 among the allowed passages
    year: float | None = None  # 1.0 when the question names a year the passage is of


# Which signals each mode's score uses.
_MODE_SIGNALS = {
    "hybrid": frozenset(f.name for f in fields(Signals)),
    "tokens": frozenset({"token_match", "sentence_token_match"}),
    "dense": frozenset({"paragraph_cosine"}),
    "keyword": frozenset({"bm25"}),
    "rrf": frozenset({"paragraph_cosine", "bm25"}),
}


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # the ranking score of the mode used
    rank: int
    dense: float  # cosine similarity of question and passage
    keyword: float  # BM25 score
    sentence: float  # best cosine similarity of the question with one of the passage's sentences
    tokens: float = 0.0  # token match: mean best similarity of the question's words in the passage
    signals: Signals = field(default_factory=Signals)


@dataclass(frozen=True)
class EncodedQuestion:
    """A cleaned question's vector and token vectors, computed ahead (``--batch``
    encodes many questions per model call)."""

    text: str
    vector: np.ndarray
    tokens: Tokens


@dataclass(frozen=True)
class Retrieval:
    query: Query
    mode: str
    hits: tuple[Hit, ...]
    candidates: int  # passages the filter allowed
    reranked: bool = False  # scores are a cross-encoder's
    best_sentences: dict[str, list[tuple[int, int, float]]] = field(default_factory=dict, repr=False)
    min_score: float = fusion.DEFAULT_MIN_SCORE  # the index's abstention threshold for hybrid scores
    name_rule: bool = True  # whether an unknown name refuses (RankingConfig.name_rule)
    evidence_ratio: float = fusion.EVIDENCE_RATIO  # RankingConfig.evidence_ratio (assistant.search.evidence)


class Searcher:
    """Ranks the passages of one index for questions, with one encoder."""

    def __init__(self, index: Index, encoder: Encoder, *, reranker: object | None = None) -> None:
        if encoder.dimension != index.manifest.dimension:
            raise IndexLoadError(
                f"the index was built with {index.manifest.model} ({index.manifest.dimension} dimensions), "
                f"not {encoder.name} ({encoder.dimension}); rebuild it or use that model"
            )
        self.index = index
        self.encoder = encoder
        self.reranker = reranker  # a CrossEncoderReranker, or None
        self.columns = index.columns or Columns.of(index.documents, index.passages)  # filters and years
        self._masks: dict[Filter, np.ndarray] = {}  # allowed() per filter, computed once
        self._masks_lock = threading.Lock()
        self._piece_counts = index.tokens.passage_counts()
        self.stopwords = stopwords()
        self.config = ranking_config(index)
        self.exhaustive_up_to = EXHAUSTIVE_UP_TO
        self.candidates = CANDIDATES

    def encode(self, questions: list[str], *, batch_size: int = 32) -> list[EncodedQuestion]:
        """Encode cleaned questions in batches, for ``search(..., encoded=...)``."""
        vectors, tokens = self.encoder.encode_tokens(list(questions), batch_size=batch_size)
        return [EncodedQuestion(q, v, t) for q, v, t in zip(questions, vectors, tokens)]

    def search(
        self, question: str | Query, *, k: int = 5, mode: str = "hybrid", where: Filter = Filter(),
        encoded: EncodedQuestion | None = None,
    ) -> Retrieval:
        """The ``k`` best passages for a question.

        Args:
            question: the question (cleaned here if it is a plain string).
            k: how many hits to return.
            mode: "hybrid" (token, dense, sentence, keyword and year signals
                combined), "tokens" (token match of the passage and its best sentence), "rrf"
                (reciprocal rank fusion of dense and keyword), "dense" or "keyword".
            where: restrict to documents, organisations or dates.
            encoded: the question's encoding from ``encode``; used when its text is
                the cleaned question's, otherwise the question is encoded here.
        """
        check_mode(mode)
        check_k(k)
        query = question if isinstance(question, Query) else clean_query(question)
        self.check(where)
        allowed = self.allowed(where)
        n_allowed = int(allowed.sum())
        if n_allowed == 0:
            return Retrieval(query, mode, (), 0)
        if encoded is None or encoded.text != query.text:
            encoded = self.encode([query.text])[0]
        bm25 = self.index.keyword.scores(query.text)
        rows = self._candidates(encoded.vector, bm25, allowed, n_allowed, k)  # 1. candidates
        found = self._signals(rows, encoded.vector, bm25, query)  # 2. signals, of the candidates only
        score, tokens, sentence_tokens = self._fuse(mode, found, encoded.tokens, k)  # 3. fusion
        order = np.argsort(-score, kind="stable")[: min(k, len(rows))]  # positions in rows
        if self.reranker is not None:
            from assistant.search.rerank import CANDIDATES as RERANK_POOL

            pool = np.argsort(-score, kind="stable")[: min(max(k, RERANK_POOL), len(rows))]
            rescored = self.reranker.scores(query.text, [self.index.passages[i].text for i in rows[pool]])
            score = score.copy()
            score[pool] = rescored
            order = pool[np.argsort(-rescored, kind="stable")][: min(k, len(rows))]
        used = _MODE_SIGNALS[mode]

        def signals(j: int) -> Signals:
            values = {
                "token_match": float(tokens[j]),
                "sentence_token_match": float(sentence_tokens[j]),
                "paragraph_cosine": float(found.dense[j]),
                "sentence_cosine": float(found.sentence[j]) if found.sentence[j] > -1.0 else None,
                "bm25": float(found.bm25[j]),
                "bm25_scaled": float(found.scaled[j]),
                "year": float(found.year[j]),
            }
            return Signals(**{name: (v if name in used else None) for name, v in values.items()})

        shown = {int(j): self.index.passages[rows[j]] for j in order}  # each read from disk once
        hits = tuple(
            Hit(
                shown[int(j)], float(score[j]), r, float(found.dense[j]), float(found.bm25[j]),
                float(found.sentence[j]), float(tokens[j]), signals(j),
            )
            for r, j in enumerate(order, start=1)
        )
        best: dict[str, list[tuple[int, int, float]]] = {}
        for j in order:
            a, b = found.sentence_start[j], found.sentence_start[j + 1]
            spans = self.index.sentences.spans[found.sentence_rows[a:b]]
            best[shown[int(j)].passage_id] = [
                (int(x), int(y), float(sim)) for (x, y), sim in zip(spans, found.sentence_sims[a:b])
            ]
        return Retrieval(
            query, mode, hits, n_allowed, self.reranker is not None, best, self.config.min_score, self.config.name_rule,
            self.config.evidence_ratio,
        )

    def _candidates(
        self, qvec: np.ndarray, bm25: np.ndarray, allowed: np.ndarray, n_allowed: int, k: int
    ) -> np.ndarray:
        """Stage 1: the passage rows worth scoring (ascending), all within the filter.

        Up to ``exhaustive_up_to`` allowed passages, every one of them (exact). Beyond,
        the ``candidates`` nearest by the dense index (asked for more in proportion to
        what the filter keeps) and the ``candidates`` best by BM25, merged.
        """
        if n_allowed <= self.exhaustive_up_to:
            return np.flatnonzero(allowed)
        want = max(self.candidates, k)
        dense = self.index.dense
        share = n_allowed / len(allowed)
        asked = int(min(dense.ntotal, np.ceil(want / share) + k))
        _, near = dense.search(np.ascontiguousarray(qvec, dtype=np.float32).reshape(1, -1), asked)
        near = near[0][near[0] >= 0]
        near = near[allowed[near]][:want]
        best = np.flatnonzero(bm25 > 0)  # only passages with a question word, usually few
        best = best[allowed[best]]
        if len(best) > want:
            best = best[np.argpartition(-bm25[best], want)[:want]]
        return np.union1d(near, best).astype(np.int64)

    def _signals(self, rows: np.ndarray, qvec: np.ndarray, bm25: np.ndarray, query: Query) -> _Found:
        """Stage 2: every signal of the candidate ``rows``, aligned with them."""
        index = self.index
        dense = (index.vectors[rows] @ qvec).astype(np.float32)  # read for the candidates only
        first = index.sentences.first  # passage i owns sentence rows first[i]:first[i + 1]
        starts, ends = first[rows], first[rows + 1]
        counts = ends - starts
        sentence_start = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=sentence_start[1:])
        if len(rows) == len(index.passages):
            sentence_rows = np.arange(len(index.sentences.row), dtype=np.int64)
        else:
            sentence_rows = np.repeat(starts - sentence_start[:-1], counts) + np.arange(sentence_start[-1])
        sims = index.sentences.similarities(sentence_rows, qvec)
        sentence = np.full(len(rows), -1.0, dtype=np.float32)  # -1: no sentence scores
        scoring = np.where(index.sentences.scores[sentence_rows], sims, np.float32(-1.0))
        some = counts > 0  # each candidate's sentences are one run: the best of each run
        if some.any():
            sentence[some] = np.maximum.reduceat(scoring, sentence_start[:-1][some])
        keyword = bm25[rows]
        top = float(keyword.max()) if len(keyword) else 0.0
        scaled = keyword / top if top > 0 else keyword
        year = self.columns.year_signal(set(YEAR.findall(query.text)), rows)
        return _Found(rows, dense, sentence, keyword, scaled, year, sentence_rows, sims, sentence_start)

    def _fuse(self, mode: str, found: _Found, qtokens: Tokens, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stage 3: the mode's score of each candidate, and its token matches (whole, best sentence)."""
        if mode in ("hybrid", "tokens"):
            # hybrid's pool is chosen by its own weights; "tokens" mode's by the fixed LONG
            # weights, so that mode means the same on every collection
            weights = self.config.weights if mode == "hybrid" else fusion.LONG
            cheap = fusion.cheap_score(
                weights, paragraph_cosine=found.dense, best_cosine=np.maximum(found.dense, found.sentence),
                keyword=found.scaled, year=found.year,
            )
            return self._token_score(mode, qtokens, found.rows, k, cheap)
        zeros = np.zeros(len(found.dense), dtype=np.float32)
        return self._score(mode, found.dense, found.bm25), zeros, zeros.copy()

    def check(self, where: Filter) -> None:
        """Refuse a filter that names what this index does not have: unknown ids or
        organisations. (A :class:`Filter`'s dates are checked when it is made.)

        Raises:
            QueryError: naming what is known instead.
        """
        unknown = [d for d in where.doc_ids if d not in self.index.documents]
        if unknown:
            raise QueryError(f"unknown document {unknown[0]!r}; known: {', '.join(sorted(self.index.documents))}")
        orgs = [o for o in self.columns.orgs if o]
        for o in where.organizations:
            if not any(o.casefold() in known.casefold() for known in orgs):
                raise QueryError(f"no document is from an organisation matching {o!r}; known: {'; '.join(orgs)}")

    def allowed(self, where: Filter) -> np.ndarray:
        """Boolean mask of the passages a filter lets through (read-only; cached per filter).

        Organisations match by case-insensitive substring, so "Amnesty International"
        includes "Amnesty International UK".
        """
        mask = self._masks.get(where)
        if mask is None:
            mask = self.columns.mask(where)
            mask.setflags(write=False)
            with self._masks_lock:  # the web chat answers two questions at once
                if len(self._masks) >= MASK_CACHE:
                    self._masks.pop(next(iter(self._masks)))  # the oldest filter goes
                self._masks[where] = mask
        return mask

    def _score(self, mode: str, dense: np.ndarray, keyword: np.ndarray) -> np.ndarray:
        """Scores of the modes without token matching: dense, keyword, rrf."""
        if mode == "dense":
            return dense
        if mode == "keyword":
            return keyword
        return _rrf(dense, keyword)

    def _token_score(
        self, mode: str, qtokens: Tokens, rows: np.ndarray, k: int, cheap: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hybrid (or token-only) scores of the candidate ``rows``, and each one's token
        match, whole and by its best sentence (all aligned with ``rows``).

        "tokens" = token match + SENTENCE_TOKEN_WEIGHT * token match of the best
        sentence; hybrid = ``fusion.hybrid`` of the token signals and ``cheap``
        (cosines, scaled BM25 and year with the index's weights). Token matching is
        exact for every candidate up to ``token_pool(mode, k)`` of them; past that, for
        that many best by ``cheap`` (also in "tokens" mode).
        """
        pool = np.arange(len(rows))
        size = token_pool(mode, k)
        if len(pool) > size:
            pool = np.argsort(-cheap, kind="stable")[:size]
        weights = query_weights(qtokens.pieces, self._piece_counts, len(self.index.passages), self.stopwords)
        whole, best = late_interaction(
            qtokens, weights, self.index.tokens, rows[pool], self.index.sentences.row, self.index.sentences.scores
        )
        tokens = np.zeros(len(rows), dtype=np.float32)
        sentence_tokens = tokens.copy()
        tokens[pool], sentence_tokens[pool] = whole, best
        score = np.full(len(rows), -np.inf, dtype=np.float32)
        if mode == "tokens":
            score[pool] = tokens[pool] + SENTENCE_TOKEN_WEIGHT * sentence_tokens[pool]
        else:
            score[pool] = fusion.hybrid(
                self.config.weights, cheap=cheap[pool], token=tokens[pool], sentence_token=sentence_tokens[pool]
            )
        return score, tokens, sentence_tokens


@dataclass(frozen=True)
class _Found:
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


def ranking_config(index: Index) -> fusion.RankingConfig:
    """The index's ranking configuration: as its manifest records it, or (an index
    built before it was recorded) derived from its passages with the default threshold."""
    recorded = getattr(index.manifest, "ranking", None)
    if recorded:
        return fusion.RankingConfig.from_json(recorded)
    return fusion.config_for([p.doc_id for p in index.passages])


def _rrf(*scores: np.ndarray) -> np.ndarray:
    """Reciprocal rank fusion of complete score vectors."""
    total = np.zeros_like(scores[0], dtype=np.float64)
    for s in scores:
        ranks = np.empty(len(s), dtype=np.int64)
        ranks[np.argsort(-s, kind="stable")] = np.arange(1, len(s) + 1)
        total += 1.0 / (RRF_K + ranks)
    return total.astype(np.float32)
