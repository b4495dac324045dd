"""Fitting a collection's refusal threshold and evidence ratio to questions a person judged.

Owns the arrow ``judged questions' retrievals -> Fitted``. The thresholds a build sets
(``assistant.search.calibrate``) come from pseudo-questions and from collections measured
before; they cannot know what this collection's real questions look like. Questions a
person wrote and judged can:

1. The refusal threshold is the k-th lowest best hybrid score of the n answerable
   questions, k = floor(max_refused * MARGIN * (n + 1)): a new question written like
   these (exchangeable with them) scores below it with probability k / (n + 1), whatever
   the distribution of scores. The margin keeps that expectation at half the budget, for
   the spread around it; k must be at least 1, so a budget of 3% needs 66 answerable
   questions. Questions written by someone else need not be exchangeable with these:
   measured on the evaluation collections' second question sets (docs/evidence.md), a
   threshold fitted on one set refused up to 8.6% of the other's answerable questions.
   Unanswerable questions are not needed for the fit (the highest threshold within the
   budget refuses the most of them) but are reported.
2. The evidence ratio is the largest of ``RATIOS`` that keeps a quote stating the
   answer (grade 2) for at least ``keep`` of the answerable questions whose uncut
   answer shows one, with the fitted threshold as the floor of evidence.

Pure: numbers in, numbers out; :mod:`assistant.evaluation.tune` asks the questions and
records the result in the index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from assistant.search.evidence import evidence_of

RATIOS = (0.8, 0.85, 0.9, 0.95)  # evidence ratios tried, the smallest first
MARGIN = 0.5  # share of the refusal budget the fit may use on its own questions


@dataclass(frozen=True)
class Judged:
    """One judged question's hybrid retrieval, as fitting needs it."""

    answerable: bool
    scores: tuple[float, ...]  # the hits' hybrid scores, best first (the k an answer quotes from)
    grades: tuple[int, ...]  # each hit's grade: 2 states the answer, 1 related, 0 unrelated or unjudged
    refused_anyway: bool = False  # refused whatever the threshold (a name the collection never mentions)


@dataclass(frozen=True)
class Figures:
    """What answers show under one threshold and ratio."""

    refused_unanswerable: float
    refused_answerable: float
    shown_unrelated: float
    answer_kept: float
    shown_mean: float


@dataclass(frozen=True)
class Fitted:
    min_score: float
    evidence_ratio: float
    answerable: int
    unanswerable: int
    quantile: float  # k / (n + 1): the expected share of new answerable questions refused


def fit(judged: Sequence[Judged], *, max_refused: float = 0.03, keep: float = 0.95) -> Fitted:
    """The threshold and ratio these judged questions call for.

    Raises:
        ValueError: too few answerable questions for the budget (the message says how many).
    """
    if not 0 < max_refused < 0.5 or not 0 < keep <= 1:
        raise ValueError("the refusal budget must be between 0 and 0.5, and the share of answers kept between 0 and 1")
    best = np.sort([j.scores[0] for j in judged if j.answerable and j.scores and not j.refused_anyway])
    n = len(best)
    k = math.floor(max_refused * MARGIN * (n + 1) + 1e-9)
    if k < 1:
        need = math.ceil(1 / (max_refused * MARGIN)) - 1
        raise ValueError(
            f"{n} answerable questions with hits to fit on; at least {need} are needed to place a threshold "
            f"that refuses at most {max_refused:.0%} of them (with a margin)"
        )
    min_score = math.floor(float(best[k - 1]) * 10_000) / 10_000  # the k-th lowest is kept, those under it refused
    ratio = RATIOS[0]
    for r in RATIOS:
        if figures(judged, min_score=min_score, evidence_ratio=r).answer_kept >= keep:
            ratio = r
    return Fitted(min_score, ratio, sum(j.answerable for j in judged), sum(not j.answerable for j in judged), k / (n + 1))


def shown(j: Judged, *, min_score: float, evidence_ratio: float) -> list[int]:
    """Positions of the hits an answer quotes as evidence (none when it is refused);
    the rule of ``assistant.search.evidence`` and ``assistant.answer.abstain``."""
    if not j.scores or j.refused_anyway or j.scores[0] < min_score:
        return []
    return [i for i, ok in enumerate(evidence_of(j.scores, ratio=evidence_ratio, floor=min_score)) if ok]


def figures(judged: Sequence[Judged], *, min_score: float, evidence_ratio: float) -> Figures:
    """Refusals, unrelated quotes and answers kept under a threshold and ratio."""
    answerable = [j for j in judged if j.answerable]
    unanswerable = [j for j in judged if not j.answerable]
    picks = [shown(j, min_score=min_score, evidence_ratio=evidence_ratio) for j in judged]
    quotes = [j.grades[i] for j, p in zip(judged, picks) for i in p]
    # as ``assistant eval``'s answer_kept: of the answers given whose k hits hold a grade 2
    with_answer = [(j, p) for j, p in zip(judged, picks) if j.answerable and p and 2 in j.grades]
    return Figures(
        refused_unanswerable=_share([not p for j, p in zip(judged, picks) if not j.answerable]) if unanswerable else float("nan"),
        refused_answerable=_share([not p for j, p in zip(judged, picks) if j.answerable]) if answerable else float("nan"),
        shown_unrelated=_share([g == 0 for g in quotes]) if quotes else 0.0,
        answer_kept=_share([any(j.grades[i] == 2 for i in p) for j, p in with_answer]) if with_answer else float("nan"),
        shown_mean=round(len(quotes) / len(judged), 3) if judged else 0.0,
    )


def _share(flags: list[bool]) -> float:
    return round(sum(flags) / len(flags), 4)
