"""Which of a question's ranked passages are evidence, and which only related.

Owns the arrow ``Retrieval -> which hits an answer shows as evidence``. Ranking
finds the answer; it also always returns k passages, and past the first few most of
them only share a word or a name with the question. A hit is evidence when

1. it scores at least ``evidence_ratio`` of the best hit's score (scores of a
   question's hits are comparable with each other, whatever the collection), and
2. (hybrid scores) it scores at least the collection's refusal threshold
   ``min_score``: a passage too weak to answer on its own as the best hit is too
   weak to be cited beside it. The threshold is calibrated per collection
   (``assistant.search.calibrate``), so this floor is too.

Modes whose scores are not the calibrated hybrid scale (``Mode.calibrated`` in
:mod:`assistant.search.modes`), and reranked hits, are judged by the cosine part of
each hit, max(paragraph cosine, best sentence cosine), against the best hit's, by
rule 1 alone. The best hit is always evidence unless the answer is refused
(``assistant.answer.abstain``). Both numbers live in the index's ``RankingConfig``.

A hit that is not evidence is offered apart as related context only when it reaches
the same floor (``is_offered``; modes judged by rule 1 alone offer every hit): a passage
too weak to be given as the best answer on its own is not offered even as context. Measured on the evaluation collections'
graded judgments, 84% of the related passages under the floor were unrelated (316 of
378, six question sets), against 67% above it (330 of 489).
"""

from __future__ import annotations

from typing import Sequence

from assistant.search.searcher import Hit, Retrieval


def is_evidence(retrieval: Retrieval) -> tuple[bool, ...]:
    """For each hit, whether it is evidence (the best hit always is); the rest are related."""
    hits = retrieval.hits
    if not hits:
        return ()
    calibrated = retrieval.calibrated
    values = [h.score if calibrated else _cosine(h) for h in hits]
    floor = retrieval.min_score if calibrated else float("-inf")
    return evidence_of(values, ratio=retrieval.evidence_ratio, floor=floor)


def is_offered(retrieval: Retrieval) -> tuple[bool, ...]:
    """For each hit, whether it reaches the floor evidence is held to: the calibrated
    refusal threshold on hybrid scores. A hit that is not evidence is offered as related
    context only then. Modes without a calibrated floor (rule 1 alone) offer every hit."""
    if retrieval.calibrated:
        return tuple(h.score >= retrieval.min_score for h in retrieval.hits)
    return (True,) * len(retrieval.hits)


def evidence_of(values: Sequence[float], *, ratio: float, floor: float) -> tuple[bool, ...]:
    """The rule on a question's hit values, best first: the first always, each other one
    when it reaches ``ratio`` of the best and ``floor``."""
    top = max(values)
    cut = ratio * top if top > 0 else float("-inf")
    return (True,) + tuple(v >= cut and v >= floor for v in values[1:])


def _cosine(hit: Hit) -> float:
    return max(hit.dense, hit.sentence)
