"""Changing an index folder: build it, add files to it, remove documents from it.

Owns the one path every change takes: read the documents -> compute the index's
parts (:mod:`assistant.index.parts`; encodings through :mod:`assistant.encoders.cache`)
-> calibrate the ranking on them (:mod:`assistant.search.calibrate`) -> write them
(:mod:`assistant.index.writer`). The three changes differ only in the documents
they start from: a build reads the corpus folder (and the files added from
elsewhere), ``add`` and ``remove`` take the index in place and change its
documents (:mod:`assistant.pipeline.previous`).

One writer at a time on each real folder (``.INDEX.lock`` beside it;
:mod:`assistant.index.lock`); a new version is assembled in ``.INDEX.tmp-PID``
and swapped into place in one step, and the leftovers of killed writers are
cleaned up by the next one (whose encoder cache they feed, so an interrupted
build resumes where it stopped).

Every change computes the whole index from its documents, exactly as a full
build does; only the encoder's work is reused. So an incremental build, ``add``
and ``remove`` give the index a full rebuild of the same files gives, by construction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from assistant.encoders.cache import CACHE_DIR, EncoderCache
from assistant.encoders.embed import Encoder
from assistant.errors import CorpusError, QueryError
from assistant.index import qdrant_contents, sources, writer
from assistant.index.folder import AUTO, FORMAT, PASSAGE_TOKENS, Manifest, read_manifest
from assistant.index.lock import index_folder, writer_lock
from assistant.index.parts import IndexParts, compute_parts, layout_of
from assistant.index.qdrant import Place, publish
from assistant.index.sources import ADDED, CORPUS, EXCLUDED, SourceFile, SourceFiles
from assistant.ingest.corpus import DEFAULT_MAX_FILE_BYTES, Document, Skipped, fingerprint, read_corpus
from assistant.pipeline.previous import (
    Previous, describe, describe_all, file_records, free_id, not_a_file, read_added, read_previous, require_previous,
    with_id,
)
from assistant.pipeline.progress import Progress
from assistant.search import fusion
from assistant.search.calibrate import calibrate
from assistant.version import __version__

LOCK_TIMEOUT = 10.0  # seconds a second writer waits before it is told another one is running


@dataclass(frozen=True)
class UpdateReport:
    """What a build, ``assistant add`` or ``assistant remove`` did (documents by id)."""

    index_dir: str
    documents: int
    passages: int
    skipped: tuple[Skipped, ...]
    seconds: float
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    encoded: int = 0  # distinct texts the encoder embedded
    reused: int = 0  # distinct texts whose encoding came from the cache
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """E.g. "3 added, 1 updated, 2 removed, 140 unchanged" (documents)."""
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
                f"{self.unchanged} unchanged")


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
    backend: str | None = None,
    qdrant: Place | None = None,
    fresh: bool = False,
) -> UpdateReport:
    """Read a corpus folder (and the files added to the index from elsewhere) and
    make ``out_dir`` its index, encoding only texts the cache does not hold.

    ``backend`` "embedded" or "qdrant" (None: as the last build, else embedded); for
    "qdrant", ``qdrant`` says where (None: where the last build wrote); ``fresh``: on
    Qdrant, write a new collection and switch the alias instead of changing it in place.

    Raises:
        CorpusError: no readable document, or ``out_dir`` is not ours to write.
        IndexBusyError: another writer holds the index for ``lock_timeout`` seconds.
    """
    t0 = time.perf_counter()
    corpus_dir, out = Path(corpus_dir), index_folder(out_dir)
    writer.check_writable(corpus_dir, Path(out_dir))  # (named in its messages as given)
    with writer_lock(out, timeout=lock_timeout):
        stale = writer.leftovers(out)
        previous = read_previous(out)
        root = corpus_dir.resolve()
        same_corpus = previous is not None and previous.files.corpus_dir == str(root)
        excluded = {f.path for f in previous.files.of_origin(EXCLUDED)} if same_corpus else set()
        opts = dict(follow_links=follow_links, max_file_bytes=max_file_bytes)
        records = describe_all(sources.candidates(root, **opts) if root.is_dir() else [])
        corpus = read_corpus(corpus_dir, **opts)
        notes: list[str] = []
        docs: list[tuple[Document, str]] = [(d, CORPUS) for d in corpus.documents if d.path not in excluded]
        skipped = list(corpus.skipped)
        if same_corpus:
            for f in previous.files.of_origin(ADDED):
                got = read_added(f, root, max_file_bytes=max_file_bytes)
                if isinstance(got, Skipped):
                    notes.append(f"{f.path} (added with assistant add) {got.reason}; its document {f.doc_id} is removed")
                    continue
                docs.append((got, ADDED))
                try:
                    records[got.path] = describe(got.path, origin=ADDED)
                except OSError:
                    records[got.path] = SourceFile(got.path, ADDED)
        files = file_records(root, docs, records, excluded, follow_links=follow_links, max_file_bytes=max_file_bytes)
        return _commit(
            out, docs=[d for d, _ in docs], files=files, skipped=tuple(skipped), notes=tuple(notes),
            encoder=encoder, previous=previous, stale=stale, batch_size=batch_size, progress=progress, t0=t0,
            index_type=index_type, backend=backend, qdrant=qdrant, fresh=fresh,
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
        stale = writer.leftovers(out)
        previous = require_previous(out, encoder)
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
                skipped.append(Skipped(str(given), not_a_file(path)))
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
                record = describe(str(path), origin=origin)
            except OSError as e:
                skipped.append(Skipped(str(path), f"cannot read it ({e.strerror or type(e).__name__})"))
                continue
            got = sources.read_one(path, corpus_dir=root if inside else None, doc_id=doc_id,
                                   max_file_bytes=previous.files.max_file_bytes)
            if isinstance(got, Skipped):
                skipped.append(got)
                continue
            if origin == ADDED and not doc_id:
                got = with_id(got, free_id(got.doc_id, taken))
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
        stale = writer.leftovers(out)
        previous = require_previous(out, encoder)
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


# --- the one path -----------------------------------------------------------------


def _commit(
    out: Path, *, docs: list[Document], files: SourceFiles, skipped: tuple[Skipped, ...], notes: tuple[str, ...],
    encoder: Encoder, previous: Previous | None, stale: list[Path], batch_size: int, progress: bool, t0: float,
    index_type: str | None = None, backend: str | None = None, qdrant: Place | None = None, fresh: bool = False,
) -> UpdateReport:
    """Compute the whole index of ``docs`` (encodings from the cache where it has
    them), calibrate its ranking, write it beside ``out`` and swap it into place.
    On Qdrant, the collection in place is changed in place (only changed passages'
    points written) unless ``fresh``, the place or the model changed: then a new
    collection is written and the alias switched."""
    layout = layout_of(docs, files=files, encoder=encoder)
    place = _qdrant_place(backend, qdrant, previous)
    update = _in_place(place, previous, encoder=encoder) if place is not None and not fresh else None
    if writer.swapped_out(out, stale):
        notes += ("an earlier build, add or remove was stopped just after it put its new index in place; its "
                  "changes were in the index already, and this report counts from there",)
    with writer.new_version(out, stale=stale) as tmp:
        # the dense index's kind: as asked, else as the index's last build was asked ("auto" by default)
        asked = index_type or (previous.manifest.index_type if previous is not None else AUTO)
        cache_sources = [out / CACHE_DIR] + [s / CACHE_DIR for s in stale]
        cache = EncoderCache(encoder=encoder, sources=cache_sources, work_dir=tmp / CACHE_DIR, batch_size=batch_size)
        texts, sent_texts = list(layout.texts), list(layout.sent_texts)
        bar = Progress(cache.missing(passages=texts, sentences=sent_texts), desc="embedding", enabled=progress)
        cache.report_to(bar.update)
        try:
            vectors = cache.passage_vectors(texts)
            sent_vectors = cache.sentences(sent_texts)
        finally:
            bar.close()
        # token vectors streamed from the cache a shard at a time and quantised as they
        # come (as the index stores them, and the calibration sees them), into their file
        parts = compute_parts(
            layout, files=files, vectors=vectors, sentence_vectors=sent_vectors, token_counts=cache.token_counts(texts),
            passage_tokens=cache.passage_tokens(texts), dimension=encoder.dimension, index_type=asked,
            tokens_file=tmp / "tokens.vectors.npy", qdrant=place, update=update,
        )
        cache.report_to(lambda n: None)
        write_index(tmp, parts, at=out, encoder=cache.as_encoder(), index_type=asked, batch_size=batch_size, t0=t0,
                    cache=cache, before=previous.manifest if previous is not None else None)
    if place is not None and update is not None:  # the points no row names any more go now
        qdrant_contents.settle(parts.dense.store, read_manifest(out)[0].qdrant or {})
    elif place is not None:  # the folder names the new collection now; readers of the alias see it from here
        publish(Place.of_json(_qdrant_of(parts)))

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


def _qdrant_place(backend: str | None, qdrant: Place | None, previous: Previous | None) -> Place | None:
    """Where a build writes its Qdrant collection, or None for the embedded files."""
    was = previous.manifest if previous is not None else None
    backend = backend or (was.backend if was is not None else "embedded")
    if backend == "embedded":
        return None
    if backend != "qdrant":
        raise QueryError(f"unknown backend {backend!r}; choose embedded or qdrant")
    if qdrant is None and was is not None and was.qdrant:
        qdrant = Place.of_json(was.qdrant)
    if qdrant is None:
        raise QueryError("--backend qdrant needs --qdrant-url URL, --qdrant-path FOLDER or --qdrant-edge FOLDER")
    return replace(qdrant, collection="", path=str(Path(qdrant.path).resolve()) if qdrant.path else "",
                   edge=str(Path(qdrant.edge).resolve()) if qdrant.edge else "")


def _in_place(place: Place, previous: Previous | None, *, encoder: Encoder) -> dict | None:
    """The Qdrant collection of the index in place, when a change can be made in it:
    same server or folder and alias, same model, contents all in Qdrant (``previous``
    was read from them, so they are there)."""
    was = previous.manifest if previous is not None else None
    if was is None or was.backend != "qdrant" or not was.qdrant or was.model != encoder.name:
        return None
    record = was.qdrant
    was_at = Place.of_json(record)
    if record.get("contents") != qdrant_contents.CONTENTS or (was_at.alias, was_at.url, was_at.path, was_at.edge) != (
            place.alias, place.url, place.path, place.edge):
        return None
    return record


def _qdrant_of(parts: IndexParts) -> dict | None:
    store = getattr(parts.dense, "store", None)
    return store.place.to_json() if store is not None else None


def write_index(
    folder: Path, parts: IndexParts, *, at: Path, encoder: Encoder, index_type: str, batch_size: int, t0: float,
    cache: EncoderCache | None = None, before: Manifest | None = None,
) -> Manifest:
    """The last steps of every change: write ``parts`` into ``folder``, calibrate the
    ranking on them (as the index they make at ``at``; a fit to judged questions of
    ``before``, the manifest of the index it replaces, is kept), keep the encoder outputs
    used in the folder's cache, and write the manifest last. Also the write path of
    ``bench/whole_index.py``.

    Args:
        encoder: the encoder the parts were computed with (through ``cache`` when given,
            so an unchanged collection encodes nothing to calibrate).
        index_type: the dense index kind asked for (``auto`` or one of dense.KINDS).
        t0: when the change began (``time.perf_counter()``), for ``build_seconds``.
    """
    qdrant = writer.write_parts(folder, parts)
    unranked = _manifest(parts, encoder=encoder, index_type=index_type, qdrant=qdrant)
    ranking = kept_fit(calibrate(parts.index(at, unranked), encoder=encoder, batch_size=batch_size), before,
                       model=encoder.name)
    if cache is not None:
        cache.keep(folder / CACHE_DIR)
    manifest = replace(
        unranked, ranking=ranking.to_json(), built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        build_seconds=round(time.perf_counter() - t0, 2),
    )
    writer.finish(folder, manifest)
    return manifest


def kept_fit(ranking: fusion.RankingConfig, before: Manifest | None, *, model: str) -> fusion.RankingConfig:
    """``ranking`` with the threshold and ratio fitted to judged questions (``assistant
    calibrate``) of the index it replaces (``before``), when it has some and was built
    with the same model (another model scores on another scale): a change to the
    collection keeps them (calibrate again after a large one)."""
    old = fusion.RankingConfig.from_json(before.ranking) if before is not None and before.ranking else None
    if old is None or not old.fitted or before.model != model:
        return ranking
    return replace(ranking, min_score=old.min_score, evidence_ratio=old.evidence_ratio, fitted=old.fitted,
                   calibration=old.calibration)


def _manifest(parts: IndexParts, *, encoder: Encoder, index_type: str, qdrant: dict | None = None) -> Manifest:
    """What the index of ``parts`` records about how it was built, but its ranking
    (calibrated on the parts) and when (filled in as it is written)."""
    return Manifest(
        format=FORMAT,
        package_version=__version__,
        model=encoder.name,
        dimension=encoder.dimension,
        normalized=True,
        corpus_dir=parts.files.corpus_dir,
        corpus_fingerprint=fingerprint(parts.documents),
        documents=len(parts.documents),
        passages=len(parts.passages),
        sentences=len(parts.sentences.row),
        passage_tokens=min(PASSAGE_TOKENS, encoder.max_tokens),
        embedding_text="title — section (organisation, kind, date). passage; sentences: title. sentence",
        follow_links=parts.files.follow_links,
        max_file_bytes=parts.files.max_file_bytes,
        ranking=None,
        index_type=index_type,
        dense_index=parts.dense.kind,
        backend="qdrant" if qdrant else "embedded",
        qdrant=qdrant,
        built_at="",
        build_seconds=0.0,
    )
