"""Reading one file of a supported format into plain text plus what the file says about itself.

Owns the step ``bytes on disk -> Extracted`` for each format: plain text (UTF-8, then
UTF-16 and other encodings by detection), HTML (main text by trafilatura), PDF (pypdf;
page offsets, running headers and footers removed, hyphenated line ends re-joined,
OCR by Tesseract for pages that are only images) and Word .docx (python-docx).
A file that cannot be read raises :class:`SkipFile` with a one-line reason that says
what to do. Each reader works within a :class:`~assistant.ingest.budgets.Budget`: what a file
would inflate to or parse is checked before it is (see :mod:`assistant.ingest.budgets`). The
extracted text is what the index quotes from: every passage is a slice of it.
"""

from __future__ import annotations

import datetime
import re
import shutil
import statistics
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from assistant.ingest.budgets import Budget, check_html, check_text, check_zip, pdf_limits
from assistant.ingest.tables import TableSpan
from assistant.errors import SkipFile
from assistant.ingest import pdf_tables, pdf_title  # [pdf-tables]

TEXT_SUFFIXES = (".txt", ".md", ".text")
HTML_SUFFIXES = (".html", ".htm")
SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + (".pdf", ".docx")

_MAGIC = (  # what a file really is, from its first bytes
    (b"%PDF-", "pdf"),
    (b"PK\x03\x04", "zip"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\xd0\xcf\x11\xe0", "an old Word/Office file (.doc); save it as .docx or PDF"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"{\\rtf", "an RTF file; save it as .docx or PDF"),
)
_TERMINAL = re.compile(r"[.!?:;…\"”’')\]]$")
_PAGE_NUMBER = re.compile(r"^[\W_]*(page|p\.|seite|página)?\s*\d{1,4}(\s*(of|/|de)\s*\d{1,4})?[\W_]*$", re.I)
# A stretch this long with no line break and no sentence end cannot be cut into passages
# (no word is this long): a file holding one is refused rather than indexed as nothing.
MAX_RUN = 100_000
MOSTLY_UTF8 = 3  # valid non-ASCII UTF-8 characters for each bad byte sequence, at least
SHORT_TEXT = 4096  # bytes: below this, encoding detection cannot tell Western single-byte encodings apart
# Page content of real PDFs inflates a few times over (text, drawings); a file whose pages
# inflate to more than PDF_RATIO times its size (and over PDF_RATIO_FROM bytes) is a bomb.
PDF_RATIO = 20
PDF_RATIO_FROM = 8 * 2**20
TESSERACT_HINT = "install Tesseract for OCR (apt-get install tesseract-ocr, or make ocr) and build again"


@dataclass(frozen=True)
class Extracted:
    """A file's text as the index will quote it, and the metadata the file carries."""

    text: str
    title: str = ""
    organization: str = ""
    date: str = ""
    pages: tuple[int, ...] = ()  # offset in ``text`` where each page starts (page n at index n-1)
    ocr_pages: tuple[int, ...] = ()  # page numbers whose text came from OCR
    tables: tuple[TableSpan, ...] = ()  # tables found in the text (PDF: assistant.ingest.pdf_tables)


def read_file(path: Path, raw: bytes, *, budget: Budget = Budget()) -> Extracted:
    """Dispatch on what the file is (its first bytes), not only on its name.

    Raises:
        SkipFile: the file is of no supported format, damaged, encrypted, empty, over
            the memory budget, ...
    """
    suffix = path.suffix.lower()
    kind = sniff(raw)
    if kind == "pdf":
        return read_pdf(path, raw, budget=budget)
    if kind == "zip":
        if suffix == ".docx" or b"word/document.xml" in raw[:65536] or b"word/" in raw[-65536:]:
            return read_docx(path, raw, budget=budget)
        raise SkipFile("a ZIP archive, not a document: unpack it into the corpus folder")
    if kind:
        raise SkipFile(f"binary file, not a document: it is {kind}")
    if suffix == ".pdf":
        raise SkipFile("damaged PDF (it does not start with %PDF-)")
    if suffix == ".docx":
        raise SkipFile("damaged Word file (not a .docx package)")
    text = decode_text(raw)
    if suffix in HTML_SUFFIXES or re.match(r"\s*(<!doctype html|<html[\s>])", text[:1000], re.I):
        check_html(text, budget=budget)
        return read_html(text)
    check_runs(text)
    return Extracted(text)


def check_runs(text: str) -> None:
    """Refuse text with a stretch of MAX_RUN characters without a line break or sentence end.

    Raises:
        SkipFile: such a stretch was found.
    """
    start = 0
    for m in re.finditer(r"[\n.!?。！？।؟]", text):
        if m.start() - start > MAX_RUN:
            break
        start = m.end()
    else:
        if len(text) - start <= MAX_RUN:
            return
    raise SkipFile(f"a run of over {MAX_RUN:,} characters with no line break or sentence end (at character "
                   f"{start:,}): not text that can be cut into passages")


def sniff(raw: bytes) -> str:
    """The format the first bytes show ("pdf", "zip" or a description), or "" for text."""
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            return kind
    if b"%PDF-" in raw[:1024]:  # the PDF standard allows junk before the header
        return "pdf"
    return ""


# --- text ------------------------------------------------------------------------


def decode_text(raw: bytes) -> str:
    """UTF-8; else UTF-16 (by its byte-order mark or its zero bytes); else the encoding
    charset-normalizer is confident of.

    Raises:
        SkipFile: binary, or an encoding that cannot be told with confidence.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise SkipFile("damaged UTF-16 text (it has a byte-order mark but does not decode)") from None
    head = raw[:8192]
    if b"\0" in head:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if max(even, odd) > len(head) // 4 and min(even, odd) < len(head) // 50:  # text in UTF-16 without a mark
            try:
                return raw.decode("utf-16-le" if odd > even else "utf-16-be")
            except UnicodeDecodeError:
                pass
        raise SkipFile("binary file, not text (it contains NUL bytes)")
    try:
        return raw.decode("utf-8")  # a byte-order mark stays: offsets are into the decoded text
    except UnicodeDecodeError as e:
        bad = e.start
    mostly = _mostly_utf8(raw)
    if mostly is not None:
        return mostly
    from charset_normalizer import from_bytes

    results = from_bytes(raw)
    best = results.best()
    if best is not None and best.chaos <= 0.1 and best.encoding not in ("utf_8", "ascii"):
        text = str(best)
        if _looks_like_text(text):
            tied = any(m.encoding in _WESTERN and m.chaos <= best.chaos for m in results)
            if best.encoding not in _WESTERN and (tied or len(raw) <= SHORT_TEXT) and _latin(text):
                western = _western(raw)
                if western is not None:
                    return western
            return text
    raise SkipFile(
        f"not UTF-8 (bad byte at offset {bad}) and its encoding cannot be told with confidence; "
        f"convert it to UTF-8, e.g. iconv -f WINDOWS-1252 -t UTF-8 FILE > FILE.utf8.txt"
    )


def _mostly_utf8(raw: bytes) -> str | None:
    """The text as UTF-8 with its few bad bytes shown as U+FFFD, when it is mostly UTF-8:
    at least MOSTLY_UTF8 valid non-ASCII characters for each bad sequence. None otherwise."""
    text = raw.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - raw.count("\ufffd".encode())
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore")) - bad
    return text if bad > 0 and non_ascii >= MOSTLY_UTF8 * bad else None


_WESTERN = ("cp1252", "latin_1", "iso8859_15")
# What Windows-1252 text in a Western European language holds beyond ASCII.
_WESTERN_CHARS = set("ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿŒœŠšŽžŸßÐðÞþ"
                     "«»‘’‚“”„–—…€°·©®™§•£½¼¾¢¥µªº\u00a0")


def _western(raw: bytes) -> str | None:
    """``raw`` as Windows-1252 when that reads as a Western European language: only letters
    and punctuation those use (``¿``/``¡`` only where a word starts)."""
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        return None
    for i, ch in enumerate(text):
        if ch.isascii() or ch in _WESTERN_CHARS:
            continue
        if ch in "¿¡" and (i == 0 or not text[i - 1].isalnum()):
            continue
        return None
    return text


def _latin(text: str) -> bool:
    import unicodedata

    return all(unicodedata.name(ch, "").startswith("LATIN") for ch in set(text) if ch.isalpha() and not ch.isascii())


def _looks_like_text(text: str) -> bool:
    if not text:
        return False
    ok = sum(ch.isprintable() or ch in "\n\r\t" for ch in text)
    letters = sum(ch.isalpha() for ch in text)
    return ok / len(text) > 0.98 and letters / len(text) > 0.4


# --- HTML ------------------------------------------------------------------------


def read_html(html: str) -> Extracted:
    """The page's main text (trafilatura): headings on their own lines, paragraphs,
    list items and table rows, without navigation, menus, footers, scripts and styles."""
    import copy

    import trafilatura
    from lxml import etree
    from trafilatura.settings import DEFAULT_CONFIG

    config = copy.deepcopy(DEFAULT_CONFIG)
    # a short page (a one-paragraph note) is still a document: no minimum size
    config["DEFAULT"]["MIN_EXTRACTED_SIZE"] = config["DEFAULT"]["MIN_OUTPUT_SIZE"] = "1"
    args = dict(
        output_format="xml", include_tables=True, include_comments=False, with_metadata=True, config=config,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    xml = trafilatura.extract(html, **args) or trafilatura.extract(html, favor_recall=True, **args)
    if not xml:
        raise SkipFile("no main text found in this web page")
    root = etree.fromstring(xml.encode("utf-8"))
    blocks: list[str] = []
    main = root.find("main")
    for el in main if main is not None else ():
        if el.tag == "list":
            items = [_flat(i) for i in el.iter("item")]
            blocks.append("\n".join(f"• {t}" for t in items if t))
        elif el.tag == "table":
            rows = [" | ".join(c for c in (_flat(cell) for cell in row.iter("cell")) if c) for row in el.iter("row")]
            blocks.append("\n".join(r for r in rows if r))
        else:
            blocks.append(_flat(el))
    text = "\n\n".join(b for b in blocks if b) + "\n"
    if not text.strip():
        raise SkipFile("no main text found in this web page")
    date = root.get("date") or ""
    return Extracted(
        text,
        title=root.get("title") or "",
        organization=root.get("sitename") or root.get("author") or "",
        date=date if re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", date) else "",
    )


def _flat(el) -> str:
    return " ".join("".join(el.itertext()).split())


# --- PDF -------------------------------------------------------------------------


def read_pdf(path: Path, raw: bytes, *, budget: Budget = Budget()) -> Extracted:
    """Text page by page (pypdf's layout mode keeps paragraph gaps as blank lines);
    pages with no text layer are read by Tesseract when it is installed.

    What pypdf decodes is bounded by the budget: each stream, the pages' content
    streams together, the number of pages and the text extracted."""
    with pdf_limits(budget):
        got = _read_pdf(raw, budget=budget)
    first = len(got.text[: got.pages[1]] if len(got.pages) > 1 else got.text)  # [pdf-tables] title when metadata has none
    return replace(got, title=pdf_title.pdf_title(got.title, raw, path, first_page_chars=first))


def _read_pdf(raw: bytes, *, budget: Budget) -> Extracted:
    import io
    import logging

    import pypdf
    from pypdf.errors import LimitReachedError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings on odd files are not the user's business
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
        tables = pdf_tables.PageTables(raw)  # [pdf-tables] pages with tables are laid out around them
        chars = 0
        for n, page in enumerate(reader.pages, 1):
            text = page.extract_text(extraction_mode="layout") or ""
            text = tables.page_text(n, text)  # [pdf-tables]
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
        title = _clean_title(str(meta.get("/Title") or ""))
        author = str(meta.get("/Author") or "").strip()
        author = author if pdf_title.usable_name(author) else ""  # [pdf-tables] not "(anonymous)"
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
    if scanned and len(scanned) == len(pages_lines):
        raise SkipFile(f"scanned PDF with no text layer ({len(scanned)} pages of images): {TESSERACT_HINT}")
    if scanned:  # indexing only the text pages would drop the scanned ones without a word
        listed = ", ".join(map(str, scanned[:5])) + (", ..." if len(scanned) > 5 else "")
        raise SkipFile(
            f"{len(scanned)} of {len(pages_lines)} pages are scanned images with no text layer (p. {listed}); "
            f"{TESSERACT_HINT}"
        )
    text, pages = _join_pages(_drop_running_lines(pages_lines))
    text, pages, found = tables.put_in(text, pages)  # [pdf-tables] each table's rows where its mark is
    if not text.strip():
        raise SkipFile("PDF with no text")
    date = created.date().isoformat() if isinstance(created, datetime.datetime) else ""
    return Extracted(text, title=title, organization=author, date=date, pages=pages, ocr_pages=tuple(ocr),
                     tables=found)  # [pdf-tables]


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


def _clean_title(title: str) -> str:
    title = " ".join(title.split())
    # placeholders that word processors write: "Microsoft Word - report.docx", "untitled"
    if re.match(r"(microsoft \w+ - |untitled\b)", title, re.I) or re.search(r"\.\w{2,4}$", title):
        return ""
    return title


def _drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Remove page numbers and the lines that repeat at the top or bottom of most pages
    (running headers and footers), digits counted as one: "Page 3 of 9" == "Page 4 of 9"."""
    def key(line: str) -> str:
        return re.sub(r"\d+", "#", line.lower())

    edge = 3  # lines from the top and from the bottom of a page that can be running lines
    counts: Counter[str] = Counter()
    for lines in pages:
        body = [x for x in lines if x]
        counts.update({key(x) for x in body[:edge] + body[-edge:]})
    need = max(2, -(-len(pages) * 6 // 10))  # on 60% of the pages, and at least two
    running = {k for k, c in counts.items() if c >= need} if len(pages) >= 2 else set()
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


# --- Word ------------------------------------------------------------------------


def read_docx(path: Path, raw: bytes, *, budget: Budget = Budget()) -> Extracted:
    """Paragraphs, headings (own lines: they become sections), list items and table rows.

    The package is checked against the budget (declared and real inflated sizes)
    before python-docx opens it."""
    import io

    import docx
    from docx.table import Table

    check_zip(raw, budget=budget)
    try:
        d = docx.Document(io.BytesIO(raw))
        blocks: list[str] = []
        run: list[str] = []  # consecutive list items or table rows, kept as one block of lines

        def flush() -> None:
            if run:
                blocks.append("\n".join(run))
                run.clear()

        for item in d.iter_inner_content():
            if isinstance(item, Table):
                flush()
                for row in item.rows:
                    cells: list[str] = []
                    for cell in row.cells:
                        t = " ".join(cell.text.split())
                        if t and (not cells or cells[-1] != t):  # merged cells repeat their text
                            cells.append(t)
                    if cells:
                        run.append(" | ".join(cells))
                flush()
                continue
            t = " ".join(item.text.split())
            if not t:
                continue
            style = (item.style.name if item.style is not None else "") or ""
            numbered = item._p.pPr is not None and item._p.pPr.numPr is not None
            if style.startswith("List") or numbered:
                run.append(f"• {t}")
            else:
                flush()
                blocks.append(t)
        flush()
        check_text(sum(map(len, blocks)), budget=budget, what="the Word file")
        cp = d.core_properties
        author = (cp.author or "").strip()
        created = cp.created
    except SkipFile:
        raise
    except Exception as e:  # python-docx/lxml/zipfile errors on a damaged package
        raise SkipFile(f"damaged Word file ({type(e).__name__}: {str(e)[:120]})") from None
    text = "\n\n".join(blocks) + "\n" if blocks else ""
    if not text.strip():
        raise SkipFile("Word file with no text")
    return Extracted(
        text,
        title=(cp.title or "").strip(),
        organization="" if author == "python-docx" else author,  # python-docx's template placeholder
        date=created.date().isoformat() if isinstance(created, datetime.datetime) and author != "python-docx" else "",
    )
