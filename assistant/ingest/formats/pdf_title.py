"""A PDF's title and organisation when its metadata gives none worth citing.

Owns the rule: a metadata title is used when it is usable (:func:`usable_title`: not
empty, not a file name, not a word processor's or PDF library's placeholder such as
"Microsoft Word - draft3.docx", "untitled" or reportlab's "(anonymous)"); else the
first heading (the largest type on the first page, when it is larger than the text
around it: :func:`first_heading`); else "" and the corpus names the document by its
text's first short line or its file name (:func:`assistant.ingest.corpus.read_document`).
A placeholder author ("(anonymous)", "unknown") is no organisation
(:func:`usable_name`, applied to every format): a citation leaves the organisation out
rather than print one.
"""

from __future__ import annotations

import io
import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

HEADING_RATIO = 1.15  # a heading's type is at least this much larger than the page's body text
HEADING_MAX_CHARS = 200
HEADING_MAX_PAGE_CHARS = 10_000  # a first page with more text than this is not searched for a heading

_PLACEHOLDER = re.compile(
    r"^\(?(anonymous|unspecified|unknown|untitled|no title|none|null|title|document\s*\d*|"
    r"untitled document|new document|presentation\d*|slide \d+|book\d*|page \d+)\)?$", re.I,
)
_PRODUCER = re.compile(r"^(microsoft (word|excel|powerpoint)|libreoffice|openoffice|pages|google docs)\s*[-–:]\s*", re.I)
_FILE_NAME = re.compile(r"\.[a-z][a-z0-9]{1,4}$", re.I)


@dataclass(frozen=True)
class TypePiece:
    """A piece of text as drawn on a page: its text, the size of its type, where it starts."""

    text: str
    size: float
    top: float
    x0: float


def usable_title(title: str, *, file_name: str = "") -> bool:
    """Whether a metadata title is worth citing: not empty, not a placeholder
    ("untitled", "(anonymous)", "Document1"), not "Microsoft Word - …", not a file name."""
    t = " ".join(title.split())
    if not t or not re.search(r"\w", t):
        return False
    if _PLACEHOLDER.match(t) or _PRODUCER.match(t) or re.match(r"untitled\b", t, re.I):
        return False
    if _FILE_NAME.search(t) and " " not in t.strip():
        return False
    if re.search(r"\.(docx?|pdf|odt|rtf|pptx?|xlsx?|txt|html?|indd|tex|dvi|ps)$", t, re.I):
        return False
    if file_name and t.lower() in {file_name.lower(), Path(file_name).stem.lower()}:
        return False
    return True


def usable_name(name: str) -> bool:
    """Whether a metadata author or organisation names someone: not a placeholder."""
    t = " ".join(name.split())
    return bool(t) and bool(re.search(r"\w", t)) and not _PLACEHOLDER.match(t) and t.lower() != "python-docx"


def first_heading(raw: bytes, *, first_page_chars: int = 0) -> str:
    """The first heading of a PDF: the text set in the largest type on its first page,
    when that type is larger than the page's body text (by HEADING_RATIO); "" when there
    is none or the page cannot be read. ``first_page_chars`` (the first page's text as
    already read) over HEADING_MAX_PAGE_CHARS: "" without reading the page again.

    Read by pypdf (the text pieces and the size each is drawn at), not pdfminer: the
    first page of every PDF without a usable title is read this way, and pdfminer takes
    several times as long over a page."""
    if first_page_chars > HEADING_MAX_PAGE_CHARS:
        return ""
    pieces: list[TypePiece] = []

    def visit(text, cm, tm, font_dict, font_size) -> None:
        if not text.strip() or not font_size:
            return
        m = mult(tm, cm)
        size = float(font_size) * math.hypot(m[2], m[3])
        pieces.append(TypePiece(" ".join(text.split()), round(size, 1), -m[5], m[4]))

    try:
        import pypdf
        from pypdf._text_extraction import mult

        reader = pypdf.PdfReader(io.BytesIO(raw))
        if not reader.pages:
            return ""
        reader.pages[0].extract_text(visitor_text=visit)
    except Exception:  # a damaged first page: no heading
        return ""
    return heading_of(pieces)


def heading_of(pieces: list[TypePiece]) -> str:
    """The largest-type pieces of a page in reading order, when larger than the body
    text: its first line and the lines that go on it."""
    words = [w for w in pieces if re.search(r"\w", w.text)]
    if not words:
        return ""
    body = statistics.median(w.size for w in words)
    top_size = max(w.size for w in words)
    if top_size < HEADING_RATIO * body:
        return ""
    # the largest type, and heading-sized type on the same line: a title set in small capitals
    # draws its first letter larger than the rest ("R" at 20.7 pt, " FAQ" at 17.2)
    tops = [w.top for w in words if w.size >= top_size - 0.5]
    big = sorted((w for w in words if w.size >= top_size - 0.5 or (
        w.size >= HEADING_RATIO * body and any(abs(w.top - t) <= 0.3 * top_size for t in tops))),
        key=lambda w: (round(w.top), w.x0))
    lines: list[list[TypePiece]] = []
    for w in big:
        if lines and abs(w.top - lines[-1][0].top) <= 0.3 * top_size:
            lines[-1].append(w)
        elif not lines or w.top - lines[-1][0].top <= 1.6 * top_size:
            lines.append([w])
        else:
            break  # another heading further down: only the first is the title
    text = " ".join(w.text for line in lines for w in line)
    text = " ".join(text.split())
    return text if len(text) <= HEADING_MAX_CHARS else ""


def pdf_title(meta_title: str, raw: bytes, *, first_page_chars: int = 0) -> str:
    """The title a PDF is cited by: its metadata title when usable, else its first
    heading, else "" (the corpus then names it by its text or its file name)."""
    t = " ".join(meta_title.split())
    if usable_title(t):
        return t
    return first_heading(raw, first_page_chars=first_page_chars)
