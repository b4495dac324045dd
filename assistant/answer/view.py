"""One answer, laid out once: what the terminal and the web chat both show.

Owns the arrow ``Answer -> AnswerView``: the order of what is said (searched
query, active filter, headline, notes, quotes, sources), which sentences of a
quote are marked, and which line breaks of a quote are kept. The renderers
(:func:`assistant.answer.terminal.to_text` for a terminal, :func:`assistant.web.chat.render_answer`
for the chat's Markdown) only turn a view into characters; they decide nothing.

A quote's lines are runs of text, each marked or not. Whitespace is collapsed as
a reader expects; a list passage (the signatories of a letter) keeps one line per
line of its source. A sentence is marked only when it picks out part of a quote:
marking all of a one-sentence passage would say nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from assistant.answer.model import NOTHING_ANSWERS, Answer, Citation, Quote
from assistant.ingest.corpus import Document
from assistant.search.searcher import Filter

NO_MATCH = "No passage matches the filter, so nothing was searched."
NOTHING_FOUND = "No passages found."
RELATED_LEAD = "Possibly related passages (they do not answer the question):"
RELATED_HEADING = "Related, not cited (weaker matches, possibly unrelated)"
SEARCHED_MAX = 300  # a rewritten follow-up is shown up to this many characters


@dataclass(frozen=True)
class Run:
    """A piece of one displayed line; ``marked`` when it is a best-answering sentence."""

    text: str
    marked: bool = False


@dataclass(frozen=True)
class QuoteView:
    rank: int
    lines: tuple[tuple[Run, ...], ...]  # what a reader sees, line by line
    citation: Citation
    also_in: tuple[Citation, ...]
    score: float
    similarity: float
    strength: str = ""  # "states the answer", "related", "possibly related"


@dataclass(frozen=True)
class AnswerView:
    """Everything an answer shows, in the order it is shown.

    ``searched`` (a follow-up's rewritten query, else ""), ``filtered`` (the
    active filter in words, else ""), ``headline`` (why there are no answering
    quotes, else ""), ``notes``, ``lead`` (the line above possibly related
    passages, else ""), ``quotes``, and ``sources_heading`` above the citation list.
    """

    searched: str
    filtered: str
    headline: str
    notes: tuple[str, ...]
    lead: str
    quotes: tuple[QuoteView, ...]
    sources_heading: str
    filtered_out: bool = False  # the filter matched no passage
    related: tuple[QuoteView, ...] = ()  # shown apart under ``related_heading``, never numbered
    related_heading: str = RELATED_HEADING


def answer_view(answer: Answer, *, documents: Mapping[str, Document] | None = None) -> AnswerView:
    """Lay out an answer once for every renderer.

    Args:
        answer: what :meth:`Assistant.ask` returned.
        documents: doc id -> Document, to name filtered documents by title.
    """
    filtered_out = answer.where.active and not answer.quotes
    headline = ""
    if filtered_out:
        headline = NO_MATCH
    elif answer.abstained:
        headline = NOTHING_ANSWERS
    elif not answer.quotes:
        headline = NOTHING_FOUND
    # the headline says it already
    notes = tuple(n for n in answer.notes if not (filtered_out and n.startswith("No passage matches the filter")))
    searched = ""
    if answer.searched != answer.query:
        searched = answer.searched if len(answer.searched) <= SEARCHED_MAX else answer.searched[:SEARCHED_MAX] + "…"
    quotes = tuple(_quote_view(q, marked=not answer.abstained) for q in answer.quotes)  # a declined answer marks nothing
    related = answer.abstained and bool(quotes)
    return AnswerView(
        searched=searched,
        filtered=describe_filter(answer.where, documents or {}),
        headline=headline,
        notes=notes,
        lead=RELATED_LEAD if related else "",
        quotes=quotes,
        sources_heading="Sources of the possibly related passages" if answer.abstained else "Sources",
        filtered_out=filtered_out,
        related=tuple(_quote_view(q, marked=False) for q in answer.related),
    )


def _quote_view(q: Quote, *, marked: bool) -> QuoteView:
    return QuoteView(
        rank=q.rank, lines=quote_lines(q, marked=marked), citation=q.citation, also_in=q.also_in,
        score=q.score, similarity=q.similarity, strength=q.strength,
    )


def describe_filter(where: Filter, documents: Mapping[str, Document]) -> str:
    """The filter in words, e.g. 'documents “A”; organisations X; dated from 2014 to 2015' ("" for none)."""
    parts = []
    if where.doc_ids:
        titles = [f"“{documents[d].title}”" if d in documents and documents[d].title else d for d in where.doc_ids]
        parts.append(("document " if len(titles) == 1 else "documents ") + ", ".join(titles))
    if where.organizations:
        parts.append(("organisation " if len(where.organizations) == 1 else "organisations ")
                     + ", ".join(where.organizations))
    if where.date_from and where.date_to:
        parts.append(f"dated from {where.date_from} to {where.date_to}")
    elif where.date_from:
        parts.append(f"dated from {where.date_from}")
    elif where.date_to:
        parts.append(f"dated up to {where.date_to}")
    return "; ".join(parts)


def shown_highlights(quote: Quote) -> tuple[tuple[int, int], ...]:
    """The quote's highlights when they pick out part of it; () when they cover all its words."""
    if not quote.highlights:
        return ()
    base = quote.citation.start
    rest = list(quote.text)
    for a, b in quote.highlights:
        for i in range(max(0, a - base), min(len(rest), b - base)):
            rest[i] = " "
    return quote.highlights if re.search(r"\w", "".join(rest)) else ()


def quote_lines(quote: Quote, *, marked: bool = True) -> tuple[tuple[Run, ...], ...]:
    """A quote's display lines, its partial highlights marked, a list passage's lines kept."""
    base = quote.citation.start
    spans = [(a - base, b - base) for a, b in shown_highlights(quote)] if marked else []
    return tuple(_runs(line) for line in display_lines(quote.text, spans, keep_lines=quote.kind == "list"))


# ---------------------------------------------------------------- laying out marked text

ON, OFF = "\x01", "\x02"  # marks while text is being laid out; never in shown text


def display_lines(text: str, spans: Iterable[Sequence[int]] = (), *, keep_lines: bool = False) -> list[str]:
    """The lines a reader sees, with ``\\x01``…``\\x02`` around the marked spans.

    Whitespace runs collapse to one space; line breaks are kept only when
    ``keep_lines`` (lists of names), and then empty lines are dropped. Marks
    sit next to text (never next to a space) and open and close on each line,
    so each line can be escaped and marked up on its own.

    Args:
        text: the text shown.
        spans: (start, end) offsets into ``text`` to mark.
        keep_lines: keep the text's line breaks.
    """
    text = text.replace(ON, " ").replace(OFF, " ")
    marked, pos = [], 0
    for a, b in sorted((max(0, int(a)), min(len(text), int(b))) for a, b in spans):
        a = max(a, pos)
        if b <= a:
            continue
        marked += [text[pos:a], ON, text[a:b], OFF]
        pos = b
    marked.append(text[pos:])
    joined = re.sub(r"(\s+)\x02", "\x02\\1", re.sub("\x01(\\s+)", "\\1\x01", "".join(marked)))
    out, is_open = [], False
    for raw in joined.split("\n") if keep_lines else [joined]:
        line = (ON if is_open else "") + " ".join(raw.split())
        is_open = line.rfind(ON) > line.rfind(OFF)
        line = (line + OFF if is_open else line).replace(ON + OFF, "")
        if line.replace(ON, "").replace(OFF, "").strip():
            out.append(line)
    return out


def _runs(line: str) -> tuple[Run, ...]:
    runs, marked = [], False
    for piece in re.split("([\x01\x02])", line):
        if piece == ON:
            marked = True
        elif piece == OFF:
            marked = False
        elif piece:
            runs.append(Run(piece, marked))
    return tuple(runs)
