"""Web pages (.html, .htm, or any text that starts like one): the page's main text by
trafilatura, with its title, site name and date."""

from __future__ import annotations

import re

from assistant.errors import SkipFile
from assistant.ingest.budgets import Budget, check_html
from assistant.ingest.formats.common import Extracted, Format
from assistant.ingest.tables import join_blocks

_START = re.compile(r"\s*(<!doctype html|<html[\s>])", re.I)


def looks_like_html(text: str) -> bool:
    """A saved web page, whatever its name: it starts with a doctype or an <html> tag."""
    return bool(_START.match(text[:1000]))


def read_html(html: str, *, budget: Budget = Budget()) -> Extracted:
    """The page's main text (trafilatura): headings on their own lines, paragraphs,
    list items and table rows (each table listed, its first row the header), without
    navigation, menus, footers, scripts and styles.

    The page's size is checked against the budget before it is parsed."""
    check_html(html, budget=budget)
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
    tables: list[int] = []  # which blocks are tables
    main = root.find("main")
    for el in main if main is not None else ():
        if el.tag == "list":
            items = [_flat(i) for i in el.iter("item")]
            block = "\n".join(f"• {t}" for t in items if t)
        elif el.tag == "table":
            rows = [" | ".join(c for c in (_flat(cell) for cell in row.iter("cell")) if c) for row in el.iter("row")]
            block = "\n".join(r for r in rows if r)
            tables.extend([len(blocks)] if block else [])
        else:
            block = _flat(el)
        if block:
            blocks.append(block)
    text, spans = join_blocks(blocks, tables)
    if not text.strip():
        raise SkipFile("no main text found in this web page")
    date = root.get("date") or ""
    return Extracted(
        text,
        tables=spans,
        title=root.get("title") or "",
        organization=root.get("sitename") or root.get("author") or "",
        date=date if re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", date) else "",
    )


def _flat(el) -> str:
    return " ".join("".join(el.itertext()).split())


FORMAT = Format(name="html", suffixes=(".html", ".htm"), read=read_html, looks_like=looks_like_html)
