"""The index folder: what it holds, loading and checking it.

Owns the format of ``index/``. One folder of plain files:

    manifest.json      what built it (model, dimension, corpus fingerprint, version, sizes, checksums)
    documents.jsonl    each document's metadata and full source text; documents.index.json
                       their ids and each one's byte offset (read one at a time, as asked)
    passages.jsonl     each passage's id, location and text; passages.offsets.npy each
                       line's byte offset (a question reads only the passages it shows)
    dense.faiss        normalised passage embeddings: flat, HNSW or IVF-SQ8 (assistant.index.dense)
    sentences.NAME.npy sentence embeddings (int8, with a scale per row), their spans, passage
                       rows, each passage's first sentence, and which sentences score
    tokens.NAME.npy    every passage's contextual token vectors (int8, with their scale), each
                       token's word piece and sentence, each passage's first token, and in how
                       many passages each piece occurs; tokens.json the distinct word pieces
    keyword/           the BM25 index (bm25s)
    columns.json, columns.npz
                       each passage's document, organisation and date code, and the
                       passages of each year (filters and the year signal; assistant.index.columns)
    vocabulary.json    every lower-cased word of every document, and its stem
    files.json         each source file's size, time and hash (freshness; files added from elsewhere)
    cache/             encoder outputs by text (assistant.encoders.cache; not checksummed)

A load reads the small files whole; the token and sentence arrays stay on disk and a
question reads its candidates' rows (``store.RowFile``).

What goes into the folder is computed by :mod:`assistant.index.parts` and written by
:mod:`assistant.index.writer` (a new version is assembled in a temporary folder and
swapped into place, so an interrupted change leaves the previous index usable), on
the path of :mod:`assistant.pipeline.build`; the texts each part is made from are
:mod:`assistant.index.texts`. This module describes the folder (its manifest, its
sentence arrays, the in-memory ``Index``) and loads and checks it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from assistant.index import sources
from assistant.encoders.cache import CACHE_DIR
from assistant.index.backends import DenseBackend, KeywordBackend
from assistant.index.detail import ArrayDetail, PassageDetail
from assistant.index.columns import FILES as COLUMN_FILES, Columns
from assistant.ingest.corpus import Document, Passage
from assistant.errors import IndexLoadError, IndexUnavailableError
from assistant.index.sources import build_command
from assistant.index.factory import StoredVectors, open_dense, open_keyword
from assistant.index.store import DocumentStore, PassageStore, RowFile
from assistant.index.tokens import TokenVectors, dequantize, quantize_rows

FORMAT = 8  # 8: passages and documents read from disk as asked, sentence vectors int8, columns stored; 7: token arrays as .npy files (int8, memory-mapped); 6: files.json and the encoder cache
TOKEN_ARRAYS = ("vectors", "scale", "piece", "first", "sentence", "counts")  # tokens.NAME.npy
SENTENCE_ARRAYS = ("row", "spans", "vectors", "scores", "first", "scale")  # sentences.NAME.npy
# A load checks every file's size against the manifest. Up to this many bytes of index
# files it also checks every file's SHA-256 and every passage against its document's
# text (well under a second here); past it those are left to `assistant check`, so that
# a large index loads in seconds.
LOAD_VERIFY_BYTES = 256 * 1024 * 1024
AUTO = "auto"  # --index-type: the dense index kind chosen by collection size (dense.choose_kind)
PASSAGE_TOKENS = 200  # leaves room in the 256-token window for the title and section
# A sentence of fewer words (a label such as "These include: Prison Camps", a name in a
# list) is too short to stand for its paragraph: it may be highlighted, but does not score it.
MIN_SENTENCE_WORDS = 5


@dataclass(frozen=True)
class Manifest:
    format: int
    package_version: str
    model: str
    dimension: int
    normalized: bool
    corpus_dir: str
    corpus_fingerprint: str
    documents: int
    passages: int
    sentences: int
    passage_tokens: int
    embedding_text: str
    built_at: str
    build_seconds: float
    follow_links: bool  # how the corpus was read, so add and later builds read it alike
    max_file_bytes: int
    ranking: dict | None  # assistant.search.fusion.RankingConfig: hybrid weights and abstention threshold
    index_type: str  # the dense index kind asked for (build --index-type): auto or one of dense.KINDS
    dense_index: str  # the kind built (assistant.index.dense)
    # The engine behind both protocols (build --backend): "embedded" (FAISS and bm25s files
    # in the folder) or "qdrant", with where its collection is (assistant.index.qdrant.Place:
    # alias, collection, and a URL or a local-mode folder; never an API key).
    backend: str = "embedded"
    qdrant: dict | None = None


@dataclass(frozen=True)
class Sentences:
    """Sentence spans (absolute offsets in their document) and their embeddings."""

    row: np.ndarray  # (m,) passage row of each sentence, ascending
    spans: np.ndarray  # (m, 2) start, end
    vectors: np.ndarray  # (m, d) int8 (memory-mapped when loaded from a large index), with ``scale``
    scores: np.ndarray  # (m,) bool: the sentence has MIN_SENTENCE_WORDS words, enough to stand for its paragraph
    first: np.ndarray  # (n + 1,) passage i owns sentence rows first[i]:first[i + 1]
    scale: np.ndarray  # (m,) float32: row i is vectors[i] * scale[i]

    @classmethod
    def of(cls, row, spans, vectors: np.ndarray, texts: list[str], passages: int) -> Sentences:
        """From sentence rows, spans, unit float vectors (quantised to int8) and texts
        (the texts only decide ``scores``)."""
        row = np.asarray(row, dtype=np.int64)
        vectors, scale = quantize_rows(np.asarray(vectors, dtype=np.float32).reshape(len(row), -1))
        return cls(
            row, np.asarray(spans, dtype=np.int64).reshape(-1, 2), vectors,
            np.array([len(t.split()) >= MIN_SENTENCE_WORDS for t in texts], dtype=bool),
            np.searchsorted(row, np.arange(passages + 1)).astype(np.int64), scale,
        )

    def rows(self, take=slice(None)) -> np.ndarray:
        """The sentence vectors ``take`` selects, as float32."""
        return dequantize(self.vectors, self.scale, take)

    def similarities(self, rows: np.ndarray, question: np.ndarray) -> np.ndarray:
        """Cosine of the question with each sentence of ``rows`` (reads only those rows)."""
        block = np.asarray(self.vectors[rows], dtype=np.float32)
        sims = block @ np.asarray(question, dtype=np.float32)
        return sims * self.scale[rows]


@dataclass(frozen=True)
class Index:
    path: Path
    manifest: Manifest
    documents: Mapping[str, Document]  # a DocumentStore (read from disk as asked) when loaded
    passages: Sequence[Passage]  # a PassageStore when loaded
    vectors: Any  # (n, d) passage embeddings, unit length, indexable by rows (the dense backend's, when loaded)
    dense: DenseBackend  # chosen by the manifest's dense_index (assistant.index.factory)
    keyword: KeywordBackend
    sentences: Sentences | None  # None when an engine holds them (``held``)
    tokens: TokenVectors | None
    vocabulary: frozenset[str]  # every lower-cased word of every document, and its stem
    notes: tuple[str, ...] = ()  # e.g. a corpus file that could not be read to check it is current
    columns: Columns | None = None  # filter and year columns (stored; computed from the passages when None)
    identity: str = ""  # the SHA-256 of the manifest loaded (MANIFEST_HASH): which index this is, in provenance
    held: PassageDetail | None = None  # where sentences and tokens live when not in ``sentences``/``tokens`` (an engine)
    files: sources.SourceFiles | None = None  # the source files it was made from (files.json)
    # Their state when it was loaded (None: not checked): the documents of changed or missing
    # files are withheld from answers (assistant.pipeline.service), not refused as a whole.
    freshness: sources.Freshness | None = None

    @property
    def detail(self) -> PassageDetail:
        """The sentences and tokens of passages, as search measures them on candidates."""
        return self.held if self.held is not None else ArrayDetail(self.sentences, self.tokens, self.vectors)


def load_index(
    index_dir: str | Path, *, check_corpus: bool = True, mmap: bool | None = None, verify: bool | None = None
) -> Index:
    """Load an index folder, refusing one that is damaged.

    Its corpus is checked (``Index.freshness``): a file that changed, went missing or
    is new does not stop the load; the service withholds the documents of changed and
    missing files and says so in every answer. A corpus file that cannot be read to
    check it becomes a note in ``Index.notes``. Readers take no lock: a load that met a
    writer's swap (the manifest changed while it read) is simply read again.

    Args:
        mmap: leave the token and sentence arrays on disk and read the rows a question
            needs (``store.RowFile``), and memory-map the BM25 postings, instead of
            reading them all into memory; the answers are the same. Default: on disk
            for an index of more than LOAD_VERIFY_BYTES, in memory for a smaller one
            (where reading rows from the map costs more than the memory saved).
        verify: check every file's SHA-256 and every passage against its source text
            (True), or only what is cheap: sizes, shapes and counts (False); default:
            all of it for an index of up to LOAD_VERIFY_BYTES.

    Raises:
        IndexLoadError: missing, damaged or of another format; the message names the
            command that fixes it.
    """
    path = Path(index_dir)
    for attempt in range(3):
        before = _identity(path / "manifest.json")
        try:
            return _load_once(path, check_corpus=check_corpus, mmap=mmap, verify=verify)
        except IndexLoadError:
            if attempt == 2 or _identity(path / "manifest.json") == before:
                raise
    raise AssertionError("unreachable")


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def _load_once(path: Path, *, check_corpus: bool, mmap: bool | None = None, verify: bool | None = None) -> Index:
    from assistant.index.lock import index_folder

    index_folder(path)  # a link loop says so
    if path.exists() and not path.is_dir():
        raise IndexLoadError(f"{path} is a file, not an index folder; build one: assistant build --index FOLDER")
    _recover_interrupted_swap(path)
    rebuild = f"rebuild it: {build_command(_corpus_of(path), path)}"
    if foreign_manifest(path):
        raise IndexLoadError(
            f"{path} is not an index of this assistant (its manifest.json is another program's) and build will not "
            f"overwrite it; build the index in a new folder: {build_command(_default_corpus(), elsewhere(path))}"
            " (and pass that --index when you ask)"
        )
    if not (path / "manifest.json").exists():
        if path.exists() and any(path.iterdir()):
            if looks_like_index(path):
                raise IndexLoadError(f"the index at {path} is damaged (no manifest.json); {rebuild}")
            raise IndexLoadError(
                f"{path} is not an index folder (no manifest.json) and build will not overwrite it; "
                f"build the index in a new folder: {build_command(_corpus_of(path) or _default_corpus(), elsewhere(path))}"
                " (and pass that --index when you ask)"
            )
        corpus = _default_corpus()
        raise IndexLoadError(f"no index at {path.resolve()}; build one first: {build_command(corpus, path)}")
    try:
        manifest, sums = read_manifest(path)
        found = file_sizes(path)
        recorded = recorded_sizes(path)
        if recorded is None:
            raise IndexLoadError(f"the index at {path} is damaged (its manifest lacks sizes); {rebuild}")
        if set(found) != set(sums) or recorded != found:
            raise IndexLoadError(f"the index at {path} is damaged (a file is missing, extra or of another size); {rebuild}")
        small = sum(found.values()) <= LOAD_VERIFY_BYTES
        if verify is None:
            verify = small
        if mmap is None:
            mmap = not small
        if verify and sums != checksums(path):
            raise IndexLoadError(f"the index at {path} is damaged (a file's checksum does not match); {rebuild}")
        if verify and not manifest_intact(path):
            raise IndexLoadError(f"the index at {path} is damaged (its manifest.json was changed after the build); "
                                 f"{rebuild}")
        if manifest.backend == "qdrant":
            return _load_qdrant(path, manifest, check_corpus=check_corpus, verify=verify, rebuild=rebuild)
        listing = json.loads((path / "documents.index.json").read_text(encoding="utf-8"))
        docs = DocumentStore(path / "documents.jsonl", listing["ids"], np.asarray(listing["offsets"], dtype=np.int64))
        passages = PassageStore(path / "passages.jsonl", np.load(path / "passages.offsets.npy", allow_pickle=False))
        dense = open_dense(path, kind=manifest.dense_index)
        # Arrays read by row (a question's candidates) stay on disk when mmap is asked;
        # the small per-passage ones are read whole.
        def array(name: str, whole: bool = False):
            if mmap and not whole:
                return RowFile(path / name)
            return np.load(path / name, allow_pickle=False)

        sentences = Sentences(**{name: array(f"sentences.{name}.npy", whole=name in ("row", "scores", "first"))
                                 for name in SENTENCE_ARRAYS})
        keyword = open_keyword(path, kind=keyword_kind(manifest), mmap=mmap)
        arrays = {name: array(f"tokens.{name}.npy", whole=name in ("first", "counts")) for name in TOKEN_ARRAYS}
        tokens = TokenVectors(
            arrays["vectors"], arrays["piece"], arrays["first"],
            tuple(json.loads((path / "tokens.json").read_text())["pieces"]), arrays["sentence"], arrays["scale"],
            arrays["counts"],
        )
        columns = Columns.load(path)
        vocabulary = frozenset(json.loads((path / "vocabulary.json").read_text(encoding="utf-8")))
        files = sources.load(path)
        identity = _manifest_identity(path, manifest)
    except (IndexLoadError, IndexUnavailableError):  # (an engine that cannot be reached is no damage)
        raise
    except Exception as e:  # truncated or edited files fail in many ways
        first = (str(e).strip().splitlines() or [""])[0][:160]
        raise IndexLoadError(f"the index at {path} is damaged ({type(e).__name__}: {first}); {rebuild}") from e
    m = manifest.sentences
    if (
        len(passages) != manifest.passages
        or passages.file_bytes != (path / "passages.jsonl").stat().st_size
        or docs.file_bytes != (path / "documents.jsonl").stat().st_size
        or dense.count() != len(passages)
        or dense.dimension != manifest.dimension
        or len(docs) != manifest.documents
        or sentences.vectors.shape != (m, manifest.dimension) or sentences.vectors.dtype != np.int8
        or sentences.spans.shape != (m, 2) or not (len(sentences.row) == len(sentences.scores) == len(sentences.scale) == m)
        or len(sentences.first) != len(passages) + 1 or int(sentences.first[-1]) != m
        or keyword.count() != len(passages)
        or tokens.passages != len(passages)
        or tokens.vectors.shape != (int(tokens.first[-1]), manifest.dimension)
        or len(tokens.piece) != len(tokens.vectors)
        or len(tokens.sentence) != len(tokens.vectors)
        or tokens.scale is None or len(tokens.scale) != len(tokens.vectors)
        or tokens.counts is None or len(tokens.counts) != len(tokens.pieces)
        or tokens.vectors.dtype != np.int8
        or columns.n != len(passages)
        or (verify and int(np.asarray(tokens.sentence).max(initial=-1)) >= m)
    ):
        raise IndexLoadError(f"the index at {path} is damaged (its files disagree on sizes); {rebuild}")
    for p in passages if verify else ():  # (a quote is always cut from its document's text)
        doc = docs.get(p.doc_id)
        if doc is None or doc.text[p.start : p.end] != p.text:
            raise IndexLoadError(
                f"the index at {path} is damaged (passage {p.passage_id} does not match its source); {rebuild}"
            )
    fresh = sources.check(files) if check_corpus else None
    vectors = StoredVectors(dense)  # read by row as asked
    return Index(path, manifest, docs, passages, vectors, dense, keyword, sentences, tokens, vocabulary,
                 fresh.notes if fresh is not None else (), columns, identity, files=files, freshness=fresh)


QDRANT_VERIFY_PASSAGES = 20_000  # up to this many passages a load re-reads them all to check each quote


def _load_qdrant(path: Path, manifest: Manifest, *, check_corpus: bool, verify: bool | None, rebuild: str) -> Index:
    """An index whose contents are all in Qdrant collections (the folder holds the manifest)."""
    from assistant.index.qdrant_contents import CONTENTS, Contents

    if not manifest.qdrant or manifest.qdrant.get("contents") != CONTENTS:
        raise IndexLoadError(f"the index at {path} keeps part of itself in files beside its Qdrant collection, as an "
                             f"earlier version built it; {rebuild}")
    c = Contents(manifest.qdrant)
    if verify is None:
        verify = manifest.passages <= QDRANT_VERIFY_PASSAGES
    if (
        c.n != manifest.passages or len(c.doc_ids) != manifest.documents or c.m != manifest.sentences
        or c.dense.dimension != manifest.dimension
        or len(c.sentence_first) != c.n + 1 or int(c.sentence_first[-1]) != c.m or c.columns.n != c.n
        or (verify and c.sentences_count() != c.m)
    ):
        raise IndexLoadError(f"the Qdrant index {c.place.name} at {c.place.where()} disagrees with the manifest of "
                             f"{path} on its sizes; {rebuild}")
    for p in c.passages if verify else ():  # (a quote is always cut from its document's text)
        doc = c.documents.get(p.doc_id)
        if doc is None or doc.text[p.start : p.end] != p.text:
            raise IndexLoadError(
                f"the index at {path} is damaged (passage {p.passage_id} does not match its source); {rebuild}"
            )
    fresh = sources.check(c.files) if check_corpus else None
    return Index(path, manifest, c.documents, c.passages, StoredVectors(c.dense), c.dense, c.keyword, None, None,
                 c.vocabulary, fresh.notes if fresh is not None else (), c.columns, _manifest_identity(path, manifest),
                 held=c.detail, files=c.files, freshness=fresh)


def _manifest_identity(path: Path, manifest: Manifest) -> str:
    """The SHA-256 the build recorded of the manifest just read (computed for one that predates it).

    Raises:
        IndexLoadError: the manifest is no longer the one read (a writer swapped the folder
            meanwhile; ``load_index`` reads it again).
    """
    raw = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or raw.get("built_at") != manifest.built_at:
        raise IndexLoadError(f"the index at {path} changed while it was read")
    return str(raw.get(MANIFEST_HASH) or manifest_hash(raw))


def keyword_kind(manifest: Manifest) -> str:
    """The keyword backend an index's manifest names (by its backend)."""
    return "qdrant-bm25" if manifest.backend == "qdrant" else "bm25s"


def read_manifest(path: Path) -> tuple[Manifest, dict[str, str]]:
    """The manifest of the index at ``path`` and the checksums it records.

    Fields this version does not know are ignored (a newer version may add some);
    a missing field or a format that is not this version's is refused.

    Raises:
        IndexLoadError: unreadable, of another format, or lacking a field.
    """
    rebuild = f"rebuild it: {build_command(_corpus_of(path), path)}"
    try:
        raw = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise IndexLoadError(f"the index at {path} is damaged (manifest.json: {type(e).__name__}); {rebuild}") from e
    if not isinstance(raw, dict):
        raise IndexLoadError(f"the index at {path} is damaged (manifest.json is not an object); {rebuild}")
    fmt = raw.get("format")
    if type(fmt) is not int:
        raise IndexLoadError(
            f"the index at {path} is damaged (its manifest's format is {json.dumps(fmt)}, not a whole number); {rebuild}"
        )
    if fmt != FORMAT:
        newer = "a newer" if fmt > FORMAT else "an older"
        raise IndexLoadError(
            f"the index at {path} has format {fmt}, written by {newer} version; this version reads format {FORMAT}; "
            f"{rebuild}"
        )
    known = [f.name for f in fields(Manifest)]
    optional = {f.name for f in fields(Manifest) if f.default is not MISSING}  # added since the format's first manifests
    missing = sorted(set(known) - raw.keys() - optional)
    if missing:
        raise IndexLoadError(f"the index at {path} is damaged (its manifest lacks {', '.join(missing)}); {rebuild}")
    sums = raw.get("checksums")
    if not isinstance(sums, dict):
        raise IndexLoadError(f"the index at {path} is damaged (its manifest lacks checksums); {rebuild}")
    try:
        manifest = Manifest(**{k: raw[k] for k in known if k in raw})
    except TypeError as e:
        raise IndexLoadError(f"the index at {path} is damaged (manifest: {e}); {rebuild}") from e
    return manifest, sums


MANIFEST_HASH = "manifest_sha256"  # of every other field of manifest.json, recorded by the build


def manifest_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 of a manifest's fields (all but the hash itself, unknown ones too), in a fixed order."""
    import hashlib

    body = {k: v for k, v in record.items() if k != MANIFEST_HASH}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def manifest_intact(path: Path) -> bool:
    """False when the manifest's recorded hash does not match its fields (an index
    written before the hash was recorded has none, and passes)."""
    try:
        raw = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(raw, dict):
        return False
    recorded = raw.get(MANIFEST_HASH)
    return recorded is None or recorded == manifest_hash(raw)


INDEX_FILES = frozenset({
    "manifest.json", "documents.jsonl", "documents.index.json", "passages.jsonl", "passages.offsets.npy", "dense.faiss",
    *(f"sentences.{name}.npy" for name in SENTENCE_ARRAYS), *(f"tokens.{name}.npy" for name in TOKEN_ARRAYS),
    "tokens.json", "keyword", "qdrant.dense.json", "qdrant.keyword.json", *COLUMN_FILES, "vocabulary.json", sources.FILES, CACHE_DIR,
    # format 7 and before: an older index is rebuilt in place, not refused as a stranger's folder
    "tokens.npz", "sentences.npy", "sentences.json",
})


# Files only an index of this assistant holds: beside them a manifest.json that cannot be
# read is a damaged index's, while a manifest.json alone must be one this assistant wrote.
CORE_FILES = frozenset({"documents.jsonl", "passages.jsonl", "dense.faiss", sources.FILES})


def looks_like_index(folder: Path) -> bool:
    """True when every entry of ``folder`` is a file an index holds, and its manifest
    (if that is all there is) is this assistant's: a damaged index may be rebuilt in
    place; a folder of other files, or another program's manifest.json, never is."""
    try:
        names = {p.name for p in folder.iterdir()}
    except OSError:
        return False
    if not names or not names <= INDEX_FILES:
        return False
    return "manifest.json" not in names or bool(names & CORE_FILES) or manifest_is_ours(folder)


def manifest_is_ours(folder: Path) -> bool:
    """True when ``folder/manifest.json`` is shaped as this assistant writes one (of any
    format): a JSON object with a whole-number format and checksums or a model."""
    try:
        raw = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(raw, dict) and type(raw.get("format")) is int and ("checksums" in raw or "model" in raw)


def foreign_manifest(folder: Path) -> bool:
    """True when ``folder`` holds a manifest.json that is not this assistant's and is no damaged index."""
    return (folder / "manifest.json").is_file() and not manifest_is_ours(folder) and not looks_like_index(folder)


def elsewhere(path: Path) -> Path:
    """A new folder to suggest instead of ``path`` for an index: beside it, or ``index``
    when it has no name of its own (``/``, ``.``)."""
    name = Path(path).name
    return Path(f"{path}-index") if name and name not in (".", "..") else Path("index")


def _checked_files(folder: Path) -> list[tuple[str, Path]]:
    """(relative name, path) of every file in the index folder except the manifest and
    the cache (which checks itself: each entry is found by the hash of its text)."""
    out = []
    for f in sorted(folder.rglob("*")):
        rel = f.relative_to(folder).as_posix()
        if f.is_file() and rel != "manifest.json" and rel.split("/")[0] != CACHE_DIR:
            out.append((rel, f))
    return out


def file_sizes(folder: Path) -> dict[str, int]:
    """The size of every file ``checksums`` covers."""
    return {rel: f.stat().st_size for rel, f in _checked_files(folder)}


def recorded_sizes(path: Path) -> dict[str, int] | None:
    """The file sizes the manifest records (None when it records none: a damaged manifest)."""
    try:
        sizes = json.loads((path / "manifest.json").read_text()).get("sizes")
    except (OSError, ValueError, AttributeError):
        return None
    return sizes if isinstance(sizes, dict) else None


def checksums(folder: Path, *, only: str | None = None) -> dict[str, str]:
    """SHA-256 of every file ``_checked_files`` lists (only the one named ``only``, if given)."""
    import hashlib

    def digest(path: Path) -> str:
        with path.open("rb") as f:  # in chunks: a token file may be larger than memory
            return hashlib.file_digest(f, "sha256").hexdigest()

    return {rel: digest(f) for rel, f in _checked_files(folder) if only is None or rel == only}


def _corpus_of(path: Path) -> str | None:
    """The corpus folder an index (even a damaged one) was built from, if it says."""
    for name, key in (("manifest.json", "corpus_dir"), (sources.FILES, "corpus_dir")):
        try:
            raw = json.loads((path / name).read_text(encoding="utf-8"))
            if isinstance(raw, dict) and isinstance(raw.get(key), str) and raw[key]:
                return raw[key]
        except (OSError, ValueError):
            continue
    return None


def _default_corpus() -> str | None:
    # build's default corpus is ./corpus; elsewhere the user must name one
    return None if Path("corpus").is_dir() else "FOLDER"


def _recover_interrupted_swap(out: Path) -> None:
    """Killed between the two renames of a swap: the last good index is in .old.
    Only with the writers' lock, so a running writer's swap is never undone.
    Writers swap the real folder, so a linked index is looked for where it lies."""
    from assistant.index.lock import index_folder, writer_lock

    try:
        out = index_folder(out)
    except IndexLoadError:
        return  # a link loop: the load says so
    old = out.parent / f".{out.name}.old"
    if out.exists() or not (old / "manifest.json").exists():
        return
    with writer_lock(out, timeout=30.0):
        if not out.exists() and (old / "manifest.json").exists():
            os.replace(old, out)
