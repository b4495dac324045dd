"""The files an index was made from, and whether they still say what was indexed.

Owns ``files.json`` in the index folder: for every file the build looked at, its
path, the document it became (or that it was skipped, or removed by the user),
its size, modification time and SHA-256. Files added from outside the corpus
folder (``assistant add``) are recorded here too, so later builds and loads know
them.

The freshness check is per file: size and modification time first, the hash
only when they differ, so a file that cannot be read but did not change costs
nothing, and one that cannot be read to check becomes a note, never a traceback.
A file that is no longer a regular file (a named pipe, a socket, a folder) has
changed; it is never opened (opening a named pipe waits for a writer).

A stale index is still used: the documents whose files changed or went missing
are withheld from answers (:func:`withheld`), and every answer carries a note that
names them and the command that refreshes them (:func:`stale_notes`).
:class:`Checker` repeats the check cheaply (a file's hash is computed once per
size and time seen), so a running server can re-check every few seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assistant.ingest.corpus import (
    DEFAULT_MAX_FILE_BYTES, METADATA_FILE, SUFFIXES, Document, SkipFile, Skipped, discover_resolved, read_document, read_metadata,
)
from assistant.errors import CorpusError

FILES = "files.json"

CORPUS, ADDED, SKIPPED, EXCLUDED = "corpus", "added", "skipped", "excluded"


@dataclass(frozen=True)
class SourceFile:
    """One file as it was when the index read it."""

    path: str  # absolute
    origin: str  # CORPUS, ADDED (outside the corpus folder), SKIPPED or EXCLUDED (assistant remove)
    doc_id: str = ""  # the document it became ("" when skipped or excluded)
    size: int = -1
    mtime_ns: int = -1
    sha256: str = ""


@dataclass(frozen=True)
class SourceFiles:
    corpus_dir: str
    metadata_sha256: str  # of the corpus folder's metadata.json, "" when it has none
    files: tuple[SourceFile, ...] = field(default=())
    follow_links: bool = False  # how the corpus folder is read (corpus.discover)
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES

    def of_origin(self, *origins: str) -> tuple[SourceFile, ...]:
        return tuple(f for f in self.files if f.origin in origins)

    def by_path(self) -> dict[str, SourceFile]:
        return {f.path: f for f in self.files}


@dataclass(frozen=True)
class Freshness:
    """What changed in the corpus since the build, and what could not be checked."""

    changed: tuple[str, ...] = ()
    new: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def stale(self) -> bool:
        return bool(self.changed or self.new or self.removed)


def describe(path: str | Path, *, origin: str, doc_id: str = "") -> SourceFile:
    """Record a file as it is now (raises OSError when it cannot be read)."""
    p = Path(path)
    st = p.stat()
    return SourceFile(str(p), origin, doc_id, st.st_size, st.st_mtime_ns, _sha256(p))


def metadata_hash(corpus_dir: Path) -> str:
    path = corpus_dir / METADATA_FILE
    try:
        return _sha256(path) if path.exists() else ""
    except NotRegularFile:
        return "(not a regular file)"
    except OSError:
        return "(unreadable)"


def candidates(corpus_dir: Path, *, follow_links: bool = False, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> list[str]:
    """The files a build of ``corpus_dir`` reads (resolved paths), in build order."""
    found, _ = discover_resolved(corpus_dir, follow_links=follow_links, max_file_bytes=max_file_bytes)
    return [real for _, real in found]


def is_inside(path: Path, folder: Path) -> bool:
    return folder.resolve() in path.resolve().parents


def read_one(
    path: Path, *, corpus_dir: Path | None, doc_id: str = "", max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> Document | Skipped:
    """Read one file as a build would: inside ``corpus_dir`` with that folder's
    metadata.json, elsewhere with a ``metadata.json`` beside it (if any)."""
    from dataclasses import replace

    path = path.resolve()
    root = corpus_dir.resolve() if corpus_dir is not None and is_inside(path, corpus_dir) else path.parent
    if path.suffix.lower() not in SUFFIXES:
        return Skipped(str(path), f"not a supported format ({path.suffix or 'no suffix'}); reads {' '.join(SUFFIXES)}")
    try:
        size = path.stat().st_size
        if size > max_file_bytes:
            return Skipped(str(path), f"too large ({size / 1e6:.1f} MB; the limit is {max_file_bytes / 1e6:.1f} MB a file)")
        doc = read_document(path, root=root, metadata=read_metadata(root), max_file_bytes=max_file_bytes)
    except SkipFile as e:
        return Skipped(str(path), str(e))
    except CorpusError as e:  # a metadata.json beside it that is not valid
        return Skipped(str(path), str(e))
    except OSError as e:
        return Skipped(str(path), f"cannot be read ({e.strerror or type(e).__name__})")
    return replace(doc, doc_id=doc_id) if doc_id else doc


def save(files: SourceFiles, folder: Path) -> None:
    data = {"corpus_dir": files.corpus_dir, "metadata_sha256": files.metadata_sha256,
            "follow_links": files.follow_links, "max_file_bytes": files.max_file_bytes,
            "files": [asdict(f) for f in sorted(files.files, key=lambda f: f.path)]}
    (folder / FILES).write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")


def load(folder: Path) -> SourceFiles:
    """Read ``files.json`` (raises OSError/ValueError/TypeError/KeyError when damaged)."""
    data = json.loads((folder / FILES).read_text(encoding="utf-8"))
    return SourceFiles(
        str(data["corpus_dir"]), str(data["metadata_sha256"]), tuple(SourceFile(**f) for f in data["files"]),
        bool(data["follow_links"]), int(data["max_file_bytes"]),
    )


def check(files: SourceFiles, *, compare=None) -> Freshness:
    """Compare the recorded files with what is on disk now.

    A corpus folder that no longer exists is not a change: the index holds every
    quoted text. A file that cannot be read to compare is a note.

    Args:
        compare: how one file is compared (``Checker`` passes its own, which remembers hashes).
    """
    compare = compare or _compare
    corpus_dir = Path(files.corpus_dir)
    changed: list[str] = []
    removed: list[str] = []
    notes: list[str] = []
    corpus_present = corpus_dir.is_dir()
    for f in files.files:
        if f.origin == EXCLUDED or (f.origin != ADDED and not corpus_present):
            continue
        state = compare(f)
        if state == "same":
            continue
        if state == "missing":
            if f.origin != SKIPPED:  # a skipped file that went away changes nothing indexed
                removed.append(f.path)
        elif state == "changed":
            changed.append(f.path)
        else:
            notes.append(f"cannot check whether {f.path} changed since the build ({state}); "
                         "its passages are quoted as indexed")
    new: list[str] = []
    if corpus_present:
        known = {f.path for f in files.files}
        try:
            new = [p for p in candidates(corpus_dir, follow_links=files.follow_links,
                                         max_file_bytes=files.max_file_bytes) if p not in known]
        except OSError as e:
            notes.append(f"cannot list {corpus_dir} to look for new files ({e.strerror or type(e).__name__})")
        if metadata_hash(corpus_dir) != files.metadata_sha256:
            changed.append(str(corpus_dir / METADATA_FILE))
    return Freshness(tuple(changed), tuple(new), tuple(removed), tuple(notes))


def stale_message(fresh: Freshness, *, corpus_dir: str, index_dir: Path) -> str:
    parts = []
    for label, paths in (("changed", fresh.changed), ("new", fresh.new), ("removed", fresh.removed)):
        if paths:
            names = ", ".join(_short(p, corpus_dir) for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
            parts.append(f"{label}: {names}")
    return (
        f"the corpus at {corpus_dir} has changed since the index at {index_dir} was built ({'; '.join(parts)}); "
        f"update it: {build_command(corpus_dir, index_dir)}"
    )


def build_command(corpus_dir: str | Path | None, index_dir: str | Path) -> str:
    """The command that (re)builds ``index_dir``, quoted for a POSIX shell."""
    corpus = f"--corpus {shlex.quote(str(corpus_dir))} " if corpus_dir else ""
    return f"assistant build {corpus}--index {shlex.quote(str(index_dir))}"


def withheld(files: SourceFiles, fresh: Freshness) -> dict[str, str]:
    """doc id -> file of each document whose file changed or went missing since it was
    indexed: its indexed text is no longer what the file says, so it is not quoted."""
    by_path = files.by_path()
    out = {}
    for path in (*fresh.changed, *fresh.removed):
        f = by_path.get(path)
        if f is not None and f.doc_id and f.origin in (CORPUS, ADDED):
            out[f.doc_id] = path
    return out


SHOWN_FILES = 3  # files a note names before it says "and N more"


def stale_notes(files: SourceFiles, fresh: Freshness, *, index_dir: str | Path) -> tuple[str, ...]:
    """Notes for every answer from a stale index: which files' quotes are withheld,
    which files are not indexed yet, and the command that brings each up to date."""
    corpus, index = files.corpus_dir, str(index_dir)
    by_path = files.by_path()
    rebuild = build_command(corpus, index)
    notes = []

    def names(paths: tuple[str, ...]) -> str:
        shown = ", ".join(_short(p, corpus) for p in paths[:SHOWN_FILES])
        return shown + (f" and {len(paths) - SHOWN_FILES} more" if len(paths) > SHOWN_FILES else "")

    changed = tuple(p for p in fresh.changed if p in by_path)
    if len(changed) == 1:
        notes.append(f"{names(changed)} changed since it was indexed; its quotes are withheld until it is "
                     f"refreshed: {add_command(changed, index)}")
    elif changed:
        notes.append(f"{names(changed)} changed since they were indexed; their quotes are withheld until they are "
                     f"refreshed: {add_command(changed, index) if len(changed) <= SHOWN_FILES else rebuild}")
    if fresh.removed:
        ids = [by_path[p].doc_id for p in fresh.removed if p in by_path and by_path[p].doc_id]
        one = len(fresh.removed) == 1
        fix = remove_command(ids, index) if len(ids) <= SHOWN_FILES else rebuild
        notes.append(f"{names(fresh.removed)} {'is' if one else 'are'} missing since "
                     f"{'it was' if one else 'they were'} indexed; {'its' if one else 'their'} quotes are withheld; "
                     f"remove {'it' if one else 'them'} from the index: {fix}")
    if fresh.new:
        one = len(fresh.new) == 1
        fix = add_command(fresh.new, index) if len(fresh.new) <= SHOWN_FILES else rebuild
        notes.append(f"{names(fresh.new)} {'is' if one else 'are'} in the corpus but not indexed yet: {fix}")
    meta = str(Path(corpus) / METADATA_FILE)
    if meta in fresh.changed:
        notes.append(f"the corpus's {METADATA_FILE} changed since the index was built; titles, organisations and "
                     f"dates are as indexed: {rebuild}")
    return tuple(notes)


def add_command(paths, index_dir: str | Path) -> str:
    """The command that adds (or refreshes) ``paths`` in ``index_dir``, quoted for a POSIX shell."""
    return shlex.join(["assistant", "add", *map(str, paths), "--index", str(index_dir)])


def remove_command(doc_ids, index_dir: str | Path) -> str:
    """The command that removes the documents ``doc_ids`` from ``index_dir``, quoted for a POSIX shell."""
    return shlex.join(["assistant", "remove", *doc_ids, "--index", str(index_dir)])


class Checker:
    """Checks one index's files again and again (a server re-checks every few seconds):
    as :func:`check`, but a file whose size and time differ from the record is hashed
    once for each size and time it is seen with, not on every check."""

    def __init__(self, files: SourceFiles) -> None:
        self.files = files
        self._hashed: dict[str, tuple[int, int, str]] = {}  # path -> (size, mtime_ns, verdict)

    def check(self) -> Freshness:
        return check(self.files, compare=self._compare)

    def _compare(self, f: SourceFile) -> str:
        seen = self._hashed.get(f.path)
        try:
            st = os.stat(f.path)
        except OSError:
            return _compare(f)
        if seen is not None and seen[:2] == (st.st_size, st.st_mtime_ns):
            return seen[2]
        verdict = _compare(f)
        if verdict in ("same", "changed"):
            self._hashed[f.path] = (st.st_size, st.st_mtime_ns, verdict)
        return verdict


def _compare(f: SourceFile) -> str:
    try:
        st = os.stat(f.path)  # not pathlib: a load checks every file of the corpus
    except FileNotFoundError:
        return "missing"
    except OSError as e:
        return e.strerror or type(e).__name__
    if not stat.S_ISREG(st.st_mode):
        return "changed"  # a named pipe, a socket or a folder where the file was: never opened
    if st.st_size == f.size and st.st_mtime_ns == f.mtime_ns:
        return "same"
    try:
        return "same" if _sha256(Path(f.path)) == f.sha256 else "changed"
    except NotRegularFile:
        return "changed"
    except OSError as e:
        return e.strerror or type(e).__name__


class NotRegularFile(OSError):
    """What was opened is not a regular file (it became one between a stat and the open)."""


def _sha256(path: Path) -> str:
    """The SHA-256 of a regular file; anything else is refused without waiting
    (a named pipe is opened without blocking and never read)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(f"{path} is not a regular file")
        h = hashlib.sha256()
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _short(path: str, corpus_dir: str) -> str:
    try:
        return Path(path).relative_to(corpus_dir).as_posix()
    except ValueError:
        return path
