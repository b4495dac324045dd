"""Retrieval: a question in, ranked passages (``Hit``) out.

Owns the arrow ``question -> Hit``: dense (FAISS) and keyword (BM25) ranking,
fusing the two, and filtering by document, organisation and date. The question
is cleaned, and k, mode and filter checked, by :mod:`assistant.request`. Every passage is scored exactly (the collections this tool is for are
small enough that a flat index is fast), so fusion sees complete rankings.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field, fields

import numpy as np

from assistant import fusion
from assistant.embed import Encoder, Tokens
from assistant.errors import IndexLoadError, QueryError
from assistant.index import Index
from assistant.corpus import Passage
from assistant.keyword import stopwords
from assistant.request import MAX_QUERY_CHARS, MODES, Filter, Query, check_k, check_mode, clean_query  # noqa: F401 (re-exported)
from assistant.tokens import late_interaction, query_weights

MIN_SENTENCE_WORDS = 5
# The hybrid weights live in assistant.fusion (one RankingConfig per index, recorded
# in its manifest). "tokens" mode = token match + SENTENCE_TOKEN_WEIGHT * token match
# of the best sentence, on every collection.
SENTENCE_TOKEN_WEIGHT = 0.5
TOKEN_POOL = 40  # token matching re-scores this many best candidates by the other signals
RRF_K = 60
MASK_CACHE = 64  # filters whose masks a Searcher keeps
_ISO_PREFIX = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
_YEAR = re.compile(r"\b(1[6-9]\d\d|20\d\d)\b")


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
        self._columns = _Columns.of(index)
        self._masks: dict[Filter, np.ndarray] = {}  # allowed() per filter, computed once
        self._masks_lock = threading.Lock()
        # A sentence of fewer than MIN_SENTENCE_WORDS words (a label such as "These include:
        # Prison Camps", a name in a list) is too short to stand for its paragraph: it may be
        # highlighted, but it does not score the paragraph.
        texts = [index.documents[index.passages[r].doc_id].text for r in index.sentences.row]
        # Sentences are stored in passage order: passage i owns rows first[i]:first[i + 1].
        self._first_sentence = np.searchsorted(index.sentences.row, np.arange(len(index.passages) + 1))
        self._sentence_scores = np.array(
            [len(t[a:b].split()) >= MIN_SENTENCE_WORDS for t, (a, b) in zip(texts, index.sentences.spans)], dtype=bool
        )
        self._piece_counts = index.tokens.passage_counts()
        self._stopwords = stopwords()
        self.config = ranking_config(index)

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
        qvec = encoded.vector
        dense = self._dense_scores(qvec)
        sent_sims = self.index.sentences.vectors @ qvec
        sentence = np.full(len(self.index.passages), -1.0, dtype=np.float32)
        ok = self._sentence_scores
        np.maximum.at(sentence, self.index.sentences.row[ok], sent_sims[ok])
        keyword = self.index.keyword.scores(query.text)
        top = float(keyword[allowed].max())
        scaled = keyword / top if top > 0 else keyword
        asked = set(_YEAR.findall(query.text))
        year = self._columns.year_signal(asked)
        tokens = np.zeros(len(self.index.passages), dtype=np.float32)
        sentence_tokens = tokens.copy()
        if mode in ("hybrid", "tokens"):
            # hybrid's pool is chosen by its own weights; "tokens" mode's by the fixed LONG
            # weights, so that mode means the same on every collection
            weights = self.config.weights if mode == "hybrid" else fusion.LONG
            cheap = fusion.cheap_score(
                weights, paragraph_cosine=dense, best_cosine=np.maximum(dense, sentence), keyword=scaled, year=year,
            )
            score, tokens, sentence_tokens = self._token_score(mode, encoded.tokens, allowed, k, cheap)
        else:
            score = self._score(mode, dense, keyword)
        score = np.where(allowed, score, -np.inf)
        order = np.argsort(-score, kind="stable")[: min(k, n_allowed)]
        if self.reranker is not None:
            from assistant.rerank import CANDIDATES

            pool = np.argsort(-score, kind="stable")[: min(max(k, CANDIDATES), n_allowed)]
            rescored = self.reranker.scores(query.text, [self.index.passages[i].text for i in pool])
            score = score.copy()
            score[pool] = rescored
            order = pool[np.argsort(-rescored, kind="stable")][: min(k, n_allowed)]
        used = _MODE_SIGNALS[mode]

        def signals(i: int) -> Signals:
            found = {
                "token_match": float(tokens[i]),
                "sentence_token_match": float(sentence_tokens[i]),
                "paragraph_cosine": float(dense[i]),
                "sentence_cosine": float(sentence[i]) if sentence[i] > -1.0 else None,
                "bm25": float(keyword[i]),
                "bm25_scaled": float(scaled[i]),
                "year": float(year[i]),
            }
            return Signals(**{name: (v if name in used else None) for name, v in found.items()})

        hits = tuple(
            Hit(
                self.index.passages[i], float(score[i]), r, float(dense[i]), float(keyword[i]), float(sentence[i]),
                float(tokens[i]), signals(i),
            )
            for r, i in enumerate(order, start=1)
        )
        best: dict[str, list[tuple[int, int, float]]] = {}
        for i in order:
            rows = range(self._first_sentence[i], self._first_sentence[i + 1])
            best[self.index.passages[i].passage_id] = [
                (int(self.index.sentences.spans[r][0]), int(self.index.sentences.spans[r][1]), float(sent_sims[r]))
                for r in rows
            ]
        return Retrieval(query, mode, hits, n_allowed, self.reranker is not None, best, self.config.min_score, self.config.name_rule)

    def check(self, where: Filter) -> None:
        """Refuse a filter that names what this index does not have: unknown ids or
        organisations. (A :class:`Filter`'s dates are checked when it is made.)

        Raises:
            QueryError: naming what is known instead.
        """
        unknown = [d for d in where.doc_ids if d not in self.index.documents]
        if unknown:
            raise QueryError(f"unknown document {unknown[0]!r}; known: {', '.join(sorted(self.index.documents))}")
        orgs = sorted({d.organization for d in self.index.documents.values() if d.organization})
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
            mask = self._columns.mask(where)
            mask.setflags(write=False)
            with self._masks_lock:  # the web chat answers two questions at once
                if len(self._masks) >= MASK_CACHE:
                    self._masks.pop(next(iter(self._masks)))  # the oldest filter goes
                self._masks[where] = mask
        return mask

    def _dense_scores(self, qvec: np.ndarray) -> np.ndarray:
        """Cosine similarity of the question with every passage, from the FAISS index
        (exact inner product over unit vectors), in passage order."""
        n = self.index.dense.ntotal
        sims, rows = self.index.dense.search(qvec.reshape(1, -1).astype(np.float32), n)
        dense = np.empty(n, dtype=np.float32)
        dense[rows[0]] = sims[0]
        return dense

    def _score(self, mode: str, dense: np.ndarray, keyword: np.ndarray) -> np.ndarray:
        """Scores of the modes without token matching: dense, keyword, rrf."""
        if mode == "dense":
            return dense
        if mode == "keyword":
            return keyword
        return _rrf(dense, keyword)

    def _token_score(
        self, mode: str, qtokens: Tokens, allowed: np.ndarray, k: int, cheap: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hybrid (or token-only) scores, and each passage's token match, whole and
        by its best sentence.

        "tokens" = token match + SENTENCE_TOKEN_WEIGHT * token match of the best
        sentence; hybrid = ``fusion.hybrid`` of the token signals and ``cheap``
        (cosines, scaled BM25 and year with the index's weights). Token matching is
        exact for every allowed passage up to TOKEN_POOL of them; past that, for the
        TOKEN_POOL best by ``cheap`` (also in "tokens" mode).
        """
        rows = np.flatnonzero(allowed)
        if len(rows) > max(TOKEN_POOL, k):
            rows = rows[np.argsort(-cheap[rows], kind="stable")[: max(TOKEN_POOL, k)]]
        weights = query_weights(qtokens.pieces, self._piece_counts, len(self.index.passages), self._stopwords)
        whole, best = late_interaction(
            qtokens, weights, self.index.tokens, rows, self.index.sentences.row, self._sentence_scores
        )
        tokens = np.zeros(len(cheap), dtype=np.float32)
        sentence_tokens = tokens.copy()
        tokens[rows], sentence_tokens[rows] = whole, best
        score = np.full(len(cheap), -np.inf, dtype=np.float32)
        if mode == "tokens":
            score[rows] = tokens[rows] + SENTENCE_TOKEN_WEIGHT * sentence_tokens[rows]
        else:
            score[rows] = fusion.hybrid(
                self.config.weights, cheap=cheap[rows], token=tokens[rows], sentence_token=sentence_tokens[rows]
            )
        return score, tokens, sentence_tokens


@dataclass(frozen=True)
class _Columns:
    """Per-passage filter and year columns, computed once per index, so that a
    question costs work per distinct document, organisation, date or year, never a
    Python loop over the passages."""

    doc_code: np.ndarray  # passage -> index into doc_ids
    doc_ids: tuple[str, ...]
    org_code: np.ndarray  # passage -> index into orgs
    orgs: tuple[str, ...]
    date_code: np.ndarray  # passage -> index into dates
    dates: tuple[str, ...]
    year_rows: dict[str, np.ndarray]  # year -> passages that speak of it or are dated in it
    n: int

    @classmethod
    def of(cls, index: Index) -> _Columns:
        doc_ids = tuple(index.documents)
        orgs = tuple(sorted({d.organization or "" for d in index.documents.values()}))
        dates = tuple(sorted({p.date or "" for p in index.passages}))
        where_doc = {d: i for i, d in enumerate(doc_ids)}
        where_org = {o: i for i, o in enumerate(orgs)}
        where_date = {d: i for i, d in enumerate(dates)}
        years: dict[str, list[int]] = {}
        for row, p in enumerate(index.passages):
            for y in _passage_years(p):
                years.setdefault(y, []).append(row)
        return cls(
            np.array([where_doc[p.doc_id] for p in index.passages], dtype=np.int32), doc_ids,
            np.array([where_org[index.documents[p.doc_id].organization or ""] for p in index.passages], dtype=np.int32),
            orgs,
            np.array([where_date[p.date or ""] for p in index.passages], dtype=np.int32), dates,
            {y: np.array(rows, dtype=np.int64) for y, rows in years.items()},
            len(index.passages),
        )

    def mask(self, where: Filter) -> np.ndarray:
        mask = np.ones(self.n, dtype=bool)
        if where.doc_ids:
            wanted = set(where.doc_ids)
            mask &= np.array([d in wanted for d in self.doc_ids], dtype=bool)[self.doc_code]
        if where.organizations:
            wanted_orgs = {o.casefold() for o in where.organizations}
            ok = np.array([any(w in o.casefold() for w in wanted_orgs) for o in self.orgs], dtype=bool)
            mask &= ok[self.org_code]
        if where.date_from or where.date_to:
            ok = np.array([_date_in(d, where.date_from, where.date_to) for d in self.dates], dtype=bool)
            mask &= ok[self.date_code]
        return mask

    def year_signal(self, asked: set[str]) -> np.ndarray:
        """1.0 for each passage of a year the question names, else 0.0."""
        year = np.zeros(self.n, dtype=np.float32)
        for y in asked:
            rows = self.year_rows.get(y)
            if rows is not None:
                year[rows] = 1.0
        return year


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


def _passage_years(p: Passage) -> frozenset[str]:
    """Years a passage speaks of or is dated in (a dated range counts every year in it).

    Dates come from metadata.json and may be free text ("Spring 2014", "n.d."):
    only the years found in them count.
    """
    years = set(_YEAR.findall(p.text))
    ends = [int(y) for y in _YEAR.findall(p.date or "")]
    if ends:
        lo, hi = min(ends), max(ends)
        years.update(str(y) for y in range(lo, min(hi, lo + 100) + 1))
    return frozenset(years)


def _date_in(date: str, lo: str, hi: str) -> bool:
    if not date:
        return False  # an undated passage cannot be said to fall in a range
    first, _, last = date.partition("/")
    last = last or first
    if not (_ISO_PREFIX.match(first) and _ISO_PREFIX.match(last)):
        return False  # a free-text date ("Spring 2014") cannot be placed in a range: undated
    if lo and last[: len(lo)] < lo:
        return False
    if hi and first[: len(hi)] > hi:
        return False
    return True
