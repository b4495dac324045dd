"""The index folder: build it from a corpus, save it atomically, load and check it.

Owns the arrow ``Passage -> index/``. One folder of plain files:

    manifest.json      what built it (model, dimension, corpus fingerprint, version)
    documents.jsonl    each document's metadata and full source text
    passages.jsonl     each passage's id, location and text
    dense.faiss        normalised passage embeddings, inner-product index
    sentences.npy      sentence embeddings (for highlights and sentence scoring)
    sentences.json     sentence spans and the passage row each belongs to
    tokens.npz         every passage's contextual token vectors (float16) and pieces
    tokens.json        the distinct word pieces
    keyword/           the BM25 index (bm25s)

A build writes a temporary folder and renames it into place, so an interrupted
build leaves the previous index usable.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant import __version__
from assistant.corpus import (
    DEFAULT_MAX_FILE_BYTES, Corpus, Document, Passage, Skipped, files_fingerprint, fingerprint, passages_of, read_corpus,
)
from assistant.embed import Encoder, Tokens
from assistant.errors import CorpusError, IndexLoadError
from assistant.keyword import KeywordIndex, stems
from assistant.split import MONTHS, sentence_spans
from assistant.tokens import CONTEXT, NO_SENTENCE, TokenVectors

FORMAT = 5
PASSAGE_TOKENS = 200  # leaves room in the 256-token window for the title and section


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
    follow_links: bool = False  # how the corpus was read, so the freshness check reads it alike
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    files_fingerprint: str = ""  # the corpus files' bytes (corpus.files_fingerprint): a quick freshness check
    ranking: dict | None = None  # assistant.fusion.RankingConfig: hybrid weights and abstention threshold


@dataclass(frozen=True)
class Sentences:
    """Sentence spans (absolute offsets in their document) and their embeddings."""

    row: np.ndarray  # (m,) passage row of each sentence
    spans: np.ndarray  # (m, 2) start, end
    vectors: np.ndarray  # (m, d)


@dataclass(frozen=True)
class Index:
    path: Path
    manifest: Manifest
    documents: dict[str, Document]
    passages: tuple[Passage, ...]
    vectors: np.ndarray  # (n, d) passage embeddings, unit length
    dense: Any  # faiss.IndexFlatIP
    keyword: KeywordIndex
    sentences: Sentences
    tokens: TokenVectors
    vocabulary: frozenset[str]  # every lower-cased word of every document, and its stem


@dataclass(frozen=True)
class BuildReport:
    index_dir: str
    documents: int
    passages: int
    skipped: tuple[Skipped, ...]
    seconds: float


def date_words(date: str) -> str:
    """An ISO date as words a question would use: "2014-03-28" -> "28 March 2014"."""
    if not date or "/" in date:
        return ""
    parts = date.split("-")
    try:
        words = [parts[0]]
        if len(parts) > 1:
            words.insert(0, MONTHS[int(parts[1]) - 1].capitalize())
        if len(parts) > 2:
            words.insert(0, str(int(parts[2])))
    except (ValueError, IndexError):
        return date
    return " ".join(words)


def embedding_text(passage: Passage, doc: Document) -> str:
    """What the encoder sees for a passage: title, section, organisation, kind and
    date give it the context a question names ("the 2011 coalition letter").

    The quote shown to users is always ``passage.text``; only the vector differs.
    """
    body = " ".join(passage.text.split())
    parts = [doc.title] if doc.title else []
    if passage.section and passage.section != doc.title:
        parts.append(passage.section)
    meta = ", ".join(x for x in (doc.organization, doc.kind, date_words(passage.date)) if x)
    head = " — ".join(parts) + (f" ({meta})" if meta else "")
    return f"{head}. {body}" if head else body


def token_sentences(
    passage: Passage, text: str, tokens: Tokens, mine: list[tuple[int, tuple[int, int]]]
) -> list[int]:
    """For each token of a passage's embedding text ``text``, the row of the
    sentence it lies in (``mine``: the passage's sentences as (row, source span)),
    CONTEXT for the title/section/metadata before the passage's text, or
    NO_SENTENCE (between sentences, or offsets unknown)."""
    if len(tokens.spans) != len(tokens.pieces):
        return [NO_SENTENCE] * len(tokens.pieces)
    body_start = len(text) - len(" ".join(passage.text.split()))
    # where each word of the normalised text starts, in the text and in the source
    words = list(re.finditer(r"\S+", passage.text))
    body_pos = np.cumsum([0] + [len(m.group()) + 1 for m in words[:-1]]) + body_start
    out = []
    for a, _ in tokens.spans:
        if a < body_start:
            out.append(CONTEXT)
            continue
        w = int(np.searchsorted(body_pos, a, side="right")) - 1
        src = passage.start + words[w].start() + (a - int(body_pos[w]))
        out.append(next((i for i, (x, y) in mine if x <= src < y), NO_SENTENCE))
    return out


def keyword_text(passage: Passage, doc: Document, lead: str) -> str:
    """What BM25 indexes for a passage: its text, its document's metadata, and the
    opening sentence of the item it belongs to (which names what it is about)."""
    return " ".join(
        x for x in (doc.title, doc.organization, doc.kind, date_words(passage.date), passage.section, lead, passage.text) if x
    )


def item_leads(passages: list[Passage], docs: dict[str, Document]) -> list[str]:
    """For each passage, the first sentence of the first passage of its item
    (same document, date and section), or "" for that first passage itself."""
    first: dict[tuple[str, str, str], Passage] = {}
    out = []
    for p in passages:
        f = first.setdefault((p.doc_id, p.date, p.section), p)
        if f is p:
            out.append("")
            continue
        spans = sentence_spans(docs[f.doc_id].text, f.start, f.end)
        a, b = spans[0] if spans else (f.start, f.end)
        out.append(" ".join(docs[f.doc_id].text[a:b].split()))
    return out


def passage_sentences(passage: Passage, doc: Document) -> list[tuple[int, int]]:
    """Sentence spans of a passage (a list's items count as sentences)."""
    out: list[tuple[int, int]] = []
    if passage.kind == "list":
        pos = passage.start
        for line in passage.text.split("\n"):
            a, b = pos, pos + len(line)
            out.extend(sentence_spans(doc.text, a, b))
            pos = b + 1
    else:
        out = sentence_spans(doc.text, passage.start, passage.end)
    return out


def build_index(
    corpus_dir: str | Path,
    *,
    encoder: Encoder,
    out_dir: str | Path,
    batch_size: int = 32,
    progress: bool = False,
    follow_links: bool = False,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> BuildReport:
    """Read, split, embed and save a corpus as an index folder.

    Args:
        corpus_dir: folder of text files (and an optional metadata.json).
        encoder: the embedding model.
        out_dir: the index folder to (re)place.
        batch_size: texts per encoder call.
        progress: show progress bars while embedding.
        follow_links: read links that lead out of the corpus folder.
        max_file_bytes: skip (and name) files larger than this.

    Raises:
        CorpusError: no readable document in the corpus.
    """
    import faiss

    t0 = time.perf_counter()
    _check_writable(Path(corpus_dir), Path(out_dir))
    files = files_fingerprint(corpus_dir, follow_links=follow_links, max_file_bytes=max_file_bytes)
    corpus: Corpus = read_corpus(corpus_dir, follow_links=follow_links, max_file_bytes=max_file_bytes)
    docs = {d.doc_id: d for d in corpus.documents}
    passages: list[Passage] = []
    for doc in corpus.documents:
        passages.extend(
            passages_of(doc, max_tokens=min(PASSAGE_TOKENS, encoder.max_tokens), count_tokens=encoder.count_tokens)
        )
    if not passages:
        raise CorpusError(f"the documents in {corpus_dir} contain no passages of text")
    texts = [embedding_text(p, docs[p.doc_id]) for p in passages]
    vectors, per_passage = encoder.encode_tokens(texts, batch_size=batch_size, progress=progress)
    empty = [p.passage_id for p, t in zip(passages, per_passage) if not t.pieces]
    if empty:
        raise CorpusError(f"the encoder sees no tokens in passage {empty[0]}; check that file's encoding")
    sent_rows: list[int] = []
    sent_spans: list[tuple[int, int]] = []
    for row, p in enumerate(passages):
        for span in passage_sentences(p, docs[p.doc_id]):
            sent_rows.append(row)
            sent_spans.append(span)
    by_passage: dict[int, list[tuple[int, tuple[int, int]]]] = {}
    for i, (r, span) in enumerate(zip(sent_rows, sent_spans)):
        by_passage.setdefault(r, []).append((i, span))
    tokens = TokenVectors.of(
        per_passage,
        encoder.dimension,
        [token_sentences(p, text, t, by_passage.get(row, [])) for row, (p, text, t) in enumerate(zip(passages, texts, per_passage))],
    )
    # A sentence is embedded with its document's title, so "the 1997 statement" can find it.
    sent_texts = [
        f"{docs[passages[r].doc_id].title}. " + " ".join(docs[passages[r].doc_id].text[a:b].split())
        for r, (a, b) in zip(sent_rows, sent_spans)
    ]
    sent_vectors = encoder.encode(sent_texts, batch_size=batch_size, progress=progress)

    dense = faiss.IndexFlatIP(encoder.dimension)
    dense.add(vectors)
    leads = item_leads(passages, docs)
    keyword = KeywordIndex.build([keyword_text(p, docs[p.doc_id], lead) for p, lead in zip(passages, leads)])

    out = Path(out_dir).resolve()
    sentences = Sentences(
        row=np.asarray(sent_rows, dtype=np.int64), spans=np.asarray(sent_spans, dtype=np.int64).reshape(-1, 2),
        vectors=np.asarray(sent_vectors, dtype=np.float32),
    )
    ranking = _ranking_config(out, docs, passages, vectors, dense, keyword, sentences, tokens, encoder, batch_size)
    manifest = Manifest(
        format=FORMAT,
        package_version=__version__,
        model=encoder.name,
        dimension=encoder.dimension,
        normalized=True,
        corpus_dir=str(Path(corpus_dir).resolve()),
        corpus_fingerprint=fingerprint(corpus.documents),
        documents=len(docs),
        passages=len(passages),
        sentences=len(sent_rows),
        passage_tokens=min(PASSAGE_TOKENS, encoder.max_tokens),
        embedding_text="title — section (organisation, kind, date). passage; sentences: title. sentence",
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        build_seconds=round(time.perf_counter() - t0, 2),
        follow_links=follow_links,
        max_file_bytes=max_file_bytes,
        files_fingerprint=files,
        ranking=ranking,
    )
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    _write_jsonl(tmp / "documents.jsonl", (asdict(d) for d in corpus.documents))
    _write_jsonl(tmp / "passages.jsonl", (asdict(p) for p in passages))
    faiss.write_index(dense, str(tmp / "dense.faiss"))
    np.save(tmp / "sentences.npy", sent_vectors)
    (tmp / "sentences.json").write_text(json.dumps({"row": sent_rows, "spans": sent_spans}))
    keyword.save(tmp / "keyword")
    np.savez(
        tmp / "tokens.npz",
        vectors=tokens.vectors.astype(np.float16), piece=tokens.piece, first=tokens.first, sentence=tokens.sentence,
    )
    (tmp / "tokens.json").write_text(json.dumps({"pieces": tokens.pieces}, ensure_ascii=False))
    # The manifest goes last: a folder without one is never mistaken for an index.
    # It records a checksum of every file, so a damaged file is refused, not half-read.
    record = asdict(manifest) | {"checksums": _checksums(tmp)}
    (tmp / "manifest.json").write_text(json.dumps(record, indent=2) + "\n")
    _swap_into_place(tmp, out)
    return BuildReport(str(out), len(docs), len(passages), corpus.skipped, round(time.perf_counter() - t0, 2))


def _ranking_config(out, docs, passages, vectors, dense, keyword, sentences, tokens, encoder, batch_size) -> dict:
    """The collection's ranking configuration (weights and an abstention threshold
    calibrated on its own pseudo-questions; see assistant.calibrate), for the manifest."""
    from assistant.calibrate import calibrate

    manifest = Manifest(
        FORMAT, __version__, encoder.name, encoder.dimension, True, "", "", len(docs), len(passages),
        len(sentences.row), 0, "", "", 0.0,
    )
    built = Index(
        out, manifest, docs, tuple(passages), np.asarray(vectors, dtype=np.float32), dense, keyword, sentences, tokens,
        frozenset(),
    )
    return calibrate(built, encoder=encoder, batch_size=batch_size).to_json()


def load_index(index_dir: str | Path, *, check_corpus: bool = True) -> Index:
    """Load an index folder, refusing one that is damaged or older than its corpus.

    Raises:
        IndexLoadError: missing, damaged, of another format, or stale; the message
            names the command that fixes it.
    """
    import faiss

    path = Path(index_dir)
    rebuild = f"run: assistant build --index {path}"
    if path.exists() and not path.is_dir():
        raise IndexLoadError(f"{path} is a file, not an index folder; build one: assistant build --index FOLDER")
    _recover_interrupted_swap(path)
    if not (path / "manifest.json").exists():
        if path.exists() and any(path.iterdir()):
            raise IndexLoadError(f"{path} is not an index folder (no manifest.json); {rebuild}")
        corpus = "" if Path("corpus").is_dir() else "--corpus FOLDER "  # build's default corpus is ./corpus
        raise IndexLoadError(f"no index at {path.resolve()}; build one first: assistant build {corpus}--index {path}")
    try:
        raw = json.loads((path / "manifest.json").read_text())
        if isinstance(raw, dict) and raw.get("corpus_dir"):
            rebuild = f"run: assistant build --corpus {raw['corpus_dir']} --index {path}"
        if raw.get("format") != FORMAT:
            raise IndexLoadError(
                f"the index at {path} has format {raw.get('format')}, this version reads {FORMAT}; {rebuild}"
            )
        checksums = raw.pop("checksums", None)
        manifest = Manifest(**raw)
        if not isinstance(checksums, dict) or checksums != _checksums(path):
            raise IndexLoadError(f"the index at {path} is damaged (a file's checksum does not match); {rebuild}")
        docs = {d["doc_id"]: Document(**d) for d in _read_jsonl(path / "documents.jsonl")}
        passages = tuple(Passage(**p) for p in _read_jsonl(path / "passages.jsonl"))
        dense = faiss.read_index(str(path / "dense.faiss"))
        sent = json.loads((path / "sentences.json").read_text())
        sent_vectors = np.load(path / "sentences.npy")
        keyword = KeywordIndex.load(path / "keyword")
        with np.load(path / "tokens.npz") as z:
            tokens = TokenVectors(
                z["vectors"].astype(np.float32), z["piece"], z["first"],
                tuple(json.loads((path / "tokens.json").read_text())["pieces"]), z["sentence"],
            )
    except IndexLoadError:
        raise
    except Exception as e:  # truncated or edited files fail in many ways
        first = (str(e).strip().splitlines() or [""])[0][:160]
        raise IndexLoadError(f"the index at {path} is damaged ({type(e).__name__}: {first}); {rebuild}") from e
    if (
        len(passages) != manifest.passages
        or dense.ntotal != len(passages)
        or dense.d != manifest.dimension
        or len(docs) != manifest.documents
        or sent_vectors.shape != (manifest.sentences, manifest.dimension)
        or keyword.size != len(passages)
        or tokens.passages != len(passages)
        or tokens.vectors.shape != (int(tokens.first[-1]), manifest.dimension)
        or len(tokens.piece) != len(tokens.vectors)
        or len(tokens.sentence) != len(tokens.vectors)
        or int(tokens.sentence.max(initial=-1)) >= manifest.sentences
    ):
        raise IndexLoadError(f"the index at {path} is damaged (its files disagree on sizes); {rebuild}")
    for p in passages:
        doc = docs.get(p.doc_id)
        if doc is None or doc.text[p.start : p.end] != p.text:
            raise IndexLoadError(
                f"the index at {path} is damaged (passage {p.passage_id} does not match its source); {rebuild}"
            )
    if check_corpus:
        _check_fresh(manifest, path)
    vectors = dense.reconstruct_n(0, dense.ntotal)
    sentences = Sentences(
        row=np.asarray(sent["row"], dtype=np.int64),
        spans=np.asarray(sent["spans"], dtype=np.int64).reshape(-1, 2),
        vectors=sent_vectors.astype(np.float32),
    )
    words = {w.lower() for d in docs.values() for w in re.findall(r"\w+", d.text)}
    vocabulary = frozenset(words | set(stems(sorted(words))))
    return Index(path, manifest, docs, passages, vectors, dense, keyword, sentences, tokens, vocabulary)


def _check_fresh(manifest: Manifest, path: Path) -> None:
    corpus_dir = Path(manifest.corpus_dir)
    if not corpus_dir.is_dir():
        return  # the corpus moved away: the index still holds every quoted text
    opts = dict(follow_links=manifest.follow_links, max_file_bytes=manifest.max_file_bytes)
    try:
        if manifest.files_fingerprint:  # bytes only: no PDF parsing or OCR on every question
            fresh = files_fingerprint(corpus_dir, **opts) == manifest.files_fingerprint
        else:
            fresh = fingerprint(read_corpus(corpus_dir, **opts).documents) == manifest.corpus_fingerprint
    except CorpusError:
        fresh = False
    if not fresh:
        raise IndexLoadError(
            f"the corpus at {corpus_dir} has changed since the index at {path} was built; "
            f"rebuild it: assistant build --corpus {corpus_dir} --index {path}"
        )


def _checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file in the index folder except the manifest."""
    import hashlib

    out = {}
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.name != "manifest.json":
            out[f.relative_to(folder).as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def _check_writable(corpus_dir: Path, out: Path) -> None:
    """Refuse an --index that would destroy something that is not an index."""
    out_r, corpus_r = out.resolve(), corpus_dir.resolve()
    if out_r == Path.cwd().resolve() or out_r == Path(out_r.anchor):
        raise CorpusError(f"refusing to build into {out}: give the index its own folder, e.g. --index index")
    if out_r == corpus_r or out_r in corpus_r.parents or corpus_r in out_r.parents:
        raise CorpusError(f"refusing to build into {out}: it is, holds or lies inside the corpus folder {corpus_dir}")
    if out_r.exists():
        if not out_r.is_dir():
            raise CorpusError(f"refusing to build into {out}: it is a file")
        if any(out_r.iterdir()) and not (out_r / "manifest.json").exists():
            raise CorpusError(
                f"refusing to build into {out}: the folder holds files and is not an index (no manifest.json); "
                "choose an empty or new folder"
            )


def _swap_into_place(tmp: Path, out: Path) -> None:
    old = out.parent / f".{out.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def _recover_interrupted_swap(out: Path) -> None:
    # Killed between the two renames above: the last good index is in .old.
    old = out.parent / f".{out.name}.old"
    if not out.exists() and (old / "manifest.json").exists():
        os.replace(old, out)


def _write_jsonl(path: Path, rows: Any) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
