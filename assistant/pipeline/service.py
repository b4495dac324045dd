"""The assistant as one object: an index, its encoder, and ``ask`` / ``ask_many``.

Owns wiring the stages together for the CLI, the web chat and the evaluation,
so that each loads the model and the index once and answers many questions;
and what they read of an open index (its documents, a passage by id and its
neighbours), so that none of them reaches into the search columns.
"""

from __future__ import annotations

import itertools
import json
import shlex
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from assistant.answer.abstain import abstain_reason
from assistant.answer.model import Answer, make_answer
from assistant.answer.provenance import stamp
from assistant.encoders.embed import Encoder
from assistant.encoders.models import canonical_name
from assistant.errors import IndexLoadError, QueryError
from assistant.index.folder import Index, load_index
from assistant.ingest.corpus import Document, Passage
from assistant.search.evidence import is_evidence
from assistant.search.request import Filter, Query, check_k, check_mode, clean_query
from assistant.search.searcher import EncodedQuestion, Retrieval, Searcher

BATCH_ENCODE = 32  # ask_many: questions per encoder call


@dataclass(frozen=True)
class Question:
    """A question for :meth:`Assistant.ask_many` with the id its answer echoes."""

    text: str
    qid: str | int | None = None


@dataclass
class Assistant:
    """An open index and the encoder that answers questions over it.

    Make one with :meth:`open`; it answers any number of questions, from any
    number of threads at once.
    """

    index: Index
    encoder: Encoder
    searcher: Searcher

    @classmethod
    def open(
        cls, index_dir: str | Path, *, model: str | None = None, encoder: Encoder | None = None,
        threads: int | None = None, reranker: str | None = None, index: Index | None = None,
        onnx_dir: Path | None = None,
    ) -> Assistant:
        """Load an index and the model it was built with.

        Args:
            index_dir: the folder ``build`` wrote.
            model: the model the caller expects; refused when the index was built with another.
            encoder: answer with this encoder instead of loading the index's model.
            threads: CPU threads for the encoder (None: the library's default).
            reranker: a local sentence-transformers CrossEncoder that re-orders the top 20.
            index: the index already loaded from ``index_dir``.
            onnx_dir: where ONNX exports of models live (``assistant build`` makes them):
                the index's model is answered with its export there when there is one,
                without PyTorch; None answers with PyTorch.

        Raises:
            IndexLoadError: the index is missing, damaged or stale, or ``model``
                differs from the one that built it.
            ModelError: the model cannot be loaded.
        """
        ahead = None
        if index is None and encoder is None:
            ahead = _EncoderAhead(index_dir, threads=threads, onnx_dir=onnx_dir)  # opens while the index loads
        try:
            index = index if index is not None else load_index(index_dir)
        except BaseException:
            if ahead is not None:
                ahead.wait()  # never leave the session half made at exit
            raise
        if model and canonical_name(model) != index.manifest.model and encoder is None:
            rebuild = shlex.join(["assistant", "build", "--corpus", index.manifest.corpus_dir,
                                  "--index", str(index_dir), "--model", model])
            raise IndexLoadError(
                f"the index at {index_dir} was built with {index.manifest.model}, not {model}; "
                f"omit --model, or rebuild: {rebuild}"
            )
        if encoder is None and ahead is not None:
            encoder = ahead.result(index.manifest.model)
        if encoder is None:
            from assistant.encoders.onnx import question_encoder

            encoder = question_encoder(index.manifest.model, threads=threads, onnx_dir=onnx_dir)
        rr = None
        if reranker:
            from assistant.search.rerank import CrossEncoderReranker

            rr = CrossEncoderReranker(reranker)
        return cls(index, encoder, Searcher(index, encoder, reranker=rr))

    def reopen(self) -> Assistant:
        """The same assistant (encoder, reranker) over the current version of its index folder.

        Raises:
            IndexLoadError: the folder no longer holds a usable index.
        """
        index = load_index(self.index.path)
        return type(self)(index, self.encoder, Searcher(index, self.encoder, reranker=self.searcher.reranker))

    # ------------------------------------------------------------ questions

    def retrieve(
        self, question: str | Query, *, k: int = 5, mode: str = "hybrid", where: Filter = Filter(),
        encoded: EncodedQuestion | None = None,
    ) -> Retrieval:
        return self.searcher.search(question, k=k, mode=mode, where=where, encoded=encoded)

    def ask(
        self,
        question: str,
        *,
        k: int = 5,
        mode: str = "hybrid",
        where: Filter = Filter(),
        searched: str | None = None,
        qid: str | int | None = None,
        encoded: EncodedQuestion | None = None,
    ) -> Answer:
        """Answer a question with quotes and citations.

        Args:
            question: what the user asked.
            k: the most quotes shown: the hits that are evidence (``assistant.search.evidence``)
                are quotes, the rest of the k are the answer's ``related`` passages.
            mode: "hybrid", "tokens", "rrf", "dense" or "keyword".
            where: document, organisation and date filter (``assistant.search.request.make_filter``).
            searched: the query to search instead of ``question`` (a follow-up
                rewritten with its conversation's context).
            qid: an id echoed in the answer.
            encoded: the searched text's encoding, made ahead by ``searcher.encode``.

        Raises:
            QueryError: the question is empty, k or mode is invalid, or the filter
                names a document or organisation the index does not have.
        """
        asked = clean_query(question)
        query = clean_query(searched) if searched else asked
        retrieval = self.retrieve(query, k=k, mode=mode, where=where, encoded=encoded)
        reason = abstain_reason(retrieval, self.index.vocabulary)
        notes = (f"Not answered: {reason}.",) if reason and retrieval.hits else ()
        answer = make_answer(
            retrieval, self.index.documents, abstained=bool(reason), asked=asked.text, qid=qid, extra_notes=notes,
            where=where, evidence=None if reason else is_evidence(retrieval),
        )
        return stamp(answer, self.index)  # provenance: the index that answered, and when

    def ask_many(
        self,
        questions: Iterable[str | Question | QueryError],
        *,
        k: int = 5,
        mode: str = "hybrid",
        where: Filter = Filter(),
        batch_size: int = BATCH_ENCODE,
    ) -> Iterator[Answer | QueryError]:
        """Answer many questions, in order, encoding ``batch_size`` of them per model call
        (several times faster than one :meth:`ask` each).

        ``questions`` is read a group at a time, as answers are asked for, so it may be
        endless. A question that cannot be asked (empty, too long) does not stop the
        others: its :class:`QueryError` comes out in its place, and so does an item that
        is a ``QueryError`` already (a question its reader could not read).

        Args:
            questions: the questions; a :class:`Question` also gives its answer's ``qid``.
            k, mode, where: as for :meth:`ask`, the same for every question.
            batch_size: questions per encoder call.

        Raises:
            QueryError: k, mode or the filter is invalid (at once, before any question).
        """
        k, mode = check_k(k), check_mode(mode)
        self.check(where)
        return self._answers(iter(questions), k=k, mode=mode, where=where, batch_size=batch_size)

    def _answers(
        self, questions: Iterator[str | Question | QueryError], *, k: int, mode: str, where: Filter, batch_size: int,
    ) -> Iterator[Answer | QueryError]:
        while group := list(itertools.islice(questions, batch_size)):
            asked = [Question(q) if isinstance(q, str) else q for q in group]
            ahead = self._encode_ahead([q.text for q in asked if isinstance(q, Question)], batch_size=batch_size)
            for q in asked:
                if isinstance(q, QueryError):
                    yield q
                    continue
                try:
                    yield self.ask(q.text, k=k, mode=mode, where=where, qid=q.qid, encoded=ahead.get(q.text))
                except QueryError as e:
                    yield e

    def _encode_ahead(self, questions: list[str], *, batch_size: int) -> dict[str, EncodedQuestion]:
        """Encodings of the questions that clean to something, keyed by the raw question;
        those that do not are left to ``ask``, which reports them."""
        cleaned = {}
        for q in questions:
            try:
                cleaned[q] = clean_query(q).text
            except QueryError:
                continue
        texts = sorted(set(cleaned.values()))
        encoded = dict(zip(texts, self.searcher.encode(texts, batch_size=batch_size))) if texts else {}
        return {q: encoded[t] for q, t in cleaned.items()}

    def check(self, where: Filter) -> None:
        """Refuse a filter that names a document or organisation this index does not have.

        Raises:
            QueryError: naming what is known instead.
        """
        self.searcher.check(where)

    # ------------------------------------------------------------ the collection

    @property
    def documents(self) -> Mapping[str, Document]:
        """doc id -> Document, every document of the index."""
        return self.index.documents

    def passages_of(self, doc_id: str) -> tuple[Passage, ...]:
        """A document's passages in document order (none for an unknown id)."""
        code = self._doc_codes.get(doc_id)
        if code is None:
            return ()
        passages = self.index.passages
        rows = np.flatnonzero(self.searcher.columns.doc_code == code)
        return tuple(passages[int(r)] for r in rows)  # stored in document order

    @cached_property
    def _doc_codes(self) -> dict[str, int]:
        return {d: i for i, d in enumerate(self.searcher.columns.doc_ids)}

    @staticmethod
    def document_of(passage_id: str) -> str:
        """The id of the document a passage id belongs to (ids are ``DOC#pN`` or ``DOC#pN.PART``)."""
        return passage_id.rpartition("#")[0]


class _EncoderAhead:
    """The question encoder of the model an index's manifest names, opened in a thread
    while the index loads (about 0.3 s of a cold ``ask`` is creating the ONNX session).

    Reads nothing but the manifest's ``model`` field; when that cannot be read, nothing
    is opened ahead and the index's load says what is wrong.
    """

    def __init__(self, index_dir: str | Path, *, threads: int | None, onnx_dir: Path | None) -> None:
        self._encoder: Encoder | None = None
        self._error: BaseException | None = None
        try:
            self.model = json.loads((Path(index_dir) / "manifest.json").read_text(encoding="utf-8"))["model"]
        except (OSError, ValueError, KeyError, TypeError):
            self.model = None
            self._thread = None
            return
        self._thread = threading.Thread(target=self._open, args=(threads, onnx_dir), daemon=True, name="encoder-ahead")
        self._thread.start()

    def _open(self, threads: int | None, onnx_dir: Path | None) -> None:
        """Only an existing ONNX export is opened here; any other case (no export, a
        model that needs PyTorch, a name that does not resolve) is left to the caller."""
        try:
            from assistant.encoders.onnx import OnnxEncoder, export_path

            where = export_path(self.model, onnx_dir=onnx_dir) if onnx_dir is not None else None
        except Exception:  # an unresolvable name: the caller's PyTorch loader explains
            return
        try:
            if where is not None and where[0].is_file():
                self._encoder = OnnxEncoder(self.model, export=where[0], folder=where[1], threads=threads)
        except BaseException as e:  # raised in the caller's thread by result()
            self._error = e

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def result(self, model: str) -> Encoder | None:
        """The encoder opened ahead, when it is of ``model``; None when none was."""
        if self._thread is None or model != self.model:
            self.wait()
            return None
        self.wait()
        if isinstance(self._error, ImportError):
            return None  # onnxruntime missing: the caller falls back to PyTorch
        if self._error is not None:
            raise self._error
        return self._encoder
