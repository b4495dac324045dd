"""Finding the tables on one PDF page and reading their cells row by row.

Owns the step ``pdfplumber page -> [PdfTable]``:

- :func:`may_hold_table`, a cheap test on pypdf's layout text (a few lines of short
  pieces with wide gaps between them) that picks the pages worth a closer look;
- ruled tables by their drawn lines (pdfplumber's table finder, "lines" strategy),
  each word placed in its cell by bisection (:func:`cell_texts`);
- tables without ruling lines by columns of words that line up
  (:func:`unruled_tables`, our grouping: pdfplumber's "text" strategy takes running
  text for tables).

A page over the bounds (drawn edges) yields no table: it is read as text, as before.
"""

from __future__ import annotations

import bisect
import re
import statistics
from dataclasses import dataclass

from assistant.ingest.formats.pdf_words import Box, Word, inside, lines_of, words_of

MAX_PAGE_EDGES = 2_000  # drawn lines and rectangle sides (pdfplumber's cell finder is quadratic in them)
GAP_EM = 0.9  # a gap wider than this many line heights separates two cells of a row
ROW_GAP_EM = 3.0  # lines further apart than this many line heights are not rows of one table
MIN_ROWS = 3  # an unruled table has at least a header and two rows
CELL_WORDS_MEDIAN = 3  # unruled: cells are short (running text in two columns is not)
CELL_WORDS_HIGH = 10
MAX_ROW_SPAN = 20  # rows above a word's own that a merged cell holding it may start in

Rows = tuple[tuple[str, ...], ...]

_CELL_GAP = re.compile(r" {3,}")
_BULLET = re.compile(r"^([•·▪◦‣\-–*]|\d{1,3}[.)]|[a-z][.)])$")


@dataclass(frozen=True)
class PdfTable:
    """A table found on a page: its rows of cells, its box and its page (1-based)."""

    rows: Rows
    bbox: Box
    page: int
    ruled: bool

    @property
    def columns(self) -> int:
        return max((len(r) for r in self.rows), default=0)


def may_hold_table(layout_text: str) -> bool:
    """Whether pypdf's layout text of a page could hold a table: at least three lines
    of short pieces (three words or fewer, mostly) set apart by three or more spaces.

    Justified text (two spaces here and there) and running text in columns (long
    pieces) do not count, so most pages of text are not looked at twice."""
    n = 0
    for line in layout_text.splitlines():
        pieces = _CELL_GAP.split(line.strip())
        if len(pieces) >= 2 and statistics.median(len(x.split()) for x in pieces) <= CELL_WORDS_MEDIAN:
            n += 1
            if n >= MIN_ROWS:
                return True
    return False


def find_tables(page, *, number: int) -> tuple[list[PdfTable], list[Word]]:
    """The tables of a pdfplumber page (ruled ones by their lines, then unruled ones
    among the words outside them) in reading order, and the page's words.

    No table when the page is over the analysis bounds (MAX_PAGE_EDGES)."""
    words = words_of(page)
    if len(page.lines) + 4 * len(page.rects) + len(page.curves) > MAX_PAGE_EDGES:
        return [], words
    found: list[PdfTable] = []
    for t in page.find_tables():
        rows = clean_rows(cell_texts(t.rows, words))
        if len(rows) >= 2 and max(len(r) for r in rows) >= 2:
            found.append(PdfTable(rows, tuple(t.bbox), number, True))
    rest = [w for w in words if not any(inside(w, t.bbox) for t in found)]
    found.extend(unruled_tables(rest, number=number))
    return sorted(found, key=lambda t: (t.bbox[1], t.bbox[0])), words


def cell_texts(rows, words: list[Word]) -> list[list[str | None]]:
    """The text of each cell of a pdfplumber table's rows: the words whose middle lies in
    the cell, in reading order (None for a cell merged into another).

    Each word is placed by bisection on the rows' tops (pdfplumber's own
    ``Table.extract`` tests every character against every row: quadratic on a long table)."""
    tops = [r.bbox[1] for r in rows]
    placed: list[list[list[Word]]] = [[[] for _ in r.cells] for r in rows]
    for w in words:
        x, y = (w.x0 + w.x1) / 2, (w.top + w.bottom) / 2
        last = bisect.bisect_right(tops, y) - 1
        # the row whose top is just above the word, else one above it whose merged cell
        # reaches down to it (a label spanning rows is set in the middle of its cell)
        for i in range(last, max(last - MAX_ROW_SPAN, -1), -1):
            if y >= rows[i].bbox[3]:
                continue
            j = next((j for j, c in enumerate(rows[i].cells)
                      if c is not None and c[0] <= x < c[2] and c[1] <= y < c[3]), None)
            if j is not None:
                placed[i][j].append(w)
                break
    return [[None if cell is None else " ".join(w.text for w in sorted(ws, key=lambda w: (round(w.top), w.x0)))
             for cell, ws in zip(r.cells, cell_words)] for r, cell_words in zip(rows, placed)]


def clean_rows(rows: list[list[str | None]] | list[tuple[str, ...]]) -> Rows:
    """Rows of cell text on one line each; rows and columns without text dropped."""
    texts = [[" ".join((c or "").split()) for c in r] for r in rows]
    width = max((len(r) for r in texts), default=0)
    texts = [r + [""] * (width - len(r)) for r in texts]
    keep = [j for j in range(width) if any(r[j] for r in texts)]
    return tuple(tuple(r[j] for j in keep) for r in texts if any(r[j] for j in keep))


def unruled_tables(words: list[Word], *, number: int) -> list[PdfTable]:
    """Tables without ruling lines: runs of at least MIN_ROWS lines, each of two or more
    cells (words further apart than GAP_EM line heights), whose cells fall into the same
    columns (x ranges no cell of the run crosses), with short cells (running text set in
    two columns has long ones)."""
    out: list[PdfTable] = []
    run: list[list[list[Word]]] = []
    prev_bottom: float | None = None
    for line in lines_of(words):
        chunks = _chunks(line)
        height = statistics.median(w.height for w in line)
        near = prev_bottom is not None and line[0].top - prev_bottom <= ROW_GAP_EM * height
        if len(chunks) >= 2 and (near or not run):
            run.append(chunks)
        else:
            out.extend(_table_of(run, number))
            run = [chunks] if len(chunks) >= 2 else []
        prev_bottom = max(w.bottom for w in line)
    out.extend(_table_of(run, number))
    return out


def _chunks(line: list[Word]) -> list[list[Word]]:
    """A line's words in groups set apart by gaps wider than GAP_EM line heights."""
    out = [[line[0]]]
    for prev, w in zip(line, line[1:]):
        if w.x0 - prev.x1 > GAP_EM * w.height:
            out.append([w])
        else:
            out[-1].append(w)
    return out


def _table_of(run: list[list[list[Word]]], number: int) -> list[PdfTable]:
    """The run of lines as a table, or [] when it does not look like one."""
    if len(run) < MIN_ROWS:
        return []
    spans = sorted((c[0].x0, c[-1].x1) for chunks in run for c in chunks)
    columns: list[list[float]] = []
    for a, b in spans:  # union of overlapping x ranges: one range per column
        if columns and a <= columns[-1][1]:
            columns[-1][1] = max(columns[-1][1], b)
        else:
            columns.append([a, b])
    if len(columns) < 2:
        return []
    rows: list[tuple[str, ...]] = []
    for chunks in run:
        cells = [""] * len(columns)
        for c in chunks:
            j = next(k for k, (a, b) in enumerate(columns) if a <= c[0].x0 <= b)
            cells[j] = " ".join(x for x in (cells[j], *(w.text for w in c)) if x)
        rows.append(tuple(cells))
    sizes = [len(c.split()) for r in rows for c in r if c]
    if statistics.median(sizes) > CELL_WORDS_MEDIAN or max(sizes) > CELL_WORDS_HIGH:
        return []
    if all(_BULLET.match(r[0]) or not r[0] for r in rows):  # a list with bullets or numbers
        return []
    filled = sum(bool(c) for r in rows for c in r)
    if filled < 0.6 * len(rows) * len(columns):  # mostly empty: words that happen to line up
        return []
    ws = [w for chunks in run for c in chunks for w in c]
    bbox = (min(w.x0 for w in ws), min(w.top for w in ws), max(w.x1 for w in ws), max(w.bottom for w in ws))
    return [PdfTable(clean_rows(rows), bbox, number, False)]
