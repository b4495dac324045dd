"""A PDF page with tables laid out again as text, the tables replaced by one mark each.

Owns the step ``page words + its tables -> layout text with marks``: the page's words
outside its tables, set out as pypdf's layout mode sets out a page (one line per line
of type, columns kept apart by spaces, a blank line where the type leaves a gap), so
that the PDF reader's next steps (columns in order, running lines, paragraphs) work on
it as on any other page; each table is one mark character (:func:`mark`) where its
top-left corner is, for :mod:`~assistant.ingest.formats.pdf_tables` to replace by
its rows. A two-column page is read column by column (:func:`columns`).
"""

from __future__ import annotations

import statistics

from assistant.ingest.formats.pdf_table_finder import GAP_EM, PdfTable
from assistant.ingest.formats.pdf_words import Box, Word, inside, lines_of

MARK_BASE = 0xF0000  # marks are Supplementary Private Use Area-A characters: never in real text
MAX_MARKS = 2_000  # tables in one document (each has its own mark character)


def mark(i: int) -> str:
    """The mark character of the document's table number ``i`` (0-based)."""
    return chr(MARK_BASE + i)


def mark_number(ch: str) -> int:
    """The table number of a mark character."""
    return ord(ch) - MARK_BASE


def text_around(words: list[Word], tables: list[PdfTable], page_box: Box, *, first: int) -> str:
    """The page's layout text without the tables' words, with the mark of table
    ``first + k`` where table k's top-left corner is.

    Laid out as pypdf's layout mode does: one line per line of type, a word close to
    the one before it after one space, a word further away at the column of its
    position (columns stay apart), a blank line where the type leaves a gap taller
    than half a line."""
    words = [w for w in words if not any(inside(w, t.bbox) for t in tables)]
    widths = [(w.x1 - w.x0) / len(w.text) for w in words if w.text]
    density = 0.8 * (statistics.median(widths) if widths else 5.0)  # points a column: a little narrower than a character
    size = statistics.median([w.height for w in words]) if words else 10.0
    for k, t in enumerate(tables):
        words.append(Word(mark(first + k), t.bbox[0], t.bbox[0] + size / 2, t.bbox[1], t.bbox[1] + size))
    top, left, right = columns(words, page_box)
    return "\n\n".join(_lay_out(part, page_box[0], density) for part in (top, left, right) if part)


def columns(words: list[Word], page_box: Box) -> tuple[list[Word], list[Word], list[Word]]:
    """A two-column page's words as (across the top, left column, right column).

    The gutter is the middle of the widest x range in the middle half of the page that
    at most a tenth of the lines cross, with words left of it on at least 30% of the
    lines and right of it on as many (the two columns' lines need not share
    baselines), and at least as wide as a line is high (the spaces of a few lines set
    alike line up too). A one-column page: (words, [], [])."""
    import numpy as np

    lines = lines_of(words)
    if len(lines) < 6:
        return words, [], []
    x0, x1 = page_box[0], page_box[2]
    # for every x position: the lines a word crosses there, the lines with a word left of
    # it and those with a word right of it (the words of a line do not overlap)
    xs = np.arange(int(x0 + (x1 - x0) / 4), int(x0 + 3 * (x1 - x0) / 4))
    starts = np.array([w.x0 for line in lines for w in line])
    ends = np.array([w.x1 for line in lines for w in line])
    cross = ((starts[None, :] < xs[:, None]) & (xs[:, None] < ends[None, :])).sum(axis=1)
    lefts = (np.array([min(w.x1 for w in line) for line in lines])[None, :] <= xs[:, None]).sum(axis=1)
    rights = (np.array([max(w.x0 for w in line) for line in lines])[None, :] >= xs[:, None]).sum(axis=1)
    ok = (cross <= 0.1 * len(lines)) & (np.minimum(lefts, rights) >= 0.3 * len(lines))
    fits = [int(x) for x in xs[ok]]
    if not fits:
        return words, [], []
    runs: list[list[int]] = []
    for step in fits:
        if runs and step == runs[-1][-1] + 1:
            runs[-1].append(step)
        else:
            runs.append([step])
    widest = max(runs, key=len)
    if len(widest) < statistics.median(w.height for w in words):
        return words, [], []  # narrower than a line is high: spaces that line up by chance, not a gutter
    gutter = widest[len(widest) // 2]
    top: list[Word] = []
    left: list[Word] = []
    right: list[Word] = []
    for line in lines:
        two = any(w.x1 <= gutter for w in line) and any(w.x0 >= gutter for w in line)
        across = any(w.x0 < gutter < w.x1 for w in line)
        if not left and not right and (across or not two):
            top.extend(line)
        elif across:
            left.extend(line)
        else:
            left.extend(w for w in line if w.x1 <= gutter)
            right.extend(w for w in line if w.x1 > gutter)
    return top, left, right


def _lay_out(words: list[Word], x0: float, density: float) -> str:
    out: list[str] = []
    prev_bottom: float | None = None
    for line in lines_of(words):
        height = statistics.median(w.height for w in line)
        if prev_bottom is not None and line[0].top - prev_bottom > 0.5 * height:
            out.append("")
        text = ""
        prev: Word | None = None
        for w in line:
            if prev is not None and w.x0 - prev.x1 <= GAP_EM * height:
                text += " " + w.text
            else:
                col = max(0, int(round((w.x0 - x0) / density)))
                text += " " * (max(col - len(text), 1) if text else col) + w.text
            prev = w
        out.append(text)
        prev_bottom = max(w.bottom for w in line)
    return "\n".join(out)
