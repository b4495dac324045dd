"""The Qdrant backend on the real engine, in process: qdrant-edge-py's ``EdgeShard``.

Owns ``EdgeStore``: the surface of :class:`assistant.index.qdrant.Store` (create, exists,
dimension, count, upsert, update_vectors, delete, retrieve, scroll, query, descriptor)
on one Edge shard in a folder, so that the views of :mod:`assistant.index.qdrant`
(``QdrantDense`` / ``QdrantKeyword``: the same sparse BM25 vectors with the engine's
IDF, the same ordering of ties) run on Qdrant's Rust engine instead of qdrant-client's
local mode, a Python re-implementation of it. ``EdgeDense`` / ``EdgeKeyword`` are those
views with a folder of their own (build, save, load); ``build_edge`` writes both into
one shard, as ``qdrant.build_collection`` does into one collection.

A shard is one folder (no server, no alias, no network); one process opens it at a
time (the engine's write-ahead log is locked). Until ``optimize`` is called every
segment is plain and search is exact; after it, dense search walks the engine's HNSW
graph (``exact=True`` keeps it exact). This is what tests/test_qdrant_edge.py checks
against the embedded index and what bench/qdrant_scale.py measures (docs/qdrant.md).
"""

from __future__ import annotations

import atexit
import json
import threading
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, ClassVar, Iterator, Sequence

import numpy as np

from assistant.errors import IndexLoadError
from assistant.index.qdrant import (DENSE, SPARSE, TERMS, Bm25Params, QdrantDense, QdrantKeyword, average_length,
                                    passage_vector)

BATCH = 1024  # points per update operation
CONFIG = "edge_config.json"  # what EdgeShard.create writes into its folder


class EdgeStore:
    """One Edge shard in ``folder``: ``qdrant.Store``'s methods, answered by the engine."""

    def __init__(self, folder: str | Path, *, bm25: Bm25Params = Bm25Params(), exact: bool = False) -> None:
        import qdrant_edge

        self.q = qdrant_edge
        self.folder = Path(folder).resolve()
        self.bm25 = bm25
        self.exact = exact  # dense search exact even where the engine built a graph
        self.has_fields = False  # filters come as rows (has-id), as for a view built alone
        self.rowmap = None  # point ids are rows
        self.sparse = SPARSE

    @property
    def shard(self) -> Any:
        return _opened(self.folder)[0]

    @property
    def _lock(self) -> threading.Lock:
        return _opened(self.folder)[1]

    # -- what Store offers --------------------------------------------------------------

    @property
    def place(self) -> _Where:
        return _Where(str(self.folder))

    def create(self, dimension: int | None) -> None:
        """A new shard: the ``dense`` dot-product vector of ``dimension`` (none: BM25
        alone) and the ``bm25`` sparse vector with the engine's IDF."""
        q = self.q
        dense = {} if not dimension else {DENSE: q.EdgeVectorParams(size=int(dimension), distance=q.Distance.Dot)}
        config = q.EdgeConfig(vectors=dense or None,
                              sparse_vectors={SPARSE: q.EdgeSparseVectorParams(modifier=q.Modifier.Idf)})
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        _opened(self.folder, create=config)

    def exists(self) -> bool:
        return (self.folder / CONFIG).is_file()

    def dimension(self) -> int:
        raw = json.loads((self.folder / CONFIG).read_text(encoding="utf-8"))
        return int(raw.get("vectors", {}).get(DENSE, {}).get("size", 0))

    def vector_names(self) -> list[str]:
        raw = json.loads((self.folder / CONFIG).read_text(encoding="utf-8"))
        return list(raw.get("vectors", {})) + list(raw.get("sparse_vectors", {}))

    def count(self) -> int:
        with self._lock:
            return int(self.shard.count(self.q.CountRequest(exact=True)))

    def end(self) -> int:
        """One past the largest row (rows are 0..count-1)."""
        return self.count()

    def vector(self, value: Any) -> Any:
        if isinstance(value, tuple):
            return self.q.SparseVector(indices=[int(i) for i in value[0]], values=[float(v) for v in value[1]])
        if isinstance(value, self.q.SparseVector):
            return value
        return np.asarray(value, dtype=np.float32).tolist()

    def upsert(self, points: Sequence[tuple[int, dict[str, Any], dict[str, Any]]]) -> None:
        q = self.q
        for i in range(0, len(points), BATCH):
            batch = [q.Point(id=int(row), vector={k: self.vector(v) for k, v in vectors.items()}, payload=payload)
                     for row, vectors, payload in points[i : i + BATCH]]
            with self._lock:
                self.shard.update(q.UpdateOperation.upsert_points(batch))

    def update_vectors(self, points: Sequence[tuple[int, dict[str, Any]]]) -> None:
        q = self.q
        for i in range(0, len(points), BATCH):
            batch = [q.PointVectors(id=int(row), vector={k: self.vector(v) for k, v in vectors.items()})
                     for row, vectors in points[i : i + BATCH]]
            with self._lock:
                self.shard.update(q.UpdateOperation.update_vectors(batch))

    def delete(self, rows: Sequence[int]) -> None:
        if len(rows):
            with self._lock:
                self.shard.update(self.q.UpdateOperation.delete_points([int(r) for r in rows]))

    def retrieve(self, rows: Sequence[int], *, vectors: Sequence[str] = (), payload: bool = False) -> dict[int, Any]:
        """The points of ``rows`` (those that exist) by row."""
        rows = sorted({int(r) for r in rows})
        with self._lock:
            got = self.shard.retrieve(rows, payload, list(vectors) or False)
        return {int(p.id): p for p in got}

    def scroll(self, *, start: int = 0, vectors: Sequence[str] = ()) -> Iterator[Any]:
        """Every point with an id from ``start`` on, in id order, with its payload."""
        offset: Any = start
        while offset is not None:
            with self._lock:
                got, offset = self.shard.scroll(self.q.ScrollRequest(
                    offset=offset, limit=512, with_payload=True, with_vector=list(vectors) or False))
            yield from got

    def ids_of(self, rows: Sequence[int] | np.ndarray) -> list[int]:
        return [int(r) for r in rows]

    def rows_of(self, ids: Sequence[int]) -> np.ndarray:
        return np.asarray(ids, dtype=np.int64)

    def query(self, using: str, queries: Sequence[Any], limit: int, rows: np.ndarray | None,
              match: Any = None) -> list[list[tuple[int, float]]]:
        """Best ``limit`` points per query by the ``using`` vector, only ``rows`` when given (pushed down);
        ``match`` is never given (``has_fields`` is False)."""
        q = self.q
        where = None if rows is None else q.Filter(must=[q.HasIdCondition({int(r) for r in rows})])
        params = q.SearchParams(exact=True) if self.exact and using == DENSE else None
        requests = [q.QueryRequest(limit=int(limit), query=q.Query.Nearest(self.vector(v), using=using),
                                   filter=where, params=params, with_payload=False, with_vector=False)
                    for v in queries]
        with self._lock:
            found = self.shard.query_batch(q.QueryBatchRequest(requests))
        return [[(int(p.id), float(p.score)) for p in r] for r in found]

    def descriptor(self) -> dict:
        return {"edge": str(self.folder), "bm25": asdict(self.bm25), "exact": self.exact}

    # -- the engine's own -----------------------------------------------------------------

    def optimize(self) -> bool:
        """Let the engine merge segments and build its indexes (HNSW for ``dense``)."""
        with self._lock:
            return bool(self.shard.optimize())

    def close(self) -> None:
        """Flush and close the shard (its folder is then free for another process)."""
        close(self.folder)


# -- the shards this process has open ----------------------------------------------------

_shards: dict[Path, tuple[Any, threading.Lock]] = {}
_shards_lock = threading.Lock()


def _opened(folder: Path, *, create: Any = None) -> tuple[Any, threading.Lock]:
    """The one open shard of this process for ``folder`` (the engine locks its write-ahead
    log: a second open in the same process would be refused), made with ``create``."""
    import qdrant_edge

    with _shards_lock:
        if not _shards:  # flushed before the interpreter tears down what close needs
            atexit.register(_close_all)
        if create is not None:
            if folder in _shards or (folder / CONFIG).exists():
                raise IndexLoadError(f"a Qdrant Edge shard is already at {folder}; remove it or choose another folder")
            _shards[folder] = (qdrant_edge.EdgeShard.create(str(folder), create), threading.Lock())
        elif folder not in _shards:
            if not (folder / CONFIG).is_file():
                raise IndexLoadError(f"no Qdrant Edge shard at {folder}; build the index again")
            _shards[folder] = (qdrant_edge.EdgeShard.load(str(folder)), threading.Lock())
        return _shards[folder]


def close(folder: str | Path) -> None:
    """Flush and close this process's shard in ``folder``, if open (the folder is then free)."""
    with _shards_lock:
        found = _shards.pop(Path(folder).resolve(), None)
    if found is not None:
        shard, lock = found
        with lock:
            shard.flush()
            shard.close()


def _close_all() -> None:
    for folder in list(_shards):
        try:
            close(folder)
        except Exception:  # at exit: nothing left to tell
            pass


class _Where:
    """What the views name in a message about a store (``store.place.name``)."""

    def __init__(self, folder: str) -> None:
        self.name = f"edge shard {folder}"

    def where(self) -> str:
        return self.name


def _store_of(path: Path) -> EdgeStore:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        folder, bm25, exact = raw["edge"], Bm25Params(**raw["bm25"]), bool(raw.get("exact", False))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise IndexLoadError(f"{path} does not name a Qdrant Edge shard ({type(e).__name__}: {e})") from e
    store = EdgeStore(folder, bm25=bm25, exact=exact)
    if not store.exists():
        raise IndexLoadError(f"no Qdrant Edge shard at {folder}; build the index again")
    return store


def _new_folder() -> Path:
    """A fresh folder for a view built without one (tests, brute checks)."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix="qdrant-edge-")) / "shard"


def _delete(store: EdgeStore, rows: np.ndarray) -> None:
    """Remove ``rows``; the points after the first of them move up (ids = rows), whole."""
    gone = {int(r) for r in np.atleast_1d(np.asarray(rows, dtype=np.int64))}
    if not gone:
        return
    first = min(gone)
    moved = [p for p in store.scroll(start=first, vectors=store.vector_names()) if int(p.id) not in gone]
    store.delete(list(range(first, store.end())))
    store.upsert([(first + i, dict(p.vector), dict(p.payload or {})) for i, p in enumerate(moved)])
    # The engine's IDF counts deleted points until a segment is vacuumed (measured: BM25
    # scores off by 0.5% after deleting a quarter of 1,800 points); vacuum now.
    store.optimize()


class EdgeDense(QdrantDense):
    """``DenseBackend`` on an Edge shard's ``dense`` vectors (``QdrantDense``'s search)."""

    kind: ClassVar[str] = "qdrant-edge"
    stored_as: ClassVar[str] = "qdrant-edge.dense.json"

    @classmethod
    def build(cls, vectors: np.ndarray, *, folder: str | Path | None = None) -> EdgeDense:
        store = EdgeStore(folder or _new_folder())
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
        store.create(vectors.shape[1])
        store.upsert([(row, {DENSE: v}, {}) for row, v in enumerate(vectors)])
        return cls(store)

    @classmethod
    def load(cls, path: Path, *, mmap: bool = False) -> EdgeDense:
        return cls(_store_of(path))

    def delete(self, rows: np.ndarray) -> None:
        _delete(self.store, rows)


class EdgeKeyword(QdrantKeyword):
    """``KeywordBackend`` on an Edge shard's ``bm25`` sparse vectors (``QdrantKeyword``'s BM25)."""

    kind: ClassVar[str] = "qdrant-edge-bm25"
    stored_as: ClassVar[str] = "qdrant-edge.keyword.json"

    @classmethod
    def build(cls, texts: Sequence[str], *, folder: str | Path | None = None) -> EdgeKeyword:
        from assistant.index.keyword import tokenize

        store = EdgeStore(folder or _new_folder())
        store.create(None)  # BM25 alone
        terms = tokenize(list(texts))
        store.bm25 = Bm25Params(avgdl=average_length(terms))
        store.upsert([(row, {SPARSE: passage_vector(t, store.bm25)}, {TERMS: t}) for row, t in enumerate(terms)])
        return cls(store)

    @classmethod
    def load(cls, path: Path, *, mmap: bool = False) -> EdgeKeyword:
        return cls(_store_of(path))

    def delete(self, rows: np.ndarray) -> None:
        _delete(self.store, rows)
        self._reweigh()


def build_edge(
    folder: str | Path, *, vectors: np.ndarray, texts: Sequence[str], payloads: Sequence[dict[str, Any]] | None = None,
    terms: Sequence[Sequence[str]] | None = None, exact: bool = False,
) -> tuple[EdgeDense, EdgeKeyword]:
    """One new shard in ``folder`` holding every passage as one point (row = id): its unit
    vector, its BM25 vector over ``texts`` (or their ``terms``, already tokenised) and
    ``payloads`` (its fields), as ``qdrant.build_collection`` writes a collection.

    Returns:
        The dense and keyword views of the one shard.
    """
    from assistant.index.keyword import tokenize

    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    store = EdgeStore(folder, exact=exact)
    store.create(vectors.shape[1])
    terms = list(terms) if terms is not None else tokenize(list(texts))
    payloads = payloads if payloads is not None else [{} for _ in terms]
    store.bm25 = Bm25Params(avgdl=average_length(terms))
    store.upsert([(row, {DENSE: v, SPARSE: passage_vector(t, store.bm25)}, {**p, TERMS: list(t)})
                  for row, (v, t, p) in enumerate(zip(vectors, terms, payloads))])
    return EdgeDense(store), EdgeKeyword(store)



def on_edge(index: Any, folder: str | Path, *, exact: bool = False) -> Any:
    """``index`` (a loaded :class:`assistant.index.folder.Index`) with its dense and keyword
    backends, and the passage vectors the search reads, on a new Edge shard in ``folder``
    holding its passages as ``qdrant.build_collection`` would (vectors, BM25 over the same
    texts, passage fields as payload). Everything else (passages, sentences, tokens) is
    the index's own.
    """
    from assistant.index.factory import StoredVectors
    from assistant.index.texts import item_leads, keyword_text

    passages = list(index.passages)
    docs = {p.doc_id: index.documents[p.doc_id] for p in passages}
    leads = item_leads(passages, docs)
    texts = [keyword_text(p, docs[p.doc_id], lead) for p, lead in zip(passages, leads)]
    payloads = [asdict(p) | {"title": docs[p.doc_id].title, "source": docs[p.doc_id].source,
                             "organization": docs[p.doc_id].organization} for p in passages]
    vectors = np.asarray(index.vectors, dtype=np.float32)
    dense, keyword = build_edge(folder, vectors=vectors, texts=texts, payloads=payloads, exact=exact)
    return replace(index, dense=dense, keyword=keyword, vectors=StoredVectors(dense))
