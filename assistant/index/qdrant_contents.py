"""Everything an index holds, in Qdrant: the index folder keeps only its manifest.

Owns the arrow ``IndexParts -> Qdrant collections -> a loaded index's parts`` for
``build --backend qdrant``. Beside the passages' collection ``C`` (assistant.index.qdrant:
passage vector, BM25 sparse vector, the passage's fields as payload), a build writes:

    C                each passage's token vectors as a multivector ``tokens`` (MAX_SIM,
                     no HNSW graph: only ever scored within a question's candidates)
    C-sentences      one point per sentence (id = its row): its vector ``sentence``, the
                     token vectors of the sentence and of its passage's title and metadata
                     as a multivector ``tokens``, and payload ``row`` (its passage),
                     ``span`` (offsets in the document) and ``scores`` (five words or more)
    C-documents      one point per document (id = its position): every field, the
                     extracted text included (quotes are cut from it, the Sources view shows it)
    C-meta           the small arrays of the whole index (where each passage's sentences
                     start, the word pieces and in how many passages each occurs, the filter
                     and year columns, the vocabulary, the source files' records, BM25's
                     parameters), as files packed into payload chunks

Token vectors are stored as the index folder stores them, int8 times a scale per token,
multiplied out (float32), so the engine's MAX_SIM of the question's weighted pieces is
the folder's token match to float rounding. A question's second stage asks the engine
for its candidates' sentence cosines and token matches (``QdrantDetail``); no vector
leaves the engine but the candidates' passage vectors.
"""

from __future__ import annotations

import base64
import io
import json
import tempfile
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from assistant.encoders.embed import Tokens
from assistant.errors import IndexLoadError
from assistant.index import sources
from assistant.index.columns import Columns
from assistant.index.detail import SentenceScores
from assistant.index.qdrant import TOKENS, Bm25Params, Place, QdrantDense, QdrantKeyword, Store, multivector_params
from assistant.index.sources import SourceFiles
from assistant.index.tokens import CONTEXT
from assistant.ingest.corpus import Document, Passage

SENTENCE = "sentence"  # a sentence point's own vector
CHUNK = 4 * 1024 * 1024  # bytes of packed meta per point
SENTENCE_BATCH = 64  # sentence points per request (each carries a few hundred token vectors)
PASSAGES_KEPT = 4096  # passages read recently kept in memory
DOCUMENTS_KEPT = 256
PASSAGE_FIELDS = tuple(f.name for f in fields(Passage))
DOCUMENT_FIELDS = tuple(f.name for f in fields(Document))
CONTENTS = "qdrant"  # manifest.qdrant["contents"]: everything is in the collections, nothing in the folder


def part(place: Place, suffix: str) -> Place:
    """The collection beside ``place``'s passages that holds one kind of content."""
    return replace(place, collection=f"{place.name}-{suffix}")


# -- writing ------------------------------------------------------------------------


def write(store: Store, parts: Any) -> dict:
    """Write what ``parts`` (assistant.index.parts.IndexParts) hold beyond the passages'
    vectors and fields into ``store``'s collection and the three beside it.

    Returns:
        What the manifest records of them (``manifest.qdrant``).
    """
    tokens, sentences = parts.tokens, parts.sentences
    first = np.asarray(tokens.first, dtype=np.int64)
    n = len(first) - 1
    sentence_of = np.asarray(tokens.sentence)

    def token_rows(a: int, b: int) -> np.ndarray:
        return np.asarray(tokens.vectors[a:b], dtype=np.float32) * np.asarray(tokens.scale[a:b], dtype=np.float32)[:, None]

    for i in range(0, n, SENTENCE_BATCH):  # the passages' token multivectors
        store.update_vectors([(r, {TOKENS: token_rows(int(first[r]), int(first[r + 1]))})
                              for r in range(i, min(n, i + SENTENCE_BATCH))])
    dimension = store.dimension()
    sent_store = Store(part(store.place, "sentences"))
    sent_store.create_raw({SENTENCE: _flat_params(dimension), TOKENS: multivector_params(dimension)},
                          indexes={"row": "integer", "scores": "bool"})
    s_first = np.asarray(sentences.first, dtype=np.int64)
    points = []
    for r in range(n):
        a, b = int(first[r]), int(first[r + 1])
        if s_first[r] == s_first[r + 1]:
            continue
        vecs = token_rows(a, b)
        owner = sentence_of[a:b]
        context = vecs[owner == CONTEXT]
        for s in range(int(s_first[r]), int(s_first[r + 1])):
            vector: dict[str, Any] = {SENTENCE: np.asarray(sentences.vectors[s], dtype=np.float32) * np.float32(sentences.scale[s])}
            own = vecs[owner == s]
            if len(own):
                vector[TOKENS] = np.concatenate([own, context])
            span = [int(x) for x in sentences.spans[s]]
            points.append((s, vector, {"row": r, "span": span, "scores": bool(sentences.scores[s])}))
            if len(points) >= SENTENCE_BATCH:
                sent_store.upsert(points)
                points = []
    sent_store.upsert(points)
    doc_store = Store(part(store.place, "documents"))
    doc_store.create_raw({})
    batch: list[tuple[int, dict, dict]] = []
    size = 0
    for i, d in enumerate(parts.documents):
        record = asdict(d)
        batch.append((i, {}, record))
        size += len(d.text) + 1024
        if size > CHUNK:
            doc_store.upsert(batch)
            batch, size = [], 0
    doc_store.upsert(batch)
    meta = _pack_meta(parts, bm25=store.bm25)
    meta_store = Store(part(store.place, "meta"))
    meta_store.create_raw({})
    meta_store.upsert([(i, {}, {"part": i, "data": base64.b64encode(meta[i * CHUNK:(i + 1) * CHUNK]).decode("ascii")})
                       for i in range((len(meta) + CHUNK - 1) // CHUNK)])
    return store.place.to_json() | {"contents": CONTENTS, "meta_bytes": len(meta)}


def _flat_params(dimension: int) -> Any:
    from qdrant_client import models as m

    return m.VectorParams(size=dimension, distance=m.Distance.DOT, hnsw_config=m.HnswConfigDiff(m=0))


def _pack_meta(parts: Any, *, bm25: Bm25Params) -> bytes:
    """The small whole-index arrays and records as one zip of files (as the folder would hold them)."""
    import zipfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        parts.columns.save(folder)
        sources.save(parts.files, folder)
        (folder / "vocabulary.json").write_text(json.dumps(sorted(parts.vocabulary), ensure_ascii=False))
        (folder / "index.json").write_text(json.dumps({
            "documents": [d.doc_id for d in parts.documents], "passages": len(parts.passages),
            "sentences": int(len(parts.sentences.row)), "pieces": list(parts.tokens.pieces), "bm25": asdict(bm25),
        }, ensure_ascii=False))
        np.save(folder / "sentences.first.npy", np.asarray(parts.sentences.first, dtype=np.int64))
        np.save(folder / "tokens.counts.npy", np.asarray(parts.tokens.counts if parts.tokens.counts is not None
                                                         else parts.tokens.piece_passages(), dtype=np.int64))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(folder.iterdir()):
                z.write(f, f.name)
        return out.getvalue()


def drop(store: Store) -> None:
    """Delete the collections beside ``store``'s (a dropped build's)."""
    for suffix in ("sentences", "documents", "meta"):
        other = part(store.place, suffix)
        if store.call("collection_exists", other.name):
            store.call("delete_collection", other.name)


# -- reading ------------------------------------------------------------------------


class Contents:
    """A Qdrant index's contents as a load needs them: passages, documents, the
    second-stage detail, columns, vocabulary, source records, and both backends."""

    def __init__(self, qdrant: Mapping[str, Any]) -> None:
        place = Place.of_json(dict(qdrant))
        self.place = place
        self.store = Store(place, has_fields=True)
        if not self.store.exists():
            raise IndexLoadError(f"the Qdrant collection {place.name} is not at {place.where()}; build the index again")
        self._meta = self._read_meta(int(qdrant.get("meta_bytes", -1)))
        info = json.loads(self._meta["index.json"])
        self.doc_ids: list[str] = list(info["documents"])
        self.n: int = int(info["passages"])
        self.m: int = int(info["sentences"])
        self.store.bm25 = Bm25Params(**info["bm25"])
        self.pieces: tuple[str, ...] = tuple(info["pieces"])
        self.sentence_first = self._array("sentences.first.npy")
        self.piece_counts = self._array("tokens.counts.npy")
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("columns.json", "columns.npz", sources.FILES):
                (Path(tmp) / name).write_bytes(self._meta[name])
            self.columns = Columns.load(Path(tmp))
            self.files: SourceFiles = sources.load(Path(tmp))
        self.vocabulary = frozenset(json.loads(self._meta["vocabulary.json"]))
        self.dense = QdrantDense(self.store)
        self.keyword = QdrantKeyword(self.store)
        self.passages = QdrantPassages(self.store, self.n)
        self.documents = QdrantDocuments(Store(part(place, "documents")), self.doc_ids)
        self.detail = QdrantDetail(self)

    def _read_meta(self, size: int) -> dict[str, bytes]:
        import zipfile

        meta = Store(part(self.place, "meta"))
        if not meta.exists():
            raise IndexLoadError(f"the Qdrant collection {meta.place.name} is not at {self.place.where()}; "
                                 "build the index again")
        got = [p.payload for p in meta.scroll()]
        data = b"".join(base64.b64decode(p["data"]) for p in sorted(got, key=lambda p: p["part"]))
        if len(data) != size:
            raise IndexLoadError(f"the Qdrant collection {meta.place.name} holds {len(data)} bytes, the manifest "
                                 f"says {size}; build the index again")
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return {name: z.read(name) for name in z.namelist()}

    def _array(self, name: str) -> np.ndarray:
        return np.load(io.BytesIO(self._meta[name]), allow_pickle=False)

    def sentences_count(self) -> int:
        return Store(part(self.place, "sentences")).count()


class QdrantPassages(Sequence[Passage]):
    """The passages in row order, each read from its point's payload when asked (the most recent kept)."""

    def __init__(self, store: Store, n: int) -> None:
        self.store = store
        self.n = n
        self._kept: OrderedDict[int, Passage] = OrderedDict()

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return self.many(range(*i.indices(len(self))))
        i = int(i)
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(f"passage row {i} out of range")
        return self.many([i])[0]

    def many(self, rows: Sequence[int]) -> list[Passage]:
        """The passages of ``rows``, in one request for those not kept."""
        wanted = [int(r) for r in rows]
        missing = [r for r in wanted if r not in self._kept]
        if missing:
            got = self.store.retrieve(missing, payload=True)
            for r in missing:
                if r not in got:
                    raise IndexLoadError(f"passage row {r} is missing from the Qdrant collection {self.store.place.name}; "
                                         "build the index again")
                self._kept[r] = _passage(got[r].payload)
                if len(self._kept) > PASSAGES_KEPT:
                    self._kept.popitem(last=False)
        return [self._kept[r] for r in wanted]

    def __iter__(self) -> Iterator[Passage]:
        for p in self.store.scroll():
            yield _passage(p.payload)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(other) == len(self) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]


def _passage(payload: Mapping[str, Any]) -> Passage:
    return Passage(**{k: payload[k] for k in PASSAGE_FIELDS if k in payload})


class QdrantDocuments(Mapping[str, Document]):
    """The documents by id (in index order), each read from its point when first asked for."""

    def __init__(self, store: Store, ids: list[str]) -> None:
        self.store = store
        self._row = {d: i for i, d in enumerate(ids)}
        self._kept: OrderedDict[int, Document] = OrderedDict()

    def __getitem__(self, doc_id: str) -> Document:
        i = self._row[doc_id]
        if i not in self._kept:
            got = self.store.retrieve([i], payload=True)
            if i not in got:
                raise IndexLoadError(f"document {doc_id} is missing from the Qdrant collection {self.store.place.name}; "
                                     "build the index again")
            self._kept[i] = _document(got[i].payload)
            if len(self._kept) > DOCUMENTS_KEPT:
                self._kept.popitem(last=False)
        return self._kept[i]

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._row

    def __iter__(self) -> Iterator[str]:
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)

    def values(self):  # type: ignore[override]
        return [_document(p.payload) for p in self.store.scroll()]

    def items(self):  # type: ignore[override]
        return [(d.doc_id, d) for d in self.values()]


def _document(payload: Mapping[str, Any]) -> Document:
    return Document(**{k: payload[k] for k in DOCUMENT_FIELDS if k in payload})


class QdrantDetail:
    """``PassageDetail`` computed by the engine: sentence cosines by a query of the
    sentences' vectors within the candidates, token matches by MAX_SIM of the
    question's weighted pieces against the passages' and the sentences' multivectors."""

    def __init__(self, contents: Contents) -> None:
        self.store = contents.store
        self.sentence_store = Store(part(contents.place, "sentences"))
        self.first = contents.sentence_first
        self.counts = {p: int(c) for p, c in zip(contents.pieces, contents.piece_counts)}
        self.n = contents.n

    @property
    def passages(self) -> int:
        return self.n

    def sentences(self, rows: np.ndarray, question: np.ndarray) -> SentenceScores:
        rows = np.asarray(rows, dtype=np.int64)
        counts = self.first[rows + 1] - self.first[rows]
        start = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=start[1:])
        m = int(start[-1])
        ids = np.zeros(m, dtype=np.int64)
        spans = np.zeros((m, 2), dtype=np.int64)
        sims = np.zeros(m, dtype=np.float32)
        scoring = np.zeros(m, dtype=bool)
        if m == 0:
            return SentenceScores(start, ids, spans, sims, scoring)
        every = len(rows) == self.n
        found = self.sentence_store.query_points(
            SENTENCE, np.asarray(question, dtype=np.float32).tolist(), limit=m,
            match=None if every else {"row": [int(r) for r in rows]}, payload=["span", "scores"])
        if len(found) != m:
            raise IndexLoadError(f"the Qdrant collection {self.sentence_store.place.name} holds {len(found)} of the "
                                 f"candidates' {m} sentences; build the index again")
        found.sort(key=lambda p: int(p.id))  # sentence rows are in passage order
        for i, p in enumerate(found):
            ids[i] = int(p.id)
            spans[i] = p.payload["span"]
            sims[i] = p.score
            scoring[i] = bool(p.payload["scores"])
        return SentenceScores(start, ids, spans, sims, scoring)

    def token_match(self, query: Tokens, weights: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.asarray(rows, dtype=np.int64)
        n = len(rows)
        whole = np.zeros(n, dtype=np.float32)
        used = weights > 0
        if n == 0 or not used.any():
            return whole, whole.copy()
        w = np.asarray(weights[used], dtype=np.float32)
        weighted = (np.asarray(query.vectors[used], dtype=np.float32) * w[:, None]).tolist()
        total = float(w.sum())
        every = n == self.n
        got = self.store.query_points(TOKENS, weighted, limit=n, rows=None if every else rows)
        by_row = {int(p.id): p.score / total for p in got}
        whole = np.array([by_row.get(int(r), 0.0) for r in rows], dtype=np.float32)
        limit = int((self.first[rows + 1] - self.first[rows]).sum())
        best = whole.copy()
        if limit:
            match: dict[str, list] = {"scores": [True]}
            if not every:
                match["row"] = [int(r) for r in rows]
            found = self.sentence_store.query_points(TOKENS, weighted, limit=limit, match=match, payload=["row"])
            per_row: dict[int, float] = {}
            for p in found:
                r = int(p.payload["row"])
                per_row[r] = max(per_row.get(r, -np.inf), p.score / total)
            best = np.array([per_row.get(int(r), whole[i]) for i, r in enumerate(rows)], dtype=np.float32)
        return whole, best

    def piece_counts(self) -> dict[str, int]:
        return self.counts
