"""A quote's provenance: which bytes were quoted, read by what, where in them, by which index, when.

Owns the arrow ``Answer + Index -> Answer with provenance`` (:func:`stamp`) and the
JSON of one quote's provenance (:func:`quote_provenance`), shared by ``ask --json``,
the exports (:mod:`assistant.answer.export`) and what ``assistant verify`` reads.

Per quote: the source file's SHA-256 and size as indexed, the extractor and its
version, the page(s), the character offsets into the extracted text. Per answer: the
index's identity (the SHA-256 its build recorded of its manifest), the model, and the
time of the answer. An index built before documents recorded their hash gets it from
the index's ``files.json`` (the same bytes: a changed file makes the index stale).
A PDF quote also gets the rectangles it occupies on its page(s), in PDF user space
(:mod:`assistant.ingest.pdf_boxes`).

Echoes (:func:`echoes`): a quote and the near-identical passages published elsewhere
(``Quote.also_in``), every place once, the earliest dated first.
"""

from __future__ import annotations

import datetime
import threading
from dataclasses import replace

from assistant.answer.model import Answer, Citation, Quote, Stamp
from assistant.index import sources
from assistant.index.folder import Index
from assistant.ingest.pdf_boxes import quote_rects
from assistant.version import __version__

TOOL = f"assistant {__version__}"

_lock = threading.Lock()
_hashes: dict[tuple[str, str], dict[str, tuple[str, int]]] = {}


def now() -> str:
    """The current time, ISO 8601 in UTC to the second."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def index_identity(index: Index) -> str:
    """The SHA-256 of the index's manifest as its build recorded it, read when the index
    was loaded (so an index whose folder a later build replaced keeps its own)."""
    return index.identity


def stamp(answer: Answer, index: Index, *, at: str | None = None) -> Answer:
    """``answer`` with its provenance: the index that answered and the time, and every
    citation's file hash and size (from ``files.json`` for an index that predates them)."""
    m = index.manifest
    provenance = Stamp(
        index_id=index_identity(index), index_path=str(index.path), model=m.model, dense_index=m.dense_index,
        built_at=m.built_at, answered_at=at or now(), tool=TOOL,
    )
    quotes, related = tuple(_with_rects(q) for q in answer.quotes), tuple(_with_rects(q) for q in answer.related)
    if any(not c.sha256 for q in (*quotes, *related) for c in (q.citation, *q.also_in)):
        known = _recorded_hashes(index)
        quotes = tuple(_with_hashes(q, known) for q in quotes)
        related = tuple(_with_hashes(q, known) for q in related)
    return replace(answer, quotes=quotes, related=related, provenance=provenance)


def _with_rects(q: Quote) -> Quote:
    """A PDF quote with the rectangles its characters occupy (for OCR text, its words' boxes;
    none for an unreadable file)."""
    c = q.citation
    if not c.page or c.rects or not c.path:
        return q
    rects = quote_rects(c.path, q.text, c.page, c.last_page)
    return replace(q, citation=replace(c, rects=rects)) if rects else q


def _recorded_hashes(index: Index) -> dict[str, tuple[str, int]]:
    key = (str(index.path), index.manifest.built_at)
    with _lock:
        if key in _hashes:
            return _hashes[key]
    try:
        found = {f.path: (f.sha256, f.size) for f in sources.load(index.path).files if f.sha256}
    except (OSError, ValueError, TypeError, KeyError):
        found = {}
    with _lock:
        _hashes[key] = found
    return found


def _with_hashes(q: Quote, known: dict[str, tuple[str, int]]) -> Quote:
    def fill(c: Citation) -> Citation:
        if c.sha256 or c.path not in known:
            return c
        sha, size = known[c.path]
        return replace(c, sha256=sha, size=size)

    return replace(q, citation=fill(q.citation), also_in=tuple(fill(a) for a in q.also_in))


def quote_provenance(c: Citation, provenance: Stamp | None) -> dict:
    """One quote's provenance as JSON: the file's bytes, the reader, the place, the index, the time.

    (No key is named "path": Gradio would serve it as a file.)"""
    return {
        "source": c.source,
        "source_path": c.path,
        "sha256": c.sha256,
        "size": c.size if c.size >= 0 else None,
        "extractor": c.extractor,
        "ocr": c.ocr,
        "pages": list(range(c.page, max(c.page, c.last_page) + 1)) if c.page else [],
        "start": c.start,
        "end": c.end,
        "rects": [{"page": r.page, "x0": r.x0, "y0": r.y0, "x1": r.x1, "y1": r.y1} for r in c.rects],
        "index_id": provenance.index_id if provenance else "",
        "index_model": provenance.model if provenance else "",
        "answered_at": provenance.answered_at if provenance else "",
    }


def stamp_json(provenance: Stamp | None) -> dict | None:
    """The answer's provenance as JSON (None for an answer made without an index, e.g. in a test)."""
    if provenance is None:
        return None
    return {
        "index_id": provenance.index_id,
        "index_path": provenance.index_path,
        "model": provenance.model,
        "dense_index": provenance.dense_index,
        "built_at": provenance.built_at,
        "answered_at": provenance.answered_at,
        "tool": provenance.tool,
    }


def echoes(q: Quote) -> tuple[Citation, ...]:
    """Every place the quote's statement appears (the quote's own and ``also_in``), the
    earliest dated first; undated ones last, in the answer's order."""
    places = [q.citation, *q.also_in]
    order = sorted(range(len(places)), key=lambda i: (not places[i].date, places[i].date, i))
    return tuple(places[i] for i in order)
