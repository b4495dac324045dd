"""Everything an index holds, in Qdrant: the index folder keeps only its manifest.

Owns the arrow ``IndexParts -> Qdrant collections -> a loaded index's parts`` for
``build --backend qdrant``. Beside the passages' collection ``C`` (assistant.index.qdrant:
passage vector, BM25 sparse vector, the passage's fields as payload), a build writes:

    C                each passage's token vectors as a multivector ``tokens`` (MAX_SIM,
                     no HNSW graph: only ever scored within a question's candidates)
    C-sentences      one point per sentence (id = its row): its vector ``sentence``, the
                     token vectors of the sentence and of its passage's title and metadata
                     as a multivector ``tokens``, and payload ``passage`` (its passage's point id),
                     ``span`` (offsets in the document) and ``scores`` (1: five words or more;
                     an integer, as Qdrant's engine does not match booleans without an index)
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
import hashlib
import io
import json
import re
import tempfile
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from assistant.encoders.embed import Tokens
from assistant.errors import IndexLoadError
from assistant.index import sources
from assistant.index.columns import Columns
from assistant.index.detail import SentenceScores
from assistant.index.qdrant import (
    BATCH, DENSE, TOKENS, Bm25Params, Place, QdrantDense, QdrantKeyword, RowMap, Store, multivector_params,
)
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

PID = "pid"  # a point's own id in its payload (a killed writer's points are found by range)
PASSAGE = "passage"  # a sentence point's passage (its point id)


def document_point(d: Document) -> str:
    """A document's point id: a UUID of its id and everything it holds (a changed document is a new point)."""
    body = json.dumps(asdict(d), sort_keys=True, ensure_ascii=False)
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"assistant-document:{d.doc_id}:{hashlib.sha256(body.encode('utf-8', 'surrogatepass')).hexdigest()}"))


def passage_keys(payloads: Sequence[Mapping[str, Any]], texts: Sequence[str], keyword_texts: Sequence[str]) -> np.ndarray:
    """A 63-bit key of everything a passage's point and sentences are made from (its
    fields, the texts it is embedded and matched by): equal keys, equal points."""
    out = np.zeros(len(texts), dtype=np.int64)
    for i, (p, t, k) in enumerate(zip(payloads, texts, keyword_texts)):
        body = json.dumps(p, sort_keys=True, ensure_ascii=False) + "\0" + t + "\0" + k
        digest = hashlib.blake2b(body.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "little") & (2**63 - 1)
    return out


@dataclass(frozen=True)
class Change:
    """What a change of a collection wrote and leaves to delete once the new manifest is
    in place (``settle``): the rows' point ids, and the points no row names any more."""

    ids: np.ndarray  # each row's passage point id
    sentence_ids: np.ndarray  # each sentence row's point id
    next_id: int  # the next passage point id to hand out
    next_sentence: int
    pending: dict[str, list]  # "passages", "sentences": point ids; "documents": point UUIDs
    meta_version: int  # 0: C-meta (a new collection), N: C-meta-N (the N-th change in place)
    previous_meta: str  # the meta collection of the version before (kept for its readers)
    written: int  # passages whose points were written (new or changed)


def _token_rows(tokens: Any, a: int, b: int) -> np.ndarray:
    return np.asarray(tokens.vectors[a:b], dtype=np.float32) * np.asarray(tokens.scale[a:b], dtype=np.float32)[:, None]


def _sentence_points(tokens: Any, sentences: Any, r: int, ids: Sequence[int], passage_id: int) -> list[tuple]:
    """The points of passage row ``r``'s sentences, with point ids ``ids``."""
    first = tokens.first
    a, b = int(first[r]), int(first[r + 1])
    vecs = _token_rows(tokens, a, b)
    owner = np.asarray(tokens.sentence[a:b])
    context = vecs[owner == CONTEXT]
    out = []
    for s, sid in zip(range(int(sentences.first[r]), int(sentences.first[r + 1])), ids):
        vector: dict[str, Any] = {SENTENCE: np.asarray(sentences.vectors[s], dtype=np.float32) * np.float32(sentences.scale[s])}
        own = vecs[owner == s]
        if len(own):
            vector[TOKENS] = np.concatenate([own, context])
        out.append((int(sid), vector, {PASSAGE: int(passage_id), PID: int(sid), "span": [int(x) for x in sentences.spans[s]],
                                       "scores": int(bool(sentences.scores[s]))}))
    return out


def _upsert_batched(store: Store, points: Iterator[tuple]) -> None:
    batch = []
    for point in points:
        batch.append(point)
        if len(batch) >= SENTENCE_BATCH:
            store.upsert(batch)
            batch = []
    store.upsert(batch)


def write(store: Store, parts: Any) -> dict:
    """Write what ``parts`` (assistant.index.parts.IndexParts) hold beyond what the
    passages' collection holds already into it and the collections beside it. After an
    in-place change (``update_collection``) only the small arrays are left: a new
    meta collection, named by the manifest.

    Returns:
        What the manifest records of them (``manifest.qdrant``).
    """
    change: Change | None = store.change
    docs = list(parts.documents)
    if change is None:
        n, m = len(parts.passages), len(parts.sentences.row)
        first = np.asarray(parts.tokens.first, dtype=np.int64)
        for i in range(0, n, SENTENCE_BATCH):  # the passages' token multivectors
            store.update_vectors([(r, {TOKENS: _token_rows(parts.tokens, int(first[r]), int(first[r + 1]))})
                                  for r in range(i, min(n, i + SENTENCE_BATCH))])
        dimension = store.dimension()
        sent_store = Store(part(store.place, "sentences"))
        sent_store.create_raw({SENTENCE: _flat_params(dimension), TOKENS: multivector_params(dimension)},
                              indexes={PASSAGE: "integer", PID: "integer", "scores": "integer"})
        s_first = parts.sentences.first
        _upsert_batched(sent_store, (pt for r in range(n) for pt in _sentence_points(
            parts.tokens, parts.sentences, r, range(int(s_first[r]), int(s_first[r + 1])), r)))
        doc_store = Store(part(store.place, "documents"))
        doc_store.create_raw({})
        _write_documents(doc_store, docs)
        change = Change(ids=np.arange(n, dtype=np.int64), sentence_ids=np.arange(m, dtype=np.int64), next_id=n,
                        next_sentence=m, pending={"passages": [], "sentences": [], "documents": []}, meta_version=0,
                        previous_meta="", written=n)
    meta_place = part(store.place, "meta" if change.meta_version == 0 else f"meta-{change.meta_version}")
    meta = _pack_meta(parts, bm25=store.bm25, sparse=store.sparse, change=change, keys=store.keys)
    meta_store = Store(meta_place)
    if meta_store.exists():  # a killed writer's
        meta_store.call("delete_collection", meta_place.name)
    meta_store.create_raw({})
    meta_store.upsert([(i, {}, {"part": i, "data": base64.b64encode(meta[i * CHUNK:(i + 1) * CHUNK]).decode("ascii")})
                       for i in range((len(meta) + CHUNK - 1) // CHUNK)])
    return store.place.to_json() | {"contents": CONTENTS, "meta": meta_place.name, "meta_bytes": len(meta),
                                    "previous_meta": change.previous_meta, "written": change.written}


def _write_documents(doc_store: Store, docs: Sequence[Document]) -> None:
    batch: list[tuple[str, dict, dict]] = []
    size = 0
    for d in docs:
        batch.append((document_point(d), {}, asdict(d)))
        size += len(d.text) + 1024
        if size > CHUNK:
            doc_store.upsert(batch)
            batch, size = [], 0
    doc_store.upsert(batch)


def _flat_params(dimension: int) -> Any:
    from qdrant_client import models as m

    return m.VectorParams(size=dimension, distance=m.Distance.DOT, hnsw_config=m.HnswConfigDiff(m=0))


def _pack_meta(parts: Any, *, bm25: Bm25Params, sparse: str, change: Change, keys: np.ndarray | None) -> bytes:
    """The small whole-index arrays and records as one zip of files (as the folder would hold them)."""
    import zipfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        parts.columns.save(folder)
        sources.save(parts.files, folder)
        (folder / "vocabulary.json").write_text(json.dumps(sorted(parts.vocabulary), ensure_ascii=False))
        (folder / "index.json").write_text(json.dumps({
            "documents": [d.doc_id for d in parts.documents], "passages": len(parts.passages),
            "document_points": [document_point(d) for d in parts.documents],
            "sentences": int(len(parts.sentences.row)), "pieces": list(parts.tokens.pieces), "bm25": asdict(bm25),
            "next_id": change.next_id, "next_sentence": change.next_sentence, "pending": change.pending,
            "meta_version": change.meta_version, "sparse": sparse,
        }, ensure_ascii=False))
        arrays = {"sentences.first": parts.sentences.first, "ids": change.ids, "sentence_ids": change.sentence_ids,
                  "tokens.counts": parts.tokens.counts if parts.tokens.counts is not None else parts.tokens.piece_passages(),
                  "keys": keys if keys is not None else np.zeros(0, dtype=np.int64)}
        for name, array in arrays.items():
            np.save(folder / f"{name}.npy", np.asarray(array, dtype=np.int64))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(folder.iterdir()):
                z.write(f, f.name)
        return out.getvalue()


def update_collection(
    record: Mapping[str, Any], *, vectors: np.ndarray, texts: Sequence[str], payloads: Sequence[dict[str, Any]],
    keys: np.ndarray, tokens: Any, sentences: Any, documents: Sequence[Document],
) -> tuple[QdrantDense, QdrantKeyword]:
    """Change the collection ``record`` (a manifest's ``qdrant``) in place into the index of
    these passages: points of passages it holds already (equal ``keys``) are kept as they
    are, new ones upserted with new ids, and those no passage needs any more are left
    for ``settle`` to delete once the new manifest is in place (readers mid-question may
    still ask for them). BM25's weights are rewritten when the mean passage length moved.

    Returns:
        The dense and keyword views of the collection, rows mapped to their point ids.
    """
    from assistant.index.keyword import tokenize
    from assistant.index.qdrant import SPARSE_NAMES, TERMS, average_length, passage_vector

    old = Contents(record)
    store = old.store  # (its row map and BM25 are the old version's until the end)
    sent_store = Store(part(old.place, "sentences"))
    doc_store = Store(part(old.place, "documents"))
    _clean_up(store, sent_store, doc_store, old)
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    sparse = SPARSE_NAMES[1 - SPARSE_NAMES.index(old.store.sparse)]
    terms = tokenize(list(texts))
    bm25 = Bm25Params(avgdl=average_length(terms))
    n = len(texts)
    s_first = np.asarray(sentences.first, dtype=np.int64)
    old_rows: dict[int, int] = {}
    for r, k in enumerate(old.keys.tolist()):
        old_rows.setdefault(int(k), r)
    ids = np.zeros(n, dtype=np.int64)
    sentence_ids = np.zeros(int(s_first[-1]), dtype=np.int64)
    next_id, next_sentence = old.next_id, old.next_sentence
    new_rows: list[int] = []
    kept_rows: list[int] = []
    for r, k in enumerate(keys.tolist()):
        o = old_rows.pop(int(k), None)
        count = int(s_first[r + 1] - s_first[r])
        if o is not None and int(old.sentence_first[o + 1] - old.sentence_first[o]) == count:
            ids[r] = old.ids[o]
            sentence_ids[s_first[r]:s_first[r + 1]] = old.sentence_ids[old.sentence_first[o]:old.sentence_first[o + 1]]
            kept_rows.append(r)
            continue
        if o is not None:
            old_rows[int(k)] = o  # (its sentences differ: a new point, the old one goes)
        ids[r] = next_id
        next_id += 1
        sentence_ids[s_first[r]:s_first[r + 1]] = np.arange(next_sentence, next_sentence + count)
        next_sentence += count
        new_rows.append(r)
    gone = sorted(old_rows.values())
    first = np.asarray(tokens.first, dtype=np.int64)
    _upsert_batched(store, (
        (int(ids[r]), {DENSE: vectors[r], sparse: passage_vector(terms[r], bm25),
                       TOKENS: _token_rows(tokens, int(first[r]), int(first[r + 1]))},
         {**payloads[r], TERMS: terms[r], PID: int(ids[r])})
        for r in new_rows))
    _upsert_batched(sent_store, (pt for r in new_rows for pt in _sentence_points(
        tokens, sentences, r, sentence_ids[s_first[r]:s_first[r + 1]], int(ids[r]))))
    for i in range(0, len(kept_rows), BATCH):  # every weight, under the other name (readers keep theirs)
        store.update_vectors([(int(ids[r]), {sparse: passage_vector(terms[r], bm25)}) for r in kept_rows[i:i + BATCH]])
    held = set(old.document_points)
    _write_documents(doc_store, [d for d in documents if document_point(d) not in held])
    wanted = {document_point(d) for d in documents}
    store.bm25 = bm25
    store.sparse = sparse
    store.rowmap = RowMap(ids)
    store.keys = keys
    store.change = Change(
        ids=ids, sentence_ids=sentence_ids, next_id=next_id, next_sentence=next_sentence,
        pending={"passages": [int(old.ids[o]) for o in gone],
                 "sentences": [int(x) for o in gone for x in old.sentence_ids[old.sentence_first[o]:old.sentence_first[o + 1]]],
                 "documents": [d for d in old.document_points if d not in wanted]},
        meta_version=old.meta_version + 1, previous_meta=old.meta_name, written=len(new_rows))
    return QdrantDense(store), QdrantKeyword(store)


def _clean_up(store: Store, sent_store: Store, doc_store: Store, old: Contents) -> None:
    """Delete what an earlier change left: the points its manifest lists as no longer
    needed, and the points of a writer killed before its manifest was in place (ids
    past those handed out; documents no manifest names)."""
    m = store.m
    for s, pending, start in ((store, old.pending.get("passages", []), old.next_id),
                              (sent_store, old.pending.get("sentences", []), old.next_sentence)):
        if pending:
            s.call("delete", s.place.name, wait=True, points_selector=m.PointIdsList(points=list(pending)))
        s.call("delete", s.place.name, wait=True, points_selector=m.FilterSelector(filter=m.Filter(must=[
            m.FieldCondition(key=PID, range=m.Range(gte=start))])))
    named = set(old.document_points)
    strays = [p.id for p in doc_store.scroll(payload=False) if str(p.id) not in named]
    if strays:
        doc_store.call("delete", doc_store.place.name, wait=True, points_selector=m.PointIdsList(points=strays))


def settle(store: Store, record: Mapping[str, Any]) -> None:
    """Once the manifest ``record`` of an in-place change of ``store``'s collection is in
    place: delete the points no row names any more (``store.change.pending``), and the
    meta collections but this version's and the one before it."""
    place, m = store.place, store.m
    for target, pending in ((place, store.change.pending["passages"]),
                            (part(place, "sentences"), store.change.pending["sentences"]),
                            (part(place, "documents"), store.change.pending["documents"])):
        if pending:
            store.call("delete", target.name, wait=True, points_selector=m.PointIdsList(points=list(pending)))
    keep = {record.get("meta"), record.get("previous_meta")}
    for c in store.call("get_collections").collections:
        if re.fullmatch(rf"{re.escape(place.name)}-meta(-\d+)?", c.name) and c.name not in keep:
            store.call("delete_collection", c.name)


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
        self.meta_name = str(qdrant.get("meta") or part(place, "meta").name)
        self._meta = self._read_meta(self.meta_name, int(qdrant.get("meta_bytes", -1)))
        info = json.loads(self._meta["index.json"])
        self.doc_ids: list[str] = list(info["documents"])
        self.document_points: list[str] = list(info["document_points"])
        self.n: int = int(info["passages"])
        self.m: int = int(info["sentences"])
        self.store.bm25 = Bm25Params(**info["bm25"])
        self.store.sparse = str(info["sparse"])
        self.pieces: tuple[str, ...] = tuple(info["pieces"])
        self.next_id, self.next_sentence = int(info["next_id"]), int(info["next_sentence"])
        self.pending: dict[str, list] = dict(info["pending"])
        self.meta_version = int(info["meta_version"])
        self.sentence_first = self._array("sentences.first.npy")
        self.piece_counts = self._array("tokens.counts.npy")
        self.ids = self._array("ids.npy")  # each row's point id
        self.sentence_ids = self._array("sentence_ids.npy")
        self.keys = self._array("keys.npy")
        if len(self.ids) != self.n or len(self.sentence_ids) != self.m or len(self.document_points) != len(self.doc_ids):
            raise IndexLoadError(f"the Qdrant collection {self.meta_name} disagrees with itself on sizes; "
                                 "build the index again")
        self.store.rowmap = RowMap(self.ids)
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("columns.json", "columns.npz", sources.FILES):
                (Path(tmp) / name).write_bytes(self._meta[name])
            self.columns = Columns.load(Path(tmp))
            self.files: SourceFiles = sources.load(Path(tmp))
        self.vocabulary = frozenset(json.loads(self._meta["vocabulary.json"]))
        self.dense = QdrantDense(self.store)
        self.keyword = QdrantKeyword(self.store)
        self.passages = QdrantPassages(self.store, self.n)
        self.documents = QdrantDocuments(Store(part(place, "documents")), self.doc_ids, self.document_points)
        self.detail = QdrantDetail(self)

    def _read_meta(self, name: str, size: int) -> dict[str, bytes]:
        import zipfile

        meta = Store(replace(self.place, collection=name))
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
        """The sentence points the index's rows name that the engine holds."""
        store = Store(part(self.place, "sentences"))
        return len(store.call("retrieve", store.place.name, ids=self.sentence_ids.tolist(), with_payload=False))


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
                    raise IndexLoadError(f"passage row {r} is not in the Qdrant collection {self.store.place.name}: the "
                                         "index changed while it was read (ask again), or it is damaged (build it again)")
                self._kept[r] = _passage(got[r].payload)
                if len(self._kept) > PASSAGES_KEPT:
                    self._kept.popitem(last=False)
        return [self._kept[r] for r in wanted]

    def __iter__(self) -> Iterator[Passage]:
        for i in range(0, self.n, 512):  # in row order
            got = self.store.retrieve(range(i, min(self.n, i + 512)), payload=True)
            for r in range(i, min(self.n, i + 512)):
                if r not in got:
                    raise IndexLoadError(f"passage row {r} is missing from the Qdrant collection "
                                         f"{self.store.place.name}; build the index again")
                yield _passage(got[r].payload)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(other) == len(self) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]


def _passage(payload: Mapping[str, Any]) -> Passage:
    return Passage(**{k: payload[k] for k in PASSAGE_FIELDS if k in payload})


class QdrantDocuments(Mapping[str, Document]):
    """The documents by id (in index order), each read from its point when first asked for."""

    def __init__(self, store: Store, ids: list[str], points: list[str]) -> None:
        self.store = store
        self._row = {d: i for i, d in enumerate(ids)}
        self._points = points  # each document's point id
        self._kept: OrderedDict[int, Document] = OrderedDict()

    def _read(self, rows: Sequence[int]) -> dict[int, Document]:
        wanted = {self._points[i]: i for i in rows}
        got = self.store.call("retrieve", self.store.place.name, ids=list(wanted), with_payload=True)
        found = {wanted[str(p.id)]: _document(p.payload) for p in got}
        for i in rows:
            if i not in found:
                raise IndexLoadError(f"document {list(self._row)[i]} is missing from the Qdrant collection "
                                     f"{self.store.place.name}; build the index again")
        return found

    def __getitem__(self, doc_id: str) -> Document:
        i = self._row[doc_id]
        if i not in self._kept:
            self._kept[i] = self._read([i])[i]
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
        out: list[Document] = []
        for i in range(0, len(self._points), 64):
            got = self._read(range(i, min(len(self._points), i + 64)))
            out.extend(got[j] for j in sorted(got))
        return out

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
        self.sentence_rows = RowMap(contents.sentence_ids)  # sentence point id -> sentence row
        self.first = contents.sentence_first
        self.counts = {p: int(c) for p, c in zip(contents.pieces, contents.piece_counts)}
        self.n = contents.n

    @property
    def passages(self) -> int:
        return self.n

    def _within(self, rows: np.ndarray) -> dict[str, list]:
        """The payload match of the sentences of ``rows``."""
        return {PASSAGE: self.store.ids_of(rows)}  # (always: a change in place may have added points)

    def cosines(self, rows: np.ndarray, question: np.ndarray) -> np.ndarray:
        """By the engine: a query of the passage vectors within ``rows`` (no vector leaves it)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        got = self.store.query_points(DENSE, np.asarray(question, dtype=np.float32).tolist(), limit=len(rows), rows=rows)
        by_row = dict(zip(self.store.rows_of([int(p.id) for p in got]).tolist(), (p.score for p in got)))
        missing = [int(r) for r in rows if int(r) not in by_row]
        if missing:
            raise IndexLoadError(f"passage row {missing[0]} is not in the Qdrant collection {self.store.place.name}: "
                                 "the index changed while it was read (ask again), or it is damaged (build it again)")
        return np.array([by_row[int(r)] for r in rows], dtype=np.float32)

    def sentences(self, rows: np.ndarray, question: np.ndarray) -> SentenceScores:
        rows = np.asarray(rows, dtype=np.int64)
        limit = int((self.first[rows + 1] - self.first[rows]).sum())
        found = []
        if limit:
            found = self.sentence_store.query_points(
                SENTENCE, np.asarray(question, dtype=np.float32).tolist(), limit=limit, match=self._within(rows),
                payload=["span", "scores", PASSAGE])
        sentence_row = self.sentence_rows.rows_of([int(p.id) for p in found])
        passage_row = self.store.rows_of([int(p.payload[PASSAGE]) for p in found])
        keep = [i for i in np.argsort(sentence_row, kind="stable") if sentence_row[i] >= 0 and passage_row[i] >= 0]
        position = np.searchsorted(rows, passage_row[keep]) if keep else np.zeros(0, dtype=np.int64)
        start = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(np.bincount(position, minlength=len(rows)), out=start[1:])
        kept = [found[i] for i in keep]
        return SentenceScores(
            start, np.asarray(sentence_row[keep], dtype=np.int64),
            np.array([p.payload["span"] for p in kept], dtype=np.int64).reshape(-1, 2),
            np.array([p.score for p in kept], dtype=np.float32), np.array([bool(p.payload["scores"]) for p in kept], dtype=bool))

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
        got = self.store.query_points(TOKENS, weighted, limit=n, rows=rows)
        by_row = dict(zip(self.store.rows_of([int(p.id) for p in got]).tolist(), (p.score / total for p in got)))
        whole = np.array([by_row.get(int(r), 0.0) for r in rows], dtype=np.float32)
        limit = int((self.first[rows + 1] - self.first[rows]).sum())
        best = whole.copy()
        if limit:
            match: dict[str, list] = {"scores": [1]} | self._within(np.sort(rows))
            found = self.sentence_store.query_points(TOKENS, weighted, limit=limit, match=match, payload=[PASSAGE])
            per_row: dict[int, float] = {}
            for r, p in zip(self.store.rows_of([int(p.payload[PASSAGE]) for p in found]).tolist(), found):
                if r >= 0:
                    per_row[r] = max(per_row.get(r, -np.inf), p.score / total)
            best = np.array([per_row.get(int(r), whole[i]) for i, r in enumerate(rows)], dtype=np.float32)
        return whole, best

    def piece_counts(self) -> dict[str, int]:
        return self.counts
