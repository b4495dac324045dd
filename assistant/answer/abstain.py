"""Deciding that nothing in the collection answers a question.

Owns the abstention rule. Two signals, each a principle rather than a list of
questions:

1. Weak evidence: the best hit's hybrid score (``assistant.search.fusion``) is below
   the index's own threshold, calibrated when it was built on the collection's
   pseudo-questions (``assistant.search.calibrate``: ``RankingConfig.calibration_quantile``,
   4%, of questions whose answer is in the collection score lower; collections of long
   documents keep the threshold measured on real questions). Other modes and reranked
   hits are judged by the cosine part alone against ``RankingConfig.min_cosine``
   (calibrated on ``eval/queries.jsonl``, where 1% of answerable questions fall below it).
2. An unknown name, in collections of long documents (``RankingConfig.name_rule``):
   the question names something (a capitalised word that is not its first
   word) that occurs nowhere in the collection, in any inflection, e.g.
   "Myanmar", "Singapore", "Otto Warmbier". A collection that never mentions a
   thing cannot answer a question about it. There the rule was right on every
   question it fired on (5 on eval/queries.jsonl, 1 on debian-reference); in
   collections of short answers it was wrong on every one (a FAQ's answer need
   not repeat the name its question uses: "a Schwartzian Transform?" is
   answered by "decorate-sort-undecorate"), so it is not used there. Acronyms
   are exempt: "ICCPR" is often spelled out in full in the text.
"""

from __future__ import annotations

import re

from assistant.search.followup import STOP_WORDS
from assistant.index.keyword import stems
from assistant.search.searcher import Retrieval

_NAME = re.compile(r"\b[A-Z][a-z]{2,}(?:[-'’][A-Za-z]+)?\b")
_WORD = re.compile(r"\w+")
_POSSESSIVE = re.compile(r"[’']s$")


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
            out.append(_POSSESSIVE.sub("", m.group()))  # "Apple's" names Apple
    return out


def abstain_reason(retrieval: Retrieval, vocabulary: frozenset[str]) -> str:
    """Why the hits should not be presented as an answer, or "" when they may be."""
    if not retrieval.hits:
        return "nothing matched"
    best = retrieval.hits[0]
    names = unknown_names(retrieval.query.text, vocabulary) if retrieval.name_rule else []
    if names:
        return f"the collection never mentions {', '.join(names)}"
    # The threshold is calibrated on hybrid scores; other scores fall back to the cosine part.
    if retrieval.calibrated:
        what, evidence, floor = "hybrid score", best.score, retrieval.min_score
    else:
        what, evidence, floor = "cosine similarity", max(best.dense, best.sentence), retrieval.config.min_cosine
    if evidence < floor:
        return f"{weak_evidence(retrieval.query.text, best.passage.text, vocabulary)} ({what} {evidence:.2f} < {floor:.2f})"
    return ""


def weak_evidence(question: str, passage: str, vocabulary: frozenset[str]) -> str:
    """Why weak evidence is weak, in a reader's words: the question's words the collection
    never uses, else the few words the closest passage shares with it."""
    words = list(dict.fromkeys(w for w in _WORD.findall(question.lower()) if len(w) > 2 and w not in STOP_WORDS))
    if not words:
        return "the question names nothing the passages could be matched on"
    word_stems = stems(words)
    missing = [w for w, s in zip(words, word_stems) if w not in vocabulary and s not in vocabulary]
    if len(missing) == len(words):
        return "the collection never mentions " + _listed(missing)
    in_passage = set(stems([w.lower() for w in _WORD.findall(passage)]))
    shared = [w for w, s in zip(words, word_stems) if s in in_passage]
    if not shared:
        return "the closest passages share no word of the question"
    if missing:
        return f"the collection never mentions {_listed(missing)}; the closest passage only shares {_listed(shared)}"
    return f"the closest passage only shares the words {_listed(shared)}"


def _listed(words: list[str]) -> str:
    quoted = [f"“{w}”" for w in words[:6]]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def should_abstain(retrieval: Retrieval, vocabulary: frozenset[str] = frozenset()) -> bool:
    """True when the best hits are too weak to be presented as an answer."""
    return bool(abstain_reason(retrieval, vocabulary))
