"""Dense (vector) indexes behind one small interface: exact and approximate.

Owns the choice of FAISS index for a collection's unit vectors (inner product =
cosine): ``flat`` (exact, every row scored), ``hnsw`` (a graph) and ``ivf-sq8``
(inverted lists over 8-bit scalar-quantised vectors, a quarter of the size).
Product quantisation was measured and left out: on 10^4 clustered vectors
its recall@10 was 0.42 and its training took minutes. Approximate kinds are trained
on the collection itself. Callers ask for the ``k`` nearest rows and never know
which kind they hold. ``choose_kind`` picks by collection size with thresholds
measured by ``bench/run.py --scale`` (docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

KINDS = ("flat", "hnsw", "ivf-sq8")
# Up to this many vectors exact search costs a few milliseconds (about 75 ns a
# vector on one idle core here) and needs no training: flat. Past it IVF-SQ8 (recall@10
# 0.988 against exact at 10^5, a quarter of the size, under a millisecond); HNSW
# is as fast but took 15 minutes to build at 10^5 on this shared machine, so it is
# only chosen by --index-type. Measured with bench/run.py --scale (README).
EXACT_UP_TO = 50_000
HNSW_M = 32
HNSW_EF_SEARCH = 128
IVF_PROBE_SHARE = 0.02  # fraction of the inverted lists a query visits (at least 32 lists)


@dataclass(frozen=True)
class Nearest:
    """The rows nearest a question, best first, with their inner products."""

    rows: np.ndarray  # int64
    scores: np.ndarray  # float32


def choose_kind(n: int) -> str:
    """The index kind for a collection of ``n`` vectors."""
    return "flat" if n <= EXACT_UP_TO else "ivf-sq8"


def _lists(n: int) -> int:
    """Inverted lists for ``n`` vectors: about 4 sqrt(n), and at least 39 vectors each
    (FAISS's rule for training k-means)."""
    return int(max(1, min(4 * np.sqrt(n), n // 39)))


class DenseIndex:
    """A FAISS index of unit vectors and the kind it is."""

    def __init__(self, faiss_index, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown dense index kind {kind!r}; choose from {', '.join(KINDS)}")
        self.kind = kind
        self._index = faiss_index
        self._tune()

    @classmethod
    def build(cls, vectors: np.ndarray, *, kind: str = "flat") -> DenseIndex:
        """Index ``vectors`` (rows of unit float32 vectors); approximate kinds train on them."""
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, d = vectors.shape
        if kind == "flat":
            index = faiss.IndexFlatIP(d)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
        elif kind == "ivf-sq8":
            index = faiss.index_factory(d, f"IVF{_lists(n)},SQ8", faiss.METRIC_INNER_PRODUCT)
            lists = faiss.extract_index_ivf(index).nlist
            wanted = 40 * lists  # FAISS asks for 39 training points a list
            sample = vectors if n <= wanted else vectors[np.random.default_rng(0).choice(n, wanted, replace=False)]
            index.train(sample)
        else:
            raise ValueError(f"unknown dense index kind {kind!r}; choose from {', '.join(KINDS)}")
        index.add(vectors)
        return cls(index, kind)

    @classmethod
    def load(cls, path: Path, *, kind: str = "flat", mmap: bool = False) -> DenseIndex:
        import faiss

        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap and kind != "flat" else 0
        return cls(faiss.read_index(str(path), flags), kind)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    @property
    def faiss_index(self):
        return self._index

    def _tune(self) -> None:
        """Search-time settings (not all survive a save and load)."""
        if self.kind == "hnsw":
            self._index.hnsw.efSearch = HNSW_EF_SEARCH
        elif self.kind.startswith("ivf"):
            import faiss

            ivf = faiss.extract_index_ivf(self._index)
            ivf.nprobe = int(min(ivf.nlist, max(32, round(IVF_PROBE_SHARE * ivf.nlist))))

    def nearest(self, question: np.ndarray, k: int) -> Nearest:
        """The ``k`` rows with the largest inner product with ``question`` (approximately,
        for the approximate kinds); fewer when the index holds fewer."""
        k = min(int(k), self.ntotal)
        if k <= 0:
            return Nearest(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        scores, rows = self._index.search(np.ascontiguousarray(question, dtype=np.float32).reshape(1, -1), k)
        keep = rows[0] >= 0
        return Nearest(rows[0][keep].astype(np.int64), scores[0][keep].astype(np.float32))


    def stored_vectors(self):
        """The vectors the index holds, by row, without a copy of them all: a view of a
        flat index's own array, or (approximate kinds) rows reconstructed as asked for
        (``[rows]``), as the index stores them (8-bit for IVF-SQ8)."""
        import faiss

        n, d = self.ntotal, int(self._index.d)
        if self.kind == "flat":
            if n == 0:
                return np.zeros((0, d), dtype=np.float32)
            return faiss.rev_swig_ptr(self._index.get_xb(), n * d).reshape(n, d)
        if self.kind.startswith("ivf"):
            faiss.extract_index_ivf(self._index).make_direct_map()  # to find a row's list and code
        return StoredRows(self._index, n, d)


class StoredRows:
    """Rows of an approximate FAISS index, reconstructed when indexed (``rows[[3, 7]]``)."""

    def __init__(self, index, n: int, d: int) -> None:
        self._index = index
        self.shape = (n, d)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        if len(rows) == 0:
            return np.zeros((0, self.shape[1]), dtype=np.float32)
        return self._index.reconstruct_batch(rows)

    def copy(self) -> np.ndarray:
        return self._index.reconstruct_n(0, self.shape[0])
