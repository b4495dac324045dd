"""The quote on its PDF page in the Sources panel: the page drawn with the quote's rectangles marked.

Owns the arrow ``cited PDF passage -> HTML figure(s)`` shown beside the extracted text
(:meth:`assistant.web.chat.Chat.source_html`). The image travels in the page as a
``data:`` URL; a file that cannot be read now shows none (an OCR page shows its words' boxes).
"""

from __future__ import annotations

import base64
import html
import logging

from assistant.ingest.corpus import Document, Passage
from assistant.ingest.pdf_boxes import quote_rects, render_page

log = logging.getLogger(__name__)
MAX_PAGES = 2  # a passage over more pages shows its first two


NOT_PLACED = ("The quote could not be found on its page as the PDF draws it (the text layer read now "
              "and the text indexed disagree, or the file cannot be read): its text is shown above.")
NOT_DRAWN = ("The quote is in this PDF's text layer but not drawn on the page (invisible or hidden text): "
             "the marked place shows something else, so check the page itself before citing it.")


def page_figures(doc: Document, passage: Passage) -> str:
    """HTML figures of the passage's page(s) with its text marked; a line saying so when the
    quote cannot be placed on its page or is not drawn there ("" when not a PDF quote)."""
    if not passage.page or not (doc.extractor.startswith("pypdf") or doc.path.lower().endswith(".pdf")):
        return ""
    rects = quote_rects(doc.path, passage.text, passage.page, passage.last_page)
    if not rects:
        return _note(NOT_PLACED)
    out = []
    for page in sorted({r.page for r in rects})[:MAX_PAGES]:
        try:
            rendered = render_page(doc.path, page, rects)
        except Exception:  # a file changed or damaged since the build: the text is still shown
            log.warning("cannot render page %s of %s", page, doc.path, exc_info=True)
            continue
        data = base64.b64encode(rendered.png).decode("ascii")
        out.append(
            f'<figure class="src-page" data-page="{page}"><img src="data:image/png;base64,{data}" '
            f'alt="page {page} of {html.escape(doc.source)}, the quote marked" style="width:100%;border:1px solid #ddd">'
            f"<figcaption>p. {page} of {html.escape(doc.source)}: the quote marked on the page</figcaption></figure>"
        )
        if not rendered.drawn:
            out.append(_note(NOT_DRAWN))
    return "".join(out)


def _note(text: str) -> str:
    return f'<p class="src-page-note">{html.escape(text)}</p>'
