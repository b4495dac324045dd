"""The words of a PDF page with their boxes, as the table finder and the page layout use them.

Owns :class:`Word` (a word's text and box, PDF points from the page's top-left) and the
small geometry both :mod:`~assistant.ingest.formats.pdf_table_finder` and
:mod:`~assistant.ingest.formats.pdf_layout` need: the words of a pdfplumber page
(:func:`words_of`), words grouped into lines of type (:func:`lines_of`), and whether a
word lies in a box (:func:`inside`). pdfplumber's dicts stop here.
"""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[float, float, float, float]  # x0, top, x1, bottom (PDF points, top-down)


@dataclass(frozen=True, slots=True)
class Word:
    """A word on a page and its box."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float

    @property
    def height(self) -> float:
        return self.bottom - self.top


# Characters closer than this share of their size are one word. pdfplumber's default (3
# points whatever the size) glues the words of PDFs that draw no space characters (LaTeX:
# "FreeTypefontrasterizationlibrary"); pypdf's text of the same page has the spaces.
WORD_GAP_RATIO = 0.15


def words_of(page) -> list[Word]:
    """The words of a pdfplumber page (pdfminer's characters grouped by pdfplumber)."""
    return [Word(w["text"], w["x0"], w["x1"], w["top"], w["bottom"])
            for w in page.extract_words(x_tolerance_ratio=WORD_GAP_RATIO)]


def inside(word: Word, box: Box, pad: float = 1.0) -> bool:
    """Whether the middle of ``word`` lies in ``box`` (widened by ``pad`` points)."""
    x = (word.x0 + word.x1) / 2
    y = (word.top + word.bottom) / 2
    return box[0] - pad <= x <= box[2] + pad and box[1] - pad <= y <= box[3] + pad


def lines_of(words: list[Word]) -> list[list[Word]]:
    """Words grouped into lines of type (tops within half a word's height), top to
    bottom, each line left to right."""
    lines: list[list[Word]] = []
    for w in sorted(words, key=lambda w: (round(w.top), w.x0)):
        if lines and abs(lines[-1][0].top - w.top) <= 0.5 * w.height:
            lines[-1].append(w)
        else:
            lines.append([w])
    return [sorted(line, key=lambda w: w.x0) for line in lines]
