"""Fusion: per-candidate signal arrays in, one hybrid score per candidate out.

Owns the hybrid formula, its weights and the abstention threshold, all in one
``RankingConfig`` that the index manifest records. The formula is a weighted sum
of signals computed for the query's candidates (see ``assistant.search.searcher``):

    hybrid = token match + w_st * sentence token match + w_pc * paragraph cosine
             + w_bc * max(paragraph cosine, best sentence cosine)
             + w_kw * BM25 / best BM25 + w_yr * year

The weights depend on one property of the collection, measured when it is
indexed: how many passages the document of a typical passage has.

- Long documents (dozens of passages: reports, manuals, scraped pages): a
  paragraph's meaning leans on the text around it, a question usually names
  words of one sentence, and the sentence-level signals carry the ranking
  (``LONG``).
- Short documents (a handful of passages: FAQ answers, notes): a passage is
  most of its document's answer, so its whole vector is the best single piece
  of evidence and a best sentence adds noise (``SHORT``: token match plus the
  paragraph's cosine; BM25 scaled by its best is left out too, since a name found
  on every page then looks like a perfect keyword match).

Between ``SHORT_DOC_PASSAGES`` and ``LONG_DOC_PASSAGES`` the weights are
interpolated on a log scale, so there is no cliff.

``RankingConfig`` also holds every other number ranking and its judgements use
(how many candidates are scored, how many are token-matched, the "tokens" and
"rrf" modes' constants, the evidence and highlight cuts, the other modes' cosine
floor, the calibration quantile), each defaulting to the measured value below; an
index built before a field was recorded loads with its default.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

SHORT_DOC_PASSAGES = 4.0  # a passage of a document this short is most of its answer
LONG_DOC_PASSAGES = 32.0  # from this many passages a document is read paragraph by paragraph
DEFAULT_MIN_SCORE = 0.95  # abstention threshold on the LONG scale (eval/queries.jsonl; holds on debian-reference)
# What an answer shows as evidence (assistant.search.evidence): a hit within this share of the
# best hit's score, and at or above the refusal threshold (min_score). The largest ratio
# (of 0.8-0.9) that keeps a quote stating the answer for at least 95% of the questions
# that showed one before the cut, on the tune half of the graded judgments of every
# evaluation collection (eval/README.md); 0.85 kept 92.5% on the Debian FAQ's.
EVIDENCE_RATIO = 0.8
# "tokens" mode = token match + TOKENS_SENTENCE_WEIGHT * token match of the best
# sentence, on every collection.
TOKENS_SENTENCE_WEIGHT = 0.5
# Token matching re-scores the best candidates by the other signals: in hybrid mode the
# k asked for and TOKEN_MARGIN more, so that a passage a little below the top k by the
# other signals can still climb into it (with a fixed 20 and k = 10, ranks 7-10 of the
# default questions lost nDCG@10 0.845 -> 0.842; k + 20 gives every evaluation
# collection the figures of a fixed 40, at a cost between the two); in "tokens" mode at
# least TOKENS_POOL (with 30 or fewer it answers one more unanswerable Debian FAQ question).
TOKEN_MARGIN = 20
TOKENS_POOL = 40
# Stage 1 (assistant.search.candidates): a question scores every allowed passage exactly
# up to EXHAUSTIVE_UP_TO of them; past that, the CANDIDATES nearest by the dense index
# and the CANDIDATES best by BM25 (both within the filter). Measured in docs/speed.md.
EXHAUSTIVE_UP_TO = 5_000
CANDIDATES = 400
RRF_K = 60  # reciprocal rank fusion: 1 / (RRF_K + rank)
# Modes other than hybrid, and reranked hits, are refused below this cosine (paragraph
# or best sentence; calibrated on eval/queries.jsonl, where 1% of answerable questions
# fall below it). (assistant.answer.abstain)
MIN_COSINE = 0.28
# A quote highlights its best-answering sentence and any other within this cosine of it.
HIGHLIGHT_MARGIN = 0.05
# A collection of short documents is refused below this quantile of its pseudo-questions'
# best scores (assistant.search.calibrate: 4%, of the quantiles 2-10% the largest that
# refuses at most 3% of the real answerable questions of both collections of short
# answers measured, the Debian FAQ and the Python FAQ; 5% refuses 3.4% of the Python FAQ's).
CALIBRATION_QUANTILE = 0.04


@dataclass(frozen=True)
class Weights:
    """Weights of the hybrid signals (token match itself always weighs 1)."""

    sentence_token: float
    paragraph_cosine: float
    best_cosine: float  # max(paragraph cosine, best sentence cosine)
    keyword: float  # BM25 scaled by the best BM25 among allowed passages
    year: float


LONG = Weights(sentence_token=0.5, paragraph_cosine=0.0, best_cosine=0.5, keyword=0.1, year=0.05)
SHORT = Weights(sentence_token=0.0, paragraph_cosine=1.0, best_cosine=0.0, keyword=0.0, year=0.05)


@dataclass(frozen=True)
class RankingConfig:
    """Everything the hybrid ranking and its abstention use, as recorded in the manifest."""

    doc_passages: float  # median, over passages, of how many passages their document has
    long_share: float  # 0 = SHORT weights, 1 = LONG weights
    weights: Weights
    min_score: float  # refuse when the best hybrid score is below this; also the floor of evidence
    calibration: str  # how min_score was set
    evidence_ratio: float = EVIDENCE_RATIO  # a shown quote scores at least this share of the best
    tokens_sentence_weight: float = TOKENS_SENTENCE_WEIGHT  # "tokens" mode: weight of the best sentence's token match
    token_margin: int = TOKEN_MARGIN  # hybrid mode token-matches the best k + this many candidates
    tokens_pool: int = TOKENS_POOL  # "tokens" mode token-matches at least this many
    exhaustive_up_to: int = EXHAUSTIVE_UP_TO  # up to this many allowed passages, every one is a candidate
    candidates: int = CANDIDATES  # past it, this many from each backend
    rrf_k: int = RRF_K
    min_cosine: float = MIN_COSINE  # refusal floor of the modes judged by cosine
    highlight_margin: float = HIGHLIGHT_MARGIN
    calibration_quantile: float = CALIBRATION_QUANTILE  # of the pseudo-questions' best scores (short documents)
    # When min_score and evidence_ratio were fitted to judged questions (``assistant calibrate``,
    # assistant.search.fit): what they were fitted on; later changes to the index keep them.
    fitted: str = ""

    @property
    def name_rule(self) -> bool:
        """Whether a name the collection never mentions makes it refuse: in collections
        of long documents (where it measured right on every question); not in short
        answers, whose question's name is often not repeated ("a player for Flash?")."""
        return self.long_share >= 0.5

    @classmethod
    def from_json(cls, raw: dict) -> RankingConfig:
        known = {f.name for f in fields(cls)}  # a key another version added is ignored
        return cls(**{k: v for k, v in raw.items() if k in known} | {"weights": Weights(**raw["weights"])})

    def to_json(self) -> dict:
        return asdict(self)

# An index whose configuration was never recorded and no collection to derive one from:
# the long-document weights and threshold (what a Retrieval made by hand judges by).
DEFAULT = RankingConfig(LONG_DOC_PASSAGES, 1.0, LONG, DEFAULT_MIN_SCORE, "default")


def long_share(doc_passages: float) -> float:
    """0 for collections of short documents, 1 for long ones, log-interpolated between."""
    lo, hi = math.log(SHORT_DOC_PASSAGES), math.log(LONG_DOC_PASSAGES)
    return float(min(1.0, max(0.0, (math.log(max(doc_passages, 1.0)) - lo) / (hi - lo))))


def blend(share: float) -> Weights:
    """The weights ``share`` of the way from SHORT to LONG."""
    mix = {k: (1 - share) * getattr(SHORT, k) + share * getattr(LONG, k) for k in asdict(LONG)}
    return Weights(**{k: round(v, 4) for k, v in mix.items()})


def typical_doc_passages(doc_ids: list[str]) -> float:
    """Median over passages of the number of passages in the passage's document."""
    if not doc_ids:
        return 1.0
    _, inverse, counts = np.unique(np.asarray(doc_ids, dtype=object).astype(str), return_inverse=True, return_counts=True)
    return float(np.median(counts[inverse]))


def config_for(doc_ids: list[str], *, min_score: float = DEFAULT_MIN_SCORE, calibration: str = "default") -> RankingConfig:
    """The ranking configuration of a collection whose passages belong to ``doc_ids``."""
    n = typical_doc_passages(doc_ids)
    share = long_share(n)
    return RankingConfig(n, round(share, 4), blend(share), min_score, calibration)


def cheap_score(
    w: Weights, *, paragraph_cosine: np.ndarray, best_cosine: np.ndarray, keyword: np.ndarray, year: np.ndarray
) -> np.ndarray:
    """The part of the hybrid score that needs no token matching (it picks the pool
    that token matching re-scores)."""
    return (
        w.paragraph_cosine * paragraph_cosine + w.best_cosine * best_cosine + w.keyword * keyword + w.year * year
    ).astype(np.float32)


def hybrid(w: Weights, *, cheap: np.ndarray, token: np.ndarray, sentence_token: np.ndarray) -> np.ndarray:
    """The hybrid score from ``cheap_score`` and the two token signals."""
    return (token + w.sentence_token * sentence_token + cheap).astype(np.float32)


def calibrated_threshold(best_scores: np.ndarray, *, quantile: float) -> float:
    """The abstention threshold: the ``quantile`` of the best scores that questions
    with a known answer in the collection reached (its pseudo-questions)."""
    return round(float(np.quantile(np.asarray(best_scores, dtype=np.float64), quantile)), 4)
