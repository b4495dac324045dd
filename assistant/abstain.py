"""Deciding that nothing in the collection answers a question.

Owns the abstention rule. Two signals, each a principle rather than a list of
questions:

1. Weak evidence: the best hit's hybrid score (token match of the passage and
   of its best sentence, half the better of the paragraph's and its best
   sentence's cosine similarity, the scaled BM25 share and the year bonus; see
   ``assistant.search``) is below
   ``MIN_SCORE``. Other modes and reranked hits are judged by the cosine part
   alone against ``MIN_COSINE``. Both are calibrated on ``eval/queries.jsonl``:
   each sits where the answerable questions' scores begin (1% of them fall
   below it), not at the 5% limit: one- and two-word queries ("hunger",
   "cellphones") score lower than questions, and a threshold at the limit
   refused them although the collection answers them.
2. An unknown name: the question names something (a capitalised word that is
   not its first word) that occurs nowhere in the collection, in any inflection, e.g. "Myanmar",
   "Singapore", "Otto Warmbier". A collection that never mentions a thing cannot
   answer a question about it. Acronyms are exempt: "ICCPR" is often spelled
   out in full in the text.
"""

from __future__ import annotations

import re

from assistant.followup import STOP_WORDS
from assistant.keyword import stems
from assistant.search import Retrieval

MIN_SCORE = 0.95
MIN_COSINE = 0.28
_NAME = re.compile(r"\b[A-Z][a-z]{2,}(?:[-'’][A-Za-z]+)?\b")
_WORD = re.compile(r"\w+")


def unknown_names(question: str, vocabulary: frozenset[str]) -> list[str]:
    """Capitalised words of the question (not its first word) absent from the collection."""
    words = list(_NAME.finditer(question))
    out = []
    for m in words:
        if m.start() == 0 or question[: m.start()].rstrip().endswith((".", "?", "!")):
            continue  # sentence-initial capitals are not names
        if m.group().lower() in STOP_WORDS:
            continue  # "Why" inside a follow-up's searched text is not a name
        parts = [w.lower() for w in _WORD.findall(m.group()) if len(w) > 1]
        # "Americans" is known when the collection says "American": compare stems too
        if not any(p in vocabulary or s in vocabulary for p, s in zip(parts, stems(parts))):
            out.append(m.group())
    return out


def abstain_reason(retrieval: Retrieval, vocabulary: frozenset[str]) -> str:
    """Why the hits should not be presented as an answer, or "" when they may be."""
    if not retrieval.hits:
        return "nothing matched"
    names = unknown_names(retrieval.query.text, vocabulary)
    if names:
        return f"the collection never mentions {', '.join(names)}"
    best = retrieval.hits[0]
    # The threshold is calibrated on hybrid scores; other scores fall back to the cosine part.
    if retrieval.mode == "hybrid" and not retrieval.reranked:
        what, evidence, floor = "hybrid score", best.score, MIN_SCORE
    else:
        what, evidence, floor = "cosine similarity", max(best.dense, best.sentence), MIN_COSINE
    if evidence < floor:
        return f"the best passage is only weakly related ({what} {evidence:.2f} < {floor})"
    return ""


def should_abstain(retrieval: Retrieval, vocabulary: frozenset[str] = frozenset()) -> bool:
    """True when the best hits are too weak to be presented as an answer."""
    return bool(abstain_reason(retrieval, vocabulary))
