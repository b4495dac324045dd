"""Realistic PDF, DOCX and HTML documents written on the spot (tests and the format benchmark).

Nothing is downloaded: PDFs are drawn with reportlab (a running header, a "Page n of m"
footer, hyphenated line ends, headings, a paragraph that runs over a page break), DOCX
files with python-docx, HTML pages as strings with site chrome around the article.
"""

from __future__ import annotations

import datetime
from pathlib import Path

Section = tuple[str, list[str]]  # (heading, paragraphs)

_FONT, _SIZE, _LEADING = "Helvetica", 11, 14
_HEAD_FONT, _HEAD_SIZE = "Helvetica-Bold", 14


def _wrap(text: str, width: float, *, hyphenate: bool) -> list[str]:
    """Break a paragraph into lines that fit ``width``; long words that do not fit are
    hyphenated as typesetters do ("informa-" / "tion")."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    def fits(s: str) -> bool:
        return stringWidth(s, _FONT, _SIZE) <= width

    lines: list[str] = []
    line = ""
    for word in text.split():
        trial = f"{line} {word}" if line else word
        if fits(trial):
            line = trial
            continue
        if hyphenate and len(word) >= 8 and word.isalpha():
            for cut in range(len(word) - 3, 3, -1):
                head = f"{line} {word[:cut]}-" if line else f"{word[:cut]}-"
                if fits(head):
                    lines.append(head)
                    line = word[cut:]
                    break
            else:
                lines.append(line)
                line = word
            continue
        lines.append(line)
        line = word
    if line:
        lines.append(line)
    return lines


def make_pdf(
    path: Path,
    sections: list[Section],
    *,
    title: str = "",
    author: str = "",
    date: datetime.date | None = None,
    header: str = "",
    page_numbers: bool = True,
    hyphenate: bool = True,
) -> Path:
    """A text PDF of A4 pages; returns ``path``."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    w, h = A4
    margin = 72
    c = Canvas(str(path), pagesize=A4, pageCompression=1)
    if title:
        c.setTitle(title)
    if author:
        c.setAuthor(author)
    if date:
        c.setDateFormatter(lambda *_: date.strftime("%Y%m%d000000+00'00'"))
    pages: list[list[tuple[str, str, float]]] = [[]]  # per page: (font, text, y)
    y = h - margin
    for heading, paragraphs in sections:
        if heading:
            if y < margin + 4 * _LEADING:
                pages.append([])
                y = h - margin
            y -= _LEADING
            pages[-1].append((_HEAD_FONT, heading, y))
            y -= _LEADING * 1.5
        for para in paragraphs:
            for line in _wrap(para, w - 2 * margin, hyphenate=hyphenate):
                if y < margin:
                    pages.append([])
                    y = h - margin
                pages[-1].append((_FONT, line, y))
                y -= _LEADING
            y -= _LEADING * 0.8  # paragraph gap
    total = len(pages)
    for n, page in enumerate(pages, 1):
        if header:
            c.setFont(_FONT, 9)
            c.drawString(margin, h - 40, header)
        if page_numbers:
            c.setFont(_FONT, 9)
            c.drawCentredString(w / 2, 30, f"Page {n} of {total}")
        for font, text, y in page:
            c.setFont(font, _HEAD_SIZE if font == _HEAD_FONT else _SIZE)
            c.drawString(margin, y, text)
        c.showPage()
    c.save()
    return path


def make_scanned_pdf(path: Path, lines: list[str]) -> Path:
    """A PDF whose one page is only an image of text (no text layer), as a scanner makes."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(_vera(), 36)
    img = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(img)
    y = 150
    for line in lines:
        draw.text((150, y), line, font=font, fill=0)
        y += 60
    img.save(path, "PDF", resolution=200.0)
    return path


def _vera() -> str:
    import reportlab

    return str(Path(reportlab.__file__).parent / "fonts" / "Vera.ttf")


def make_docx(
    path: Path,
    sections: list[Section],
    *,
    title: str = "",
    author: str = "",
    date: datetime.datetime | None = None,
    bullets: list[str] = (),
    table: list[list[str]] = (),
) -> Path:
    """A Word file: headings, paragraphs, a bulleted list and a table after the first section."""
    import docx

    d = docx.Document()
    d.core_properties.title = title
    d.core_properties.author = author
    if date:
        d.core_properties.created = date
    for i, (heading, paragraphs) in enumerate(sections):
        if heading:
            d.add_heading(heading, level=1)
        for para in paragraphs:
            d.add_paragraph(para)
        if i == 0:
            for item in bullets:
                d.add_paragraph(item, style="List Bullet")
            if table:
                t = d.add_table(rows=len(table), cols=len(table[0]))
                for r, row in enumerate(table):
                    for col, cell in enumerate(row):
                        t.cell(r, col).text = cell
    d.save(str(path))
    return path


def make_html(sections: list[Section], *, title: str, author: str = "", site: str = "", date: str = "") -> str:
    """A saved web page: navigation, a cookie banner, a script and a footer around the article."""
    from html import escape

    body = []
    for heading, paragraphs in sections:
        if heading:
            body.append(f"<h2>{escape(heading)}</h2>")
        body.extend(f"<p>{escape(p)}</p>" for p in paragraphs)
    meta = [f'<meta property="og:title" content="{escape(title)}">']
    if author:
        meta.append(f'<meta name="author" content="{escape(author)}">')
    if site:
        meta.append(f'<meta property="og:site_name" content="{escape(site)}">')
    if date:
        meta.append(f'<meta property="article:published_time" content="{escape(date)}">')
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | {escape(site)}</title>
{chr(10).join(meta)}
<style>body {{ font-family: sans-serif; }} .nav a {{ color: red; }}</style>
<script>window.trackingId = "UA-SCRIPT-MARKER"; function menu() {{ return 1; }}</script>
</head><body>
<header><nav class="nav"><ul><li><a href="/">Home</a></li><li><a href="/about">About us NAVMARKER</a></li>
<li><a href="/donate">Donate now NAVMARKER</a></li><li><a href="/news">News NAVMARKER</a></li></ul></nav></header>
<div class="cookie-banner">We use cookies to improve your experience COOKIEMARKER. <button>Accept</button></div>
<main><article><h1>{escape(title)}</h1>
{chr(10).join(body)}
</article></main>
<aside class="sidebar"><h3>Related stories</h3><ul><li><a href="/x">Another story SIDEMARKER</a></li>
<li><a href="/y">Yet another story SIDEMARKER</a></li></ul></aside>
<footer><p>Copyright 2024 {escape(site)} FOOTERMARKER. All rights reserved.</p>
<ul><li><a href="/privacy">Privacy policy FOOTERMARKER</a></li><li><a href="/contact">Contact FOOTERMARKER</a></li></ul></footer>
</body></html>
"""


def make_two_column_pdf(path: Path, title: str, left: str, right: str) -> Path:
    """One page: a title across the page, then two columns of text, as many reports are set."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    w, h = A4
    c = Canvas(str(path), pagesize=A4)
    c.setFont(_HEAD_FONT, _HEAD_SIZE)
    c.drawString(60, h - 60, title)
    for x, text in ((60, left), (w / 2 + 15, right)):
        y = h - 100
        for line in _wrap(text, w / 2 - 75, hyphenate=True):
            c.setFont(_FONT, _SIZE)
            c.drawString(x, y, line)
            y -= _LEADING
    c.showPage()
    c.save()
    return path
