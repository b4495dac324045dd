"""Reading a corpus folder: documents, their metadata, and the passages cut from them.

Owns the first arrow of the data flow: ``corpus/* -> Document -> Passage``.
:func:`discover` lists the files of a folder (links, size limit, unreadable folders);
:func:`read_document` reads one of them through :mod:`assistant.ingest.formats` (one module
per format) and attaches metadata; :func:`read_corpus` does both for a whole folder.
How a page's text is cut into paragraphs lives in :mod:`assistant.ingest.split`; this module
turns the splitter's spans into :class:`Passage` records with stable ids and pages.
"""

from __future__ import annotations

import bisect
import errno
import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.ingest.budgets import Budget
from assistant.errors import CorpusError, SkipFile
from assistant.ingest.extractor import extractor_of, sha256_of
from assistant.ingest.formats import SUFFIXES, TEXT_SUFFIXES, read_file
from assistant.ingest.split import Span, split_text
from assistant.ingest.formats.pdf_title import usable_name
from assistant.ingest.tables import TableSpan

__all__ = [
    "Corpus", "Document", "Passage", "SkipFile", "Skipped", "discover", "files_fingerprint", "fingerprint", "passages_of",
    "read_corpus", "read_document", "read_metadata", "DEFAULT_MAX_FILE_BYTES", "SUFFIXES", "TEXT_SUFFIXES",
]

METADATA_FILE = "metadata.json"
DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024  # a 50 MB text file is ~150,000 passages: hours of encoding


@dataclass(frozen=True)
class Document:
    """One source file and what is known about it.

    ``text`` is what was extracted from the file (for a text file, the file decoded);
    every passage quotes a slice of it.
    """

    doc_id: str
    source: str  # path shown in citations, e.g. "corpus/x.txt"
    path: str  # absolute path of the file at build time
    title: str
    organization: str
    date: str
    kind: str
    text: str = field(repr=False)
    pages: tuple[int, ...] = ()  # offset in ``text`` where each page starts (PDF); () when unpaged
    ocr_pages: tuple[int, ...] = ()  # page numbers whose text was read by OCR
    sha256: str = ""  # of the bytes read (provenance); "" in indexes built before it was recorded
    size: int = -1  # bytes read; -1 when not recorded
    extractor: str = ""  # the reader and its version (assistant.ingest.extractor), e.g. "pypdf 7.1.1"
    tables: tuple[TableSpan, ...] = ()  # the tables in ``text`` (found in PDFs), kept whole by the splitter

    def __post_init__(self) -> None:
        # loaded from JSON these arrive as lists
        object.__setattr__(self, "pages", tuple(self.pages))
        object.__setattr__(self, "ocr_pages", tuple(self.ocr_pages))
        object.__setattr__(self, "tables", tuple(TableSpan.of(t) for t in self.tables))

    def page_at(self, offset: int) -> int:
        """The page number (1-based) holding ``offset``; 0 for an unpaged document."""
        return bisect.bisect_right(self.pages, offset) if self.pages else 0


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
    page: int = 0  # the page it starts on (PDF); 0 when the document has no pages
    last_page: int = 0  # the page it ends on (== page unless it runs over a page break)
    ocr: bool = False  # its text was read from a page image by OCR


@dataclass(frozen=True)
class Skipped:
    """A file that was not read, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Corpus:
    documents: tuple[Document, ...]
    skipped: tuple[Skipped, ...]


def discover(
    root: str | Path, *, follow_links: bool = False, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> tuple[list[Path], list[Skipped]]:
    """The files under ``root`` to read, and the ones that will not be, with reasons.

    Hidden files and ``metadata.json`` are left out silently. Named as skipped: files of
    an unsupported format, files over ``max_file_bytes``, unreadable folders, broken
    links, link loops, and links that lead out of ``root`` (unless ``follow_links``).
    Paths are as found under ``root`` (a link keeps its own name); sorted.
    """
    found, skipped = discover_resolved(root, follow_links=follow_links, max_file_bytes=max_file_bytes)
    return [Path(path) for path, _ in found], skipped


def discover_resolved(
    root: str | Path, *, follow_links: bool = False, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> tuple[list[tuple[str, str]], list[Skipped]]:
    """``discover``'s files each with its resolved path, as strings ``(path, resolved)``.

    A folder's resolved path is known as it is walked, so only links are resolved
    with system calls; a file costs one ``stat`` (its size) and the rest comes from
    ``scandir`` (checking a corpus of 16,744 files took 2.3 s when every path was
    resolved, most of it in ``pathlib``).
    """
    root = Path(root)
    real_root = root.resolve()
    found: list[tuple[str, str]] = []
    skipped: list[Skipped] = []
    seen_dirs = {str(real_root)}
    seen_files: dict[str, str] = {}

    def inside(real: Path) -> bool:
        return real == real_root or real_root in real.parents

    def walk(folder: str, real_folder: str, top: bool) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            skipped.append(Skipped(folder, f"folder cannot be read ({_os_reason(e)})"))
            return
        for entry in entries:
            name = entry.name
            if name.startswith(".") or (top and name == METADATA_FILE):
                continue
            path = entry.path
            real = os.path.join(real_folder, name)  # not a link: its folder's resolved path and its name
            if entry.is_symlink():
                try:
                    resolved = Path(path).resolve(strict=True)
                except FileNotFoundError:
                    skipped.append(Skipped(path, f"broken link (points to {os.readlink(path)}, which does not exist)"))
                    continue
                except (RuntimeError, OSError):
                    skipped.append(Skipped(path, "link loop (the link leads back to itself)"))
                    continue
                if not inside(resolved) and not follow_links:
                    skipped.append(Skipped(
                        path, f"link to {resolved}, outside the corpus folder (build --follow-links to read it)"
                    ))
                    continue
                real = str(resolved)
            try:
                is_dir = entry.is_dir()
            except OSError as e:
                skipped.append(Skipped(path, f"cannot be read ({_os_reason(e)})"))
                continue
            if is_dir:
                if real in seen_dirs:
                    skipped.append(Skipped(path, "link loop (a folder already read)"))
                    continue
                seen_dirs.add(real)
                walk(path, real, False)
                continue
            if not entry.is_file():
                skipped.append(Skipped(path, f"not a regular file ({special_kind(path)}): nothing to read"))
                continue
            dot = name.rfind(".")
            suffix = name[dot:] if 0 < dot < len(name) - 1 else ""  # as Path.suffix
            if suffix.lower() not in SUFFIXES:
                skipped.append(Skipped(path, f"not a supported format ({suffix or 'no suffix'}); "
                                             f"reads {' '.join(SUFFIXES)}"))
                continue
            if real in seen_files:
                skipped.append(Skipped(path, f"the same file as {seen_files[real]}"))
                continue
            seen_files[real] = path
            size = entry.stat().st_size
            if size > max_file_bytes:
                skipped.append(Skipped(path, f"too large ({_mb(size)}; the limit is {_mb(max_file_bytes)} a file, "
                                             "raise it with build --max-file-mb)"))
                continue
            found.append((path, real))

    walk(str(root), str(real_root), True)
    return sorted(found), skipped


def read_document(
    path: str | Path, *, root: str | Path, metadata: dict[str, dict[str, str]],
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Document:
    """Read one file of the corpus under ``root`` into a Document.

    ``metadata`` (from :func:`read_metadata`) overrides what the file says about itself.
    What reading may inflate or parse is bounded by limits derived from ``max_file_bytes``
    (:class:`~assistant.ingest.budgets.Budget`).

    Raises:
        SkipFile: the file cannot be read, holds no text or is over a limit; the reason
            says why and what to do.
    """
    path, root = Path(path), Path(root)
    raw = read_bounded(path, max_bytes=max_file_bytes)
    if not raw or raw.isspace():
        raise SkipFile("empty file")
    got = read_file(path, raw, budget=Budget.for_file_limit(max_file_bytes))
    sha256, size, extractor = sha256_of(raw), len(raw), extractor_of(path, raw, ocr_pages=got.ocr_pages)
    del raw
    if not got.text or got.text.isspace():
        raise SkipFile("empty file")
    rel = path.relative_to(root).as_posix()
    meta = metadata.get(rel, {})
    return Document(
        doc_id=meta.get("doc_id") or _doc_id_from(rel),
        source=f"{root.name}/{rel}",
        path=str(path.resolve()),
        title=meta.get("title") or got.title or _title_from(got.text, path),
        organization=meta.get("organization") or (got.organization if usable_name(got.organization) else ""),
        date=meta.get("date") or got.date,
        kind=meta.get("kind", ""),
        text=got.text,
        pages=got.pages,
        ocr_pages=got.ocr_pages,
        sha256=sha256,
        size=size,
        extractor=extractor,
        tables=got.tables,
    )


def not_a_folder(root: Path) -> str:
    """Why the --corpus path ``root`` (not a folder) cannot be read, and what to give instead."""
    if root.exists():
        parent = root.parent if str(root.parent) != "." else Path(".")
        return (f"the corpus {root} is a file, not a folder; give the folder that holds the documents"
                f" (e.g. --corpus {parent})")
    if root.is_symlink():
        try:
            os.stat(root)
        except OSError as e:
            if e.errno == errno.ELOOP:
                return f"the corpus folder {root} is a link loop (a link that leads back to itself)"
        return f"the corpus folder {root} is a broken link (what it points to does not exist)"
    return f"corpus folder not found: {root}"


def read_bounded(path: Path, *, max_bytes: int) -> bytes:
    """The bytes of a regular file, at most ``max_bytes`` of them.

    Opened without blocking, so a named pipe (or a device) is refused rather than waited on.

    Raises:
        SkipFile: not a regular file, larger than ``max_bytes``, or unreadable.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        raise SkipFile(f"cannot be read ({_os_reason(e)})") from None
    with os.fdopen(fd, "rb") as f:
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise SkipFile(f"not a regular file ({special_kind(path, mode)}): nothing to read")
            raw = f.read(max_bytes + 1)
        except OSError as e:
            raise SkipFile(f"cannot be read ({_os_reason(e)})") from None
    if len(raw) > max_bytes:
        raise SkipFile(f"too large (over {_mb(max_bytes)}; the limit is {_mb(max_bytes)} a file, "
                       "raise it with build --max-file-mb)")
    return raw


def special_kind(path: str | Path, mode: int | None = None) -> str:
    """What a path that is not a regular file is: a named pipe, a socket, a device, a folder."""
    if mode is None:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            return "unknown kind"
    for test, kind in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return kind
    return "not a file"


def read_corpus(
    corpus_dir: str | Path, *, follow_links: bool = False, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> Corpus:
    """Read every supported file under ``corpus_dir`` (recursively).

    Files that cannot be read are skipped and reported in ``Corpus.skipped``; an optional
    ``metadata.json`` supplies titles, organisations and dates.

    Raises:
        CorpusError: the folder is missing or holds no readable document.
    """
    root = Path(corpus_dir)
    if not root.is_dir():
        raise CorpusError(not_a_folder(root))
    metadata = read_metadata(root)
    paths, skipped = discover(root, follow_links=follow_links, max_file_bytes=max_file_bytes)
    documents: list[Document] = []
    for path in paths:
        try:
            documents.append(read_document(path, root=root, metadata=metadata, max_file_bytes=max_file_bytes))
        except SkipFile as e:
            skipped.append(Skipped(str(path), str(e)))
    ids = [d.doc_id for d in documents]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise CorpusError(f"two files share the document id {dupes[0]!r}; rename one")
    if not documents:
        why = "; ".join(f"{Path(s.path).name}: {s.reason}" for s in skipped[:3])
        why += f"; and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        raise CorpusError(f"no readable documents in {root}" + (f" ({why})" if why else ""))
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


def files_fingerprint(
    root: str | Path, *, follow_links: bool = False, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> str:
    """A hash of the bytes of every file a build of ``root`` would read, and of its
    metadata.json: changes when any of them does. Reads bytes only (no PDF parsing or
    OCR), so checking an index's freshness stays quick; an unreadable file counts as changed."""
    root = Path(root)
    paths, skipped = discover(root, follow_links=follow_links, max_file_bytes=max_file_bytes)
    h = hashlib.sha256()
    for path in [root / METADATA_FILE, *paths]:
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        try:
            with path.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        except FileNotFoundError:
            h.update(b"(missing)")
        except OSError:
            h.update(b"(unreadable)")
        h.update(b"\0")
    for s in skipped:
        h.update(f"{s.path}\0{s.reason}\0".encode())
    return h.hexdigest()[:16]


def passages_of(
    doc: Document,
    *,
    max_tokens: int = 200,
    count_tokens: Callable[[str], int] | None = None,
) -> list[Passage]:
    """Cut one document into passages with stable ids ``<doc_id>#p<paragraph>[.<part>]``."""
    spans: list[Span] = split_text(doc.text, max_tokens=max_tokens, count_tokens=count_tokens, tables=doc.tables)
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
                page=doc.page_at(s.start),
                last_page=doc.page_at(s.end - 1),
                ocr=bool(doc.ocr_pages) and any(
                    n in doc.ocr_pages for n in range(doc.page_at(s.start), doc.page_at(s.end - 1) + 1)
                ),
            )
        )
    return out


def _single_date(date: str) -> str:
    # A listing's date range ("2013-06-21/2018-06-08") is not a passage's date.
    return "" if "/" in date else date


def read_metadata(root: str | Path) -> dict[str, dict[str, str]]:
    """The entries of ``root/metadata.json`` by file path ({} when there is none).

    Raises:
        CorpusError: the file is not valid metadata.
    """
    path = Path(root) / METADATA_FILE
    if not path.exists():
        return {}
    try:
        raw = read_bounded(path, max_bytes=METADATA_MAX_BYTES)  # never waits on a named pipe
    except SkipFile as e:
        raise CorpusError(f"{path}: {e}; metadata.json must be a file") from None
    try:
        data = json.loads(raw.decode("utf-8"))
        entries = data["documents"] if isinstance(data, dict) else data
        return {str(e["file"]): {k: "" if v is None else str(v) for k, v in e.items()} for e in entries}
    except (ValueError, KeyError, TypeError) as e:
        raise CorpusError(f"{path}: not a valid metadata file ({e})") from e
    except OSError as e:
        raise CorpusError(f"{path}: cannot be read ({_os_reason(e)})") from e


METADATA_MAX_BYTES = 256 * 1024 * 1024


def _os_reason(e: OSError) -> str:
    return (e.strerror or type(e).__name__).lower()


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB" if n >= 1024 * 1024 else f"{n / 1024 / 1024:.2f} MB"


def _doc_id_from(rel: str) -> str:
    stem = rel.rsplit(".", 1)[0]
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in stem).strip("-") or "doc"


def _title_from(text: str, path: Path) -> str:
    from assistant.ingest.split import first_heading

    return first_heading(text) or " ".join(path.stem.replace("_", " ").replace("-", " ").split())
