"""Changing an index folder: build it, add files to it, remove documents from it.

Owns the write side of ``index/``: one writer at a time on each real folder
(``.INDEX.lock`` beside it; :mod:`assistant.index.lock`), a new version assembled
in ``.INDEX.tmp-PID`` and swapped into place in one step, and the leftovers of
killed writers cleaned up by the next one (whose encoder cache they feed, so an
interrupted build resumes where it stopped).

Every change computes the whole index from its documents, exactly as a full
build does; only the encoder's work is reused, through :mod:`assistant.encoders.cache`.
So an incremental build, ``add`` and ``remove`` give the index a full rebuild of
the same files gives, by construction.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from assistant.version import __version__
from assistant.index import sources
from assistant.encoders.cache import CACHE_DIR, EncoderCache
from assistant.ingest.corpus import DEFAULT_MAX_FILE_BYTES, Document, Passage, Skipped, fingerprint, passages_of, read_corpus
from assistant.encoders.embed import Encoder
from assistant.errors import CorpusError, IndexLoadError, QueryError
from assistant.index.dense import DenseIndex, choose_kind
from assistant.index.columns import Columns
from assistant.index.folder import (
    AUTO, FORMAT, MANIFEST_HASH, PASSAGE_TOKENS, SENTENCE_ARRAYS, TOKEN_ARRAYS, Manifest, Sentences, UpdateReport, checksums, file_sizes,
    embedding_text, item_leads, keyword_text, manifest_hash, passage_sentences, token_sentences, vocabulary_of,
)
from assistant.index.keyword import KeywordIndex
from assistant.index.lock import index_folder, lock_path, writer_lock  # noqa: F401 - lock_path: part of this module's API
from assistant.index.store import write_jsonl_with_offsets
from assistant.index.sources import ADDED, CORPUS, EXCLUDED, SKIPPED, SourceFile, SourceFiles
from assistant.index.tokens import TokenVectors

LOCK_TIMEOUT = 10.0  # seconds a second writer waits before it is told another one is running


# --- the three changes ---------------------------------------------------------


def build_index(
    corpus_dir: str | Path,
    *,
    encoder: Encoder,
    out_dir: str | Path,
    batch_size: int = 32,
    progress: bool = False,
    follow_links: bool = False,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    lock_timeout: float = LOCK_TIMEOUT,
    index_type: str | None = None,
) -> UpdateReport:
    """Read a corpus folder (and the files added to the index from elsewhere) and
    make ``out_dir`` its index, encoding only texts the cache does not hold.

    Raises:
        CorpusError: no readable document, or ``out_dir`` is not ours to write.
        IndexBusyError: another writer holds the index for ``lock_timeout`` seconds.
    """
    t0 = time.perf_counter()
    corpus_dir, out = Path(corpus_dir), index_folder(out_dir)
    check_writable(corpus_dir, Path(out_dir))  # (named in its messages as given)
    with writer_lock(out, timeout=lock_timeout):
        stale = _leftovers(out)
        previous = _read_previous(out)
        root = corpus_dir.resolve()
        same_corpus = previous is not None and previous.files.corpus_dir == str(root)
        excluded = {f.path for f in previous.files.of_origin(EXCLUDED)} if same_corpus else set()
        opts = dict(follow_links=follow_links, max_file_bytes=max_file_bytes)
        records = _describe_all(sources.candidates(root, **opts) if root.is_dir() else [])
        corpus = read_corpus(corpus_dir, **opts)
        notes: list[str] = []
        docs: list[tuple[Document, str]] = [(d, CORPUS) for d in corpus.documents if d.path not in excluded]
        skipped = list(corpus.skipped)
        if same_corpus:
            for f in previous.files.of_origin(ADDED):
                got = _read_added(f, root, max_file_bytes=max_file_bytes)
                if isinstance(got, Skipped):
                    notes.append(f"{f.path} (added with assistant add) {got.reason}; its document {f.doc_id} is removed")
                    continue
                docs.append((got, ADDED))
                try:
                    records[got.path] = _describe(got.path, origin=ADDED)
                except OSError:
                    records[got.path] = SourceFile(got.path, ADDED)
        files = _records(root, docs, records, excluded, follow_links=follow_links, max_file_bytes=max_file_bytes)
        return _commit(
            out, docs=[d for d, _ in docs], files=files, skipped=tuple(skipped), notes=tuple(notes),
            encoder=encoder, previous=previous, stale=stale, batch_size=batch_size, progress=progress, t0=t0,
            index_type=index_type,
        )


def add_documents(
    index_dir: str | Path,
    paths: Sequence[str | Path],
    *,
    encoder: Encoder,
    batch_size: int = 32,
    progress: bool = False,
    lock_timeout: float = LOCK_TIMEOUT,
) -> UpdateReport:
    """Add (or refresh) files in an existing index, encoding only their new texts.

    A file inside the index's corpus folder is read as a build reads it; a file
    elsewhere is recorded as added, so later builds and loads know it. Files
    that cannot be read are listed in ``skipped``; the others are added.

    Raises:
        IndexLoadError: there is no usable index at ``index_dir``.
        CorpusError: none of ``paths`` could be read, or a document id is taken.
        IndexBusyError: another writer holds the index.
    """
    t0 = time.perf_counter()
    out = index_folder(index_dir)
    if not paths:
        raise CorpusError("name at least one file to add")
    with writer_lock(out, timeout=lock_timeout):
        stale = _leftovers(out)
        previous = _require_previous(out, encoder)
        root = Path(previous.files.corpus_dir)
        known = previous.files.by_path()
        current = {d.path: d for d in previous.documents.values()}
        records = {f.path: f for f in previous.files.files}
        taken = {d.doc_id: d.path for d in previous.documents.values()}
        skipped: list[Skipped] = []
        changed: dict[str, tuple[Document, str]] = {}
        seen: set[Path] = set()
        for given in paths:
            path = Path(given).expanduser()
            if not path.is_file():
                skipped.append(Skipped(str(given), _not_a_file(path)))
                continue
            path = path.resolve()
            if path in seen:  # the same file named twice (or by two paths) is added once
                continue
            seen.add(path)
            inside = root.is_dir() and sources.is_inside(path, root)
            origin = CORPUS if inside else ADDED
            old = known.get(str(path))
            doc_id = old.doc_id if old is not None and old.doc_id and origin == ADDED else ""
            try:
                record = _describe(str(path), origin=origin)
            except OSError as e:
                skipped.append(Skipped(str(path), f"cannot read it ({e.strerror or type(e).__name__})"))
                continue
            got = sources.read_one(path, corpus_dir=root if inside else None, doc_id=doc_id,
                                   max_file_bytes=previous.files.max_file_bytes)
            if isinstance(got, Skipped):
                skipped.append(got)
                continue
            if origin == ADDED and not doc_id:
                got = _with_id(got, _free_id(got.doc_id, taken))
            owner = taken.get(got.doc_id)
            if owner is not None and owner != got.path:
                raise CorpusError(
                    f"{path} would have the document id {got.doc_id!r}, which {owner} already has; "
                    "give it another id in metadata.json or rename the file"
                )
            taken[got.doc_id] = got.path
            changed[got.path] = (got, origin)
            records[got.path] = SourceFile(record.path, origin, got.doc_id, record.size, record.mtime_ns, record.sha256)
        if not changed:
            why = "; ".join(f"{s.path}: {s.reason}" for s in skipped)
            raise CorpusError(f"nothing to add ({why})")
        docs = [d for p, d in current.items() if p not in changed] + [d for d, _ in changed.values()]
        files = replace(previous.files, files=tuple(records.values()))
        return _commit(
            out, docs=docs, files=files, skipped=tuple(skipped), notes=(),
            encoder=encoder, previous=previous, stale=stale, batch_size=batch_size, progress=progress, t0=t0,
        )


def remove_documents(
    index_dir: str | Path,
    ids_or_paths: Sequence[str | Path],
    *,
    encoder: Encoder,
    batch_size: int = 32,
    lock_timeout: float = LOCK_TIMEOUT,
) -> UpdateReport:
    """Remove documents, named by id or by file path, from an existing index.

    A removed file that is still in the corpus folder is remembered as excluded,
    so builds leave it out until it is added again.

    Raises:
        QueryError: a name is neither a document id nor an indexed file (nothing is changed),
            or removing them would leave the index empty.
        IndexLoadError, IndexBusyError: as for :func:`add_documents`.
    """
    t0 = time.perf_counter()
    out = index_folder(index_dir)
    if not ids_or_paths:
        raise QueryError("name at least one document id or file to remove")
    with writer_lock(out, timeout=lock_timeout):
        stale = _leftovers(out)
        previous = _require_previous(out, encoder)
        by_path = {d.path: d for d in previous.documents.values()}
        gone: dict[str, Document] = {}
        for name in ids_or_paths:
            doc = previous.documents.get(str(name))
            if doc is None:
                doc = by_path.get(str(Path(name).expanduser().resolve()))
            if doc is None:
                known = ", ".join(sorted(previous.documents)[:20])
                raise QueryError(f"{name} is neither a document id nor a file in the index at {out}; known ids: {known}")
            gone[doc.doc_id] = doc
        if len(gone) == len(previous.documents):
            raise QueryError("that would remove every document; build a new index instead")
        records = []
        for f in previous.files.files:
            doc = gone.get(f.doc_id) if f.doc_id else None
            if doc is None or f.path != doc.path:
                records.append(f)
            elif f.origin == CORPUS and Path(f.path).exists():
                records.append(SourceFile(f.path, EXCLUDED))
        files = replace(previous.files, files=tuple(records))
        docs = [d for d in previous.documents.values() if d.doc_id not in gone]
        return _commit(
            out, docs=docs, files=files, skipped=(), notes=(), encoder=encoder, previous=previous,
            stale=stale, batch_size=batch_size, progress=False, t0=t0,
        )


# --- writing a new version ----------------------------------------------------------


@dataclass(frozen=True)
class _Previous:
    manifest: Manifest
    documents: dict[str, Document]
    files: SourceFiles


@dataclass(frozen=True)
class _Layout:
    """Everything of a new index that needs no encoder: documents in order, their
    passages, and the texts to encode (each passage's and each sentence's)."""

    docs: tuple[Document, ...]
    passages: tuple[Passage, ...]
    texts: tuple[str, ...]
    sent_rows: tuple[int, ...]
    sent_spans: tuple[tuple[int, int], ...]
    sent_texts: tuple[str, ...]

    @property
    def by_id(self) -> dict[str, Document]:
        return {d.doc_id: d for d in self.docs}


def _layout(docs: list[Document], *, files: SourceFiles, encoder: Encoder) -> _Layout:
    origin = {f.doc_id: f.origin for f in files.files if f.doc_id}
    # Corpus files in path order, then files added from elsewhere in path order:
    # the same order however the index came to hold them.
    docs = sorted(docs, key=lambda d: (0 if origin.get(d.doc_id, CORPUS) == CORPUS else 1, Path(d.path)))
    ids = [d.doc_id for d in docs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise CorpusError(f"two files share the document id {dupes[0]!r}; rename one")
    by_id = {d.doc_id: d for d in docs}
    max_tokens = min(PASSAGE_TOKENS, encoder.max_tokens)
    passages: list[Passage] = []
    for doc in docs:
        passages.extend(passages_of(doc, max_tokens=max_tokens, count_tokens=encoder.count_tokens))
    if not passages:
        raise CorpusError(f"the documents in {files.corpus_dir} contain no passages of text")
    sent_rows: list[int] = []
    sent_spans: list[tuple[int, int]] = []
    for row, p in enumerate(passages):
        for span in passage_sentences(p, by_id[p.doc_id]):
            sent_rows.append(row)
            sent_spans.append(span)
    # A sentence is embedded with its document's title, so "the 1997 statement" can find it.
    sent_texts = [
        f"{by_id[passages[r].doc_id].title}. " + " ".join(by_id[passages[r].doc_id].text[a:b].split())
        for r, (a, b) in zip(sent_rows, sent_spans)
    ]
    texts = [embedding_text(p, by_id[p.doc_id]) for p in passages]
    return _Layout(tuple(docs), tuple(passages), tuple(texts), tuple(sent_rows), tuple(sent_spans), tuple(sent_texts))


def _commit(
    out: Path, *, docs: list[Document], files: SourceFiles, skipped: tuple[Skipped, ...], notes: tuple[str, ...],
    encoder: Encoder, previous: _Previous | None, stale: list[Path], batch_size: int, progress: bool, t0: float,
    index_type: str | None = None,
) -> UpdateReport:
    """Compute the whole index of ``docs`` (encodings from the cache where it has
    them), write it beside ``out`` and swap it into place."""
    layout = _layout(docs, files=files, encoder=encoder)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        # the dense index's kind: as asked, else as the index's last build was asked ("auto" by default)
        asked = index_type or (previous.manifest.index_type if previous is not None else AUTO)
        cache = _write(tmp, out, layout, files=files, encoder=encoder, stale=stale, batch_size=batch_size,
                       progress=progress, t0=t0, index_type=asked)
        swap_into_place(tmp, out)
    except BaseException:
        _salvage(tmp, out)
        raise
    for s in stale:
        shutil.rmtree(s, ignore_errors=True)

    ids = [d.doc_id for d in layout.docs]
    by_id = layout.by_id
    before = previous.documents if previous is not None else {}
    added = tuple(i for i in ids if i not in before)
    updated = tuple(i for i in ids if i in before and before[i] != by_id[i])
    removed = tuple(sorted(i for i in before if i not in by_id))
    stats = cache.stats
    return UpdateReport(
        index_dir=str(out.resolve()), documents=len(ids), passages=len(layout.passages), skipped=skipped,
        seconds=round(time.perf_counter() - t0, 2), added=added, updated=updated, removed=removed,
        unchanged=len(ids) - len(added) - len(updated), encoded=stats.encoded, reused=stats.reused,
        notes=notes + cache.notes,
    )


def _write(
    tmp: Path, out: Path, layout: _Layout, *, files: SourceFiles, encoder: Encoder, stale: list[Path],
    batch_size: int, progress: bool, t0: float, index_type: str = AUTO,
) -> EncoderCache:
    """Encode (through the cache) and write every file of the new index into ``tmp``,
    the manifest last."""
    from assistant.pipeline.progress import Progress

    docs, passages, texts = list(layout.docs), list(layout.passages), list(layout.texts)
    sent_rows, sent_spans, sent_texts = list(layout.sent_rows), list(layout.sent_spans), list(layout.sent_texts)
    by_id = layout.by_id
    cache_sources = [out / CACHE_DIR] + [s / CACHE_DIR for s in stale]
    cache = EncoderCache(encoder=encoder, sources=cache_sources, work_dir=tmp / CACHE_DIR, batch_size=batch_size)
    bar = Progress(cache.missing(passages=texts, sentences=sent_texts), desc="embedding", enabled=progress)
    cache.report_to(bar.update)
    try:
        vectors = cache.passage_vectors(texts)
        sent_vectors = cache.sentences(sent_texts)
    finally:
        bar.close()
    counts = cache.token_counts(texts)
    empty = [p.passage_id for p, n in zip(passages, counts) if n == 0]
    if empty:
        raise CorpusError(f"the encoder sees no tokens in passage {empty[0]}; check that file's encoding")
    by_passage: dict[int, list[tuple[int, tuple[int, int]]]] = {}
    for i, (r, span) in enumerate(zip(sent_rows, sent_spans)):
        by_passage.setdefault(r, []).append((i, span))
    # streamed from the cache a shard at a time and quantised as they come (as the
    # index stores them, and the calibration below sees them)
    tokens = TokenVectors.stream(
        counts, encoder.dimension,
        ((row, t, token_sentences(passages[row], texts[row], t, by_passage.get(row, [])))
         for row, t in cache.passage_tokens(texts)),
        vectors_file=tmp / "tokens.vectors.npy",  # written in place; write_index_files leaves it
    )
    tokens = replace(tokens, counts=tokens.piece_passages())
    sentences = Sentences.of(
        sent_rows, sent_spans, sent_vectors,
        [by_id[passages[r].doc_id].text[a:b] for r, (a, b) in zip(sent_rows, sent_spans)], len(passages),
        quantize=True,
    )
    kind = choose_kind(len(passages)) if index_type == AUTO else index_type
    dense = DenseIndex.build(vectors, kind=kind)
    leads = item_leads(passages, by_id)
    keyword = KeywordIndex.build([keyword_text(p, by_id[p.doc_id], lead) for p, lead in zip(passages, leads)])
    columns = Columns.of(by_id, passages)
    write_index_files(tmp, docs=docs, passages=passages, dense=dense, sentences=sentences, tokens=tokens,
                      keyword=keyword, columns=columns, vocabulary=vocabulary_of(docs))
    sources.save(files, tmp)
    cache.report_to(lambda n: None)
    ranking = _ranking_config(out, layout, vectors, dense, keyword, sentences, tokens, columns,
                              encoder=cache.as_encoder(), batch_size=batch_size)
    cache.keep(tmp / CACHE_DIR)
    manifest = Manifest(
        format=FORMAT,
        package_version=__version__,
        model=encoder.name,
        dimension=encoder.dimension,
        normalized=True,
        corpus_dir=files.corpus_dir,
        corpus_fingerprint=fingerprint(docs),
        documents=len(docs),
        passages=len(passages),
        sentences=len(sent_rows),
        passage_tokens=min(PASSAGE_TOKENS, encoder.max_tokens),
        embedding_text="title — section (organisation, kind, date). passage; sentences: title. sentence",
        follow_links=files.follow_links,
        max_file_bytes=files.max_file_bytes,
        ranking=ranking,
        index_type=index_type,
        dense_index=kind,
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        build_seconds=round(time.perf_counter() - t0, 2),
    )
    finish(tmp, manifest)
    return cache


def write_index_files(
    folder: Path, *, docs: list[Document], passages, dense: DenseIndex, sentences: Sentences, tokens: TokenVectors,
    keyword: KeywordIndex, columns: Columns, vocabulary: frozenset[str],
) -> None:
    """Write every file of an index except files.json and the manifest. An array that
    is already a memory map of its file in ``folder`` (a benchmark's) is left as it is."""
    ids = [d.doc_id for d in docs]
    offsets = write_jsonl_with_offsets(folder / "documents.jsonl", (asdict(d) for d in docs))
    (folder / "documents.index.json").write_text(json.dumps({"ids": ids, "offsets": offsets}, ensure_ascii=False))
    offsets = write_jsonl_with_offsets(folder / "passages.jsonl", (asdict(p) for p in passages))
    np.save(folder / "passages.offsets.npy", np.asarray(offsets, dtype=np.int64), allow_pickle=False)
    dense.save(folder / "dense.faiss")
    arrays = {f"sentences.{name}.npy": getattr(sentences, name) for name in SENTENCE_ARRAYS}
    arrays |= {f"tokens.{name}.npy": getattr(tokens, name) for name in TOKEN_ARRAYS}
    for name, array in arrays.items():
        if isinstance(array, np.memmap) and Path(array.filename).resolve() == (folder / name).resolve():
            array.flush()
            continue
        np.save(folder / name, np.asarray(array), allow_pickle=False)
    (folder / "tokens.json").write_text(json.dumps({"pieces": tokens.pieces}, ensure_ascii=False))
    keyword.save(folder / "keyword")
    columns.save(folder)
    (folder / "vocabulary.json").write_text(json.dumps(sorted(vocabulary), ensure_ascii=False))


def finish(folder: Path, manifest: Manifest) -> None:
    """Write the manifest, last: a folder without one is never mistaken for an index.
    It records every file's size and checksum, so a damaged file is refused, not half-read."""
    _fsync_tree(folder)
    record = asdict(manifest) | {"checksums": checksums(folder), "sizes": file_sizes(folder)}
    record[MANIFEST_HASH] = manifest_hash(record)  # so an edited field (model, ranking ...) is found by `check`
    _write_synced(folder / "manifest.json", json.dumps(record, indent=2) + "\n")


def _ranking_config(
    out: Path, layout: _Layout, vectors: np.ndarray, dense, keyword: KeywordIndex, sentences: Sentences,
    tokens: TokenVectors, columns: Columns, *, encoder: Encoder, batch_size: int,
) -> dict:
    """The collection's ranking configuration (weights and an abstention threshold
    calibrated on its own pseudo-questions; see assistant.search.calibrate), for the manifest.
    ``encoder`` goes through the cache, so an unchanged collection encodes nothing."""
    from assistant.search.calibrate import calibrate
    from assistant.index.folder import Index

    manifest = Manifest(
        FORMAT, __version__, encoder.name, encoder.dimension, True, "", "", len(layout.docs), len(layout.passages),
        len(layout.sent_rows), 0, "", "", 0.0,
    )
    built = Index(out, manifest, layout.by_id, layout.passages, np.asarray(vectors, dtype=np.float32), dense, keyword,
                  sentences, tokens, frozenset(), (), columns)
    return calibrate(built, encoder=encoder, batch_size=batch_size).to_json()


def _salvage(tmp: Path, out: Path) -> None:
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


# --- reading what is there --------------------------------------------------------


def _read_previous(out: Path) -> _Previous | None:
    """The current index's manifest, documents and file records, or None when there
    is no usable one (then everything is built afresh; the cache still counts)."""
    from assistant.index.folder import read_manifest

    try:
        manifest, sums = read_manifest(out)
        for name in ("documents.jsonl", sources.FILES):
            if sums.get(name) != checksums(out, only=name).get(name):
                return None
        docs = {d["doc_id"]: Document(**d) for d in _read_jsonl(out / "documents.jsonl")}
        return _Previous(manifest, docs, sources.load(out))
    except (IndexLoadError, OSError, ValueError, TypeError, KeyError):
        return None


def _require_previous(out: Path, encoder: Encoder) -> _Previous:
    from assistant.index.folder import load_index

    previous = _read_previous(out)
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


def _describe(path: str, *, origin: str, doc_id: str = "") -> SourceFile:
    return sources.describe(path, origin=origin, doc_id=doc_id)


def _describe_all(paths: list[str]) -> dict[str, SourceFile]:
    out = {}
    for p in paths:
        try:
            out[str(p)] = _describe(str(p), origin=SKIPPED)
        except OSError:
            out[str(p)] = SourceFile(str(p), SKIPPED)
    return out


def _records(
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


def _read_added(f: SourceFile, root: Path, *, max_file_bytes: int) -> Document | Skipped:
    path = Path(f.path)
    if not path.exists():
        return Skipped(f.path, "no longer exists")
    return sources.read_one(path, corpus_dir=root if sources.is_inside(path, root) else None, doc_id=f.doc_id,
                            max_file_bytes=max_file_bytes)


def _not_a_file(path: Path) -> str:
    """Why ``path`` (which ``is_file`` refused) cannot be added."""
    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a link loop (a link that leads back to itself)"
        if e.errno == errno.ENOENT:
            return "a broken link (what it points to does not exist)" if path.is_symlink() else "no such file"
        return f"cannot read it ({e.strerror or type(e).__name__})"
    return "not a file"


def _with_id(doc: Document, doc_id: str) -> Document:
    return replace(doc, doc_id=doc_id)


def _free_id(wanted: str, taken: dict[str, str]) -> str:
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted}-{n}" in taken:
        n += 1
    return f"{wanted}-{n}"


# --- the lock, leftovers and the swap ---------------------------------------------


def _leftovers(out: Path) -> list[Path]:
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


def check_writable(corpus_dir: Path, out: Path) -> None:
    """Refuse an --index that would destroy something that is not an index."""
    from assistant.index.folder import INDEX_FILES, looks_like_index, manifest_is_ours

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


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
