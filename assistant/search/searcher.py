"""Retrieval: a question in, ranked passages (``Hit``) out.

Owns the arrow ``question -> Hit`` and the order of its stages; the question is
cleaned, and k, mode and filter checked, by :mod:`assistant.search.request`.

A question goes through three stages: candidates (:mod:`assistant.search.candidates`:
every passage the filter allows, or past ``RankingConfig.exhaustive_up_to`` the dense
and keyword backends' best), signals computed for the candidates only
(:mod:`assistant.search.signals`), and the mode's score (:mod:`assistant.search.modes`,
with :mod:`assistant.search.fusion`'s formula and token matching for hybrid and
"tokens"). Every number they use is in the index's ``RankingConfig``.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field, fields

import numpy as np

from assistant.search import fusion
from assistant.encoders.embed import Encoder, Tokens
from assistant.errors import IndexLoadError, QueryError
from assistant.index.columns import Columns
from assistant.index.folder import Index
from assistant.ingest.corpus import Passage
from assistant.index.keyword import stopwords
from assistant.search.candidates import candidates
from assistant.search.modes import DEFAULT_MODE, MODES as _MODES
from assistant.search.request import MAX_QUERY_CHARS, MODES, Filter, Query, check_k, check_mode, clean_query  # noqa: F401 (re-exported)
from assistant.search.signals import Signals, measure
from assistant.index.tokens import query_weights

MASK_CACHE = 64  # filters whose masks a Searcher keeps


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # the ranking score of the mode used
    rank: int
    measured: Signals  # every signal measured for the passage (token matches: None unless the mode matched)
    mode: str = DEFAULT_MODE

    @property
    def signals(self) -> Signals:
        """What the score is made of: the mode's signals; None for the rest."""
        used = _MODES[self.mode].signals
        return Signals(**{f.name: (getattr(self.measured, f.name) if f.name in used else None) for f in fields(Signals)})

    @property
    def dense(self) -> float:
        """Cosine similarity of question and passage."""
        return self.measured.paragraph_cosine

    @property
    def sentence(self) -> float:
        """Best cosine similarity of the question with one of the passage's scoring sentences; -1 when none."""
        s = self.measured.sentence_cosine
        return -1.0 if s is None else s

    @property
    def keyword(self) -> float:
        """BM25 score."""
        return self.measured.bm25

    @property
    def tokens(self) -> float:
        """Token match: mean best similarity of the question's words in the passage (0 when not matched)."""
        t = self.measured.token_match
        return 0.0 if t is None else t


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
    config: fusion.RankingConfig = fusion.DEFAULT  # the index's: thresholds of evidence, abstention, highlights

    @property
    def min_score(self) -> float:
        """The index's abstention threshold for hybrid scores."""
        return self.config.min_score

    @property
    def name_rule(self) -> bool:
        """Whether an unknown name refuses (``RankingConfig.name_rule``)."""
        return self.config.name_rule

    @property
    def evidence_ratio(self) -> float:
        """``RankingConfig.evidence_ratio`` (assistant.search.evidence)."""
        return self.config.evidence_ratio

    @property
    def calibrated(self) -> bool:
        """The scores are on the scale the index's threshold was set on (hybrid, not reranked)."""
        return _MODES[self.mode].calibrated and not self.reranked


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
        self._piece_counts = index.detail.piece_counts()
        self.stopwords = stopwords()
        self.config = ranking_config(index)
        self.withheld: frozenset[str] = frozenset()  # documents no filter lets through (withholding)

    def withholding(self, doc_ids: frozenset[str]) -> Searcher:
        """This searcher (sharing everything it computed from the index) with the passages
        of ``doc_ids`` left out of every search, before any ranking: the answer is made
        from the other documents (those whose source file changed or went missing)."""
        other = copy.copy(self)
        other.withheld = frozenset(doc_ids)
        other._masks = {}
        other._masks_lock = threading.Lock()
        return other

    def encode(self, questions: list[str], *, batch_size: int = 32) -> list[EncodedQuestion]:
        """Encode cleaned questions in batches, for ``search(..., encoded=...)``."""
        vectors, tokens = self.encoder.encode_tokens(list(questions), batch_size=batch_size)
        return [EncodedQuestion(q, v, t) for q, v, t in zip(questions, vectors, tokens)]

    def search(
        self, question: str | Query, *, k: int = 5, mode: str = DEFAULT_MODE, where: Filter = Filter(),
        encoded: EncodedQuestion | None = None,
    ) -> Retrieval:
        """The ``k`` best passages for a question.

        Args:
            question: the question (cleaned here if it is a plain string).
            k: how many hits to return.
            mode: one of :data:`assistant.search.modes.MODES`: "hybrid" (token, dense,
                sentence, keyword and year signals combined), "tokens" (token match of the
                passage and its best sentence), "rrf" (reciprocal rank fusion of dense and
                keyword), "dense" or "keyword".
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
            return Retrieval(query, mode, (), 0, config=self.config)
        if encoded is None or encoded.text != query.text:
            encoded = self.encode([query.text])[0]
        index = self.index
        terms = index.keyword.terms(query.text)
        rows = candidates(index.dense, index.keyword, question=encoded.vector, terms=terms, allowed=allowed, k=k,
                          config=self.config, match=self.columns.match(where) if where.active else None)  # 1. candidates
        found = measure(index, self.columns, rows, encoded.vector, terms, query.text)  # 2. their signals
        scored = _MODES[mode].score(found, self._token_matcher(encoded.tokens, rows), self.config, k)  # 3. the mode's
        score = scored.score
        order = np.argsort(-score, kind="stable")[: min(k, len(rows))]  # positions in rows
        if self.reranker is not None:
            from assistant.search.rerank import CANDIDATES as RERANK_POOL

            pool = np.argsort(-score, kind="stable")[: min(max(k, RERANK_POOL), len(rows))]
            rescored = self.reranker.scores(query.text, [index.passages[i].text for i in rows[pool]])
            score = score.copy()
            score[pool] = rescored
            order = pool[np.argsort(-rescored, kind="stable")][: min(k, len(rows))]

        def measured(j: int) -> Signals:
            if scored.tokens is None:
                return found.signals(j)
            return found.signals(j, float(scored.tokens[j]), float(scored.sentence_tokens[j]))

        shown = {int(j): index.passages[rows[j]] for j in order}  # each read from disk once
        hits = tuple(Hit(shown[int(j)], float(score[j]), r, measured(j), mode) for r, j in enumerate(order, start=1))
        best: dict[str, list[tuple[int, int, float]]] = {}
        for j in order:
            a, b = found.sentence_start[j], found.sentence_start[j + 1]
            spans = found.sentence_spans[a:b]
            best[shown[int(j)].passage_id] = [
                (int(x), int(y), float(sim)) for (x, y), sim in zip(spans, found.sentence_sims[a:b])
            ]
        return Retrieval(query, mode, hits, n_allowed, self.reranker is not None, best, self.config)

    def _token_matcher(self, qtokens: Tokens, rows: np.ndarray):
        """The question's token match of candidates (positions into ``rows``), whole and
        by their best sentence (``assistant.index.tokens.late_interaction``)."""

        def match(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            index = self.index
            weights = query_weights(qtokens.pieces, self._piece_counts, len(index.passages), self.stopwords)
            return index.detail.token_match(qtokens, weights, rows[positions])

        return match

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
            if self.withheld:
                mask &= ~self.columns.mask(Filter(doc_ids=tuple(sorted(self.withheld))))
            mask.setflags(write=False)
            with self._masks_lock:  # the web chat answers two questions at once
                if len(self._masks) >= MASK_CACHE:
                    self._masks.pop(next(iter(self._masks)))  # the oldest filter goes
                self._masks[where] = mask
        return mask


def ranking_config(index: Index) -> fusion.RankingConfig:
    """The index's ranking configuration: as its manifest records it, or (an index
    built before it was recorded) derived from its passages with the default threshold."""
    recorded = getattr(index.manifest, "ranking", None)
    if recorded:
        return fusion.RankingConfig.from_json(recorded)
    return fusion.config_for([p.doc_id for p in index.passages])
