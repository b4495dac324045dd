"""Dense retrieval with FAISS: one small class per index kind, behind ``DenseBackend``.

Owns the FAISS index of a collection's unit vectors (inner product = cosine):
``flat`` (exact, every row scored), ``hnsw`` (a graph) and ``ivf-sq8`` (inverted
lists over 8-bit scalar-quantised vectors, a quarter of the size). Product
quantisation was measured and left out: on 10^4 clustered vectors its recall@10 was
0.42 and its training took minutes. Approximate kinds are trained on the collection
itself. Each kind answers the protocol of :mod:`assistant.index.backends`, so the
search code never knows which it holds. ``choose_kind`` picks by collection size
with thresholds measured by ``bench/run.py --scale`` (docs/performance.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from assistant.index.backends import Match, Ranked

# Up to this many vectors exact search costs a few milliseconds (about 75 ns a
# vector on one idle core here) and needs no training: flat. Past it IVF-SQ8 (recall@10
# 0.988 against exact at 10^5, a quarter of the size, under a millisecond); HNSW
# is as fast but took 15 minutes to build at 10^5 on this shared machine, so it is
# only chosen by --index-type. Measured with bench/run.py --scale (docs/speed.md).
EXACT_UP_TO = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
IVF_PROBE_SHARE = 0.02  # fraction of the inverted lists a query visits (at least IVF_MIN_PROBES)
IVF_MIN_PROBES = 32
# A filter that keeps at most this many rows has them scored exactly from their stored
# vectors: cheaper than walking a graph or lists for them, and nothing is missed.
EXACT_WITHIN = 1_000


def choose_kind(n: int) -> str:
    """The index kind for a collection of ``n`` vectors."""
    return "flat" if n <= EXACT_UP_TO else "ivf-sq8"


def _lists(n: int) -> int:
    """Inverted lists for ``n`` vectors: about 4 sqrt(n), and at least 39 vectors each
    (FAISS's rule for training k-means)."""
    return int(max(1, min(4 * np.sqrt(n), n // 39)))


def _as_rows(vectors: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1))


class DenseIndex:
    """A FAISS index of unit vectors (the kinds' shared part). ``DenseIndex.build(vectors,
    kind=...)`` and ``DenseIndex.load(path, kind=...)`` make the kind's class."""

    kind: ClassVar[str] = ""

    def __init__(self, faiss_index) -> None:
        self._index = faiss_index
        self._tune()

    # -- making one -----------------------------------------------------------------

    @classmethod
    def build(cls, vectors: np.ndarray, *, kind: str | None = None) -> DenseIndex:
        """Index ``vectors`` (rows of unit float32 vectors); approximate kinds train on them."""
        impl = _kind(kind) if cls is DenseIndex else cls
        vectors = _as_rows(vectors)
        index = impl._empty(vectors)
        index.add(vectors)
        return impl(index)

    @classmethod
    def load(cls, path: Path, *, kind: str | None = None, mmap: bool = False) -> DenseIndex:
        """Read a saved index; ``mmap`` leaves an approximate kind's codes on disk."""
        import faiss

        impl = _kind(kind or "flat") if cls is DenseIndex else cls
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap and impl.mappable else 0
        return impl(faiss.read_index(str(path), flags))

    mappable: ClassVar[bool] = True  # whether FAISS can read this kind memory-mapped

    @classmethod
    def _empty(cls, vectors: np.ndarray):
        """A new, empty (trained when it must be) FAISS index for ``vectors``."""
        raise NotImplementedError

    def _tune(self) -> None:
        """Search-time settings (not all survive a save and load)."""

    # -- the protocol ---------------------------------------------------------------

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    def count(self) -> int:
        return int(self._index.ntotal)

    @property
    def ntotal(self) -> int:
        return self.count()

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def search(self, questions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self._index.search(_as_rows(questions), int(k))

    def nearest(self, question: np.ndarray, k: int, *, allowed: np.ndarray | None = None,
                match: Match | None = None) -> Ranked:
        k = min(int(k), self.count() if allowed is None else int(np.count_nonzero(allowed)))
        if k <= 0:
            return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        question = _as_rows(np.asarray(question).reshape(1, -1))
        if allowed is None:
            scores, rows = self._index.search(question, k)
            scores, rows = scores[0], rows[0]
        else:
            scores, rows = self._within(question, k, np.asarray(allowed, dtype=bool))
        keep = rows >= 0
        return Ranked(rows[keep].astype(np.int64), scores[keep].astype(np.float32))

    def _within(self, question: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best allowed rows of an approximate index: up to EXACT_WITHIN of them,
        scored exactly; beyond, the nearest rows asked for in proportion to the share the
        filter keeps, asked again for twice as many until ``k`` of them are allowed or
        every row was asked for."""
        n, kept = self.count(), int(np.count_nonzero(allowed))
        if kept <= EXACT_WITHIN:
            rows = np.flatnonzero(allowed)
            scores = (self.vectors(rows) @ question[0]).astype(np.float32)
            best = np.argsort(-scores, kind="stable")[:k]
            return scores[best], rows[best]
        asked = min(n, int(np.ceil(k * n / max(1, kept))) + k)
        while True:
            scores, rows = self._index.search(question, asked)
            scores, rows = scores[0], rows[0]
            ok = rows >= 0
            ok[ok] = allowed[rows[ok]]
            if int(ok.sum()) >= k or asked >= n:
                return scores[ok][:k], rows[ok][:k]
            asked = min(n, 2 * asked)

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        if len(rows) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._reconstruct(rows)

    def _reconstruct(self, rows: np.ndarray) -> np.ndarray:
        return self._index.reconstruct_batch(rows)

    def add(self, vectors: np.ndarray) -> None:
        self._index.add(_as_rows(vectors))

    def delete(self, rows: np.ndarray) -> None:
        """Kinds that cannot remove rows in place (and renumber the rest) rebuild from
        the rows they keep, as they store them."""
        keep = np.setdiff1d(np.arange(self.count()), np.asarray(rows, dtype=np.int64))
        kept = self.vectors(keep)
        self._index = type(self)._empty(kept)
        self._index.add(kept)
        self._tune()


class FlatIndex(DenseIndex):
    """Exact search: every row scored (a filter is applied inside FAISS, so it stays exact)."""

    kind = "flat"
    mappable = False

    @classmethod
    def _empty(cls, vectors: np.ndarray):
        import faiss

        return faiss.IndexFlatIP(vectors.shape[1])

    def _within(self, question: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        bits = np.packbits(allowed, bitorder="little")  # referenced until the search returns
        chosen = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
        scores, rows = self._index.search(question, k, params=faiss.SearchParameters(sel=chosen))
        return scores[0], rows[0]

    def stored(self) -> np.ndarray:
        """The index's own (n, d) array, without a copy."""
        import faiss

        n, d = self.count(), self.dimension
        if n == 0:
            return np.zeros((0, d), dtype=np.float32)
        return faiss.rev_swig_ptr(self._index.get_xb(), n * d).reshape(n, d)

    def _reconstruct(self, rows: np.ndarray) -> np.ndarray:
        return self.stored()[rows]

    def delete(self, rows: np.ndarray) -> None:
        self._index.remove_ids(np.asarray(rows, dtype=np.int64))  # the rest move up


class HnswIndex(DenseIndex):
    """A navigable small-world graph over the full vectors."""

    kind = "hnsw"

    @classmethod
    def _empty(cls, vectors: np.ndarray):
        import faiss

        index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        return index

    def _tune(self) -> None:
        self._index.hnsw.efSearch = HNSW_EF_SEARCH


class IvfSq8Index(DenseIndex):
    """Inverted lists over 8-bit scalar-quantised vectors, trained on the collection."""

    kind = "ivf-sq8"

    @classmethod
    def _empty(cls, vectors: np.ndarray):
        import faiss

        n, d = vectors.shape
        index = faiss.index_factory(d, f"IVF{_lists(n)},SQ8", faiss.METRIC_INNER_PRODUCT)
        wanted = 40 * faiss.extract_index_ivf(index).nlist  # FAISS asks for 39 training points a list
        sample = vectors if n <= wanted else vectors[np.random.default_rng(0).choice(n, wanted, replace=False)]
        index.train(sample)
        return index

    def _tune(self) -> None:
        import faiss

        ivf = faiss.extract_index_ivf(self._index)
        ivf.nprobe = int(min(ivf.nlist, max(IVF_MIN_PROBES, round(IVF_PROBE_SHARE * ivf.nlist))))
        ivf.make_direct_map()  # to find a row's list and code (``vectors``); kept up to date by add


KINDS: dict[str, type[DenseIndex]] = {cls.kind: cls for cls in (FlatIndex, HnswIndex, IvfSq8Index)}


def _kind(kind: str | None) -> type[DenseIndex]:
    if kind not in KINDS:
        raise ValueError(f"unknown dense index kind {kind!r}; choose from {', '.join(KINDS)}")
    return KINDS[kind]
