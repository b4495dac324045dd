"""What each part of an index is made from: the texts the encoder and BM25 see.

Owns the wording of a passage for each reader: :func:`embedding_text` (the passage
with its title, section, organisation, kind and date, for the encoder),
:func:`keyword_text` (the same metadata and its item's opening sentence, for BM25),
the sentences of a passage (:func:`passage_sentences`) and which sentence each of
its tokens lies in (:func:`token_sentences`), and the collection's words
(:func:`vocabulary_of`). :mod:`assistant.index.parts` builds the index from them;
calibration words its pseudo-questions' passages the same way.
"""

from __future__ import annotations

import re

import numpy as np

from assistant.encoders.embed import Tokens
from assistant.index.keyword import stems
from assistant.index.tokens import CONTEXT, NO_SENTENCE
from assistant.ingest.corpus import Document, Passage
from assistant.ingest.split import MONTHS, sentence_spans


def date_words(date: str) -> str:
    """An ISO date as words a question would use: "2014-03-28" -> "28 March 2014"."""
    if not date or "/" in date:
        return ""
    parts = date.split("-")
    try:
        words = [parts[0]]
        if len(parts) > 1:
            words.insert(0, MONTHS[int(parts[1]) - 1].capitalize())
        if len(parts) > 2:
            words.insert(0, str(int(parts[2])))
    except (ValueError, IndexError):
        return date
    return " ".join(words)


def embedding_text(passage: Passage, doc: Document) -> str:
    """What the encoder sees for a passage: title, section, organisation, kind and
    date give it the context a question names ("the 2011 coalition letter").

    The quote shown to users is always ``passage.text``; only the vector differs.
    """
    body = " ".join(passage.text.split())
    parts = [doc.title] if doc.title else []
    if passage.section and passage.section != doc.title:
        parts.append(passage.section)
    meta = ", ".join(x for x in (doc.organization, doc.kind, date_words(passage.date)) if x)
    head = " — ".join(parts) + (f" ({meta})" if meta else "")
    return f"{head}. {body}" if head else body


def token_sentences(
    passage: Passage, text: str, tokens: Tokens, mine: list[tuple[int, tuple[int, int]]]
) -> list[int]:
    """For each token of a passage's embedding text ``text``, the row of the
    sentence it lies in (``mine``: the passage's sentences as (row, source span)),
    CONTEXT for the title/section/metadata before the passage's text, or
    NO_SENTENCE (between sentences, or offsets unknown)."""
    if len(tokens.spans) != len(tokens.pieces):
        return [NO_SENTENCE] * len(tokens.pieces)
    body_start = len(text) - len(" ".join(passage.text.split()))
    # where each word of the normalised text starts, in the text and in the source
    words = list(re.finditer(r"\S+", passage.text))
    body_pos = np.cumsum([0] + [len(m.group()) + 1 for m in words[:-1]]) + body_start
    out = []
    for a, _ in tokens.spans:
        if a < body_start:
            out.append(CONTEXT)
            continue
        w = int(np.searchsorted(body_pos, a, side="right")) - 1
        src = passage.start + words[w].start() + (a - int(body_pos[w]))
        out.append(next((i for i, (x, y) in mine if x <= src < y), NO_SENTENCE))
    return out


def keyword_text(passage: Passage, doc: Document, lead: str) -> str:
    """What BM25 indexes for a passage: its text, its document's metadata, and the
    opening sentence of the item it belongs to (which names what it is about)."""
    return " ".join(
        x for x in (doc.title, doc.organization, doc.kind, date_words(passage.date), passage.section, lead, passage.text) if x
    )


def item_leads(passages: list[Passage], docs: dict[str, Document]) -> list[str]:
    """For each passage, the first sentence of the first passage of its item
    (same document, date and section), or "" for that first passage itself."""
    first: dict[tuple[str, str, str], Passage] = {}
    out = []
    for p in passages:
        f = first.setdefault((p.doc_id, p.date, p.section), p)
        if f is p:
            out.append("")
            continue
        spans = sentence_spans(docs[f.doc_id].text, f.start, f.end)
        a, b = spans[0] if spans else (f.start, f.end)
        out.append(" ".join(docs[f.doc_id].text[a:b].split()))
    return out


def passage_sentences(passage: Passage, doc: Document) -> list[tuple[int, int]]:
    """Sentence spans of a passage (a list's items count as sentences)."""
    out: list[tuple[int, int]] = []
    if passage.kind == "list":
        pos = passage.start
        for line in passage.text.split("\n"):
            a, b = pos, pos + len(line)
            out.extend(sentence_spans(doc.text, a, b))
            pos = b + 1
    else:
        out = sentence_spans(doc.text, passage.start, passage.end)
    return out


def vocabulary_of(docs) -> frozenset[str]:
    """Every lower-cased word of the documents, and its stem (the unknown-name rule's)."""
    words = {w.lower() for d in docs for w in re.findall(r"\w+", d.text)}
    return frozenset(words | set(stems(sorted(words))))
