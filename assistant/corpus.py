"""Reading a corpus folder: documents, their metadata, and the passages cut from them.

Owns the first arrow of the data flow: ``corpus/* -> Document -> Passage``.
How a page's text is cut into paragraphs lives in :mod:`assistant.split`; this
module reads files (skipping ones that are not text), attaches metadata and
turns the splitter's spans into :class:`Passage` records with stable ids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import CorpusError
from assistant.split import Span, split_text

TEXT_SUFFIXES = (".txt", ".md", ".text")
METADATA_FILE = "metadata.json"


@dataclass(frozen=True)
class Document:
    """One source file and what is known about it."""

    doc_id: str
    source: str  # path shown in citations, e.g. "corpus/x.txt"
    path: str  # absolute path of the file at build time
    title: str
    organization: str
    date: str
    kind: str
    text: str = field(repr=False)


@dataclass(frozen=True)
class Passage:
    """A verbatim slice ``document.text[start:end]`` with its location."""

    passage_id: str
    doc_id: str
    paragraph: int
    part: int  # 0 for a whole paragraph, 1.. for pieces of a long one
    section: str
    date: str
    kind: str  # "paragraph" or "list"
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Skipped:
    """A file that was not read, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Corpus:
    documents: tuple[Document, ...]
    skipped: tuple[Skipped, ...]


def read_corpus(corpus_dir: str | Path) -> Corpus:
    """Read every text file under ``corpus_dir`` (recursively).

    Files that are binary or not UTF-8 are skipped and reported in
    ``Corpus.skipped``; an optional ``metadata.json`` supplies titles,
    organisations and dates.

    Raises:
        CorpusError: the folder is missing or holds no readable document.
    """
    root = Path(corpus_dir)
    if not root.is_dir():
        raise CorpusError(f"corpus folder not found: {root}")
    metadata = _read_metadata(root)
    documents: list[Document] = []
    skipped: list[Skipped] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name == METADATA_FILE or path.name.startswith("."):
            continue
        if path.suffix.lower() not in TEXT_SUFFIXES:
            skipped.append(Skipped(str(path), f"not a text file ({path.suffix or 'no suffix'})"))
            continue
        raw = path.read_bytes()
        text, problem = _decode(raw)
        if problem:
            skipped.append(Skipped(str(path), problem))
            continue
        if not text.strip():
            skipped.append(Skipped(str(path), "empty file"))
            continue
        rel = path.relative_to(root).as_posix()
        meta = metadata.get(rel, {})
        doc_id = meta.get("doc_id") or _doc_id_from(rel)
        documents.append(
            Document(
                doc_id=doc_id,
                source=f"{root.name}/{rel}",
                path=str(path.resolve()),
                title=meta.get("title") or _title_from(text, path),
                organization=meta.get("organization", ""),
                date=meta.get("date", ""),
                kind=meta.get("kind", ""),
                text=text,
            )
        )
    ids = [d.doc_id for d in documents]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise CorpusError(f"two files share the document id {dupes[0]!r}; rename one")
    if not documents:
        why = "; ".join(f"{Path(s.path).name}: {s.reason}" for s in skipped)
        raise CorpusError(f"no readable text documents in {root}" + (f" ({why})" if why else ""))
    return Corpus(tuple(documents), tuple(skipped))


def fingerprint(documents: Iterable[Document]) -> str:
    """A hash of every document's id and exact text: changes when any file does."""
    h = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.doc_id):
        h.update(doc.doc_id.encode())
        h.update(b"\0")
        h.update(doc.text.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def passages_of(
    doc: Document,
    *,
    max_tokens: int = 200,
    count_tokens: Callable[[str], int] | None = None,
) -> list[Passage]:
    """Cut one document into passages with stable ids ``<doc_id>#p<paragraph>[.<part>]``."""
    spans: list[Span] = split_text(doc.text, max_tokens=max_tokens, count_tokens=count_tokens)
    out: list[Passage] = []
    for s in spans:
        pid = f"{doc.doc_id}#p{s.paragraph}" + (f".{s.part}" if s.part else "")
        out.append(
            Passage(
                passage_id=pid,
                doc_id=doc.doc_id,
                paragraph=s.paragraph,
                part=s.part,
                section=s.section,
                date=s.date or _single_date(doc.date),
                kind=s.kind,
                start=s.start,
                end=s.end,
                text=doc.text[s.start : s.end],
            )
        )
    return out


def _single_date(date: str) -> str:
    # A listing's date range ("2013-06-21/2018-06-08") is not a passage's date.
    return "" if "/" in date else date


def _decode(raw: bytes) -> tuple[str, str]:
    if b"\0" in raw[:8192]:
        return "", "binary file (contains NUL bytes)"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return "", f"not UTF-8 (bad byte at offset {e.start})"
    return text, ""  # a byte-order mark stays: offsets are into the file decoded as UTF-8


def _read_metadata(root: Path) -> dict[str, dict[str, str]]:
    path = root / METADATA_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["documents"] if isinstance(data, dict) else data
        return {str(e["file"]): {k: "" if v is None else str(v) for k, v in e.items()} for e in entries}
    except (ValueError, KeyError, TypeError) as e:
        raise CorpusError(f"{path}: not a valid metadata file ({e})") from e


def _doc_id_from(rel: str) -> str:
    stem = rel.rsplit(".", 1)[0]
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in stem).strip("-") or "doc"


def _title_from(text: str, path: Path) -> str:
    from assistant.split import first_heading

    return first_heading(text) or path.stem.replace("_", " ").replace("-", " ")
