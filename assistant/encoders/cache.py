"""The encoder cache: what the model once computed for a text is never computed again.

Owns the ``cache/`` folder inside an index. Every encoder output a build uses is
stored under a hash of (cache version, package version, model name, dimension,
kind, the exact text encoded): for a passage its vector, word pieces, token
vectors (float16) and token spans; for a sentence its
vector. Whatever text is unchanged is therefore never re-encoded, whatever else
changed around it, and an incremental build gives the index a full rebuild gives.

Entries are written as shards (one ``.npz`` per encoder batch), each written to a
temporary name and renamed, so a build killed with ``kill -9`` leaves only whole
shards: the next build picks them up and resumes without re-encoding finished
batches. After a successful build only the shards it used are kept (hard links
into the new index folder; a shard less than half used is rewritten with just
its used entries), so the cache holds about what the index holds.

The cache knows nothing about the index's own files: it maps texts to encoder
outputs and nothing else.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.version import __version__
from assistant.encoders.embed import Encoder, Tokens

CACHE_DIR = "cache"
CACHE_VERSION = 1
_PASSAGE, _SENTENCE = "p", "s"


@dataclass(frozen=True)
class CacheStats:
    """How many distinct texts the encoder had to embed, and how many came from the cache."""

    encoded: int
    reused: int


class EncoderCache:
    """Encoder outputs by text, read from earlier shards and extended batch by batch.

    Args:
        encoder: the model; its name and dimension are part of every key.
        sources: folders whose shards may be read (the current index's cache,
            caches of interrupted builds).
        work_dir: where new shards go while the build runs.
        batch_size: texts per encoder call (and per shard).
    """

    def __init__(
        self,
        *,
        encoder: Encoder,
        sources: Iterable[Path],
        work_dir: Path,
        batch_size: int = 32,
    ) -> None:
        self._encoder = encoder
        self._work = work_dir
        self._batch = batch_size
        self._on_batch: Callable[[int], None] = lambda n: None
        self._where: dict[bytes, tuple[Path, int]] = {}  # key -> (shard, row)
        self._used: set[bytes] = set()
        self._encoded = 0
        self._reused = 0
        self._damaged: list[tuple[Path, str]] = []
        self._work.mkdir(parents=True, exist_ok=True)
        for folder in sources:
            for shard in sorted(Path(folder).glob("*.npz")) if Path(folder).is_dir() else ():
                problem, keys = _checked(shard, encoder.name, encoder.dimension)
                if problem is not None:  # a damaged shard is only a cache miss: its texts are encoded again
                    self._damaged.append((shard, problem))
                    continue
                for row, key in enumerate(keys):
                    self._where.setdefault(key.tobytes(), (shard, row))

    @property
    def stats(self) -> CacheStats:
        return CacheStats(self._encoded, self._reused)

    @property
    def notes(self) -> tuple[str, ...]:
        """One line when shards were damaged or foreign (their texts are encoded again), else nothing."""
        if not self._damaged:
            return ()
        shard, problem = self._damaged[0]
        more = f" and {len(self._damaged) - 1} other(s)" if len(self._damaged) > 1 else ""
        return (f"the encoder cache file {shard}{more} was unusable ({problem}); its texts were encoded again "
                "and the cache repaired",)

    def key(self, kind: str, text: str) -> bytes:
        e = self._encoder
        head = f"{CACHE_VERSION}\0{__version__}\0{e.name}\0{e.dimension}\0{kind}\0"
        return hashlib.sha256((head + text).encode("utf-8", "surrogatepass")).digest()

    def passages(self, texts: list[str]) -> tuple[np.ndarray, list[Tokens]]:
        """Each text's vector and tokens, as ``encoder.encode_tokens`` gives them
        (every text's token vectors in memory: for a few texts; a build streams them
        with ``passage_vectors``, ``token_counts`` and ``passage_tokens``)."""
        vectors = self.passage_vectors(texts)
        tokens: list[Tokens | None] = [None] * len(texts)
        for i, t in self.passage_tokens(texts):
            tokens[i] = Tokens(t.pieces, t.vectors.astype(np.float32), t.spans)
        return vectors, tokens  # type: ignore[return-value]

    def passage_vectors(self, texts: list[str]) -> np.ndarray:
        """Each text's passage vector (encoding the texts the cache lacks)."""
        keys = [self.key(_PASSAGE, t) for t in texts]
        self._fill(_PASSAGE, texts, keys)
        vectors = np.zeros((len(texts), self._encoder.dimension), dtype=np.float32)
        for shard, places in self._by_shard(keys).items():
            rows = [row for _, row in places]
            vectors[[i for i, _ in places]] = _member(shard, "vec")[rows]
        return vectors

    def token_counts(self, texts: list[str]) -> np.ndarray:
        """How many token vectors each (cached) passage text has, without reading them."""
        keys = [self.key(_PASSAGE, t) for t in texts]
        counts = np.zeros(len(texts), dtype=np.int64)
        for shard, places in self._by_shard(keys).items():
            first = _member(shard, "tok_first")
            rows = np.array([row for _, row in places], dtype=np.int64)
            counts[[i for i, _ in places]] = first[rows + 1] - first[rows]
        return counts

    def passage_tokens(self, texts: list[str]) -> Iterator[tuple[int, Tokens]]:
        """``(i, tokens of texts[i])`` for every (cached) text, shard by shard, each
        shard read once: the token vectors stay float16 as stored, and only one
        shard's are in memory at a time."""
        keys = [self.key(_PASSAGE, t) for t in texts]
        for shard, places in self._by_shard(keys).items():
            first, pieces, spans, span_ok, vec = _members(shard, "tok_first", "tok_piece", "tok_span", "span_ok", "tok_vec")
            for i, row in places:
                a, b = int(first[row]), int(first[row + 1])
                sp = tuple(map(tuple, spans[a:b].tolist())) if span_ok[row] else ()
                yield i, Tokens(tuple(pieces[a:b].tolist()), vec[a:b], sp)

    def _by_shard(self, keys: list[bytes]) -> dict[Path, list[tuple[int, int]]]:
        """Where each key's entry is: shard -> [(position in keys, row in shard)]."""
        out: dict[Path, list[tuple[int, int]]] = {}
        for i, k in enumerate(keys):
            shard, row = self._where[k]
            out.setdefault(shard, []).append((i, row))
        return out

    def sentences(self, texts: list[str]) -> np.ndarray:
        """Each text's vector, as ``encoder.encode`` gives it."""
        keys = [self.key(_SENTENCE, t) for t in texts]
        self._fill(_SENTENCE, texts, keys)
        out = np.zeros((len(texts), self._encoder.dimension), dtype=np.float32)
        for shard, places in self._by_shard(keys).items():
            out[[i for i, _ in places]] = _member(shard, "vec")[[row for _, row in places]]
        return out

    def missing(self, *, passages: list[str], sentences: list[str]) -> int:
        """Distinct texts the cache does not hold yet (what the encoder will embed)."""
        keys = {self.key(_PASSAGE, t) for t in passages} | {self.key(_SENTENCE, t) for t in sentences}
        return sum(k not in self._where for k in keys)

    def report_to(self, on_batch: Callable[[int], None]) -> None:
        """Call ``on_batch(number of texts)`` after each encoder call (progress)."""
        self._on_batch = on_batch

    def as_encoder(self) -> CachedEncoder:
        """The encoder seen through this cache (for other build steps that encode)."""
        return CachedEncoder(self, self._encoder)

    def keep(self, dest: Path) -> None:
        """Put the shards this build used into ``dest`` (a new index's cache folder):
        hard links where at least half of a shard is used, else a new shard of the
        used entries only. Entries no build uses any longer are dropped."""
        dest.mkdir(parents=True, exist_ok=True)
        by_shard: dict[Path, list[int]] = {}
        for k in self._used:
            shard, row = self._where[k]
            by_shard.setdefault(shard, []).append(row)
        for shard, rows in sorted(by_shard.items()):
            if 2 * len(rows) >= len(_member(shard, "keys")):
                _link_or_copy(shard, dest / shard.name)
            else:  # only now is the whole shard read
                names = _PASSAGE_MEMBERS if "tok_first" in _names(shard) else _SENTENCE_MEMBERS
                arrays = _take(dict(zip(names, _members(shard, *names))), sorted(rows))
                _write_shard(dest, arrays | {_MODEL: np.array(self._encoder.name)})

    # --- internals --------------------------------------------------------------

    def _fill(self, kind: str, texts: list[str], keys: list[bytes]) -> None:
        todo: dict[bytes, str] = {}
        for k, t in zip(keys, texts):
            self._used.add(k)
            if k in self._where:
                continue
            todo.setdefault(k, t)
        self._reused += len({k for k in keys if k not in todo})
        # longest first, as sentence-transformers orders a batch: less padding
        order = sorted(todo, key=lambda k: -len(todo[k]))
        for first in range(0, len(order), self._batch):
            batch = order[first : first + self._batch]
            batch_texts = [todo[k] for k in batch]
            if kind == _PASSAGE:
                vectors, tokens = self._encoder.encode_tokens(batch_texts, batch_size=self._batch)
                arrays = _passage_arrays(batch, vectors, tokens, self._encoder.dimension)
            else:
                vectors = self._encoder.encode(batch_texts, batch_size=self._batch)
                arrays = {"keys": _keys(batch), "vec": np.asarray(vectors, dtype=np.float32)}
            shard = _write_shard(self._work, arrays | {_MODEL: np.array(self._encoder.name)})  # read back when needed: a build of 10^5 passages writes gigabytes
            for row, k in enumerate(batch):
                self._where[k] = (shard, row)
            self._encoded += len(batch)
            self._on_batch(len(batch))


class CachedEncoder:
    """An :class:`~assistant.encoders.embed.Encoder` whose outputs come from (and go into) a cache."""

    def __init__(self, cache: EncoderCache, encoder: Encoder) -> None:
        self._cache, self._encoder = cache, encoder
        self.name, self.dimension, self.max_tokens = encoder.name, encoder.dimension, encoder.max_tokens

    def encode(self, texts: list[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        return self._cache.sentences(list(texts))

    def encode_tokens(
        self, texts: list[str], *, batch_size: int = 32, progress: bool = False
    ) -> tuple[np.ndarray, list[Tokens]]:
        return self._cache.passages(list(texts))

    def count_tokens(self, text: str) -> int:
        return self._encoder.count_tokens(text)


_MODEL = "model"  # the encoder's name (shards written before it was recorded lack it)
_SENTENCE_MEMBERS = frozenset({"keys", "vec"})
_PASSAGE_MEMBERS = _SENTENCE_MEMBERS | {"tok_first", "tok_vec", "tok_piece", "tok_span", "span_ok"}


def _checked(shard: Path, model: str, dimension: int) -> tuple[str | None, np.ndarray | None]:
    """``(None, keys)`` for a whole shard of this encoder's shape, else ``(why not, None)``.

    Every member is read, so the zip's CRC-32 of each is checked (a flipped byte, a
    truncated file), and every shape and dtype is compared with what this cache writes
    (a foreign file, another model's)."""
    try:
        with zipfile.ZipFile(shard) as z:
            names = {n.removesuffix(".npy") for n in z.namelist()}
            if names - {_MODEL} not in (_SENTENCE_MEMBERS, _PASSAGE_MEMBERS) or len(z.namelist()) != len(names):
                return f"not a cache shard: it holds {', '.join(sorted(z.namelist())) or 'nothing'}", None
            a = {name: _npy(z.read(f"{name}.npy")) for name in names}  # read() checks each member's CRC-32
    except Exception as e:  # zipfile, numpy and the OS fail in many ways on a damaged file
        first = (str(e).strip().splitlines() or [""])[0][:120]
        return f"{type(e).__name__}: {first}" if first else type(e).__name__, None
    if _MODEL in a and (a[_MODEL].shape != () or a[_MODEL].dtype.kind != "U" or str(a[_MODEL]) != model):
        return f"written by another model ({str(a[_MODEL])[:80]}), not {model}", None
    keys, vec = a["keys"], a["vec"]
    n = len(keys)
    if keys.dtype != np.uint8 or keys.shape != (n, 32):
        return "its keys are not 32-byte hashes", None
    if vec.dtype != np.float32 or vec.shape != (n, dimension):
        return f"its vectors have shape {vec.shape} and type {vec.dtype}, not ({n}, {dimension}) float32", None
    if not np.isfinite(vec).all():
        return "its vectors hold values that are not finite numbers", None
    if "tok_first" in names:
        first, tok_vec = a["tok_first"], a["tok_vec"]
        if first.dtype != np.int64 or first.shape != (n + 1,) or first[0] != 0 or (np.diff(first) < 0).any():
            return "its token offsets are not in order", None
        t = int(first[-1])
        if tok_vec.dtype != np.float16 or tok_vec.shape != (t, dimension):
            return f"its token vectors have shape {tok_vec.shape} and type {tok_vec.dtype}, not ({t}, {dimension}) float16", None
        if a["tok_piece"].dtype.kind != "U" or a["tok_piece"].shape != (t,):
            return "its word pieces do not match its token vectors", None
        if a["tok_span"].dtype != np.int64 or a["tok_span"].shape != (t, 2):
            return "its token spans do not match its token vectors", None
        if a["span_ok"].dtype != np.bool_ or a["span_ok"].shape != (n,):
            return "its span flags do not match its entries", None
    return None, keys


_NPY_HEADER = re.compile(
    rb"\{'descr': '([<>|=][a-zA-Z]\d*)', 'fortran_order': False, 'shape': \(((?:\d+, ?)*\d*)\), \}\s*$"
)


def _npy(data: bytes) -> np.ndarray:
    """An array from the bytes of a ``.npy`` file as ``np.save`` writes it. Its header is
    matched here, not evaluated: numpy's reader evaluates it with ``ast``, which under
    CPython 3.11 can fail spuriously while another thread (a reader of the index) does too."""
    if not data.startswith(b"\x93NUMPY") or len(data) < 10:
        raise ValueError("not an array file")
    major = data[6]
    size, start = ((int.from_bytes(data[8:10], "little"), 10) if major == 1
                   else (int.from_bytes(data[8:12], "little"), 12))
    header = _NPY_HEADER.match(data[start : start + size])
    if header is None:
        raise ValueError("an array header this cache does not write")
    dtype = np.dtype(header.group(1).decode())
    shape = tuple(int(n) for n in header.group(2).decode().replace(" ", "").split(",") if n)
    body = data[start + size :]
    if dtype.hasobject or len(body) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
        raise ValueError("an array of another size than its header says")
    return np.frombuffer(body, dtype=dtype).reshape(shape)


def _member(shard: Path, name: str) -> np.ndarray:
    """One array of a shard (only that member is read)."""
    return _members(shard, name)[0]


def _members(shard: Path, *names: str) -> list[np.ndarray]:
    with zipfile.ZipFile(shard) as z:
        return [_npy(z.read(f"{name}.npy")) for name in names]


def _names(shard: Path) -> set[str]:
    with zipfile.ZipFile(shard) as z:
        return {n.removesuffix(".npy") for n in z.namelist()}


def _keys(keys: list[bytes]) -> np.ndarray:
    # raw bytes in a (n, 32) uint8 array: numpy's "S32" would drop trailing zero bytes
    return np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 32)


def _passage_arrays(keys: list[bytes], vectors: np.ndarray, tokens: list[Tokens], dimension: int) -> dict[str, np.ndarray]:
    first = np.zeros(len(tokens) + 1, dtype=np.int64)
    first[1:] = np.cumsum([len(t.pieces) for t in tokens])
    total = int(first[-1])
    spans = np.zeros((total, 2), dtype=np.int64)
    span_ok = np.zeros(len(tokens), dtype=bool)
    for i, t in enumerate(tokens):
        if t.spans and len(t.spans) == len(t.pieces):
            spans[first[i] : first[i + 1]] = np.asarray(t.spans, dtype=np.int64).reshape(-1, 2)
            span_ok[i] = True
    vec = [np.asarray(t.vectors, dtype=np.float32).reshape(-1, dimension) for t in tokens]
    return {
        "keys": _keys(keys),
        "vec": np.asarray(vectors, dtype=np.float32),
        "tok_first": first,
        "tok_vec": (np.concatenate(vec) if vec else np.zeros((0, dimension), np.float32)).astype(np.float16),
        "tok_piece": np.array([p for t in tokens for p in t.pieces], dtype=str),
        "tok_span": spans,
        "span_ok": span_ok,
    }


def _take(z: dict[str, np.ndarray], rows: list[int]) -> dict[str, np.ndarray]:
    """The shard's entries at ``rows`` only."""
    out = {"keys": z["keys"][rows], "vec": z["vec"][rows]}
    if "tok_first" in z:
        f = z["tok_first"]
        idx = np.concatenate([np.arange(f[r], f[r + 1]) for r in rows]) if rows else np.zeros(0, np.int64)
        first = np.zeros(len(rows) + 1, dtype=np.int64)
        first[1:] = np.cumsum([f[r + 1] - f[r] for r in rows])
        out |= {
            "tok_first": first, "tok_vec": z["tok_vec"][idx], "tok_piece": z["tok_piece"][idx],
            "tok_span": z["tok_span"][idx], "span_ok": z["span_ok"][rows],
        }
    return out


def _write_shard(folder: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write a shard whole or not at all (temporary name, fsync, rename)."""
    name = uuid.uuid4().hex
    tmp = folder / f".{name}.part"
    with tmp.open("wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    final = folder / f"{name}.npz"
    os.replace(tmp, final)
    return final


def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.exists():
        return
    try:
        os.link(src, dst)
    except OSError:  # another file system, or no hard links here
        import shutil

        shutil.copy2(src, dst)
