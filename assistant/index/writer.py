"""Writing an index folder: its files from computed parts, atomically into place.

Owns the write side of ``index/`` below the pipeline: a new version is assembled in
``.INDEX.tmp-PID`` beside the index (:func:`new_version`), its files written from an
:class:`~assistant.index.parts.IndexParts` (:func:`write_parts`), everything fsynced and
the manifest written last (:func:`finish`), then swapped into place in one step
(:func:`swap_into_place`). A change that fails leaves the previous index as it was;
its new encoder outputs go into that index's cache (:func:`salvage`), and the
leftovers of killed writers are found (and their cache reused) by the next one
(:func:`leftovers`). Callers hold the writer lock (:mod:`assistant.index.lock`).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np

from assistant.encoders.cache import CACHE_DIR
from assistant.errors import CorpusError, IndexLoadError
from assistant.index import sources
from assistant.index.folder import (
    INDEX_FILES, MANIFEST_HASH, SENTENCE_ARRAYS, TOKEN_ARRAYS, Manifest, checksums, file_sizes, looks_like_index,
    manifest_hash, manifest_is_ours,
)
from assistant.index.factory import dense_file, keyword_file
from assistant.index.parts import IndexParts
from assistant.index.store import write_jsonl_with_offsets


def check_writable(corpus_dir: Path, out: Path) -> None:
    """Refuse an --index that would destroy something that is not an index."""
    out_r, corpus_r = out.resolve(), corpus_dir.resolve()
    if out_r == Path.cwd().resolve() or out_r == Path(out_r.anchor):
        raise CorpusError(f"refusing to build into {out}: give the index its own folder, e.g. --index index")
    if out_r == corpus_r or out_r in corpus_r.parents or corpus_r in out_r.parents:
        raise CorpusError(f"refusing to build into {out}: it is, holds or lies inside the corpus folder {corpus_dir}")
    if out_r.exists():
        if not out_r.is_dir():
            raise CorpusError(f"refusing to build into {out}: it is a file")
        if any(out_r.iterdir()) and not looks_like_index(out_r):
            if (out_r / "manifest.json").exists() and not manifest_is_ours(out_r):
                raise CorpusError(
                    f"refusing to build into {out}: it is not an index of this assistant (its manifest.json is "
                    "another program's); choose an empty or new folder"
                )
            if (out_r / "manifest.json").exists():
                others = sorted(p.name for p in out_r.iterdir() if p.name not in INDEX_FILES)
                raise CorpusError(
                    f"refusing to build into {out}: besides an index it holds other files ({', '.join(others[:3])}); "
                    "move them out or choose an empty or new folder"
                )
            raise CorpusError(
                f"refusing to build into {out}: the folder holds files and is not an index (no manifest.json); "
                "choose an empty or new folder"
            )


def leftovers(out: Path) -> list[Path]:
    """Under the lock: put back an index a killed swap left aside, and return the
    temporary folders of killed writers (their cache shards are reused, then the
    folders are deleted once the new index is in place)."""
    old = out.parent / f".{out.name}.old"
    if old.exists():
        if not out.exists() and (old / "manifest.json").exists():
            os.replace(old, out)
        else:
            shutil.rmtree(old, ignore_errors=True)
    mine = f".{out.name}.tmp-{os.getpid()}"
    return sorted(p for p in out.parent.glob(f".{out.name}.tmp-*") if p.is_dir() and p.name != mine)


def swapped_out(out: Path, stale: list[Path]) -> bool:
    """Whether one of the killed writers' folders ``stale`` holds an index older than the
    one at ``out``: that writer was killed after its swap (the folder is the version it
    replaced), so its change is in place, though it never said so."""
    try:
        current = (out / "manifest.json").stat().st_mtime_ns
    except OSError:
        return False
    for folder in stale:
        try:
            if (folder / "manifest.json").stat().st_mtime_ns < current:
                return True
        except OSError:
            continue
    return False


@contextmanager
def new_version(out: Path, *, stale: list[Path]) -> Iterator[Path]:
    """An empty temporary folder beside ``out`` for the new version, swapped into place
    when the block ends; when it raises, salvaged (:func:`salvage`) instead. Once the
    new version is in place the killed writers' folders ``stale`` are deleted."""
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        swap_into_place(tmp, out)
    except BaseException:
        salvage(tmp, out)
        raise
    for s in stale:
        shutil.rmtree(s, ignore_errors=True)


def write_parts(folder: Path, parts: IndexParts) -> dict | None:
    """Write every file of an index except the manifest (and the cache). An array that
    is already a memory map of its file in ``folder`` (the token vectors a build
    streams there, a benchmark's arrays) is left as it is.

    An index on Qdrant (its dense backend a collection's) writes its contents into the
    collections instead (:mod:`assistant.index.qdrant_contents`) and no file.

    Returns:
        What the manifest records of the Qdrant collections (``Manifest.qdrant``), or None.
    """
    store = getattr(parts.dense, "store", None)
    if store is not None:
        from assistant.index import qdrant_contents

        record = qdrant_contents.write(store, parts)
        for name in TOKEN_ARRAYS:  # the token vectors a build streamed into the folder
            (folder / f"tokens.{name}.npy").unlink(missing_ok=True)
        return record
    docs, passages = parts.documents, parts.passages
    ids = [d.doc_id for d in docs]
    offsets = write_jsonl_with_offsets(folder / "documents.jsonl", (asdict(d) for d in docs))
    (folder / "documents.index.json").write_text(json.dumps({"ids": ids, "offsets": offsets}, ensure_ascii=False))
    offsets = write_jsonl_with_offsets(folder / "passages.jsonl", (asdict(p) for p in passages))
    np.save(folder / "passages.offsets.npy", np.asarray(offsets, dtype=np.int64), allow_pickle=False)
    parts.dense.save(folder / dense_file(parts.dense.kind))
    arrays = {f"sentences.{name}.npy": getattr(parts.sentences, name) for name in SENTENCE_ARRAYS}
    arrays |= {f"tokens.{name}.npy": getattr(parts.tokens, name) for name in TOKEN_ARRAYS}
    for name, array in arrays.items():
        if isinstance(array, np.memmap) and Path(array.filename).resolve() == (folder / name).resolve():
            array.flush()
            continue
        np.save(folder / name, np.asarray(array), allow_pickle=False)
    (folder / "tokens.json").write_text(json.dumps({"pieces": parts.tokens.pieces}, ensure_ascii=False))
    parts.keyword.save(folder / keyword_file(parts.keyword.kind))
    parts.columns.save(folder)
    (folder / "vocabulary.json").write_text(json.dumps(sorted(parts.vocabulary), ensure_ascii=False))
    sources.save(parts.files, folder)
    return None


def finish(folder: Path, manifest: Manifest) -> None:
    """Write the manifest, last: a folder without one is never mistaken for an index.
    It records every file's size and checksum, so a damaged file is refused, not half-read."""
    _fsync_tree(folder)
    record = asdict(manifest) | {"checksums": checksums(folder), "sizes": file_sizes(folder)}
    record[MANIFEST_HASH] = manifest_hash(record)  # so an edited field (model, ranking ...) is found by `check`
    _write_synced(folder / "manifest.json", json.dumps(record, indent=2) + "\n")


def rewrite_ranking(folder: Path, ranking: dict, *, loaded: str) -> None:
    """Replace the ranking record of the manifest of the index in ``folder`` (the caller
    holds the writer lock), atomically, if the index is still the one whose manifest
    hash was ``loaded``; the manifest hash is recomputed, the files are untouched.

    Raises:
        IndexLoadError: the index changed since it was loaded.
    """
    path = folder / "manifest.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    if str(record.get(MANIFEST_HASH) or manifest_hash(record)) != loaded:
        raise IndexLoadError(f"the index at {folder} changed since it was loaded; run the command again")
    record["ranking"] = ranking
    record[MANIFEST_HASH] = manifest_hash(record)
    tmp = path.with_name(f".manifest.{os.getpid()}.tmp")
    _write_synced(tmp, json.dumps(record, indent=2) + "\n")
    os.replace(tmp, path)  # readers see the old manifest or the new, never half


def salvage(tmp: Path, out: Path) -> None:
    """A change that failed: its new encoder outputs go into the current index's
    cache (never checksummed, only ever read by writers), the rest is deleted."""
    work = tmp / CACHE_DIR
    if out.is_dir() and (out / "manifest.json").exists() and work.is_dir():
        try:
            (out / CACHE_DIR).mkdir(exist_ok=True)
            for shard in work.glob("*.npz"):
                os.replace(shard, out / CACHE_DIR / shard.name)
        except OSError:
            return  # leave the folder: the next writer reuses and removes it
    shutil.rmtree(tmp, ignore_errors=True)


def swap_into_place(tmp: Path, out: Path) -> None:
    """Make ``tmp`` the index at ``out`` in one step (Linux renameat2 exchange), or
    with two renames where that is not available (a killed swap is put back by
    the next writer or reader)."""
    if out.exists() and _exchange(tmp, out):
        shutil.rmtree(tmp, ignore_errors=True)  # now the previous index
        return
    old = out.parent / f".{out.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths; False when the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync_tree(folder: Path) -> None:
    for f in folder.rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _write_synced(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
