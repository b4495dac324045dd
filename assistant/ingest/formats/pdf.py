"""PDF (.pdf, or any file whose first bytes say it is one): text page by page (pypdf),
page offsets kept for citations, running headers and footers removed, hyphenated line
ends re-joined, two-column pages read column by column, and pages that are only images
read by Tesseract (OCR) when it is installed. What pypdf decodes is bounded by the
:class:`~assistant.ingest.budgets.Budget`.

Tables are found on the pages that may hold one and kept whole as ``cell | cell``
rows (:mod:`~assistant.ingest.formats.pdf_tables`); a title the metadata does not
give usably is the first heading (:mod:`~assistant.ingest.formats.pdf_title`).
"""

from __future__ import annotations

import datetime
import re
import shutil
from dataclasses import replace

from assistant.errors import SkipFile
from assistant.ingest.budgets import Budget, check_text, pdf_limits
from assistant.ingest.formats.common import Extracted, Format
from assistant.ingest.formats.pdf_tables import PageTables
from assistant.ingest.formats.pdf_title import pdf_title, usable_name

_TERMINAL = re.compile(r"[.!?:;…\"”’')\]]$")
_PAGE_NUMBER = re.compile(r"^[\W_]*(page|p\.|seite|página)?\s*\d{1,4}(\s*(of|/|de)\s*\d{1,4})?[\W_]*$", re.I)
# Page content of real PDFs inflates a few times over (text, drawings); a file whose pages
# inflate to more than PDF_RATIO times its size (and over PDF_RATIO_FROM bytes) is a bomb.
PDF_RATIO = 20
PDF_RATIO_FROM = 8 * 2**20
TESSERACT_HINT = "install Tesseract for OCR (apt-get install tesseract-ocr, or make ocr) and build again"


def read_pdf(raw: bytes, *, budget: Budget = Budget()) -> Extracted:
    """Text page by page (pypdf's layout mode keeps paragraph gaps as blank lines);
    pages with no text layer are read by Tesseract when it is installed.

    What pypdf decodes is bounded by the budget: each stream, the pages' content
    streams together, the number of pages and the text extracted."""
    with pdf_limits(budget):
        got = _read_pdf(raw, budget=budget)
    first = len(got.text[: got.pages[1]] if len(got.pages) > 1 else got.text)
    return replace(got, title=pdf_title(got.title, raw, first_page_chars=first))


def _read_pdf(raw: bytes, *, budget: Budget) -> Extracted:
    import io
    import logging

    import pypdf
    from pypdf.errors import LimitReachedError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings on odd files are not the user's business
    tables = PageTables(raw)  # pages with tables are laid out around them
    try:
        reader = pypdf.PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise SkipFile("encrypted PDF (it needs a password): save an unencrypted copy and build again")
        if len(reader.pages) > budget.pdf_pages:
            raise SkipFile(f"a PDF of {len(reader.pages):,} pages (the limit is {budget.pdf_pages:,} a file; "
                           "raise it with --max-file-mb if the file is genuine)")
        pages_lines: list[list[str]] = []
        ocr: list[int] = []
        scanned: list[int] = []
        _check_content(reader, len(raw), budget=budget)
        chars = 0
        for n, page in enumerate(reader.pages, 1):
            text = page.extract_text(extraction_mode="layout") or ""
            text = tables.page_text(n, text)
            chars += len(text)
            check_text(chars, budget=budget, what=f"the PDF (by page {n})")
            if not re.search(r"\w", text):
                images = list(page.images) if "/Resources" in page else []
                if images:
                    if shutil.which("tesseract") is None:
                        scanned.append(n)
                    else:
                        text = _ocr(images)
                        ocr.append(n)
            pages_lines.append([line.strip() for line in _columns_in_order(text.splitlines())])
        meta = reader.metadata or {}
        title = " ".join(str(meta.get("/Title") or "").split())
        author = str(meta.get("/Author") or "").strip()
        author = author if usable_name(author) else ""  # reportlab's "(anonymous)" is no one
        try:
            created = reader.metadata.creation_date if reader.metadata else None
        except Exception:  # a malformed date string: no date rather than no document
            created = None
    except SkipFile:
        raise
    except LimitReachedError as e:
        raise SkipFile(f"compressed too far or too complex: pypdf stopped at its limit ({str(e)[:120]}; "
                       "the limit for a file; raise it with --max-file-mb if the file is genuine)") from None
    except Exception as e:  # pypdf raises many kinds on damaged files; each is "damaged"
        raise SkipFile(f"damaged PDF ({type(e).__name__}: {str(e)[:120]})") from None
    finally:
        tables.close()  # pdfplumber's copy of the file, open since the first page that may hold a table
    if scanned and len(scanned) == len(pages_lines):
        raise SkipFile(f"scanned PDF with no text layer ({len(scanned)} pages of images): {TESSERACT_HINT}")
    if scanned:  # indexing only the text pages would drop the scanned ones without a word
        listed = ", ".join(map(str, scanned[:5])) + (", ..." if len(scanned) > 5 else "")
        raise SkipFile(
            f"{len(scanned)} of {len(pages_lines)} pages are scanned images with no text layer (p. {listed}); "
            f"{TESSERACT_HINT}"
        )
    text, pages = _join_pages(_drop_running_lines(pages_lines))
    text, pages, found = tables.put_in(text, pages)  # each table's rows where its mark is
    if not text.strip():
        raise SkipFile("PDF with no text")
    date = created.date().isoformat() if isinstance(created, datetime.datetime) else ""
    return Extracted(text, title=title, organization=author, date=date, pages=pages, ocr_pages=tuple(ocr),
                     tables=found)


def _check_content(reader, size: int, *, budget: Budget) -> None:
    """Decode every page's content stream (zlib is fast; extracting text is not) and
    refuse a file whose pages inflate past the budget, or far past what real pages do.

    Raises:
        SkipFile: over ``budget.pdf_content_bytes``, or over PDF_RATIO times the file's size.
    """
    decoded = 0
    for n, page in enumerate(reader.pages, 1):
        contents = page.get_contents()
        decoded += len(contents.get_data()) if contents is not None else 0
        if decoded > budget.pdf_content_bytes:
            raise SkipFile(f"compressed too far: its pages' content inflates to over "
                           f"{budget.pdf_content_bytes / 2**20:.0f} MB by page {n} (the limit for a file; "
                           "raise it with --max-file-mb if the file is genuine)")
    if decoded > PDF_RATIO_FROM and decoded > PDF_RATIO * size:
        raise SkipFile(f"compressed too far: {size / 2**20:.1f} MB of PDF whose pages' content inflates to "
                       f"{decoded / 2**20:.0f} MB (over {PDF_RATIO} times its size: real pages do not compress so far)")


def _columns_in_order(lines: list[str]) -> list[str]:
    """Layout-mode lines of a two-column page as the left column's lines, then the right's.

    The gutter is a character position that is blank (with a space either side) on at
    least 80% of the page's lines while at least 40% have text on both sides of it.
    Lines above the first two-sided one (a title across the page) stay on top."""
    body = [x for x in lines if x.strip()]
    if len(body) < 6:
        return lines
    width = max(len(x) for x in body)
    best, best_x = 0, 0
    for x in range(width // 4, 3 * width // 4):
        gap = both = 0
        for line in body:
            if line[x - 1 : x + 2].strip():
                continue
            gap += 1
            both += bool(line[: x - 1].strip() and line[x + 2 :].strip())
        if gap >= 0.8 * len(body) and both >= 0.4 * len(body) and both > best:
            best, best_x = both, x
    if not best:
        return lines
    top: list[str] = []
    left: list[str] = []
    right: list[str] = []
    for line in lines:
        a, b = line[:best_x], line[best_x:]
        if not left and not right and not (a.strip() and b.strip() and not line[best_x - 1 : best_x + 2].strip()):
            top.append(line)
            continue
        if line[best_x - 1 : best_x + 2].strip():  # a line across the gutter
            left.append(line)
            continue
        left.append(a)
        right.append(b)
    return top + left + [""] + right


def _ocr(images) -> str:
    import pytesseract

    return "\n\n".join(pytesseract.image_to_string(img.image) for img in images)


CHAPTER_HEAD_PAGES = 3


def _drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Remove page numbers and the lines that repeat at the top or bottom of most pages
    (running headers and footers), or of most pages of a run of three or more (a chapter's
    running head), digits counted as one: "Page 3 of 9" == "Page 4 of 9"."""
    def key(line: str) -> str:
        return re.sub(r"\d+", "#", " ".join(line.lower().split()))

    edge = 3  # lines from the top and from the bottom of a page that can be running lines
    where: dict[str, list[int]] = {}  # each edge line's pages, ascending
    for n, lines in enumerate(pages):
        body = [x for x in lines if x]
        for k in {key(x) for x in body[:edge] + body[-edge:]}:
            where.setdefault(k, []).append(n)
    need = max(2, -(-len(pages) * 6 // 10))  # on 60% of the pages, and at least two
    running = {k for k, on in where.items() if len(on) >= need} if len(pages) >= 2 else set()
    # a chapter's running head ("Chapter 2: R Basics 5"): on three pages or more, and on most
    # of the pages from its first to its last
    running |= {k for k, on in where.items()
                if len(on) >= CHAPTER_HEAD_PAGES and len(on) * 2 >= on[-1] - on[0] + 1 and re.search(r"[^\W\d_]{3}", k)}
    out = []
    for lines in pages:
        nonempty = [i for i, x in enumerate(lines) if x]
        edges = set(nonempty[:edge] + nonempty[-edge:])
        out.append(
            [x for i, x in enumerate(lines) if not (i in edges and (key(x) in running or _PAGE_NUMBER.match(x)))]
        )
    return out


def _join_pages(pages: list[list[str]]) -> tuple[str, tuple[int, ...]]:
    """Paragraphs (blank-line separated blocks) with their wrapped lines joined, hyphenated
    line ends re-joined, and a paragraph cut by a page break joined across it.

    Returns the text and the offset where each page's text starts (an empty page starts
    where the next one does)."""
    import statistics

    widths = [len(x) for lines in pages for x in lines if x]
    full = 0.75 * (statistics.quantiles(widths, n=10)[-1] if len(widths) >= 10 else max(widths, default=0))
    vocabulary = set(re.findall(r"\w+(?:-\w+)+", "\n".join(x for lines in pages for x in lines)))
    merged: list[tuple[list[str], list[int]]] = []  # a paragraph's lines and the page of each
    for n, lines in enumerate(pages, 1):
        for i, block in enumerate(_blocks(lines)):
            if i == 0 and merged:
                last = merged[-1][0][-1]
                if not _TERMINAL.search(last) and (block[0][:1].islower() or last.endswith("-")):
                    merged[-1][0].extend(block)  # the paragraph goes on over the page break
                    merged[-1][1].extend([n] * len(block))
                    continue
            merged.append((list(block), [n] * len(block)))
    text = ""
    first: dict[int, int] = {}
    for lines, page_of in merged:
        joined, offsets = _join_lines(lines, full, vocabulary)
        for off, n in zip(offsets, page_of):
            first.setdefault(n, len(text) + off)
        text += joined + "\n\n"
    starts: list[int] = []
    nxt = len(text)
    for n in range(len(pages), 0, -1):
        nxt = first.get(n, nxt)
        starts.append(nxt)
    return text, tuple(reversed(starts))


def _blocks(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def _join_lines(lines: list[str], full: float, vocabulary: set[str]) -> tuple[str, list[int]]:
    """Join the wrapped lines of one block; returns the text and where each line begins in it.

    A line shorter than a full line that does not end in a hyphen ends its own unit (a
    heading, a list item, a paragraph's last line) and keeps its line break."""
    out = lines[0]
    offsets = [0]
    for prev, line in zip(lines, lines[1:]):
        m = re.search(r"(\w+)-$", prev)
        if m and line[:1].islower():
            word = m.group(1) + "-" + re.match(r"\S*", line).group(0).rstrip(".,;:!?)”’\"'")
            # keep the hyphen of a compound the document writes elsewhere ("well-known")
            if word not in vocabulary:
                out = out[:-1]
        elif len(prev) >= full:
            out += " "
        else:
            out += "\n"
        offsets.append(len(out))
        out += line
    return out, offsets


FORMAT = Format(name="pdf", suffixes=(".pdf",), read=read_pdf, magic=(b"%PDF-",),
                # the PDF standard allows junk before the header
                magic_within=1024, damaged="damaged PDF (it does not start with %PDF-)")
