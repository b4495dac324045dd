"""The tables of one PDF: found page by page as the reader goes, put into its text at the end.

Owns the step ``PDF pages -> text with each table as cell | cell rows + TableSpans``.
pypdf's layout text (what :mod:`~assistant.ingest.formats.pdf` reads every page with)
sets a table out by position, so a table read across a two-column guess, or cut into
passages, loses which number belongs to which row and column. Here:

- a page whose layout text may hold a table
  (:func:`~assistant.ingest.formats.pdf_table_finder.may_hold_table`) is opened again
  with pdfplumber and its tables found
  (:mod:`~assistant.ingest.formats.pdf_table_finder`); the other pages are not, so a PDF
  without tables is read exactly as before;
- a page with a table is laid out again around it, one mark character where each
  table is (:mod:`~assistant.ingest.formats.pdf_layout`); the reader's usual steps
  (columns in order, running lines, paragraphs) run on that text as on any other page;
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
from dataclasses import dataclass, field

from assistant.ingest.formats.pdf_layout import MAX_MARKS, mark, mark_number, text_around
from assistant.ingest.formats.pdf_table_finder import PdfTable, find_tables, may_hold_table
from assistant.ingest.tables import TableSpan, find_caption, table_rows_text

# A page is analysed only within these bounds (a hostile page of a million tiny lines,
# or one huge table, is read as text, as every page was before).
MAX_PAGE_CHARS = 40_000  # non-space characters of its layout text (a dense page of text holds about 5,000;
#                          a page that is one 1,000-row table of six columns, 36,000: 4.4 s, 146 MB peak)
MAX_TABLES = MAX_MARKS  # tables in one document

# old a, b; new a, b; {old mark offset: new offset}
Move = tuple[int, int, int, int, dict[int, int]]


@dataclass
class PageTables:
    """The tables of one PDF, found page by page as the reader goes, put into its
    text at the end. Opens the PDF with pdfplumber only when a page may hold a table."""

    raw: bytes
    tables: list[PdfTable] = field(default_factory=list)
    _pdf: object = None  # the pdfplumber document, opened at the first page that may hold a table
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
                found, words = find_tables(page, number=number)
                found = found[: MAX_TABLES - len(self.tables)]
                if not found:
                    return layout_text
                text = text_around(words, found, tuple(page.bbox), first=len(self.tables))
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
        marks = [(m.start(), mark_number(m.group())) for m in re.finditer(f"[{mark(0)}-{mark(MAX_TABLES - 1)}]", text)]
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
        moves: list[Move] = []
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


def _move(offset: int, moves: list[Move]) -> int:
    """Where ``offset`` of the text with marks lands in the text with tables."""
    new = offset
    for a, b, new_a, new_b, at_new in moves:
        if offset < a:
            break
        if offset < b:
            return at_new.get(offset, new_a)
        new = new_b + (offset - b)
    return new
