"""The assistant as one object: an index, its encoder, and ``ask``.

Owns wiring the stages together for the CLI, the web chat and the evaluation,
so that each loads the model and the index once and answers many questions.
"""

from __future__ import annotations

import json
import shlex
import threading
from dataclasses import dataclass
from pathlib import Path

from assistant.answer.model import Answer, make_answer
from assistant.answer.provenance import stamp
from assistant.encoders.embed import Encoder
from assistant.errors import IndexLoadError
from assistant.index.folder import Index, load_index
from assistant.search.request import Filter, Query, clean_query
from assistant.encoders.models import canonical_name
from assistant.search.searcher import EncodedQuestion, Retrieval, Searcher
from assistant.answer.abstain import abstain_reason
from assistant.search.evidence import is_evidence


@dataclass
class Assistant:
    index: Index
    encoder: Encoder
    searcher: Searcher

    @classmethod
    def open(
        cls, index_dir: str | Path, *, model: str | None = None, encoder: Encoder | None = None, threads: int | None = None,
        reranker: str | None = None,
        index: Index | None = None,
        onnx_dir: Path | None = None,
    ) -> Assistant:
        """Load an index and the model it was built with (its ONNX export in
        ``onnx_dir`` when there is one: no PyTorch needed to answer).

        Raises:
            IndexLoadError: the index is missing, damaged or stale, or ``model``
                differs from the one that built it.
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
        enc = encoder
        rr = None
        if reranker:
            from assistant.search.rerank import CrossEncoderReranker

            rr = CrossEncoderReranker(reranker)
        return cls(index, enc, Searcher(index, enc, reranker=rr))

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
        qid: str | None = None,
        encoded: EncodedQuestion | None = None,
    ) -> Answer:
        """Answer a question with quotes and citations.

        Args:
            question: what the user asked.
            k: the most quotes shown: the hits that are evidence (``assistant.search.evidence``)
                are quotes, the rest of the k are the answer's ``related`` passages.
            mode: "hybrid", "tokens", "rrf", "dense" or "keyword".
            where: document, organisation and date filter.
            searched: the query to search instead of ``question`` (a follow-up
                rewritten with its conversation's context).
            qid: an id echoed in the answer.
            encoded: the searched text's encoding, made ahead by ``searcher.encode``.

        Raises:
            QueryError: the question is empty, or k or mode is invalid.
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
