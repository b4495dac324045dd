"""The terminal renderer: an answer's view as plain (or colour) text for ``assistant ask``.

Owns the arrow ``AnswerView -> terminal text``; the web chat's renderer is
:mod:`assistant.web.chat` (Markdown) and the JSON one :mod:`assistant.answer.json_format`.
"""

from __future__ import annotations

import textwrap

from assistant.answer.model import Answer, Quote, one_line
from assistant.answer.provenance import echoes
from assistant.answer.view import answer_view
from assistant.ingest.corpus import Document


def to_text(answer: Answer, *, color: bool = False, documents: dict[str, Document] | None = None) -> str:
    """Terminal rendering of the answer's view: numbered quotes, marked sentences, then the sources.

    Marked sentences are bold in a colour terminal and between ``»…«`` otherwise;
    each line of a list passage stays a line.
    """
    view = answer_view(answer, documents=documents)
    bold, dim, reset = ("\033[1m", "\033[2m", "\033[0m") if color else ("", "", "")
    open_, close = (bold, reset) if color else ("»", "«")
    out: list[str] = []
    if view.searched:
        out.append(f"Searched for: {view.searched}")
    if view.filtered:
        out.append(f"Filtered: {view.filtered}")
    if view.headline:
        out.append(view.headline)
    out.extend(f"Note: {note}" for note in view.notes)
    if view.lead:
        out.append(view.lead)
    for q in view.quotes:
        body: list[str] = []
        for line in q.lines:
            shown = "".join(open_ + r.text + close if r.marked else r.text for r in line)
            body.extend(_wrap(shown, 92))
        out.append("")
        out.append(f"[{q.rank}] " + "\n    ".join(body or [""]))
        out.extend(f"    {dim}{label}: {one_line(x)}{reset}" for label, x in q.citation.context)
        out.append(f"    {dim}{q.strength} · score {q.score:.3f} · similarity {q.similarity:.3f}{reset}")
    if view.quotes:
        out.append("")
        out.append(f"{view.sources_heading}:")
        out.extend(source_lines(answer.quotes))
    if view.related:
        out.append("")
        out.append(f"{view.related_heading}:")
        for q in view.related:
            shown = " ".join("".join(r.text for r in line) for line in q.lines)
            out.append("  - " + "\n    ".join(_wrap(shown if len(shown) <= 240 else shown[:239] + "…", 90)))
            out.append(f"    {dim}{q.citation.text()}{reset}")
    return "\n".join(out)


def source_lines(quotes: tuple[Quote, ...] | list[Quote]) -> list[str]:
    """The numbered plain-text citations of some quotes, with their other publications."""
    lines = []
    for q in quotes:
        lines.append(f"[{q.rank}] {q.citation.text()}")
        lines.extend(f"    also published as: {a.text()}" for a in q.also_in)
        if q.also_in:
            lines.append(echo_line(q))
    return lines


def echo_line(q: Quote) -> str:
    """Where the quote's statement appears, earliest dated first (``provenance.echoes``)."""
    places = echoes(q)
    shown = "; ".join(f"{c.date or 'undated'}: {one_line(c.organization) + ', ' if c.organization else ''}"
                      f"“{one_line(c.title)}” ({one_line(c.source)})" for c in places)
    return f"    in {len(places)} places, earliest first: {shown}"


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width) or [""]
