"""Both retrieval protocols on a Qdrant collection: a server, a cluster or local mode.

Owns the Qdrant backend of :mod:`assistant.index.backends`: where a collection lives
(``Place``: a server's URL or a local-mode folder, and the alias readers use), the
client for it, and ``QdrantDense`` / ``QdrantKeyword``, two views of one collection
whose point ids are the index's rows. Each point carries the passage's unit vector
(``dense``, dot product = the FAISS inner product), its BM25 sparse vector (``bm25``)
and its passage fields as payload.

BM25 is bm25s's own (method "lucene"): the sparse vector holds each term's
``tf / (tf + k1 (1 - b + b dl / avgdl))`` and the engine multiplies by the IDF it
counts (``Modifier.IDF``, bm25s's formula); a question's vector holds each term's
count, since bm25s sums repeated terms. So scores agree with bm25s to float rounding
(about 1e-7). A passage without terms gets a reserved index of weight 0, so that the
engine's N counts it as bm25s does. ``avgdl`` is baked into the stored weights: ``add``
and ``delete`` rewrite every sparse vector with the new one.

A full build writes a new collection ``<alias>-<UTC stamp>`` and then points the alias
at it in one step, so readers of the alias never see half an index; the manifest of an
index folder names the collection it was built with. The API key, if the server wants
one, is read from the environment variable ``QDRANT_API_KEY``, never from the command
line or the manifest. Lost connections become ``IndexUnavailableError``, one line.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import re
import os
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Iterator, Sequence

import numpy as np

from assistant.errors import AssistantError, IndexLoadError, IndexUnavailableError
from assistant.index.backends import Match, Ranked

API_KEY_VARIABLE = "QDRANT_API_KEY"
DENSE = "dense"
SPARSE = "bm25"
# An in-place change writes every point's BM25 weights under the other name, so readers of
# the manifest before it keep their weights and the engine's IDF (new points carry only
# the new name) until the new manifest is in place.
SPARSE_NAMES = (SPARSE, "bm25-next")
TOKENS = "tokens"  # a passage's token vectors, a multivector (assistant.index.qdrant_contents)
TERMS = "terms"  # payload: the passage's BM25 terms, to rewrite its sparse vector when avgdl moves
FILTER_FIELDS = ("doc_id", "organization", "date")  # keyword payload indexes (a server uses them)
BATCH = 256  # points per upsert request
TIMEOUT = 10  # seconds a server may take to answer one request


@dataclass(frozen=True)
class Place:
    """Where a collection lives: ``url`` (a server or cluster) or ``path`` (local mode,
    a folder one process at a time); ``alias`` is the name readers use, ``collection``
    the concrete collection (empty: the alias)."""

    alias: str
    url: str = ""
    path: str = ""
    collection: str = ""
    edge: str = ""  # a folder of Qdrant's own engine in process (qdrant-edge-py; assistant.index.edge_client)
    # On a server or cluster, how a new collection is laid out (0: the server's default,
    # one shard per node and one copy of each): shards, and copies of each shard.
    shards: int = 0
    replicas: int = 0

    def __post_init__(self) -> None:
        if sum(map(bool, (self.url, self.path, self.edge))) != 1:
            raise ValueError("a Qdrant place needs exactly one of a URL (--qdrant-url), a local-mode folder "
                             "(--qdrant-path) or an engine folder (--qdrant-edge)")

    @property
    def name(self) -> str:
        return self.collection or self.alias

    def where(self) -> str:
        return self.url or (f"local folder {self.path}" if self.path else f"engine folder {self.edge}")

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v or k in ("alias", "url", "path", "collection")}

    @classmethod
    def of_json(cls, raw: dict) -> Place:
        return cls(**{k: str(raw.get(k, "") or "") for k in ("alias", "url", "path", "collection", "edge")},
                   shards=int(raw.get("shards") or 0), replicas=int(raw.get("replicas") or 0))


@dataclass(frozen=True)
class Bm25Params:
    """bm25s's defaults (method "lucene"); ``avgdl`` is the passages' mean number of terms."""

    avgdl: float = 1.0
    k1: float = 1.5
    b: float = 0.75


def token_id(term: str) -> int:
    """A stable 32-bit id of a term (Qdrant's sparse indices are u32)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "little")


EMPTY_ID = token_id("")  # no term is empty: never in a question


def average_length(term_lists: Sequence[Sequence[str]]) -> float:
    lengths = [len(t) for t in term_lists]
    return float(np.mean(lengths)) if lengths and sum(lengths) else 1.0


def passage_vector(terms: Sequence[str], params: Bm25Params) -> tuple[list[int], list[float]]:
    """A passage's sparse BM25 vector, without the IDF (the engine adds it)."""
    if not terms:
        return [EMPTY_ID], [0.0]
    counts = Counter(token_id(t) for t in terms)
    norm = params.k1 * (1.0 - params.b + params.b * len(terms) / params.avgdl)
    ids = sorted(counts)
    return ids, [counts[i] / (counts[i] + norm) for i in ids]


def question_vector(terms: Sequence[str]) -> tuple[list[int], list[float]]:
    counts = Counter(token_id(t) for t in terms)
    ids = sorted(counts)
    return ids, [float(counts[i]) for i in ids]


# -- the client ---------------------------------------------------------------------

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def client(place: Place) -> Any:
    """The one client of this process for ``place`` (local mode allows one per folder)."""
    key = _key(place)
    with _clients_lock:
        if key not in _clients:
            from qdrant_client import QdrantClient

            if not _clients:  # closed before the interpreter tears down what close needs
                atexit.register(_close_all)
            with unavailable(place):
                if place.edge:
                    from assistant.index.edge_client import EdgeClient

                    _clients[key] = EdgeClient(key[1])
                elif place.url:
                    # (no version check: against a server that is down it warns before the first request fails)
                    _clients[key] = QdrantClient(url=place.url, api_key=os.environ.get(API_KEY_VARIABLE) or None,
                                                 timeout=TIMEOUT, check_compatibility=False)
                else:
                    Path(place.path).mkdir(parents=True, exist_ok=True)
                    _clients[key] = QdrantClient(path=key[1])
        return _clients[key]


def _key(place: Place) -> tuple[str, str]:
    if place.url:
        return ("url", place.url)
    return ("edge", str(Path(place.edge).resolve())) if place.edge else ("path", str(Path(place.path).resolve()))


def _close_all() -> None:
    with _clients_lock:
        found = list(_clients.values())
        _clients.clear()
    for c in found:
        try:
            c.close()
        except Exception:  # at exit: nothing left to tell
            pass


def close(place: Place) -> None:
    """Close this process's client for ``place`` (a local-mode folder is then free for another process)."""
    key = _key(place)
    with _clients_lock:
        found = _clients.pop(key, None)
    if found is not None:
        found.close()


class unavailable:
    """Turns what a lost or refused connection raises into one ``IndexUnavailableError``."""

    def __init__(self, place: Place) -> None:
        self.place = place

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, trace) -> bool:
        if error is not None and not isinstance(error, AssistantError) and _is_client_error(error):
            raise IndexUnavailableError(self._say(error)) from error
        return False

    def _say(self, error: BaseException) -> str:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        return (f"the Qdrant index at {self.place.where()} (collection {self.place.name}) cannot be reached "
                f"or refused: {first}; check that the server is running and QDRANT_API_KEY is right, then ask again")


def _is_client_error(error: BaseException) -> bool:
    module = type(error).__module__ or ""
    if module.startswith(("qdrant_client", "httpx", "httpcore", "grpc")):
        return True
    if isinstance(error, (ConnectionError, TimeoutError, OSError)):
        return True
    return isinstance(error, RuntimeError) and "already accessed by another instance" in str(error)


# -- the collection -----------------------------------------------------------------


class Store:
    """One collection through the client: the schema, whole-point writes, queries."""

    def __init__(self, place: Place, *, bm25: Bm25Params = Bm25Params(), has_fields: bool = False) -> None:
        from qdrant_client import models

        self.m = models
        self.place = place
        self.bm25 = bm25
        self.has_fields = has_fields  # every point's payload holds its passage's fields (filters match on them)
        self.rowmap: RowMap | None = None  # row -> point id, when they differ (a collection changed in place)
        self.sparse = SPARSE  # the name of the BM25 weights of this version (SPARSE_NAMES)
        # What a build's writer leaves for the rest of the write (assistant.index.qdrant_contents):
        self.keys: np.ndarray | None = None  # each row's passage key
        self.change: Any = None  # qdrant_contents.Change of a change in place, else None
        self.client = client(place)
        self._lock = threading.Lock() if place.path else None  # local mode is plain Python: one call at a time

    def call(self, method: str, *args, **kwargs) -> Any:
        with unavailable(self.place):
            if self._lock is None:
                return getattr(self.client, method)(*args, **kwargs)
            with self._lock:
                return getattr(self.client, method)(*args, **kwargs)

    def create(self, dimension: int) -> None:
        """The passages' collection: passage vector, token multivector (scored within
        candidates only: no HNSW graph, on disk), BM25 sparse vector, filter indexes."""
        m = self.m
        self.create_raw({DENSE: m.VectorParams(size=dimension, distance=m.Distance.DOT),
                         TOKENS: multivector_params(dimension)},
                        sparse={name: m.SparseVectorParams(modifier=m.Modifier.IDF) for name in SPARSE_NAMES},
                        indexes={name: "keyword" for name in FILTER_FIELDS})

    def create_raw(self, vectors: dict[str, Any], *, sparse: dict[str, Any] | None = None,
                   indexes: dict[str, str] | None = None) -> None:
        """A collection of ``vectors`` (name -> VectorParams) and ``sparse`` ones, with
        payload indexes (field -> "keyword", "integer", "bool") on a server."""
        m = self.m
        layout: dict[str, int] = {}
        if self.place.url and self.place.shards:
            layout["shard_number"] = self.place.shards
        if self.place.url and self.place.replicas:
            layout["replication_factor"] = self.place.replicas
        self.call("create_collection", self.place.name, vectors_config=vectors, sparse_vectors_config=sparse, **layout)
        if self.place.url or self.place.edge:  # local mode has no payload indexes (and warns)
            kinds = {"keyword": m.PayloadSchemaType.KEYWORD, "integer": m.PayloadSchemaType.INTEGER,
                     "bool": m.PayloadSchemaType.BOOL}
            for name, kind in (indexes or {}).items():
                self.call("create_payload_index", self.place.name, name, kinds[kind], wait=True)

    def exists(self) -> bool:
        return bool(self.call("collection_exists", self.place.name))

    def dimension(self) -> int:
        info = self.call("get_collection", self.place.name)
        return int(info.config.params.vectors[DENSE].size)

    def count(self) -> int:
        """The index's rows: those the row map names, else every point."""
        if self.rowmap is not None:
            return len(self.rowmap.ids)
        return self.points()

    def points(self) -> int:
        return int(self.call("count", self.place.name, exact=True).count)

    def vector(self, value: Any) -> Any:
        if isinstance(value, tuple):
            return self.m.SparseVector(indices=list(value[0]), values=list(value[1]))
        if isinstance(value, self.m.SparseVector):
            return value
        return np.asarray(value, dtype=np.float32).tolist()

    def upsert(self, points: Sequence[tuple[int, dict[str, Any], dict[str, Any]]]) -> None:
        m = self.m
        for i in range(0, len(points), BATCH):
            self.call("upsert", self.place.name, wait=True, points=[
                m.PointStruct(id=row if isinstance(row, str) else int(row),
                              vector={k: self.vector(v) for k, v in vectors.items()}, payload=payload)
                for row, vectors, payload in points[i : i + BATCH]
            ])

    def update_vectors(self, points: Sequence[tuple[int, dict[str, Any]]]) -> None:
        m = self.m
        for i in range(0, len(points), BATCH):
            self.call("update_vectors", self.place.name, wait=True, points=[
                m.PointVectors(id=int(row), vector={k: self.vector(v) for k, v in vectors.items()})
                for row, vectors in points[i : i + BATCH]
            ])

    def delete(self, rows: Sequence[int]) -> None:
        if len(rows):
            self.call("delete", self.place.name, wait=True,
                      points_selector=self.m.PointIdsList(points=[int(r) for r in rows]))

    def retrieve(self, rows: Sequence[int], *, vectors: Sequence[str] = (), payload: bool = False) -> dict[int, Any]:
        """The points of ``rows`` (those that exist) by row."""
        found: dict[int, Any] = {}
        rows = sorted({int(r) for r in rows})
        ids = self.ids_of(rows)
        row_of = dict(zip(ids, rows))
        for i in range(0, len(ids), 1024):
            got = self.call("retrieve", self.place.name, ids=ids[i : i + 1024], with_payload=payload,
                            with_vectors=list(vectors) or False)
            found.update({row_of[int(p.id)]: p for p in got})
        return found

    def ids_of(self, rows: Sequence[int] | np.ndarray) -> list[int]:
        """The point ids of ``rows``."""
        if self.rowmap is None:
            return [int(r) for r in rows]
        return self.rowmap.ids[np.asarray(rows, dtype=np.int64)].tolist()

    def rows_of(self, ids: Sequence[int]) -> np.ndarray:
        """The rows of point ids; -1 for a point the index does not name (a writer's, mid-change)."""
        ids = np.asarray(ids, dtype=np.int64)
        return ids if self.rowmap is None else self.rowmap.rows_of(ids)

    def scroll(self, *, start: int = 0, vectors: Sequence[str] = (), payload: bool = True) -> Iterator[Any]:
        """Every point with an id from ``start`` on, in id order, with its payload (unless not ``payload``)."""
        m = self.m
        where = m.Filter(must=[m.HasIdCondition(has_id=list(range(start, self.end())))]) if start else None
        offset = None
        while True:
            got, offset = self.call("scroll", self.place.name, scroll_filter=where, limit=512, offset=offset,
                                    with_payload=payload, with_vectors=list(vectors) or False)
            yield from got
            if offset is None:
                return

    def end(self) -> int:
        """One past the largest row (rows are 0..count-1)."""
        return self.count()

    def query(self, using: str, queries: Sequence[Any], limit: int, rows: np.ndarray | None,
              match: Match | None = None) -> list[list[tuple[int, float]]]:
        """Best ``limit`` points per query by the ``using`` vector, only ``rows`` when given,
        or (instead) only points whose payload ``match`` allows (when the points hold the
        passages' fields); both pushed down to the engine."""
        m = self.m
        fields = match if self.has_fields else None  # (a view built alone holds no passage fields)
        where = self._where(fields, None if fields else rows)
        requests = [m.QueryRequest(query=self.vector(q), using=using, limit=int(limit), filter=where,
                                   with_payload=False) for q in queries]
        found = self.call("query_batch_points", self.place.name, requests=requests)
        out = []
        for r in found:
            rows = self.rows_of([int(p.id) for p in r.points])
            out.append([(int(row), float(p.score)) for row, p in zip(rows, r.points) if row >= 0])
        return out

    def query_points(self, using: str, query: Any, *, limit: int, match: Match | None = None,
                     rows: np.ndarray | None = None, payload: Sequence[str] | None = None) -> list[Any]:
        """The best ``limit`` points for one query by the ``using`` vector (a dense vector,
        or a multivector for MAX_SIM), within ``match`` (payload values) and ``rows`` (ids)."""
        found = self.call("query_points", self.place.name, query=query, using=using, limit=int(limit),
                          query_filter=self._where(match, rows), with_payload=list(payload) if payload else False)
        return list(found.points)

    def _where(self, match: Match | None, rows: np.ndarray | None) -> Any:
        """The filter of points whose payload ``match`` allows and whose rows are ``rows`` (None: no condition)."""
        m = self.m
        must: list[Any] = [m.FieldCondition(key=field, match=m.MatchValue(value=values[0]) if len(values) == 1
                                            else m.MatchAny(any=list(values)))
                           for field, values in (match or {}).items()]
        if rows is not None:
            must.append(m.HasIdCondition(has_id=self.ids_of(rows)))
        return m.Filter(must=must) if must else None

    def descriptor(self) -> dict:
        return {"place": self.place.to_json(), "bm25": asdict(self.bm25), "fields": self.has_fields}


class RowMap:
    """The point id of each row of an index changed in place (its points keep their ids
    while rows move), and back."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self._order = np.argsort(self.ids, kind="stable")
        self._sorted = self.ids[self._order]

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Each id's row, -1 for an id no row has."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(self._sorted) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._sorted, ids), len(self._sorted) - 1)
        return np.where(self._sorted[pos] == ids, self._order[pos], -1).astype(np.int64)


def multivector_params(dimension: int) -> Any:
    """A multivector scored by MAX_SIM (late interaction), without an HNSW graph (it is
    only scored within candidates), kept on disk."""
    from qdrant_client import models as m

    return m.VectorParams(size=dimension, distance=m.Distance.DOT, on_disk=True,
                          multivector_config=m.MultiVectorConfig(comparator=m.MultiVectorComparator.MAX_SIM),
                          hnsw_config=m.HnswConfigDiff(m=0))


def _ranked(found: list[tuple[int, float]], k: int) -> Ranked:
    """Best first, equal scores by row (as the embedded backends order them)."""
    rows = np.array([r for r, _ in found], dtype=np.int64)
    scores = np.array([s for _, s in found], dtype=np.float32)
    order = np.lexsort((rows, -scores))[:k]
    return Ranked(rows[order], scores[order])


def _store_of(path: Path) -> Store:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        place, bm25 = Place.of_json(raw["place"]), Bm25Params(**raw["bm25"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise IndexLoadError(f"{path} does not name a Qdrant collection ({type(e).__name__}: {e})") from e
    store = Store(place, bm25=bm25, has_fields=raw.get("fields") is True)
    if not store.exists():
        raise IndexLoadError(f"the Qdrant collection {place.name} is not at {place.where()}; build the index again")
    return store


def _memory_place() -> Place:
    """A fresh local-mode folder for a backend built without a place (tests, brute checks)."""
    import tempfile

    return Place(alias="passages", path=tempfile.mkdtemp(prefix="qdrant-"))


# -- the dense view -------------------------------------------------------------------


class QdrantDense:
    """``DenseBackend`` on a collection's ``dense`` vectors; exact in local mode,
    the server's HNSW on a server."""

    kind: ClassVar[str] = "qdrant"
    stored_as: ClassVar[str] = "qdrant.dense.json"

    def __init__(self, store: Store) -> None:
        self.store = store
        self._dimension = store.dimension()

    @classmethod
    def build(cls, vectors: np.ndarray, *, place: Place | None = None) -> QdrantDense:
        store = Store(place or _memory_place())
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
        store.create(vectors.shape[1])
        store.upsert([(row, {DENSE: v}, {}) for row, v in enumerate(vectors)])
        return cls(store)

    @classmethod
    def load(cls, path: Path, *, mmap: bool = False) -> QdrantDense:
        return cls(_store_of(path))

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.store.descriptor(), indent=2) + "\n", encoding="utf-8")

    @property
    def dimension(self) -> int:
        return self._dimension

    def count(self) -> int:
        return self.store.count()

    def nearest(self, question: np.ndarray, k: int, *, allowed: np.ndarray | None = None,
                match: Match | None = None) -> Ranked:
        rows = None if allowed is None else np.flatnonzero(np.asarray(allowed, dtype=bool))
        if k <= 0 or (rows is not None and len(rows) == 0):
            return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        # a few more than k, so that equal scores at the boundary are ordered by row
        return _ranked(self.store.query(DENSE, [question], int(k) + 8, rows, match)[0], int(k))

    def search(self, questions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        questions = np.asarray(questions, dtype=np.float32).reshape(-1, self.dimension)
        found = self.store.query(DENSE, list(questions), int(k) + 8, None)
        scores = np.full((len(questions), k), -np.inf, dtype=np.float32)
        rows = np.full((len(questions), k), -1, dtype=np.int64)
        for i, f in enumerate(found):
            best = _ranked(f, k)
            rows[i, : len(best.rows)], scores[i, : len(best.rows)] = best.rows, best.scores
        return scores, rows

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        if len(rows) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        found = self.store.retrieve(rows, vectors=[DENSE])
        missing = [int(r) for r in rows if int(r) not in found]
        if missing:
            raise IndexError(f"rows {missing[:5]} are not in the Qdrant collection {self.store.place.name}")
        return np.array([found[int(r)].vector[DENSE] for r in rows], dtype=np.float32)

    def add(self, vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
        _append(self.store, [{DENSE: v} for v in vectors], [{} for _ in vectors])

    def delete(self, rows: np.ndarray) -> None:
        _delete(self.store, rows)


# -- the keyword view -----------------------------------------------------------------


class QdrantKeyword:
    """``KeywordBackend`` on a collection's ``bm25`` sparse vectors (terms as bm25s makes them)."""

    kind: ClassVar[str] = "qdrant-bm25"
    stored_as: ClassVar[str] = "qdrant.keyword.json"

    def __init__(self, store: Store) -> None:
        self.store = store

    @classmethod
    def build(cls, texts: Sequence[str], *, place: Place | None = None) -> QdrantKeyword:
        from assistant.index.keyword import tokenize

        store = Store(place or _memory_place())
        store.create(1)  # a collection of its own holds a placeholder dense vector
        terms = tokenize(list(texts))
        store.bm25 = Bm25Params(avgdl=average_length(terms))
        store.upsert([(row, {DENSE: [0.0], SPARSE: passage_vector(t, store.bm25)}, {TERMS: t})
                      for row, t in enumerate(terms)])
        return cls(store)

    @classmethod
    def load(cls, path: Path, *, mmap: bool = False) -> QdrantKeyword:
        return cls(_store_of(path))

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.store.descriptor(), indent=2) + "\n", encoding="utf-8")

    def count(self) -> int:
        return self.store.count()

    def terms(self, text: str) -> list[str]:
        from assistant.index.keyword import tokenize

        return tokenize([text])[0]

    def top_k(self, terms: Sequence[str], k: int, *, allowed: np.ndarray | None = None,
              match: Match | None = None) -> Ranked:
        rows = None if allowed is None else np.flatnonzero(np.asarray(allowed, dtype=bool))
        if not terms or k <= 0 or (rows is not None and len(rows) == 0):
            return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        found = [(r, s) for r, s in self.store.query(self.store.sparse, [question_vector(terms)], int(k) + 8, rows, match)[0]
                 if s > 0]
        return _ranked(found, int(k))

    def scores(self, terms: Sequence[str], rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), dtype=np.float32)
        if not terms or len(rows) == 0:
            return out
        unique = np.unique(rows)
        found = dict(self.store.query(self.store.sparse, [question_vector(terms)], len(unique), unique)[0])
        return np.array([found.get(int(r), 0.0) for r in rows], dtype=np.float32)

    def add(self, texts: Sequence[str]) -> None:
        from assistant.index.keyword import tokenize

        terms = tokenize(list(texts))
        _append(self.store, [{SPARSE: passage_vector(t, self.store.bm25)} for t in terms], [{TERMS: t} for t in terms])
        self._reweigh()

    def delete(self, rows: np.ndarray) -> None:
        _delete(self.store, rows)
        self._reweigh()

    def _reweigh(self) -> None:
        """Every sparse vector again with the mean length of the passages now held."""
        points = list(self.store.scroll())
        terms = [list(p.payload.get(TERMS, [])) for p in points]
        self.store.bm25 = replace(self.store.bm25, avgdl=average_length(terms))
        self.store.update_vectors([(int(p.id), {SPARSE: passage_vector(t, self.store.bm25)})
                                   for p, t in zip(points, terms)])


# -- changes that renumber --------------------------------------------------------------


def _append(store: Store, vectors: list[dict[str, Any]], payloads: list[dict[str, Any]]) -> None:
    """Rows ``count()`` onwards; a point another view already wrote gets these vectors beside its own."""
    start = store.count()
    rows = list(range(start, start + len(vectors)))
    store.upsert([(r, v, p) for r, v, p in zip(rows, vectors, payloads)])


def _delete(store: Store, rows: np.ndarray) -> None:
    """Remove ``rows``; the points after the first of them move up (ids = rows), whole."""
    gone = {int(r) for r in np.atleast_1d(np.asarray(rows, dtype=np.int64))}
    if not gone:
        return
    first = min(gone)
    names = list(store.call("get_collection", store.place.name).config.params.vectors) + [SPARSE]
    moved = [p for p in store.scroll(start=first, vectors=names) if int(p.id) not in gone]
    store.delete(list(range(first, store.end())))
    store.upsert([(first + i, dict(p.vector), dict(p.payload or {})) for i, p in enumerate(moved)])


def build_collection(
    place: Place, *, vectors: np.ndarray, texts: Sequence[str], payloads: Sequence[dict[str, Any]],
) -> tuple[QdrantDense, QdrantKeyword]:
    """A new collection behind ``place.alias`` holding every passage as one point (row =
    id): its unit vector, its BM25 vector over ``texts`` and ``payloads`` (its fields).
    Readers of the alias see it once ``publish`` is called.

    Returns:
        The dense and keyword views of the one collection (``place.collection`` named).
    """
    from assistant.index.keyword import tokenize

    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    store = Store(replace(place, collection=new_collection(place.alias)), has_fields=True)
    store.create(vectors.shape[1])
    terms = tokenize(list(texts))
    store.bm25 = Bm25Params(avgdl=average_length(terms))
    store.upsert([(row, {DENSE: v, SPARSE: passage_vector(t, store.bm25)}, {**p, TERMS: t})
                  for row, (v, t, p) in enumerate(zip(vectors, terms, payloads))])
    return QdrantDense(store), QdrantKeyword(store)


def publish(place: Place) -> str | None:
    """Point ``place.alias`` at ``place.collection`` in one step; drop the alias's older
    collections but the one it pointed at until now (a reader may be mid-question on it).

    Returns:
        The collection the alias pointed at before, or None.
    """
    store = Store(place)
    m = store.m
    aliases = store.call("get_aliases").aliases
    before = next((a.collection_name for a in aliases if a.alias_name == place.alias), None)
    operations: list[Any] = []
    if before is not None:
        operations.append(m.DeleteAliasOperation(delete_alias=m.DeleteAlias(alias_name=place.alias)))
    operations.append(m.CreateAliasOperation(
        create_alias=m.CreateAlias(collection_name=place.collection, alias_name=place.alias)))
    store.call("update_collection_aliases", change_aliases_operations=operations)
    for c in store.call("get_collections").collections:
        built = re.fullmatch(rf"({re.escape(place.alias)}-\d{{8}}T\d{{6}}-\d{{6}})(-sentences|-documents|-meta(?:-\d+)?)?", c.name)
        if built and built.group(1) not in (place.collection, before):  # with the contents beside it
            store.call("delete_collection", c.name)
    return before


def new_collection(alias: str) -> str:
    """A collection name for a new build behind ``alias``: ``alias-YYYYmmddTHHMMSS-micro``."""
    now = time.time()
    return f"{alias}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now))}-{int(now * 1e6) % 1_000_000:06d}"
