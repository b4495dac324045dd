"""Passages and documents read from the index folder as they are asked for.

Owns the arrow ``index files -> Passage / Document`` for a loaded index. The
JSONL files stay on disk; a table of each record's byte offset lets a question
read only the passages it shows (a few microseconds each), so
that an index of a million passages does not hold a million passages, or every
document's full text, in memory. Both stores are read-only and safe to share
between threads (``os.pread`` on one descriptor).
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.ingest.corpus import Document, Passage

DOCUMENTS_KEPT = 256  # recently read documents kept in memory (their texts give quotes and highlights)


def write_jsonl_with_offsets(path: Path, rows) -> list[int]:
    """Write one JSON object per line; return each line's byte offset and the end."""
    offsets = [0]
    with path.open("wb") as f:
        for row in rows:
            line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
            f.write(line)
            offsets.append(offsets[-1] + len(line))
    return offsets


class _Lines:
    """Line ``i`` of a JSONL file, found by its byte offset."""

    def __init__(self, path: Path, offsets: np.ndarray) -> None:
        self.path = path
        self._offsets = offsets
        self._fd = os.open(path, os.O_RDONLY)
        self.count = len(offsets) - 1
        self.end = int(offsets[-1]) if len(offsets) else 0  # the file's size, as the offsets say

    def read(self, i: int) -> dict:
        a, b = int(self._offsets[i]), int(self._offsets[i + 1])
        return json.loads(os.pread(self._fd, b - a, a))

    def all(self) -> Iterator[dict]:
        with self.path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)

    def __del__(self) -> None:
        try:
            os.close(self._fd)
        except (OSError, AttributeError):
            pass


class PassageStore(Sequence[Passage]):
    """The index's passages in row order, read from ``passages.jsonl`` on demand."""

    def __init__(self, path: Path, offsets: np.ndarray) -> None:
        self._lines = _Lines(path, offsets)

    def __len__(self) -> int:
        return self._lines.count

    @property
    def file_bytes(self) -> int:
        """The size of ``passages.jsonl`` as the offsets say (a load compares it with the file's)."""
        return self._lines.end

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"passage row {i} out of range")
        return Passage(**self._lines.read(i))

    def __iter__(self) -> Iterator[Passage]:
        for row in self._lines.all():  # one sequential read, not one call per passage
            yield Passage(**row)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or len(other) != len(self):
            return NotImplemented if not isinstance(other, Sequence) else False
        return all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]


class DocumentStore(Mapping[str, Document]):
    """The index's documents by id (in index order), each read from ``documents.jsonl``
    when first asked for; the most recently read are kept."""

    def __init__(self, path: Path, ids: list[str], offsets: np.ndarray) -> None:
        self._lines = _Lines(path, offsets)
        self._row = {d: i for i, d in enumerate(ids)}
        self._read = lru_cache(maxsize=DOCUMENTS_KEPT)(self._read_row)

    @property
    def file_bytes(self) -> int:
        """The size of ``documents.jsonl`` as the offsets say."""
        return self._lines.end

    def _read_row(self, i: int) -> Document:
        return Document(**self._lines.read(i))

    def __getitem__(self, doc_id: str) -> Document:
        return self._read(self._row[doc_id])

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._row

    def __iter__(self) -> Iterator[str]:
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)

    def values(self):  # type: ignore[override]
        return [Document(**row) for row in self._lines.all()]  # one sequential read

    def items(self):  # type: ignore[override]
        return [(d.doc_id, d) for d in self.values()]


class RowFile:
    """A ``.npy`` array left on disk whose rows are copied out when indexed (``a[rows]``,
    ``a[i:j]``): a question reads its candidates' rows and nothing else.

    The file is memory-mapped, and after each read the mapping's pages around what was
    read are let go (``MADV_DONTNEED``; they stay in the kernel's file cache, so the next
    read is as fast). Without that, the kernel maps a megabyte or more around every row
    touched, and a few hundred questions would count most of the file in the process's
    memory. Safe to share between threads (a page let go while
    another thread reads it is simply read again from the cache)."""

    AROUND = 2 * 1024 * 1024  # measured: about 1.5 MB mapped around each read of a cached file
    RUNS_ONE_BY_ONE = 64  # up to this many runs of rows a read lets go of each run's pages; past it, of its whole span
    READ_RUNS = 64  # a read of up to this many runs of consecutive rows is one pread per run, not the mapping

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with self.path.open("rb") as f:
            major, _ = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(f)
            start = f.tell()
            if fortran:
                raise ValueError(f"{path}: a Fortran-ordered array")
            size = os.fstat(f.fileno()).st_size
            count = int(np.prod(shape, dtype=np.int64))
            if size < start + count * np.dtype(dtype).itemsize:
                raise ValueError(f"{path} is shorter than its header says")
            self._mmap = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if count else None
        self._fd = os.open(self.path, os.O_RDONLY) if count else -1  # for pread: safe to share between threads
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.ndim = len(self.shape)
        self._start = start
        self._size = size
        self._row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64))
        if self._mmap is None:
            self._array = np.zeros(self.shape, dtype=self.dtype)
        else:  # a plain array over the mapping: indexing it costs what indexing any array does
            self._array = np.frombuffer(self._mmap, dtype=self.dtype, count=count, offset=start).reshape(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, take) -> np.ndarray:
        if self._mmap is not None and not isinstance(take, (int, np.integer, tuple)):
            runs = self._runs(take)
            if runs is not None and len(runs[0]) <= self.READ_RUNS:
                return self._read(*runs)
        out = np.array(self._array[take])  # a copy: nothing returned points into the mapping
        if self._mmap is not None:
            self._let_go(take)
        return out

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            os.close(self._fd)

    def _runs(self, take) -> tuple[np.ndarray, np.ndarray] | None:
        """The runs of consecutive rows ``take`` reads, in its order, as (first rows, ends);
        None for what is not rows (a step, a negative or out-of-range row)."""
        n = len(self)
        if isinstance(take, slice):
            a, b, step = take.indices(n)
            if step != 1:
                return None
            return np.array([a], dtype=np.int64), np.array([max(a, b)], dtype=np.int64)
        rows = np.asarray(take)
        if rows.ndim != 1 or rows.dtype == bool or rows.dtype.kind not in "iu":
            return None
        rows = rows.astype(np.int64, copy=False)
        if len(rows) == 0 or rows.min() < 0 or rows.max() >= n:
            return None
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        return rows[np.concatenate(([0], breaks))], rows[np.concatenate((breaks - 1, [len(rows) - 1]))] + 1

    def _read(self, firsts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """The rows of the runs [firsts[i], ends[i]), one after the other, read with pread:
        nothing is mapped, so nothing needs letting go (a question's 40 candidates' token
        vectors are 40 runs)."""
        out = np.empty((int((ends - firsts).sum()),) + self.shape[1:], dtype=self.dtype)
        view = memoryview(out.reshape(-1).view(np.uint8))
        at = 0
        for a, b in zip(firsts.tolist(), ends.tolist()):
            size = (b - a) * self._row_bytes
            if size and os.preadv(self._fd, [view[at : at + size]], self._start + a * self._row_bytes) != size:
                raise OSError(f"{self.path}: a short read (the file changed under the index?)")
            at += size
        return out

    def _let_go(self, take) -> None:
        """Drop the mapping's pages around what ``take`` read (they stay in the file cache):
        the AROUND-aligned blocks around every row read, merged where they meet, one
        ``madvise`` per merged range."""
        if isinstance(take, slice):  # one run of rows, [a, b)
            a, b, _ = take.indices(len(self))
            first, end = np.array([a], dtype=np.int64), np.array([max(a, b)], dtype=np.int64)
        elif isinstance(take, (int, np.integer)):
            first = np.array([int(take) % max(len(self), 1)], dtype=np.int64)
            end = first + 1
        else:
            first = np.asarray(take).ravel()
            first = np.flatnonzero(first) if first.dtype == bool else first.astype(np.int64, copy=False) % max(len(self), 1)
            if len(first) == 0:
                return
            end = first + 1
        around = self.AROUND
        lo = np.maximum(self._start + first * self._row_bytes - around, 0) // around * around
        hi = np.minimum(-(-(self._start + end * self._row_bytes + around) // around) * around, self._size)
        if len(lo) > 1 and np.any(lo[1:] < lo[:-1]):
            order = np.argsort(lo, kind="stable")
            lo, hi = lo[order], hi[order]
        reach = np.maximum.accumulate(hi)
        cuts = np.flatnonzero(lo[1:] > reach[:-1]) + 1
        firsts = lo[np.concatenate(([0], cuts))]
        lasts = reach[np.concatenate((cuts - 1, [len(lo) - 1]))]
        if len(firsts) > self.RUNS_ONE_BY_ONE:
            firsts, lasts = firsts[:1], lasts[-1:]
        for a, b in zip(firsts.tolist(), lasts.tolist()):
            try:
                self._mmap.madvise(mmap.MADV_DONTNEED, a, b - a)
            except (OSError, ValueError, AttributeError):
                pass

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self[:]
        return whole.astype(dtype) if dtype is not None else whole
