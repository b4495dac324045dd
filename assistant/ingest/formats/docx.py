"""Word (.docx, or a ZIP package that holds a Word document): paragraphs, headings,
list items and table rows (python-docx), with the core properties' title, author and
date. The package is checked against the budget before it is opened.
"""

from __future__ import annotations

import datetime

from assistant.errors import SkipFile
from assistant.ingest.budgets import Budget, check_text, check_zip
from assistant.ingest.formats.common import Extracted, Format
from assistant.ingest.tables import join_blocks


def is_word_package(suffix: str, raw: bytes) -> bool:
    """A ZIP file is a Word document when it is named one or holds the Word parts."""
    return suffix == ".docx" or b"word/document.xml" in raw[:65536] or b"word/" in raw[-65536:]


def read_docx(raw: bytes, *, budget: Budget = Budget()) -> Extracted:
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
        tables: list[int] = []  # which blocks are tables
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
                tables.extend([len(blocks)] if run else [])
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
    text, spans = join_blocks(blocks, tables)
    if not text.strip():
        raise SkipFile("Word file with no text")
    return Extracted(
        text,
        tables=spans,
        title=(cp.title or "").strip(),
        organization="" if author == "python-docx" else author,  # python-docx's template placeholder
        date=created.date().isoformat() if isinstance(created, datetime.datetime) and author != "python-docx" else "",
    )


FORMAT = Format(name="docx", suffixes=(".docx",), read=read_docx, magic=(b"PK\x03\x04",), claims=is_word_package,
                damaged="damaged Word file (not a .docx package)")
