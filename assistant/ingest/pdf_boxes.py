"""Where a quote sits on its PDF page(s): rectangles in PDF user space, and the page drawn with them.

Owns the arrow ``quote + PDF file -> rectangles on its pages`` (pypdfium2's text layer
and character boxes) and ``page -> PNG with the rectangles marked``. The quoted text is
pypdf's extraction (lines joined, words split at line ends rejoined, running headers
dropped), so it is matched to pdfium's characters by their letters and digits only,
in order, piece by piece (a quote that crosses a page break skips the running header
between its two parts).

A page with no text layer was read by OCR at build time (:mod:`assistant.ingest.formats.pdf`):
its images are read again the same way, with Tesseract's word boxes
(``pytesseract.image_to_data``), and each box is carried from the image's pixels onto the
page by the matrix that places the image (pypdfium2). An image inside a form XObject,
or whose placement cannot be told, gives its words no rectangles.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from functools import lru_cache

MIN_RUN = 4  # matched runs shorter than this (in letters and digits) are coincidences
ANCHOR_TRIES = 8  # places where a piece may start that are compared, the one agreeing longest taken
ANCHOR = 12  # letters that must agree where a piece of the quote is taken to start
LINE_TOLERANCE = 2.0  # points: boxes whose middles differ by less are on one line

Box = tuple[float, float, float, float]  # left, bottom, right, top
NO_BOX: Box = (0.0, 0.0, 0.0, 0.0)  # a letter of the text with no known place (left out by _merge)


@dataclass(frozen=True)
class Rect:
    """A rectangle on a page in PDF user space (points, origin bottom left)."""

    page: int  # 1-based
    x0: float
    y0: float
    x1: float
    y1: float


def quote_rects(path: str, quote: str, first_page: int, last_page: int = 0) -> tuple[Rect, ...]:
    """The rectangles (one per line part) that the quote's characters occupy.

    Args:
        path: the PDF file.
        quote: the quoted text (as extracted at build time).
        first_page, last_page: the pages it is on (1-based; last 0 = first).

    Returns () when the file cannot be read or no part of the quote is found.
    """
    last_page = max(first_page, last_page)
    if first_page < 1:
        return ()
    key = _letters(quote)
    if not key:
        return ()
    chars: list[tuple[int, int]] = []  # (page, char index) of each letter of the pages' text
    letters: list[str] = []
    boxes: dict[int, list[Box]] = {}
    try:
        for n in range(first_page, last_page + 1):
            text, page_boxes = _page_chars(path, n, os.stat(path).st_mtime_ns)
            boxes[n] = page_boxes
            for i, ch in enumerate(text):
                if ch.isalnum():
                    letters.append(ch.lower())
                    chars.append((n, i))
    except Exception:  # a damaged or missing file, or pdfium missing: no rectangles, never an error
        return ()
    hits = [chars[i] for i in _match(key, "".join(letters))]
    if len(hits) < len(key) // 2:  # too little of the quote on these pages: not its place
        return ()
    return _merge([(n, boxes[n][i]) for n, i in hits if i < len(boxes[n])])


def _match(key: str, hay: str) -> list[int]:
    """Positions in ``hay`` of ``key``'s letters, matched in order: each piece starts at the
    first place after the previous piece where the next ANCHOR letters occur, and runs as long
    as the two agree (so text between pieces, such as a running header, is skipped)."""
    out: list[int] = []
    pos = done = 0
    while done < len(key):
        anchor = min(ANCHOR, len(key) - done)
        at, n = _longest_run(key, done, hay, pos, anchor) if anchor >= MIN_RUN else (-1, 0)
        if at < 0:
            done += 1  # a letter the page does not have here: skip it
            continue
        out.extend(range(at, at + n))
        pos, done = at + n, done + n
    return out


def _letters(text: str) -> str:
    return "".join(ch.lower() for ch in text if ch.isalnum())


def _longest_run(key: str, done: int, hay: str, pos: int, anchor: int) -> tuple[int, int]:
    """Where in ``hay`` (from ``pos``) the rest of ``key`` (from ``done``) agrees longest,
    among the first ANCHOR_TRIES places its next ``anchor`` letters occur, and for how
    many letters: (-1, 0) when they occur nowhere. The first place is not always the
    right one: a table's header row ("Province 2015 2016") also opens a title above it
    ("... by province, 2015-2019")."""
    best_at, best_n = -1, 0
    at = hay.find(key[done : done + anchor], pos)
    for _ in range(ANCHOR_TRIES):
        if at < 0:
            break
        n = anchor
        while done + n < len(key) and at + n < len(hay) and hay[at + n] == key[done + n]:
            n += 1
        if n > best_n:
            best_at, best_n = at, n
        if done + n >= len(key):
            break
        at = hay.find(key[done : done + anchor], at + 1)
    return best_at, best_n


@lru_cache(maxsize=64)
def _page_chars(path: str, page: int, mtime_ns: int) -> tuple[str, list[Box]]:
    """A page's text as pdfium reads it and each character's box (left, bottom, right, top);
    a page without letters in its text layer, as the build read it, by OCR (:func:`_ocr_chars`).
    ``mtime_ns`` keys the cache, so a file written again is read again."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    try:
        textpage = pdf[page - 1].get_textpage()
        n = textpage.count_chars()
        text = textpage.get_text_range(0, n)
        if len(text) != n:  # generated characters: read one by one so indexes match the boxes
            text = "".join((textpage.get_text_range(i, 1) or " ")[:1] for i in range(n))
        if not any(ch.isalnum() for ch in text):
            return _ocr_chars(path, page, pdf)
        return text, [textpage.get_charbox(i, loose=True) for i in range(n)]  # loose: the line's height
    finally:
        pdf.close()


def _ocr_chars(path: str, page: int, pdf) -> tuple[str, list[Box]]:
    """A scanned page's text as the build's OCR read it (each of pypdf's images of the page,
    in its order, by Tesseract) and each character's box in PDF user space.

    A word's box is Tesseract's (as high as its line, so that a line's words make one
    rectangle), in the image's pixels, carried onto the page by the matrix that places
    the image; its characters share its width evenly."""
    import pypdf
    import pytesseract

    placements = _image_placements(pdf, page)
    text: list[str] = []
    boxes: list[Box] = []
    for img in pypdf.PdfReader(path).pages[page - 1].images:
        image = img.image
        queue = placements.get(image.size)
        place = queue.pop(0) if queue else None
        data = pytesseract.image_to_data(image, output_type=pytesseract.Output.DICT)
        rows = list(zip(data["level"], data["block_num"], data["par_num"], data["line_num"], data["text"],
                        data["left"], data["top"], data["width"], data["height"]))
        lines = {(b, p, ln): (top, height) for level, b, p, ln, _, _, top, _, height in rows if level == 4}
        for level, b, p, ln, word, left, top, width, height in rows:
            word = word.strip()
            if level != 5 or not word:
                continue
            top, height = lines.get((b, p, ln), (top, height))
            box = _to_page(place, image.size, left, top, width, height) if place is not None else NO_BOX
            step = (box[2] - box[0]) / len(word)
            for i in range(len(word)):
                boxes.append(NO_BOX if place is None else (box[0] + i * step, box[1], box[0] + (i + 1) * step, box[3]))
            text.append(word + " ")
            boxes.append(NO_BOX)
    return "".join(text), boxes


def _image_placements(pdf, page: int) -> dict[tuple[int, int], list]:
    """The page's own images (not those inside forms), by their size in pixels: the matrix
    that maps each one's unit square onto the page, in drawing order."""
    import pypdfium2.raw as pdfium_c

    out: dict[tuple[int, int], list] = {}
    for obj in pdf[page - 1].get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=0):
        out.setdefault(tuple(obj.get_px_size()), []).append(obj.get_matrix())
    return out


def _to_page(matrix, size: tuple[int, int], left: int, top: int, width: int, height: int) -> Box:
    """A box in an image's pixels (origin top left) as a box on the page (origin bottom left):
    the image's unit square is placed by ``matrix``."""
    w, h = size
    corners = [matrix.on_point(x / w, 1 - y / h) for x in (left, left + width) for y in (top, top + height)]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return (min(xs), min(ys), max(xs), max(ys))


def _merge(boxes: list[tuple[int, Box]]) -> tuple[Rect, ...]:
    """Consecutive character boxes on one line become one rectangle."""
    out: list[Rect] = []
    for page, (x0, y0, x1, y1) in boxes:
        if x1 <= x0 or y1 <= y0:
            continue
        last = out[-1] if out else None
        if (last and last.page == page and abs((last.y0 + last.y1) - (y0 + y1)) / 2 < LINE_TOLERANCE
                and x0 >= last.x0 - 1):
            out[-1] = Rect(page, last.x0, min(last.y0, y0), max(last.x1, x1), max(last.y1, y1))
        else:
            out.append(Rect(page, x0, y0, x1, y1))
    return tuple(Rect(r.page, round(r.x0, 2), round(r.y0, 2), round(r.x1, 2), round(r.y1, 2)) for r in out)


INK = 200  # a pixel darker than this (0-255 grey) is drawn ink
MIN_INK = 0.01  # a rectangle with less of its area in ink shows nothing: its text is not drawn


def page_png(path: str, page: int, rects: tuple[Rect, ...] = (), *, width: int = 900) -> bytes:
    """The page rendered at ``width`` pixels, the rectangles on it marked, as PNG bytes.

    Raises:
        OSError: the file cannot be read; ValueError: no such page.
    """
    return render_page(path, page, rects, width=width).png


@dataclass(frozen=True)
class Rendered:
    """A page drawn with a quote's rectangles marked, and whether the quote's text shows on it."""

    png: bytes
    drawn: bool  # False when the rectangles on this page hold (almost) no ink: the text layer says
    # what the page does not show (invisible or white text, text under an image)


def render_page(path: str, page: int, rects: tuple[Rect, ...] = (), *, width: int = 900) -> Rendered:
    """The page rendered at ``width`` pixels with the rectangles marked, and whether the
    rectangles hold ink as drawn (the text layer and the drawing agree there).

    Raises:
        OSError: the file cannot be read; ValueError: no such page.
    """
    import pypdfium2 as pdfium
    from PIL import ImageDraw

    pdf = pdfium.PdfDocument(path)
    try:
        if not 1 <= page <= len(pdf):
            raise ValueError(f"{path} has no page {page}")
        p = pdf[page - 1]
        w, h = p.get_size()
        scale = width / w
        image = p.render(scale=scale).to_pil().convert("RGB")
    finally:
        pdf.close()
    # PDF y runs up from the bottom; the image's down from the top
    boxes = [(r.x0 * scale, (h - r.y1) * scale, r.x1 * scale, (h - r.y0) * scale) for r in rects if r.page == page]
    drawn = _inked(image, boxes) if boxes else True
    overlay = ImageDraw.Draw(image, "RGBA")  # RGBA drawing on an RGB image blends the fill
    for x0, y0, x1, y1 in boxes:
        overlay.rectangle((x0 - 1, y0 - 1, x1 + 1, y1 + 1), fill=(255, 200, 0, 90), outline=(230, 120, 0, 255), width=1)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return Rendered(buf.getvalue(), drawn)


def _inked(image, boxes: list[tuple[float, float, float, float]]) -> bool:
    """Whether at least MIN_INK of the boxes' area is ink on the rendered page."""
    grey = image.convert("L")
    ink = area = 0
    for x0, y0, x1, y1 in boxes:
        crop = grey.crop((int(x0), int(y0), max(int(x0) + 1, int(x1)), max(int(y0) + 1, int(y1))))
        histogram = crop.histogram()
        ink += sum(histogram[:INK])
        area += crop.width * crop.height
    return area > 0 and ink >= MIN_INK * area
