"""The parts of an index, computed in memory before they are written.

Owns the arrow ``documents + encodings -> IndexParts``, in two steps:

* :func:`layout_of`: what needs no encoder output: the documents in index order,
  their passages and sentences, and the texts the encoder is given (``Layout``);
* :func:`compute_parts`: from the encodings of those texts, every array and
  sub-index an index folder holds (``IndexParts``).

:mod:`assistant.index.writer` writes the parts; calibration searches them as the
in-memory :class:`~assistant.index.folder.Index` that :meth:`IndexParts.index` makes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from assistant.encoders.embed import Encoder, Tokens
from assistant.errors import CorpusError
from assistant.index.columns import Columns
from assistant.index.backends import DenseBackend, KeywordBackend
from assistant.index.dense import choose_kind
from assistant.index.factory import build_dense
from assistant.index.folder import AUTO, PASSAGE_TOKENS, Index, Manifest, Sentences
from assistant.index.keyword import KeywordIndex
from assistant.index import qdrant_contents
from assistant.index.qdrant import Place, build_collection
from assistant.index.sources import CORPUS, SourceFiles
from assistant.index.texts import (
    embedding_text, item_leads, keyword_text, passage_sentences, token_sentences, vocabulary_of,
)
from assistant.index.tokens import TokenVectors
from assistant.ingest.corpus import Document, Passage, passages_of


@dataclass(frozen=True)
class Layout:
    """Everything of a new index that needs no encoder: documents in order, their
    passages, and the texts to encode (each passage's and each sentence's)."""

    docs: tuple[Document, ...]
    passages: tuple[Passage, ...]
    texts: tuple[str, ...]
    sent_rows: tuple[int, ...]
    sent_spans: tuple[tuple[int, int], ...]
    sent_texts: tuple[str, ...]

    @property
    def by_id(self) -> dict[str, Document]:
        return {d.doc_id: d for d in self.docs}


@dataclass(frozen=True)
class IndexParts:
    """Every part of an index folder but its manifest, in memory (the token vectors,
    and a benchmark's sentence vectors, may be memory maps of their files)."""

    documents: tuple[Document, ...]  # in index order
    passages: tuple[Passage, ...]
    vectors: np.ndarray  # (n, d) float32 unit passage embeddings, as the dense index holds them
    dense: DenseBackend
    keyword: KeywordBackend
    sentences: Sentences  # int8 vectors with their scale, as stored
    tokens: TokenVectors  # int8, as stored
    columns: Columns
    vocabulary: frozenset[str]
    files: SourceFiles  # the source files' records (files.json)

    @property
    def by_id(self) -> dict[str, Document]:
        return {d.doc_id: d for d in self.documents}

    def index(self, path: Path, manifest: Manifest) -> Index:
        """The index these parts make once written at ``path`` with ``manifest``, in memory."""
        return Index(
            path, manifest, self.by_id, self.passages, np.asarray(self.vectors, dtype=np.float32),
            self.dense, self.keyword, self.sentences, self.tokens, self.vocabulary, (), self.columns,
        )


def layout_of(docs: list[Document], *, files: SourceFiles, encoder: Encoder) -> Layout:
    """Order ``docs``, split them into passages and sentences, and say what the encoder is given.

    Raises:
        CorpusError: two documents share an id, or there is no passage of text.
    """
    origin = {f.doc_id: f.origin for f in files.files if f.doc_id}
    # Corpus files in path order, then files added from elsewhere in path order:
    # the same order however the index came to hold them.
    docs = sorted(docs, key=lambda d: (0 if origin.get(d.doc_id, CORPUS) == CORPUS else 1, Path(d.path)))
    ids = [d.doc_id for d in docs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise CorpusError(f"two files share the document id {dupes[0]!r}; rename one")
    by_id = {d.doc_id: d for d in docs}
    max_tokens = min(PASSAGE_TOKENS, encoder.max_tokens)
    passages: list[Passage] = []
    for doc in docs:
        passages.extend(passages_of(doc, max_tokens=max_tokens, count_tokens=encoder.count_tokens))
    if not passages:
        raise CorpusError(f"the documents in {files.corpus_dir} contain no passages of text")
    sent_rows: list[int] = []
    sent_spans: list[tuple[int, int]] = []
    for row, p in enumerate(passages):
        for span in passage_sentences(p, by_id[p.doc_id]):
            sent_rows.append(row)
            sent_spans.append(span)
    # A sentence is embedded with its document's title, so "the 1997 statement" can find it.
    sent_texts = [
        f"{by_id[passages[r].doc_id].title}. " + " ".join(by_id[passages[r].doc_id].text[a:b].split())
        for r, (a, b) in zip(sent_rows, sent_spans)
    ]
    texts = [embedding_text(p, by_id[p.doc_id]) for p in passages]
    return Layout(tuple(docs), tuple(passages), tuple(texts), tuple(sent_rows), tuple(sent_spans), tuple(sent_texts))


def compute_parts(
    layout: Layout, *, files: SourceFiles, vectors: np.ndarray, sentence_vectors: np.ndarray, token_counts: np.ndarray,
    passage_tokens: Iterable[tuple[int, Tokens]], dimension: int, index_type: str = AUTO,
    tokens_file: Path | None = None, qdrant: Place | None = None, update: dict | None = None,
) -> IndexParts:
    """The parts of the index of ``layout`` from the encodings of its texts.

    Args:
        vectors, sentence_vectors: the unit embeddings of ``layout.texts`` and ``layout.sent_texts``.
        token_counts: each passage's number of tokens.
        passage_tokens: (passage row, its Tokens) once for every passage, in any order;
            quantised as they come, so their float vectors are never all in memory.
        index_type: the dense index kind asked for (``auto``: chosen by the number of passages).
        tokens_file: where to write the int8 token vectors as they come (memory-mapped).
        qdrant: where to write a new Qdrant collection holding the passage vectors, their
            BM25 vectors and fields (``build --backend qdrant``); None: FAISS and bm25s.
        update: instead, the Qdrant collection a manifest names (its ``qdrant``), changed in
            place: points of unchanged passages kept, the others upserted, the gone ones
            deleted once the new manifest is in place (``qdrant_contents.settle``).

    Raises:
        CorpusError: the encoder saw no token in a passage.
    """
    docs, passages, texts = list(layout.docs), list(layout.passages), list(layout.texts)
    sent_rows, sent_spans = list(layout.sent_rows), list(layout.sent_spans)
    by_id = layout.by_id
    empty = [p.passage_id for p, n in zip(passages, token_counts) if n == 0]
    if empty:
        raise CorpusError(f"the encoder sees no tokens in passage {empty[0]}; check that file's encoding")
    by_passage: dict[int, list[tuple[int, tuple[int, int]]]] = {}
    for i, (r, span) in enumerate(zip(sent_rows, sent_spans)):
        by_passage.setdefault(r, []).append((i, span))
    tokens = TokenVectors.stream(
        token_counts, dimension,
        ((row, t, token_sentences(passages[row], texts[row], t, by_passage.get(row, [])))
         for row, t in passage_tokens),
        vectors_file=tokens_file,
    )
    tokens = replace(tokens, counts=tokens.piece_passages())
    sentences = Sentences.of(
        sent_rows, sent_spans, sentence_vectors,
        [by_id[passages[r].doc_id].text[a:b] for r, (a, b) in zip(sent_rows, sent_spans)], len(passages),
    )
    leads = item_leads(passages, by_id)
    keyword_texts = [keyword_text(p, by_id[p.doc_id], lead) for p, lead in zip(passages, leads)]
    dense: DenseBackend
    keyword: KeywordBackend
    if qdrant is not None:
        payloads = [asdict(p) | {"title": by_id[p.doc_id].title, "source": by_id[p.doc_id].source,
                                 "organization": by_id[p.doc_id].organization} for p in passages]
        keys = qdrant_contents.passage_keys(payloads, texts, keyword_texts)
        if update is not None:  # the collection in place: only what changed is written
            dense, keyword = qdrant_contents.update_collection(
                update, vectors=vectors, texts=keyword_texts, payloads=payloads, keys=keys, tokens=tokens,
                sentences=sentences, documents=docs)
        else:
            dense, keyword = build_collection(qdrant, vectors=vectors, texts=keyword_texts, payloads=payloads)
            dense.store.keys = keys
    else:
        dense = build_dense(vectors, kind=choose_kind(len(passages)) if index_type == AUTO else index_type)
        keyword = KeywordIndex.build(keyword_texts)
    columns = Columns.of(by_id, passages)
    return IndexParts(
        layout.docs, layout.passages, vectors, dense, keyword, sentences, tokens, columns, vocabulary_of(docs), files,
    )
