"""Tables in a PDF: found on the page, read row by row, put into the text in reading order.

Owns the step ``PDF page -> its text with each table as cell | cell rows``. pypdf's
layout text (what :mod:`assistant.ingest.readers` reads every page with) lays a table
out by position, so a table read across a two-column guess, or cut into passages,
loses which number belongs to which row and column. Here:

- a cheap test on pypdf's layout text (:func:`may_hold_table`: a few lines with wide
  gaps between words) picks the pages worth a closer look; the others are not opened
  a second time, so a PDF without tables is read exactly as before;
- on those pages pdfplumber (pdfminer's characters, with their boxes) finds ruled
  tables by their drawn lines (its table finder, "lines" strategy) and tables without
  ruling lines by columns of words that line up (:func:`unruled_tables`, our grouping:
  pdfplumber's "text" strategy takes running text for tables);
- a page with a table is laid out again from its characters without the table's,
  with one mark character where the table was; the readers' usual steps (columns in
  order, running lines, paragraphs) run on that text as on any other page;
- :meth:`PageTables.put_in` then puts each table's rows where its mark is, joins a
  table cut by a page break (and its repeated header row) into one, and lists the
  tables as :class:`~assistant.ingest.tables.TableSpan` offsets of the final text.

A page too large to analyse within bounds (characters, drawn lines), or one pdfplumber
cannot read, keeps its pypdf text: a table finder failure never costs a document.
"""

from __future__ import annotations

import io
import logging
import re
import statistics
from dataclasses import dataclass, field

from assistant.ingest.tables import TableSpan, find_caption, table_rows_text

# A page is analysed only within these bounds (a hostile page of a million tiny
# lines, or one huge table, is read as text, as every page was before).
MAX_PAGE_CHARS = 12_000  # non-space characters of its layout text (a dense page of text holds about 5,000)
MAX_PAGE_EDGES = 2_000  # drawn lines and rectangle sides (pdfplumber's cell finder is quadratic in them)
MAX_TABLES = 2_000  # tables in one document (each has its own mark character)
MARK_BASE = 0xF0000  # marks are Supplementary Private Use Area-A characters: never in real text
GAP_EM = 0.9  # a gap wider than this many line heights separates two cells of a row
ROW_GAP_EM = 3.0  # lines further apart than this many line heights are not rows of one table
MIN_ROWS = 3  # an unruled table has at least a header and two rows
CELL_WORDS_MEDIAN = 3  # unruled: cells are short (running text in two columns is not)
CELL_WORDS_HIGH = 10

_CELL_GAP = re.compile(r" {3,}")
_BULLET = re.compile(r"^([•·▪◦‣\-–*]|\d{1,3}[.)]|[a-z][.)])$")


@dataclass(frozen=True)
class PdfTable:
    """A table found on a page: its rows of cells, its box (PDF points, top-down) and page."""

    rows: tuple[tuple[str, ...], ...]
    bbox: tuple[float, float, float, float]
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


def mark(i: int) -> str:
    """The mark character of the document's table number ``i`` (0-based)."""
    return chr(MARK_BASE + i)


# ------------------------------------------------------------------ finding tables on a page


def find_tables(page, *, number: int) -> list[PdfTable]:
    """The tables of a pdfplumber page: ruled ones by their lines, then unruled ones
    among the words outside them. [] when the page is over the analysis bounds."""
    if len(page.lines) + 4 * len(page.rects) + len(page.curves) > MAX_PAGE_EDGES:
        return []
    found: list[PdfTable] = []
    all_words = page.extract_words()
    for t in page.find_tables():
        rows = _clean(_cell_texts(t.rows, all_words))
        if len(rows) >= 2 and max(len(r) for r in rows) >= 2:
            found.append(PdfTable(rows, tuple(t.bbox), number, True))
    words = [w for w in all_words if not any(_inside(w, t.bbox) for t in found)]
    found.extend(unruled_tables(words, number=number))
    return sorted(found, key=lambda t: (t.bbox[1], t.bbox[0]))


def _cell_texts(rows, words: list[dict]) -> list[list[str | None]]:
    """The text of each cell of a pdfplumber table's rows: the words whose middle lies in
    the cell, in reading order. Each word is placed by bisection (pdfplumber's own
    ``Table.extract`` tests every character against every row: quadratic on a long table)."""
    import bisect

    tops = [r.bbox[1] for r in rows]
    texts: list[list[list[dict]]] = [[[] for _ in r.cells] for r in rows]
    for w in words:
        x, y = (w["x0"] + w["x1"]) / 2, (w["top"] + w["bottom"]) / 2
        i = bisect.bisect_right(tops, y) - 1
        if i < 0 or y >= rows[i].bbox[3]:
            continue
        for j, cell in enumerate(rows[i].cells):
            if cell is not None and cell[0] <= x < cell[2] and cell[1] <= y < cell[3]:
                texts[i][j].append(w)
                break
    return [[None if cell is None else " ".join(w["text"] for w in sorted(ws, key=lambda w: (round(w["top"]), w["x0"])))
             for cell, ws in zip(r.cells, cell_words)] for r, cell_words in zip(rows, texts)]


def _clean(rows) -> tuple[tuple[str, ...], ...]:
    """Rows of cell text on one line each; rows and columns without text dropped."""
    rows = [[" ".join((c or "").split()) for c in r] for r in rows]
    width = max((len(r) for r in rows), default=0)
    rows = [r + [""] * (width - len(r)) for r in rows]
    keep = [j for j in range(width) if any(r[j] for r in rows)]
    return tuple(tuple(r[j] for j in keep) for r in rows if any(r[j] for j in keep))


def _inside(obj: dict, bbox, pad: float = 1.0) -> bool:
    x = (obj["x0"] + obj["x1"]) / 2
    y = (obj["top"] + obj["bottom"]) / 2
    return bbox[0] - pad <= x <= bbox[2] + pad and bbox[1] - pad <= y <= bbox[3] + pad


def unruled_tables(words: list[dict], *, number: int) -> list[PdfTable]:
    """Tables without ruling lines: runs of at least MIN_ROWS lines, each of two or more
    cells (words further apart than GAP_EM line heights), whose cells fall into the same
    columns (x ranges no cell of the run crosses), with short cells (running text set in
    two columns has long ones)."""
    lines = _lines(words)
    out: list[PdfTable] = []
    run: list[list[list[dict]]] = []
    prev_bottom = None
    for line in lines:
        chunks = _chunks(line)
        height = statistics.median(w["bottom"] - w["top"] for w in line)
        near = prev_bottom is not None and line[0]["top"] - prev_bottom <= ROW_GAP_EM * height
        if len(chunks) >= 2 and (near or not run):
            run.append(chunks)
        else:
            out.extend(_table_of(run, number))
            run = [chunks] if len(chunks) >= 2 else []
        prev_bottom = max(w["bottom"] for w in line)
    out.extend(_table_of(run, number))
    return out


def _lines(words: list[dict]) -> list[list[dict]]:
    lines: list[list[dict]] = []
    for w in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
        h = w["bottom"] - w["top"]
        if lines and abs(lines[-1][0]["top"] - w["top"]) <= 0.5 * h:
            lines[-1].append(w)
        else:
            lines.append([w])
    return [sorted(line, key=lambda w: w["x0"]) for line in lines]


def _chunks(line: list[dict]) -> list[list[dict]]:
    out = [[line[0]]]
    for prev, w in zip(line, line[1:]):
        if w["x0"] - prev["x1"] > GAP_EM * (w["bottom"] - w["top"]):
            out.append([w])
        else:
            out[-1].append(w)
    return out


def _table_of(run: list[list[list[dict]]], number: int) -> list[PdfTable]:
    if len(run) < MIN_ROWS:
        return []
    spans = sorted((c[0]["x0"], c[-1]["x1"]) for chunks in run for c in chunks)
    columns: list[list[float]] = []
    for a, b in spans:  # union of overlapping x ranges: one range per column
        if columns and a <= columns[-1][1]:
            columns[-1][1] = max(columns[-1][1], b)
        else:
            columns.append([a, b])
    if len(columns) < 2:
        return []
    rows = []
    for chunks in run:
        cells = [""] * len(columns)
        for c in chunks:
            j = next(k for k, (a, b) in enumerate(columns) if a <= c[0]["x0"] <= b)
            cells[j] = " ".join(x for x in (cells[j], *(w["text"] for w in c)) if x)
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
    bbox = (min(w["x0"] for w in ws), min(w["top"] for w in ws), max(w["x1"] for w in ws), max(w["bottom"] for w in ws))
    return [PdfTable(_clean(rows), bbox, number, False)]


# ------------------------------------------------------------------ a page's text around its tables


def text_around(page, tables: list[PdfTable], *, first: int) -> str:
    """The page's layout text without the tables' words, with the mark of table
    ``first + k`` where table k's top-left corner is.

    Laid out as pypdf's layout mode does, so the readers' next steps work alike: one
    line per line of type, a word close to the one before it after one space, a word
    further away at the column of its position (columns stay apart), a blank line
    where the type leaves a gap taller than half a line."""
    words = [w for w in page.extract_words() if not any(_inside(w, t.bbox) for t in tables)]
    widths = [(w["x1"] - w["x0"]) / len(w["text"]) for w in words if w["text"]]
    density = 0.8 * (statistics.median(widths) if widths else 5.0)  # points a column: a little narrower than a character
    size = statistics.median([w["bottom"] - w["top"] for w in words]) if words else 10.0
    for k, t in enumerate(tables):
        words.append({"text": mark(first + k), "x0": t.bbox[0], "x1": t.bbox[0] + size / 2, "top": t.bbox[1],
                      "bottom": t.bbox[1] + size})
    top, left, right = _columns(words, page.bbox)
    blocks = [_lay_out(part, page.bbox[0], density) for part in (top, left, right) if part]
    return "\n\n".join(blocks)


def _columns(words: list[dict], bbox) -> tuple[list[dict], list[dict], list[dict]]:
    """A two-column page's words as (across the top, left column, right column): the
    gutter is the middle of the widest x range in the middle half of the page that at most
    a tenth of the lines cross, with words left of it on at least 30% of the lines and
    right of it on as many (the two columns' lines need not share baselines).
    A one-column page: (words, [], [])."""
    lines = _lines(words)
    if len(lines) < 6:
        return words, [], []
    x0, x1 = bbox[0], bbox[2]
    # for every x position: the lines a word crosses there, the lines with a word left of
    # it and those with a word right of it (the words of a line do not overlap)
    import numpy as np

    lo, hi = int(x0 + (x1 - x0) / 4), int(x0 + 3 * (x1 - x0) / 4)
    xs = np.arange(lo, hi)
    starts = np.array([w["x0"] for line in lines for w in line])
    ends = np.array([w["x1"] for line in lines for w in line])
    cross = ((starts[None, :] < xs[:, None]) & (xs[:, None] < ends[None, :])).sum(axis=1)
    lefts = (np.array([min(w["x1"] for w in line) for line in lines])[None, :] <= xs[:, None]).sum(axis=1)
    rights = (np.array([max(w["x0"] for w in line) for line in lines])[None, :] >= xs[:, None]).sum(axis=1)
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
    gutter = widest[len(widest) // 2]
    top: list[dict] = []
    left: list[dict] = []
    right: list[dict] = []
    for line in lines:
        two = any(w["x1"] <= gutter for w in line) and any(w["x0"] >= gutter for w in line)
        across = any(w["x0"] < gutter < w["x1"] for w in line)
        if not left and not right and (across or not two):
            top.extend(line)
        elif across:
            left.extend(line)
        else:
            left.extend(w for w in line if w["x1"] <= gutter)
            right.extend(w for w in line if w["x1"] > gutter)
    return top, left, right


def _lay_out(words: list[dict], x0: float, density: float) -> str:
    out: list[str] = []
    prev_bottom = None
    for line in _lines(words):
        height = statistics.median(w["bottom"] - w["top"] for w in line)
        if prev_bottom is not None and line[0]["top"] - prev_bottom > 0.5 * height:
            out.append("")
        text = ""
        prev = None
        for w in line:
            if prev is not None and w["x0"] - prev["x1"] <= GAP_EM * height:
                text += " " + w["text"]
            else:
                col = max(0, int(round((w["x0"] - x0) / density)))
                text += " " * (max(col - len(text), 1) if text else col) + w["text"]
            prev = w
        out.append(text)
        prev_bottom = max(w["bottom"] for w in line)
    return "\n".join(out)


# ------------------------------------------------------------------ the tables of a document


@dataclass
class PageTables:
    """The tables of one PDF, found page by page as the reader goes, put into its
    text at the end. Opens the PDF with pdfplumber only when a page may hold a table."""

    raw: bytes
    tables: list[PdfTable] = field(default_factory=list)
    _pdf: object = None
    _broken: bool = False

    def page_text(self, number: int, layout_text: str) -> str:
        """Page ``number``'s text: ``layout_text`` (pypdf's) unchanged when the page has no
        table; else the page laid out again around its tables' marks."""
        if self._broken or len(self.tables) >= MAX_TABLES or not may_hold_table(layout_text):
            return layout_text
        if sum(not ch.isspace() for ch in layout_text) > MAX_PAGE_CHARS:
            return layout_text
        try:
            page = self._open().pages[number - 1]
            try:
                found = find_tables(page, number=number)[: MAX_TABLES - len(self.tables)]
                if not found:
                    return layout_text
                text = text_around(page, found, first=len(self.tables))
            finally:
                page.close()
        except Exception as e:  # pdfminer on a file pypdf could read: keep pypdf's text
            logging.getLogger(__name__).debug("table finder failed on page %d: %s", number, e)
            return layout_text
        self.tables.extend(found)
        return text

    def _open(self):
        if self._pdf is None:
            import pdfplumber

            logging.getLogger("pdfminer").setLevel(logging.ERROR)
            try:
                self._pdf = pdfplumber.open(io.BytesIO(self.raw))
            except Exception:
                self._broken = True
                raise
        return self._pdf

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()
            self._pdf = None

    def put_in(self, text: str, pages: tuple[int, ...]) -> tuple[str, tuple[int, ...], tuple[TableSpan, ...]]:
        """``text`` with each table's mark replaced by its rows (a paragraph of its own),
        the page offsets moved with it, and the tables' spans in the new text.

        A table that goes on over a page break (nothing but space between the two marks,
        the same number of columns) becomes one table; a header row repeated on the new
        page is left out."""
        self.close()
        marks = [(m.start(), ord(m.group()) - MARK_BASE) for m in re.finditer(f"[{mark(0)}-{mark(MAX_TABLES - 1)}]", text)]
        marks = [(at, i) for at, i in marks if i < len(self.tables)]
        groups: list[list[tuple[int, int]]] = []
        for at, i in marks:
            if groups:
                last_at, last_i = groups[-1][-1]
                head, t = self.tables[groups[-1][0][1]], self.tables[i]
                if (not text[last_at + 1 : at].strip() and t.page > self.tables[last_i].page
                        and t.columns == head.columns):
                    groups[-1].append((at, i))
                    continue
            groups.append([(at, i)])
        out: list[str] = []
        moves: list[tuple[int, int, int, int, dict[int, int]]] = []  # old a, b; new a, b; {old mark: new offset}
        spans: list[tuple[int, int, int]] = []
        pos = new_len = 0
        for group in groups:
            a, b = group[0][0], group[-1][0] + 1
            while a > pos and text[a - 1].isspace():
                a -= 1
            while b < len(text) and text[b].isspace():
                b += 1
            out.append(text[pos:a])
            new_len += a - pos
            lead = "\n\n" if new_len else ""
            header = self.tables[group[0][1]].rows[0]
            start = new_len + len(lead)
            at_new: dict[int, int] = {}
            bodies: list[str] = []
            for k, (at, i) in enumerate(group):
                rows = self.tables[i].rows
                if k and rows and rows[0] == header:
                    rows = rows[1:]
                at_new[at] = start + sum(len(x) + 1 for x in bodies)
                if rows:
                    bodies.append(table_rows_text(rows))
            body = "\n".join(bodies)
            replacement = lead + body + "\n\n"
            moves.append((a, b, new_len, new_len + len(replacement), at_new))
            out.append(replacement)
            spans.append((start, start + len(body), start + len(body.split("\n", 1)[0])))
            new_len += len(replacement)
            pos = b
        out.append(text[pos:])
        new_text = "".join(out)
        new_pages = tuple(_move(p, moves) for p in pages)
        tables = tuple(TableSpan(s, e, h, find_caption(new_text, s, e)) for s, e, h in spans if e > s)
        return new_text, new_pages, tables


def _move(offset: int, moves: list[tuple[int, int, int, int, dict[int, int]]]) -> int:
    """Where ``offset`` of the text with marks lands in the text with tables."""
    new = offset
    for a, b, new_a, new_b, at_new in moves:
        if offset < a:
            break
        if offset < b:
            return at_new.get(offset, new_a)
        new = new_b + (offset - b)
    return new
