"""Qdrant's real engine in process, behind the calls the Qdrant backend makes of a client.

Owns ``EdgeClient``: the part of ``qdrant_client.QdrantClient`` that
:mod:`assistant.index.qdrant` and :mod:`assistant.index.qdrant_contents` use (collections,
aliases, upserts, deletes, retrieval, scrolling, queries with filters, dense, sparse and
multivector), answered by qdrant-edge-py's ``EdgeShard``: the Rust engine a Qdrant server
runs, without a server. One shard per collection, in ``FOLDER/collections/NAME``; aliases
in ``FOLDER/aliases.json`` (replaced in one step). ``build --qdrant-edge FOLDER`` writes
an index there; the answers are the engine's, not local mode's Python re-implementation.

One process opens a shard at a time (the engine locks its write-ahead log), as with local
mode. Payload indexes are built as on a server.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

CONFIG = "edge_config.json"  # what EdgeShard.create writes into its folder
ALIASES = "aliases.json"


class EdgeClient:
    """A client of the collections in ``folder``, each an Edge shard."""

    def __init__(self, folder: str | Path) -> None:
        import qdrant_edge
        from qdrant_client import models

        self.q = qdrant_edge
        self.m = models
        self.folder = Path(folder).resolve()
        (self.folder / "collections").mkdir(parents=True, exist_ok=True)
        self._shards: dict[str, Any] = {}
        self._lock = threading.RLock()  # the shard objects are not shared across threads

    # -- collections ---------------------------------------------------------------------

    def _path(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"not a collection name: {name!r}")
        return self.folder / "collections" / name

    def _shard(self, name: str) -> Any:
        name = self._resolve(name)
        if name not in self._shards:
            if not (self._path(name) / CONFIG).is_file():
                raise ValueError(f"Collection {name} not found in {self.folder}")
            self._shards[name] = self.q.EdgeShard.load(str(self._path(name)))
        return self._shards[name]

    def _resolve(self, name: str) -> str:
        """A collection's name, or the collection an alias names."""
        if (self._path(name) / CONFIG).is_file() or name in self._shards:
            return name
        return self._aliases().get(name, name)

    def collection_exists(self, name: str) -> bool:
        with self._lock:
            return (self._path(self._resolve(name)) / CONFIG).is_file()

    def create_collection(self, name: str, vectors_config: dict | None = None,
                          sparse_vectors_config: dict | None = None) -> bool:
        q = self.q
        dense = {k: self._vector_params(v) for k, v in (vectors_config or {}).items()}
        sparse = {k: q.EdgeSparseVectorParams(modifier=q.Modifier.Idf if v.modifier is not None
                                              and str(v.modifier.value).lower() == "idf" else None)
                  for k, v in (sparse_vectors_config or {}).items()}
        if not dense and not sparse:  # a collection of payloads alone: one placeholder vector no point carries
            dense = {"_": q.EdgeVectorParams(size=1, distance=q.Distance.Dot)}
        with self._lock:
            path = self._path(name)
            if (path / CONFIG).is_file():
                raise ValueError(f"Collection {name} already exists")
            shutil.rmtree(path, ignore_errors=True)
            self._shards[name] = q.EdgeShard.create(str(path), q.EdgeConfig(vectors=dense, sparse_vectors=sparse or None))
        return True

    def _vector_params(self, v: Any) -> Any:
        q = self.q
        multi = q.MultiVectorConfig(q.MultiVectorComparator.MaxSim) if v.multivector_config is not None else None
        hnsw = None
        if v.hnsw_config is not None and v.hnsw_config.m == 0:  # no graph: scored within candidates only
            hnsw = q.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000)
        distance = getattr(q.Distance, str(v.distance.value))  # "Dot", "Cosine", "Euclid", "Manhattan"
        return q.EdgeVectorParams(size=int(v.size), distance=distance, on_disk=v.on_disk, multivector_config=multi,
                                  hnsw_config=hnsw)

    def get_collection(self, name: str) -> Any:
        with self._lock:
            raw = json.loads((self._path(self._resolve(name)) / CONFIG).read_text(encoding="utf-8"))
        vectors = {k: SimpleNamespace(size=int(v.get("size", 0))) for k, v in raw.get("vectors", {}).items() if k != "_"}
        return SimpleNamespace(config=SimpleNamespace(params=SimpleNamespace(vectors=vectors)))

    def get_collections(self) -> Any:
        names = sorted(p.name for p in (self.folder / "collections").iterdir() if (p / CONFIG).is_file())
        return SimpleNamespace(collections=[SimpleNamespace(name=n) for n in names])

    def delete_collection(self, name: str) -> bool:
        with self._lock:
            name = self._resolve(name)
            shard = self._shards.pop(name, None)
            if shard is not None:
                shard.close()
            shutil.rmtree(self._path(name), ignore_errors=True)
        return True

    def create_payload_index(self, name: str, field_name: str, field_schema: Any, wait: bool = True) -> None:
        """An index on a payload field (as a server builds one): filters on it need not read every point."""
        q = self.q
        kind = {"keyword": q.PayloadSchemaType.Keyword, "integer": q.PayloadSchemaType.Integer,
                "bool": q.PayloadSchemaType.Bool}[str(getattr(field_schema, "value", field_schema))]
        with self._lock:
            self._shard(name).update(q.UpdateOperation.create_field_index(field_name, kind))

    # -- aliases ---------------------------------------------------------------------------

    def _aliases(self) -> dict[str, str]:
        try:
            return dict(json.loads((self.folder / ALIASES).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return {}

    def get_aliases(self) -> Any:
        return SimpleNamespace(aliases=[SimpleNamespace(alias_name=a, collection_name=c)
                                        for a, c in sorted(self._aliases().items())])

    def update_collection_aliases(self, change_aliases_operations: list) -> bool:
        with self._lock:
            aliases = self._aliases()
            for op in change_aliases_operations:
                if getattr(op, "delete_alias", None) is not None:
                    aliases.pop(op.delete_alias.alias_name, None)
                if getattr(op, "create_alias", None) is not None:
                    aliases[op.create_alias.alias_name] = op.create_alias.collection_name
            tmp = self.folder / f".{ALIASES}.{os.getpid()}"
            tmp.write_text(json.dumps(aliases, indent=2))
            os.replace(tmp, self.folder / ALIASES)  # readers see the old aliases or the new, never half
        return True

    # -- points ------------------------------------------------------------------------------

    def count(self, name: str, exact: bool = True) -> Any:
        with self._lock:
            return SimpleNamespace(count=int(self._shard(name).count(self.q.CountRequest(exact=True))))

    def _vector(self, value: Any) -> Any:
        if isinstance(value, self.m.SparseVector):
            return self.q.SparseVector(indices=[int(i) for i in value.indices], values=[float(v) for v in value.values])
        return value

    def upsert(self, name: str, points: list, wait: bool = True) -> None:
        q = self.q
        batch = [q.Point(id=p.id, vector={k: self._vector(v) for k, v in (p.vector or {}).items()}, payload=p.payload)
                 for p in points]
        if batch:
            with self._lock:
                self._shard(name).update(q.UpdateOperation.upsert_points(batch))

    def update_vectors(self, name: str, points: list, wait: bool = True) -> None:
        q = self.q
        batch = [q.PointVectors(id=p.id, vector={k: self._vector(v) for k, v in p.vector.items()}) for p in points]
        if batch:
            with self._lock:
                self._shard(name).update(q.UpdateOperation.update_vectors(batch))

    def delete(self, name: str, points_selector: Any, wait: bool = True) -> None:
        q = self.q
        if isinstance(points_selector, self.m.PointIdsList):
            operation = q.UpdateOperation.delete_points(list(points_selector.points))
        else:
            operation = q.UpdateOperation.delete_points_by_filter(self._filter(points_selector.filter))
        with self._lock:
            self._shard(name).update(operation)

    def retrieve(self, name: str, ids: list, with_payload: Any = True, with_vectors: Any = False) -> list:
        with self._lock:
            return list(self._shard(name).retrieve(list(ids), with_payload, with_vectors))

    def scroll(self, name: str, scroll_filter: Any = None, limit: int = 10, offset: Any = None,
               with_payload: Any = True, with_vectors: Any = False) -> tuple[list, Any]:
        request = self.q.ScrollRequest(offset=offset, limit=int(limit), filter=self._filter(scroll_filter),
                                       with_payload=with_payload, with_vector=with_vectors)
        with self._lock:
            got, following = self._shard(name).scroll(request)
        return list(got), following

    def _request(self, query: Any, using: str | None, limit: int, query_filter: Any, with_payload: Any) -> Any:
        q = self.q
        return q.QueryRequest(limit=int(limit), query=q.Query.Nearest(self._vector(query), using=using),
                              filter=self._filter(query_filter), with_payload=with_payload, with_vector=False)

    def query_points(self, name: str, query: Any, using: str | None = None, limit: int = 10, query_filter: Any = None,
                     with_payload: Any = False) -> Any:
        request = self._request(query, using, limit, query_filter, with_payload)
        with self._lock:
            return SimpleNamespace(points=list(self._shard(name).query(request)))

    def query_batch_points(self, name: str, requests: list) -> list:
        batch = self.q.QueryBatchRequest([self._request(r.query, r.using, r.limit, r.filter, r.with_payload or False)
                                          for r in requests])
        with self._lock:
            return [SimpleNamespace(points=list(found)) for found in self._shard(name).query_batch(batch)]

    def _filter(self, where: Any) -> Any:
        """A qdrant-client filter as the engine's (must of field matches, ranges, ids)."""
        if where is None:
            return None
        q, m = self.q, self.m
        conditions = []
        for c in where.must or []:
            if isinstance(c, m.HasIdCondition):
                conditions.append(q.HasIdCondition(set(c.has_id)))
            elif isinstance(c, m.FieldCondition) and isinstance(c.match, m.MatchAny):
                conditions.append(q.FieldCondition(key=c.key, match=q.MatchAny(list(c.match.any))))
            elif isinstance(c, m.FieldCondition) and isinstance(c.match, m.MatchValue):
                conditions.append(q.FieldCondition(key=c.key, match=q.MatchValue(c.match.value)))
            elif isinstance(c, m.FieldCondition) and c.range is not None:
                r = c.range
                conditions.append(q.FieldCondition(key=c.key, range=q.RangeFloat(gte=r.gte, gt=r.gt, lte=r.lte, lt=r.lt)))
            else:
                raise ValueError(f"a condition the engine adapter does not translate: {c!r}")
        return q.Filter(must=conditions)

    def close(self) -> None:
        with self._lock:
            for shard in self._shards.values():
                try:
                    shard.flush()
                    shard.close()
                except Exception:  # closing: nothing left to tell
                    pass
            self._shards.clear()
