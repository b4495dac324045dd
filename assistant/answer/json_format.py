"""The JSON renderer: the documented shape of ``assistant ask --json`` and the ``/search`` API.

Owns the arrow ``Answer -> JSON``: field names may be added, never renamed.
"""

from __future__ import annotations

from dataclasses import asdict

from assistant.answer.model import NOTHING_ANSWERS, Answer, Citation, Quote, Stamp
from assistant.answer.provenance import echoes, quote_provenance, stamp_json


def citation_json(c: Citation, provenance: Stamp | None = None) -> dict:
    """A citation's JSON fields, its provenance among them (no key is named "path": Gradio
    would serve it as a file)."""
    return {
        "passage_id": c.passage_id,
        "doc_id": c.doc_id,
        "title": c.title,
        "organization": c.organization,
        "date": c.date,
        "section": c.section,
        "paragraph": c.paragraph,
        "part": c.part,
        "source": c.source,
        "source_path": c.path,
        "start": c.start,
        "end": c.end,
        "page": c.page or None,
        "pages": [c.page, c.last_page] if c.last_page > c.page else None,
        "ocr": c.ocr,
        "table_header": c.table_header,  # a table piece that does not open with its header row: that row
        "table_caption": c.table_caption,
        "citation": c.text(),
        "provenance": quote_provenance(c, provenance),
    }


def quote_json(q: Quote, provenance: Stamp | None = None) -> dict:
    """One quote's JSON: its rank (null for a related passage), scores, citation, text, strength,
    provenance, and its echoes (every place it appears, earliest first; [] when only here)."""
    return (
        {"rank": q.rank or None, "score": q.score, "similarity": q.similarity}
        | citation_json(q.citation, provenance)
        | {
            "text": q.text,
            "highlights": [list(h) for h in q.highlights],
            "also_in": [citation_json(a, provenance) for a in q.also_in],
            "strength": q.strength,
            "signals": {k: round(v, 4) for k, v in asdict(q.signals).items() if v is not None},
            "echoes": [citation_json(c, provenance) for c in echoes(q)] if q.also_in else [],
        }
    )


def to_json(answer: Answer) -> dict:
    """The documented JSON shape of ``assistant ask --json`` (fields may be added, never renamed)."""
    return {
        "id": answer.id,
        "query": answer.query,
        "searched_query": answer.searched,
        "mode": answer.mode,
        "abstained": answer.abstained,
        "message": NOTHING_ANSWERS if answer.abstained else "",
        "notes": list(answer.notes),
        "hits": [quote_json(q, answer.provenance) for q in answer.quotes],
        "related": [quote_json(q, answer.provenance) for q in answer.related],
        "provenance": stamp_json(answer.provenance),
    }
