"""Verifying an exported answer against the files a third party holds: no index, no model.

Owns the arrow ``export .json + files on disk -> a verdict per quote``. For every quote
the file with the recorded SHA-256 is found (at its recorded path first, else by
scanning the ``--corpus`` folders for files of the recorded size), its text is read
again with the reader a build uses (:func:`assistant.ingest.corpus.read_document`),
and the text at the recorded character offsets must be the quote. Each quote is then:

    verified       the bytes are the ones quoted and the quote is at its offsets
    file changed   a file is at the recorded path but its bytes differ (the quote is
                   looked for in it: "still at characters a–b", or "no longer in it")
    not found      no file has those bytes, or the text at the offsets is not the quote

Imports only the ingest stage (no torch, FAISS or Gradio), so it runs quickly anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import ExportError, SkipFile
from assistant.ingest.corpus import DEFAULT_MAX_FILE_BYTES, Document, read_document
from assistant.ingest.extractor import extractor_of

VERIFIED, CHANGED, NOT_FOUND, NOT_DRAWN = "verified", "file changed", "not found", "not drawn"
EXPORT_FORMAT = "assistant-answer"  # assistant.answer.export.EXPORT_FORMAT (that stage is not imported here)
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class QuoteCheck:
    """The verdict on one quote."""

    number: int  # 1.. in the export's order
    status: str  # VERIFIED, CHANGED, NOT_FOUND, or NOT_DRAWN (a PDF's text layer has it; its page does not show it)
    detail: str  # one line: where, and why
    source: str  # the citation's file as shown ("corpus/report.pdf")
    start: int
    end: int
    found_path: str = ""  # the file with the recorded bytes (or the changed file at the recorded path)
    found_at: tuple[int, int] | None = None  # where the quote is in that file's text, when it is


@dataclass(frozen=True)
class Verification:
    question: str
    refused: bool
    reason: str  # why the answer was refused ("" when answered)
    checks: tuple[QuoteCheck, ...]
    about: str  # which index and model answered (neither is needed to verify)
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(c.status == VERIFIED for c in self.checks)


def read_export(path: str | Path) -> dict:
    """Read and check the shape of an export written by ``assistant ask --export FILE.json``.

    Raises:
        ExportError: unreadable, not JSON, not an answer export, or a quote lacks a field.
    """
    path = Path(path)
    name = path.name.lower()
    for other in (".csl.json", ".md", ".docx", ".csv"):
        if name.endswith(other) and path.is_file():
            raise ExportError(f"{path} is a {other} export, for reading; verify reads the .json one "
                              "(`assistant ask ... --export FILE.json`)")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExportError(f"no export at {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ExportError(f"cannot read the export {path} ({getattr(e, 'strerror', None) or type(e).__name__})") from None
    try:
        record = json.loads(text)
    except ValueError as e:
        raise ExportError(f"{path} is not valid JSON (line {getattr(e, 'lineno', '?')}): is it the .json export "
                          "of `assistant ask --export`?") from None
    if not isinstance(record, dict) or not isinstance(record.get("export"), dict) or \
            record["export"].get("format") != EXPORT_FORMAT:
        raise ExportError(f"{path} is not an answer exported by `assistant ask --export FILE.json` "
                          "(.md, .docx, .csv and .csl.json exports are for reading; verify reads the .json one)")
    hits = record.get("hits")
    if not isinstance(hits, list):
        raise ExportError(f"{path}: the export has no list of quotes (\"hits\")")
    for i, hit in enumerate(hits, 1):
        problem = _shape_problem(hit)
        if problem:
            raise ExportError(f"{path}: quote [{i}] {problem}")
    return record


def _shape_problem(hit: object) -> str:
    if not isinstance(hit, dict):
        return "is not an object"
    prov = hit.get("provenance")
    if not isinstance(prov, dict):
        return "has no provenance (exported by an older version?)"
    if not isinstance(hit.get("text"), str) or not hit["text"]:
        return "has no text"
    start, end = hit.get("start"), hit.get("end")
    if type(start) is not int or type(end) is not int or not 0 <= start < end:
        return f"has no valid character offsets (start {start!r}, end {end!r})"
    if not isinstance(hit.get("source_path"), str) or not isinstance(hit.get("source"), str):
        return "names no source file"
    sha = prov.get("sha256")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        return f"has no valid SHA-256 ({sha!r}): its file cannot be identified"
    if prov.get("size") is not None and type(prov.get("size")) is not int:
        return f"has a size that is not a whole number ({prov.get('size')!r})"
    return ""


class _Files:
    """Finds files by SHA-256 and reads their text, each file hashed and read at most once."""

    def __init__(self, folders: tuple[Path, ...]) -> None:
        self.folders = folders
        self._sha: dict[str, str] = {}
        self._by_size: dict[int, list[str]] | None = None
        self._docs: dict[str, Document | str] = {}

    def sha256(self, path: str) -> str:
        if path not in self._sha:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            self._sha[path] = h.hexdigest()
        return self._sha[path]

    def find(self, sha: str, size: int | None) -> str | None:
        """A file under the folders with these bytes (only files of the recorded size are hashed)."""
        if self._by_size is None:
            self._by_size = {}
            for folder in self.folders:
                for dirpath, _, names in os.walk(folder):
                    for name in sorted(names):
                        p = os.path.join(dirpath, name)
                        try:
                            self._by_size.setdefault(os.stat(p).st_size, []).append(p)
                        except OSError:
                            continue
        pool = self._by_size.get(size, []) if size is not None else [p for ps in self._by_size.values() for p in ps]
        for p in pool:
            try:
                if self.sha256(p) == sha:
                    return p
            except OSError:
                continue
        return None

    def document(self, path: str) -> Document | str:
        """The file's text as a build reads it, or why it cannot be read."""
        if path not in self._docs:
            p = Path(path)
            try:
                limit = max(DEFAULT_MAX_FILE_BYTES, p.stat().st_size)
                self._docs[path] = read_document(p, root=p.parent, metadata={}, max_file_bytes=limit)
            except SkipFile as e:
                self._docs[path] = str(e)
            except OSError as e:
                self._docs[path] = f"cannot be read ({e.strerror or type(e).__name__})"
        return self._docs[path]


def verify_export(record: dict, *, corpus: tuple[str | Path, ...] = ()) -> Verification:
    """Check every quote of a record from :func:`read_export` against the files on disk.

    Args:
        record: the export.
        corpus: folders to search for a quoted file's bytes when it is not at its recorded path.
    """
    files = _Files(tuple(Path(c) for c in corpus))
    checks = tuple(_check(i, hit, files) for i, hit in enumerate(record["hits"], 1))
    prov = record.get("provenance") if isinstance(record.get("provenance"), dict) else {}
    about = (f"answered {prov.get('answered_at') or '(time not recorded)'} by index {str(prov.get('index_id'))[:12]}… "
             f"(model {prov.get('model') or '?'}); verifying needs neither")
    notes = []
    if corpus:
        missing = [str(c) for c in corpus if not Path(c).is_dir()]
        notes += [f"--corpus {m} is not a folder; it was not searched" for m in missing]
    refused = bool(record.get("abstained"))
    reason = ""
    if refused:
        reason = next((str(n).removeprefix("Not answered:").strip() for n in record.get("notes") or ()
                       if str(n).startswith("Not answered:")), str(record.get("message") or ""))
    return Verification(str(record.get("query", "")), refused, reason, checks, about, tuple(notes))


def _check(number: int, hit: dict, files: _Files) -> QuoteCheck:
    prov = hit["provenance"]
    sha, size, quote = prov["sha256"], prov.get("size"), hit["text"]
    start, end, recorded = hit["start"], hit["end"], hit["source_path"]
    made = dict(number=number, source=hit["source"], start=start, end=end)
    at_recorded = os.path.isfile(recorded)
    try:
        same = at_recorded and files.sha256(recorded) == sha
    except OSError:
        same = False
    path = recorded if same else files.find(sha, size)
    if path is None and at_recorded:
        return _changed(recorded, quote, sha, files, made)
    if path is None:
        where = " or in " + ", ".join(str(f) for f in files.folders) if files.folders else " (give --corpus DIR to search a folder)"
        return QuoteCheck(status=NOT_FOUND, detail=f"no file with SHA-256 {sha[:12]}… at {recorded}{where}", **made)
    doc = files.document(path)
    moved = "" if path == recorded else f" (moved: found by its hash; recorded at {recorded})"
    if isinstance(doc, str):
        return QuoteCheck(status=NOT_FOUND, detail=f"{path} has the quoted bytes but its text cannot be read again: "
                                                   f"{doc}", found_path=path, **made)
    if doc.text[start:end] == quote:
        hidden = _not_drawn(path, prov.get("rects"))
        if hidden:
            return QuoteCheck(status=NOT_DRAWN, detail=(
                f"{path}, characters {start}–{end}{moved}: the text layer has the quote, but p. {hidden} does not "
                "draw it where it stands (invisible or hidden text): check the page itself"), found_path=path,
                found_at=(start, end), **made)
        return QuoteCheck(status=VERIFIED, detail=f"{path}, characters {start}–{end}{moved}", found_path=path,
                          found_at=(start, end), **made)
    elsewhere = doc.text.find(quote)
    detail = f"{path} has the quoted bytes{moved}, but the text at characters {start}–{end} is not the quote"
    detail += f"; the quote is at characters {elsewhere}–{elsewhere + len(quote)}" if elsewhere >= 0 else \
        "; the quote is nowhere in its text (was the export edited?)"
    recorded_reader = str(prov.get("extractor") or "")
    current = _reader(path, doc)
    if recorded_reader and current and current != recorded_reader:
        detail += f"; it was read by {recorded_reader}, here by {current}"
    found_at = (elsewhere, elsewhere + len(quote)) if elsewhere >= 0 else None
    return QuoteCheck(status=NOT_FOUND, detail=detail, found_path=path, found_at=found_at, **made)


def _changed(path: str, quote: str, sha: str, files: _Files, made: dict) -> QuoteCheck:
    try:
        now_sha = files.sha256(path)
    except OSError as e:
        return QuoteCheck(status=NOT_FOUND, detail=f"{path} cannot be read ({e.strerror or type(e).__name__})", **made)
    detail = f"{path} has SHA-256 {now_sha[:12]}…, not the recorded {sha[:12]}…"
    doc = files.document(path)
    found_at = None
    if isinstance(doc, str):
        detail += f"; its text cannot be read ({doc})"
    else:
        if doc.text[made["start"]:made["end"]] == quote:
            found_at = (made["start"], made["end"])
            detail += f"; the quote is still at characters {made['start']}–{made['end']}"
        elif (i := doc.text.find(quote)) >= 0:
            found_at = (i, i + len(quote))
            detail += f"; the quote is now at characters {i}–{i + len(quote)}"
        else:
            detail += "; the quote is no longer in it"
    return QuoteCheck(status=CHANGED, detail=detail, found_path=path, found_at=found_at, **made)


def _not_drawn(path: str, rects: object) -> str:
    """The pages (as "3" or "3, 4") where a PDF quote's recorded rectangles hold no ink as the
    page is drawn; "" when they all do, or there are none to check."""
    from assistant.ingest.pdf_boxes import Rect, render_page

    try:
        placed = tuple(Rect(int(r["page"]), *(float(r[k]) for k in ("x0", "y0", "x1", "y1"))) for r in rects or ())
    except (TypeError, KeyError, ValueError):  # rectangles are evidence of place, not of text: unreadable ones are skipped
        return ""
    hidden = []
    for page in sorted({r.page for r in placed}):
        try:
            if not render_page(path, page, placed, width=600).drawn:
                hidden.append(str(page))
        except Exception:  # pdfium cannot draw it: the text was verified, the drawing is not judged
            continue
    return ", ".join(hidden)


def _reader(path: str, doc: Document) -> str:
    try:
        with open(path, "rb") as f:
            return extractor_of(path, f.read(), ocr_pages=doc.ocr_pages)
    except OSError:
        return ""


def verification_json(v: Verification) -> dict:
    return {
        "question": v.question,
        "refused": v.refused,
        "reason": v.reason,
        "verified": v.ok,
        "about": v.about,
        "notes": list(v.notes),
        "quotes": [
            {"number": c.number, "status": c.status, "detail": c.detail, "source": c.source, "start": c.start,
             "end": c.end, "found_path": c.found_path, "found_at": list(c.found_at) if c.found_at else None}
            for c in v.checks
        ],
    }
