"""Exporting an answer with its evidence: Markdown, DOCX, CSV, CSL-JSON and the JSON record.

Owns the arrow ``Answer -> a file a researcher keeps``. Every format is written from one
record, :func:`export_record` (the JSON of ``ask --json`` plus what the export is), so
the formats cannot disagree; ``.json`` is that record itself, the one ``assistant verify``
reads. A format is one function in :data:`WRITERS`, chosen by the file's extension.

A refused answer ("No passage in the collection answers this.") exports as refused,
with its reason; its closest passages are listed as possibly related, never as evidence.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from assistant.answer.json_format import to_json
from assistant.answer.model import Answer
from assistant.answer.provenance import TOOL, now
from assistant.errors import ExportError

EXPORT_FORMAT = "assistant-answer"  # the record's "export.format"; verify refuses other files
EXPORT_VERSION = 1


def export_record(answer: Answer, *, at: str | None = None) -> dict:
    """The full record of an answer: ``ask --json``'s fields and an ``export`` header."""
    return {"export": {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "tool": TOOL, "exported_at": at or now()}} | (
        to_json(answer)
    )


def refusal(record: dict) -> str:
    """Why an answer was refused: its "Not answered: ..." note, else its message ("" when answered)."""
    if not record.get("abstained"):
        return ""
    for note in record.get("notes") or ():
        if str(note).startswith("Not answered:"):
            return str(note).removeprefix("Not answered:").strip()
    return str(record.get("message") or "no passage answers the question")


def place(hit: dict) -> str:
    """Where a quote is: "p. 3, characters 120–480 of corpus/report.pdf"."""
    pages = hit.get("provenance", {}).get("pages") or []
    where = (f"pp. {pages[0]}–{pages[-1]}" if len(pages) > 1 else f"p. {pages[0]}") if pages else ""
    return ", ".join(x for x in (where, f"characters {hit['start']}–{hit['end']} of {hit['source']}") if x)


def proof(hit: dict) -> str:
    """The file's identity and the reader: "SHA-256 ab12…, 14,671 bytes, read by pypdf 7.1.1"."""
    p = hit.get("provenance") or {}
    size = f", {p['size']:,} bytes" if isinstance(p.get("size"), int) else ""
    return f"SHA-256 {p.get('sha256') or 'not recorded'}{size}, read by {p.get('extractor') or 'an unrecorded reader'}"


def echo_places(hit: dict) -> list[str]:
    """Every place the quote appears, earliest dated first ([] when only in its own document)."""
    return [f"{c.get('date') or 'undated'}: {c['citation']}" for c in hit.get("echoes") or ()]


def _header(record: dict) -> list[tuple[str, str]]:
    p = record.get("provenance") or {}
    return [
        ("Question", record.get("query", "")),
        ("Answered", p.get("answered_at", "")),
        ("Index", f"{p.get('index_id', '')} ({p.get('index_path', '')}; model {p.get('model', '')})"),
        ("Tool", record.get("export", {}).get("tool", TOOL)),
    ]


# --- Markdown ---------------------------------------------------------------------


def to_markdown(record: dict) -> str:
    """Quotes as block quotes with a numbered source list holding each one's provenance."""
    out = [f"# {_md_line(record.get('query', ''))}", ""]
    out += [f"- **{k}:** {_md_line(v)}" for k, v in _header(record)[1:]]
    out.append("")
    hits = record.get("hits") or []
    reason = refusal(record)
    if reason:
        out += [f"**Not answered.** {_md_line(record.get('message', ''))} Reason: {_md_line(reason)}.", ""]
        if hits:
            out += ["## Possibly related passages (not evidence)", ""]
    for i, hit in enumerate(hits, 1):
        out += ["> " + line if line else ">" for line in hit["text"].splitlines()]
        out += [f"> — [{i}]", ""]
    if hits:
        out += ["## Sources", ""]
    for i, hit in enumerate(hits, 1):
        out.append(f"{i}. {_md_line(hit['citation'])}  ")
        out.append(f"   {_md_line(proof(hit))}.")
        echoes = echo_places(hit)
        if echoes:
            out.append("   Published in these places, earliest first:")
            out += [f"   - {_md_line(e)}" for e in echoes]
    return "\n".join(out).rstrip() + "\n"


def _md_line(text: object) -> str:
    return " ".join(str(text).split()).replace("<", "&lt;")


# --- CSV --------------------------------------------------------------------------

CSV_COLUMNS = (
    "number", "strength", "quote", "title", "organization", "date", "section", "paragraph", "pages", "source",
    "source_path", "start", "end", "sha256", "size", "extractor", "ocr", "citation", "echoes_earliest_first",
    "question", "answered_at", "index_id", "refused", "reason",
)


def to_csv(record: dict) -> str:
    """One row a quote (none for a refused answer without passages, then one row saying so)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    p = record.get("provenance") or {}
    common = {"question": record.get("query", ""), "answered_at": p.get("answered_at", ""),
              "index_id": p.get("index_id", ""), "refused": "yes" if record.get("abstained") else "no",
              "reason": refusal(record)}
    hits = record.get("hits") or []
    for i, hit in enumerate(hits, 1):
        prov = hit.get("provenance") or {}
        w.writerow(common | {
            "number": i, "strength": hit.get("strength", ""), "quote": hit["text"], "title": hit["title"],
            "organization": hit["organization"], "date": hit["date"], "section": hit["section"],
            "paragraph": hit["paragraph"], "pages": " ".join(map(str, prov.get("pages") or [])),
            "source": hit["source"], "source_path": hit["source_path"], "start": hit["start"], "end": hit["end"],
            "sha256": prov.get("sha256", ""), "size": prov.get("size", ""), "extractor": prov.get("extractor", ""),
            "ocr": "yes" if prov.get("ocr") else "no", "citation": hit["citation"],
            "echoes_earliest_first": " | ".join(echo_places(hit)),
        })
    if not hits:
        w.writerow(common | {"number": 0, "strength": "not answered"})
    return buf.getvalue()


# --- CSL-JSON ---------------------------------------------------------------------


def to_csl(record: dict) -> list[dict]:
    """CSL-JSON items (what Zotero imports): one per quote, its quote and locator in the note."""
    items = []
    reason = refusal(record)
    p = record.get("provenance") or {}
    for i, hit in enumerate(record.get("hits") or [], 1):
        prov = hit.get("provenance") or {}
        pages = prov.get("pages") or []
        note = f"“{hit['text']}” ({place(hit)}). {proof(hit)}. Quoted by {TOOL} on {p.get('answered_at', '')}"
        note += f" for the question: {record.get('query', '')}"
        if reason:
            note = f"Not evidence: the question was not answered ({reason}); a possibly related passage. " + note
        echoes = echo_places(hit)
        if echoes:
            note += ". Published in these places, earliest first: " + "; ".join(echoes)
        item: dict = {
            "id": f"{hit['passage_id']}-{i}",
            "type": "report",
            "title": hit["title"] or hit["source"],
            "note": note,
            "URL": Path(hit["source_path"]).as_uri() if hit.get("source_path", "").startswith("/") else hit["source"],
            "source": hit["source"],
        }
        if hit["organization"]:
            item["author"] = [{"literal": hit["organization"]}]
            item["publisher"] = hit["organization"]
        parts = _date_parts(hit["date"])
        if parts:
            item["issued"] = {"date-parts": [parts]}
        if pages:
            item["page"] = f"{pages[0]}-{pages[-1]}" if len(pages) > 1 else str(pages[0])
        if hit["section"] and hit["section"] != hit["title"]:
            item["section"] = hit["section"]
        items.append(item)
    return items


def _date_parts(date: str) -> list[int]:
    bits = str(date).split("-")[:3]
    return [int(b) for b in bits] if bits and all(b.isdigit() for b in bits) else []


# --- DOCX -------------------------------------------------------------------------


def to_docx(record: dict, path: Path | BinaryIO) -> None:
    """Quotes as block quotes (the Quote style), then a numbered source list with provenance."""
    import docx

    d = docx.Document()
    d.core_properties.title = str(record.get("query", ""))[:200]
    d.core_properties.author = TOOL
    d.add_heading(str(record.get("query", "")), level=1)
    for key, value in _header(record)[1:]:
        para = d.add_paragraph()
        para.add_run(f"{key}: ").bold = True
        para.add_run(str(value))
    hits = record.get("hits") or []
    reason = refusal(record)
    if reason:
        para = d.add_paragraph()
        para.add_run("Not answered. ").bold = True
        para.add_run(f"{record.get('message', '')} Reason: {reason}.")
        if hits:
            d.add_heading("Possibly related passages (not evidence)", level=2)
    for i, hit in enumerate(hits, 1):
        d.add_paragraph(f"{hit['text']} [{i}]", style="Quote")
    if hits:
        d.add_heading("Sources", level=2)
    for i, hit in enumerate(hits, 1):
        para = d.add_paragraph(style="List Number")  # numbered 1, 2, ...: the quotes' [1], [2], ...
        para.add_run(hit["citation"])
        para.add_run(f"\n{proof(hit)}.")
        for echo in echo_places(hit):
            d.add_paragraph(f"also: {echo}", style="List Bullet 2")
    d.save(str(path) if isinstance(path, Path) else path)


# --- registry ---------------------------------------------------------------------


def _docx_bytes(record: dict) -> bytes:
    buf = io.BytesIO()
    to_docx(record, buf)
    return buf.getvalue()


def _utf8(render: Callable[[dict], object]) -> Callable[[dict], bytes]:
    def encode(record: dict) -> bytes:
        out = render(record)
        text = out if isinstance(out, str) else json.dumps(out, ensure_ascii=False, indent=1) + "\n"
        return text.encode("utf-8")

    return encode


WRITERS: dict[str, Callable[[dict], bytes]] = {  # longest suffix first: ".csl.json" before ".json"
    ".csl.json": _utf8(to_csl),
    ".json": _utf8(lambda r: r),
    ".md": _utf8(to_markdown),
    ".csv": _utf8(to_csv),
    ".docx": _docx_bytes,
}
MEDIA_TYPES = {
    ".csl.json": "application/vnd.citationstyles.csl+json", ".json": "application/json",
    ".md": "text/markdown; charset=utf-8", ".csv": "text/csv; charset=utf-8",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def export_bytes(record: dict, suffix: str) -> bytes:
    """The file of format ``suffix`` (a key of :data:`WRITERS`) for ``record``."""
    return WRITERS[suffix](record)


def format_of(path: str | Path) -> str:
    """The export format a file name asks for (its suffix, e.g. ".csl.json").

    Raises:
        ExportError: no format has that suffix.
    """
    name = Path(path).name.lower()
    for suffix in WRITERS:
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffix
    raise ExportError(f"cannot export to {path}: name the file for its format, one of {', '.join(WRITERS)}")


def write_export(record: dict, path: str | Path) -> Path:
    """Write ``record`` (from :func:`export_record`) to ``path`` in the format its name says.

    Raises:
        ExportError: an unknown format, or the file cannot be written.
    """
    path = Path(path)
    data = export_bytes(record, format_of(path))
    try:
        path.write_bytes(data)
    except OSError as e:
        raise ExportError(f"cannot write {path} ({e.strerror or type(e).__name__})") from None
    return path
