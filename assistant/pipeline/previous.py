"""What a change starts from: the index in place and the source files named to it.

Owns reading the current index's manifest, documents and file records
(:func:`read_previous`, :func:`require_previous`) and describing source files
for ``files.json`` (:func:`describe_all`, :func:`file_records`): the inputs of
:mod:`assistant.pipeline.build`'s three changes.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path

from assistant.encoders.embed import Encoder
from assistant.errors import IndexLoadError
from assistant.index import sources
from assistant.index.folder import Manifest, checksums, load_index, read_manifest
from assistant.index.sources import EXCLUDED, SKIPPED, SourceFile, SourceFiles
from assistant.ingest.corpus import Document, Skipped, special_kind


@dataclass(frozen=True)
class Previous:
    """The index in place: its manifest, its documents by id, its source files' records."""

    manifest: Manifest
    documents: dict[str, Document]
    files: SourceFiles


def read_previous(out: Path) -> Previous | None:
    """The current index's manifest, documents and file records, or None when there
    is no usable one (then everything is built afresh; the cache still counts)."""
    try:
        manifest, sums = read_manifest(out)
        if manifest.backend == "qdrant":
            return _previous_in_qdrant(manifest)
        for name in ("documents.jsonl", sources.FILES):
            if sums.get(name) != checksums(out, only=name).get(name):
                return None
        docs = {d["doc_id"]: Document(**d) for d in _read_jsonl(out / "documents.jsonl")}
        return Previous(manifest, docs, sources.load(out))
    except (IndexLoadError, OSError, ValueError, TypeError, KeyError):
        return None


def _previous_in_qdrant(manifest: Manifest) -> Previous | None:
    """The documents and file records of an index whose contents are in Qdrant."""
    from assistant.index.qdrant_contents import CONTENTS, Contents

    if not manifest.qdrant or manifest.qdrant.get("contents") != CONTENTS:
        return None
    contents = Contents(manifest.qdrant)
    return Previous(manifest, dict(contents.documents.items()), contents.files)


def require_previous(out: Path, encoder: Encoder) -> Previous:
    """The current index, for a change of it (add, remove).

    Raises:
        IndexLoadError: there is no usable index at ``out``, or it was built with another model.
    """
    previous = read_previous(out)
    if previous is None:
        load_index(out, check_corpus=False)  # raises the message that says what is wrong and what to run
        raise IndexLoadError(f"the index at {out} is damaged; {sources.build_command(None, out)}")
    if previous.manifest.model != encoder.name:
        raise IndexLoadError(
            f"the index at {out} was built with {previous.manifest.model}, not {encoder.name}; "
            f"use --model {previous.manifest.model}, or rebuild: "
            f"{sources.build_command(previous.files.corpus_dir, out)} --model {encoder.name}"
        )
    return previous


def describe(path: str, *, origin: str, doc_id: str = "") -> SourceFile:
    return sources.describe(path, origin=origin, doc_id=doc_id)


def describe_all(paths: list[str]) -> dict[str, SourceFile]:
    """Each path's record, marked skipped until it is known to have become a document."""
    out = {}
    for p in paths:
        try:
            out[str(p)] = describe(str(p), origin=SKIPPED)
        except OSError:
            out[str(p)] = SourceFile(str(p), SKIPPED)
    return out


def file_records(
    root: Path, docs: list[tuple[Document, str]], seen: dict[str, SourceFile], excluded: set[str], *,
    follow_links: bool, max_file_bytes: int,
) -> SourceFiles:
    """Each file seen, marked with the document it became (or skipped / excluded)."""
    made = {d.path: (d.doc_id, origin) for d, origin in docs}
    out = []
    for path, f in seen.items():
        if path in excluded:
            out.append(SourceFile(path, EXCLUDED))
        elif path in made:
            doc_id, origin = made[path]
            out.append(SourceFile(path, origin, doc_id, f.size, f.mtime_ns, f.sha256))
        else:
            out.append(f)
    return SourceFiles(str(root), sources.metadata_hash(root), tuple(out), follow_links, max_file_bytes)


def read_added(f: SourceFile, root: Path, *, max_file_bytes: int) -> Document | Skipped:
    """A file added from elsewhere, read again for a build."""
    path = Path(f.path)
    if not path.exists():
        return Skipped(f.path, "no longer exists")
    return sources.read_one(path, corpus_dir=root if sources.is_inside(path, root) else None, doc_id=f.doc_id,
                            max_file_bytes=max_file_bytes)


def not_a_file(path: Path) -> str:
    """Why ``path`` (which ``is_file`` refused) cannot be added."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a link loop (a link that leads back to itself)"
        if e.errno == errno.ENOENT:
            return "a broken link (what it points to does not exist)" if path.is_symlink() else "no such file"
        return f"cannot read it ({e.strerror or type(e).__name__})"
    if stat.S_ISDIR(mode):
        return "a folder, not a file (name the files in it)"
    return f"not a regular file ({special_kind(path, mode)}): nothing to read"


def with_id(doc: Document, doc_id: str) -> Document:
    return replace(doc, doc_id=doc_id)


def free_id(wanted: str, taken: dict[str, str]) -> str:
    """``wanted``, or ``wanted-2``, ``wanted-3`` ... whichever no document has."""
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted}-{n}" in taken:
        n += 1
    return f"{wanted}-{n}"


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
