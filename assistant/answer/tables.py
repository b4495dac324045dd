"""What a quote from a table is shown with, and which of its cells a question asks for.

Owns :class:`TableContext` (the header row and caption shown, labelled, with a quote
from a table piece that does not open with its header: terminal, chat and JSON) and
:func:`cell_highlights` (a highlighted row narrowed to its first cell and the cell of
the one column a question names). Tables are the :class:`~assistant.ingest.tables.TableSpan`
records a reader listed for a document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.ingest.tables import CELL_SEPARATOR, TableSpan, table_at


@dataclass(frozen=True)
class TableContext:
    """What a quote from a table is shown with: its header row (when the quote does
    not open with it) and its caption."""

    header: str = ""
    caption: str = ""


def table_context(text: str, tables: Sequence[TableSpan], start: int) -> TableContext:
    """The labelled context of a passage that starts at ``start`` in a document's text."""
    t = table_at(tables, start)
    if t is None:
        return TableContext()
    header = "" if start <= t.start else " ".join(text[t.start : t.header_end].split())
    return TableContext(header=header, caption=t.caption)


def cell_highlights(
    text: str, tables: Sequence[TableSpan], highlights: tuple[tuple[int, int], ...], question: str
) -> tuple[tuple[int, int], ...]:
    """A highlighted table row narrowed to what a question about one cell asks for.

    When ``highlights`` is one row of a table and the question names exactly one column
    of the header (a whole word or phrase: "in 2017"), the marks become the row's first
    cell (which row) and that column's cell (the figure); otherwise ``highlights`` as given."""
    if len(highlights) != 1:
        return highlights
    a, b = highlights[0]
    t = table_at(tables, a)
    if t is None or a < t.header_end:
        return highlights
    header = text[t.start : t.header_end].split(CELL_SEPARATOR)
    named = [j for j, h in enumerate(header) if j and h.strip() and re.search(
        rf"(?<!\w){re.escape(' '.join(h.split()))}(?!\w)", question, re.I)]
    if len(named) != 1:
        return highlights
    cells: list[tuple[int, int]] = []
    pos = a
    for cell in text[a:b].split(CELL_SEPARATOR):
        cells.append((pos, pos + len(cell)))
        pos += len(cell) + len(CELL_SEPARATOR)
    if len(cells) != len(header) or cells[named[0]][0] >= cells[named[0]][1]:
        return highlights
    return (cells[0], cells[named[0]])
