"""The quote on its PDF page: rectangles (PDF user space) that cover the quote's characters and no others.

Each PDF is written here (reportlab): one column, two columns, and a paragraph that
runs over a page break under a running header. The check is independent of the code
under test: every letter of the quote, as pdfium places it, must lie inside a
rectangle, and the letters of the paragraphs around it must not.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from assistant.answer.json_format import to_json
from assistant.ingest.corpus import passages_of, read_document
from assistant.ingest.pdf_boxes import Rect, page_png, quote_rects
from assistant.pipeline.service import Assistant
from assistant.pipeline.build import build_index
from docgen import make_pdf, make_two_column_pdf


FILLER = ("detention tribunal famine refugees border villages prisoners soldiers harvest testimony witnesses "
          "commission interrogation sentences labour rations hospital families factories markets authorities").split()


def para(n: int, words: int = 40) -> str:
    """Words ``q<n>w<i>`` (every fifth) among ordinary ones, varied so that no two lines look alike
    (the PDF reader drops lines repeated on every page as running headers)."""
    return " ".join(f"q{n}w{i}" if i % 5 == 0 else FILLER[(n * 7 + i * 3 + i // 5) % len(FILLER)]
                    for i in range(words)) + f" q{n}end."


def marker_centres(path: Path, marker: str) -> list[tuple[int, float, float]]:
    """(page, x, y) of the centre of every character of each occurrence of ``marker`` (a whole word)."""
    out = []
    pdf = pdfium.PdfDocument(str(path))
    for n in range(len(pdf)):
        tp = pdf[n].get_textpage()
        text = tp.get_text_range(0, tp.count_chars())
        for m in re.finditer(rf"(?<!\w){re.escape(marker)}(?!\w)", text):
            for i in range(m.start(), m.end()):
                x0, y0, x1, y1 = tp.get_charbox(i)
                out.append((n + 1, (x0 + x1) / 2, (y0 + y1) / 2))
    pdf.close()
    return out


def inside(point: tuple[int, float, float], rects: tuple[Rect, ...]) -> bool:
    page, x, y = point
    return any(r.page == page and r.x0 <= x <= r.x1 and r.y0 <= y <= r.y1 for r in rects)


def check_covers(path: Path, quote: str, rects: tuple[Rect, ...], others: list[str]) -> None:
    words = re.findall(r"q\d+w\d+|q\d+end", quote)
    assert words, "the quote holds markers"
    for w in words:
        centres = marker_centres(path, w)
        assert centres and all(inside(c, rects) for c in centres), f"{w} not covered"
    for w in others:
        assert not any(inside(c, rects) for c in marker_centres(path, w)), f"{w} covered but not quoted"


def test_one_column_quote_is_covered_and_its_neighbours_are_not(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "one.pdf", [("Findings", [para(n) for n in range(6)])], title="One", header="Report")
    doc = read_document(path, root=tmp_path, metadata={})
    ps = passages_of(doc)
    target = next(p for p in ps if "q3w0" in p.text)
    rects = quote_rects(doc.path, target.text, target.page, target.last_page)
    assert rects and all(r.page == target.page for r in rects)
    check_covers(path, target.text, rects, ["q2w0", "q2end", "q4w0"])


def test_two_column_quote_is_covered_in_its_column(tmp_path: Path) -> None:
    left = " ".join(para(n, 30) for n in (1, 2))
    right = " ".join(para(n, 30) for n in (7, 8))
    path = make_two_column_pdf(tmp_path / "two.pdf", "Two columns", left, right)
    doc = read_document(path, root=tmp_path, metadata={})
    target = next(p for p in passages_of(doc) if "q7w0" in p.text)
    rects = quote_rects(doc.path, target.text, target.page, target.last_page)
    assert rects
    words = re.findall(r"q\d+w\d+|q\d+end", target.text)
    check_covers(path, target.text, rects, [w for w in ("q1w0", "q2w5", "q1end") if w not in words])
    assert all(r.x0 > 595.27 / 2 for r in rects), "only the right column is marked"


def test_a_quote_crossing_a_page_break_is_covered_on_both_pages(tmp_path: Path) -> None:
    long = [para(n, 60) for n in range(9)] + [para(50, 400)] + [para(60, 30)]
    path = make_pdf(tmp_path / "long.pdf", [("Findings", long)], title="Long", header="Running header 2019")
    doc = read_document(path, root=tmp_path, metadata={})
    crossing = [p for p in passages_of(doc) if p.last_page > p.page]
    assert crossing, "a passage runs over a page break"
    target = crossing[0]
    rects = quote_rects(doc.path, target.text, target.page, target.last_page)
    assert {r.page for r in rects} == {target.page, target.last_page}
    check_covers(path, target.text, rects, ["q60w0", "Running"])


def test_no_rectangles_for_a_missing_file_or_a_quote_not_on_the_page(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "one.pdf", [("Findings", [para(n) for n in range(3)])], title="One")
    assert quote_rects(str(tmp_path / "gone.pdf"), "anything at all", 1) == ()
    assert quote_rects(str(path), "Entirely different words that are not printed anywhere here", 1) == ()
    assert quote_rects(str(path), para(1), 0) == ()


def test_the_page_image_marks_the_rectangles(tmp_path: Path) -> None:
    from PIL import Image
    import io

    path = make_pdf(tmp_path / "one.pdf", [("Findings", [para(n) for n in range(6)])], title="One")
    doc = read_document(path, root=tmp_path, metadata={})
    target = next(p for p in passages_of(doc) if "q3w0" in p.text)
    rects = quote_rects(doc.path, target.text, target.page)
    plain = Image.open(io.BytesIO(page_png(doc.path, target.page, (), width=600))).convert("RGB")
    marked = Image.open(io.BytesIO(page_png(doc.path, target.page, rects, width=600))).convert("RGB")
    scale = 600 / 595.2755
    h = 841.8898
    r = rects[0]
    x, y = int((r.x0 + r.x1) / 2 * scale), int((h - (r.y0 + r.y1) / 2) * scale)
    assert plain.getpixel((x, y)) != marked.getpixel((x, y))  # marked inside the rectangle
    assert plain.getpixel((5, 5)) == marked.getpixel((5, 5))  # and not elsewhere


def test_pdf_quotes_carry_their_rectangles_in_json_and_the_sources_panel_shows_the_page(tmp_path, tiny_encoder):
    from assistant.web.chat import Chat

    root = tmp_path / "reports"
    root.mkdir()
    make_pdf(root / "annual.pdf", [("Findings", [para(n) for n in range(6)])], title="Annual")
    build_index(root, encoder=tiny_encoder, out_dir=tmp_path / "index")
    assistant = Assistant.open(tmp_path / "index", encoder=tiny_encoder)
    answer = assistant.ask("q3w5 q3w10 q3w15", k=2)
    hit = to_json(answer)["hits"][0]
    rects = hit["provenance"]["rects"]
    assert rects and {"page", "x0", "y0", "x1", "y1"} <= set(rects[0])
    json.dumps(hit)
    if "q3w5" in hit["text"]:
        check_covers(root / "annual.pdf", hit["text"], tuple(Rect(**r) for r in rects), [])
    html = Chat(assistant).source_html(hit["passage_id"])
    assert '<figure class="src-page" data-page="1"><img src="data:image/png;base64,' in html


# --- pages read by OCR: Tesseract's word boxes, placed on the page ---------------------------

OCR_LINES = ["The prisoners were moved to the camp", "at night in closed trucks, the witness",
             "said, and the guards kept no register", "of the names of those who arrived."]
LINE_PX, FIRST_PX, LEFT_PX, FONT_PX = 80, 150, 150, 40  # where make_placed_scan draws each line


def make_placed_scan(path: Path, *, x: float, y: float, width: float) -> tuple[Path, float]:
    """A page that is only an image of OCR_LINES, drawn at (x, y) points, ``width`` points wide
    (not filling the page, so that a box must be carried by the image's matrix). Returns
    the path and points per image pixel."""
    from PIL import Image, ImageDraw, ImageFont
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    from docgen import _vera

    img = Image.new("L", (1700, 1000), 255)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(OCR_LINES):
        draw.text((LEFT_PX, FIRST_PX + i * LINE_PX), line, font=ImageFont.truetype(_vera(), FONT_PX), fill=0)
    scale = width / img.width
    c = canvas.Canvas(str(path), pagesize=(612, 792))
    c.drawImage(ImageReader(img), x, y, width=width, height=img.height * scale)
    c.showPage()
    c.save()
    return path, scale


def line_middle(i: int, *, y: float, scale: float, height_px: int = 1000) -> float:
    """The PDF y of the middle of OCR_LINES[i] as drawn in the image placed at ``y``."""
    return y + (height_px - (FIRST_PX + i * LINE_PX + FONT_PX * 0.6)) * scale


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="Tesseract is not installed (apt-get install tesseract-ocr)")
def test_a_quote_on_a_page_read_by_ocr_gets_its_words_boxes_on_the_page(tmp_path: Path) -> None:
    x, y, width = 60.0, 300.0, 480.0
    path, scale = make_placed_scan(tmp_path / "scan.pdf", x=x, y=y, width=width)
    doc = read_document(path, root=tmp_path, metadata={})
    assert doc.ocr_pages == (1,) and "tesseract" in doc.extractor
    (p,) = passages_of(doc)
    assert p.ocr
    # the quote is the second and third lines as the build's OCR read them
    start = doc.text.index("at night")
    end = doc.text.index("register") + len("register")
    rects = quote_rects(doc.path, doc.text[start:end], p.page, p.last_page)
    assert len(rects) == 2 and {r.page for r in rects} == {1}
    for r, i in zip(sorted(rects, key=lambda r: -r.y1), (1, 2)):
        assert r.y0 < line_middle(i, y=y, scale=scale) < r.y1  # on its line ...
        for other in (0, 3):
            assert not r.y0 < line_middle(other, y=y, scale=scale) < r.y1  # ... and on no other
        assert abs(r.x0 - (x + LEFT_PX * scale)) < 6  # starts where the line starts in the image, placed
        assert x < r.x1 < x + width
    # the same rectangles reach the answer's provenance and the Sources panel's page
    png = page_png(doc.path, 1, rects, width=600)
    assert png.startswith(b"\x89PNG")


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="Tesseract is not installed (apt-get install tesseract-ocr)")
def test_ocr_quotes_carry_rectangles_in_their_provenance(tmp_path, tiny_encoder):
    root = tmp_path / "scans"
    root.mkdir()
    make_placed_scan(root / "scan.pdf", x=60.0, y=300.0, width=480.0)
    build_index(root, encoder=tiny_encoder, out_dir=tmp_path / "index")
    assistant = Assistant.open(tmp_path / "index", encoder=tiny_encoder)
    hit = to_json(assistant.ask("prisoners moved to the camp at night", k=1))["hits"][0]
    assert hit["provenance"]["ocr"] is True and "tesseract" in hit["provenance"]["extractor"]
    rects = hit["provenance"]["rects"]
    assert len(rects) == len(OCR_LINES) and all(60 <= r["x0"] < r["x1"] <= 540 for r in rects)


# --- a PDF whose text layer and drawing disagree ------------------------------------------------


def make_hidden_text_pdf(path: Path, visible: str, hidden: str) -> Path:
    """A page that draws ``visible`` and holds ``hidden`` in its text layer, not drawn (render mode 3),
    as a doctored or badly OCR'd PDF does."""
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=(612, 792))
    for i, (text, mode) in enumerate(((visible, 0), (hidden, 3))):
        t = c.beginText(72, 700 - i * 200)
        t.setFont("Helvetica", 12)
        t.setTextRenderMode(mode)
        t.textLine(text)
        c.drawText(t)
    c.showPage()
    c.save()
    return path


def test_a_quote_the_page_does_not_draw_is_said_to_be_hidden(tmp_path: Path) -> None:
    from assistant.web.pdf_view import NOT_DRAWN, page_figures

    hidden = "The guards kept a full register of the names of every prisoner who arrived."
    path = make_hidden_text_pdf(tmp_path / "doctored.pdf", "Witnesses said no register of names was kept.", hidden)
    doc = read_document(path, root=tmp_path, metadata={})
    quote = next(p for p in passages_of(doc) if "full register" in p.text)
    shown = next(p for p in passages_of(doc) if "Witnesses" in p.text)
    assert quote_rects(doc.path, quote.text, quote.page)  # the text layer places it ...
    assert html_escape(NOT_DRAWN) in page_figures(doc, quote)  # ... where the page draws nothing
    assert html_escape(NOT_DRAWN) not in page_figures(doc, shown)
    assert '<figure class="src-page"' in page_figures(doc, shown)


def test_a_pdf_whose_text_layer_no_longer_holds_the_quote_says_so(tmp_path: Path) -> None:
    from assistant.web.pdf_view import NOT_PLACED, page_figures

    path = make_pdf(tmp_path / "one.pdf", [("Findings", [para(n) for n in range(3)])], title="One")
    doc = read_document(path, root=tmp_path, metadata={})
    target = next(p for p in passages_of(doc) if "q1w0" in p.text)
    other = "The harbour master kept a ledger of every trawler that left port after the storm season. " * 3
    make_pdf(path, [("Harbour", [other, other.upper()])], title="One")  # the file replaced by another
    figures = page_figures(doc, target)
    assert html_escape(NOT_PLACED) in figures and "<figure" not in figures


def html_escape(text: str) -> str:
    import html

    return html.escape(text)
