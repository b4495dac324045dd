"""A table in a document's extracted text: where it is, its header row, and how it is cut.

Owns :class:`TableSpan` (a table's offsets in the extracted text, the end of its
header row, its caption) and the rules that hold for a table in any format: a row
is one line ``cell | cell | cell``; a table longer than a passage is cut between
rows, never inside one (:func:`table_pieces`); a piece that does not open with the
header row carries it as labelled context
(:func:`assistant.answer.tables.table_context`), so a row quoted from the middle of a
long table still says which column is which.

A reader that finds tables lists them in ``Extracted.tables`` (PDF:
:mod:`assistant.ingest.formats.pdf_tables`; web pages and Word: :func:`join_blocks`); the splitter
(:mod:`assistant.ingest.split`) keeps each listed table out of its paragraph rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

CELL_SEPARATOR = " | "
_CAPTION = re.compile(r"^(table|tab\.|tabelle|tableau|tabla)\s*[\dIVX]+[a-z]?\b", re.I)
CAPTION_MAX_CHARS = 300


@dataclass(frozen=True)
class TableSpan:
    """A table in the extracted text: ``text[start:end]`` is its rows, one a line;
    ``text[start:header_end]`` its header row; ``caption`` the line that names it ("" if none)."""

    start: int
    end: int
    header_end: int
    caption: str = ""

    @classmethod
    def of(cls, value: TableSpan | dict | Sequence) -> TableSpan:
        """A span as stored in JSON (a dict, or a list in field order) or already one."""
        if isinstance(value, TableSpan):
            return value
        if isinstance(value, dict):
            return cls(**value)
        return cls(*value)


def row_text(cells: Iterable[str | None]) -> str:
    """One table row as one line: each cell's text on one line, cells joined by `` | ``.

    Empty cells stay (as empty text between separators) so that every cell stays
    under its column's header."""
    return CELL_SEPARATOR.join(" ".join((c or "").split()) for c in cells).strip()


def table_rows_text(rows: Sequence[Sequence[str | None]]) -> str:
    """The rows of a table as its text: one line a row; rows without text and columns
    without text in any row are left out."""
    rows = [[" ".join((c or "").split()) for c in r] for r in rows]
    width = max((len(r) for r in rows), default=0)
    rows = [r + [""] * (width - len(r)) for r in rows]
    keep = [j for j in range(width) if any(r[j] for r in rows)]
    lines = [row_text(r[j] for j in keep) for r in rows if any(r[j] for j in keep)]
    return "\n".join(lines)


def find_caption(text: str, start: int, end: int) -> str:
    """The caption of the table at ``text[start:end]``: the paragraph just above it
    or just below it when that starts "Table 3", else ""."""
    before = text[:start].rstrip()
    above = before[before.rfind("\n\n") + 2 if "\n\n" in before else 0 :].strip()
    after = text[end:].lstrip()
    below = after[: after.find("\n\n")] if "\n\n" in after else after
    for candidate in (above, below.strip()):
        if candidate and len(candidate) <= CAPTION_MAX_CHARS and _CAPTION.match(candidate):
            return " ".join(candidate.split())
    return ""


def table_at(tables: Sequence[TableSpan], offset: int) -> TableSpan | None:
    """The table holding ``offset``, or None."""
    for t in tables:
        if t.start <= offset < t.end:
            return t
    return None


def table_pieces(
    text: str, table: TableSpan, *, max_tokens: int, count: Callable[[str], int]
) -> list[tuple[int, int]]:
    """The table cut into pieces of whole rows, each within ``max_tokens`` (a row
    longer than that is a piece of its own): (start, end) offsets into ``text``."""
    rows: list[tuple[int, int]] = []
    pos = table.start
    for line in text[table.start : table.end].split("\n"):
        a, b = pos, pos + len(line)
        pos = b + 1
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            rows.append((a, b))
    if not rows:
        return []
    if count(text[rows[0][0] : rows[-1][1]]) <= max_tokens:
        return [(rows[0][0], rows[-1][1])]
    # the header repeats as context with every piece: leave room for it
    room = max(max_tokens - count(text[table.start : table.header_end]), max_tokens // 2)
    out: list[tuple[int, int]] = []
    cur_a, cur_b = rows[0]
    for a, b in rows[1:]:
        if count(text[cur_a:b]) <= (max_tokens if cur_a == rows[0][0] else room):
            cur_b = b
        else:
            out.append((cur_a, cur_b))
            cur_a, cur_b = a, b
    out.append((cur_a, cur_b))
    return out


def join_blocks(blocks: Sequence[str], tables: Iterable[int] = ()) -> tuple[str, tuple[TableSpan, ...]]:
    """Blocks of text joined by blank lines (the text ends with a newline), and a
    :class:`TableSpan` for each block numbered in ``tables`` (rows one a line, the first
    the header) that has a header and at least one row under it.

    The readers of formats whose tables come as rows (web pages, Word) list their tables
    this way, so that the splitter keeps them whole or cuts them between rows."""
    text = ""
    spans: list[tuple[int, int, int]] = []
    wanted = set(tables)
    for i, block in enumerate(blocks):
        if text:
            text += "\n\n"
        if i in wanted and "\n" in block.strip():
            start = len(text) + len(block) - len(block.lstrip())
            end = len(text) + len(block.rstrip())
            spans.append((start, end, start + len(block.strip().split("\n", 1)[0])))
        text += block
    text = text + "\n" if text else ""
    return text, tuple(TableSpan(a, b, h, find_caption(text, a, b)) for a, b, h in spans)
