"""The assistant as one object: an index, its encoder, and ``ask`` / ``ask_many``.

Owns wiring the stages together for the CLI, the web chat and the evaluation,
so that each loads the model and the index once and answers many questions;
and what they read of an open index (its documents, a passage by id and its
neighbours), so that none of them reaches into the search columns.

Also owns keeping a long-running assistant current (``serve``, a Python program):
before answering, at most every ``RECHECK_SECONDS``, it looks whether a writer
swapped a new version of the index into place (one ``stat`` of its manifest) and
whether its source files changed (sizes and times; a hash only when they differ).
A new version is loaded whole and then answers, in one assignment: a question
already being answered finishes on the version it began with. A version that
cannot be loaded is logged once and the loaded one goes on answering. The
documents whose files changed or went missing are withheld from answers, which
say so (:func:`assistant.index.sources.stale_notes`). The encoder is never reloaded.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shlex
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from assistant.answer.abstain import abstain_reason
from assistant.answer.model import Answer, make_answer
from assistant.answer.provenance import stamp
from assistant.encoders.embed import Encoder
from assistant.encoders.models import canonical_name
from assistant.errors import AssistantError, IndexLoadError, QueryError
from assistant.index import sources
from assistant.index.folder import MANIFEST_HASH, Index, load_index
from assistant.ingest.corpus import Document, Passage
from assistant.search.evidence import is_evidence, is_offered
from assistant.search.request import Filter, Query, check_k, check_mode, clean_query
from assistant.search.searcher import EncodedQuestion, Retrieval, Searcher

BATCH_ENCODE = 32  # ask_many: questions per encoder call
RECHECK_SECONDS = 2.0  # how often, at most, an assistant looks for a new index version and changed files

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Question:
    """A question for :meth:`Assistant.ask_many` with the id its answer echoes."""

    text: str
    qid: str | int | None = None


@dataclass(frozen=True)
class Version:
    """One loaded version of the index and what answers from it: a searcher that
    withholds the documents whose files changed or went missing, and the notes
    every answer carries about them."""

    index: Index
    searcher: Searcher
    notes: tuple[str, ...] = ()  # about withheld documents and files not indexed yet
    manifest: tuple[int, int, int] | None = None  # (inode, mtime, size) of the manifest it was loaded from
    checker: sources.Checker | None = field(default=None, compare=False)

    @classmethod
    def of(cls, index: Index, searcher: Searcher, *, manifest: tuple[int, int, int] | None) -> Version:
        checker = sources.Checker(index.files) if index.files is not None and index.freshness is not None else None
        return cls(index, searcher, manifest=manifest, checker=checker).judged(index.freshness)

    def judged(self, fresh: sources.Freshness | None) -> Version:
        """This version withholding what ``fresh`` (the corpus as checked now) says changed."""
        if fresh is None or self.index.files is None:
            return self
        withheld = frozenset(sources.withheld(self.index.files, fresh))
        notes = sources.stale_notes(self.index.files, fresh, index_dir=self.index.path)
        if withheld == self.searcher.withheld and notes == self.notes:
            return self
        return Version(self.index, self.searcher.withholding(withheld), notes, self.manifest, self.checker)

    def passages_of(self, doc_id: str) -> tuple[Passage, ...]:
        """A document's passages in document order (none for an unknown id)."""
        code = self._doc_codes.get(doc_id)
        if code is None:
            return ()
        rows = np.flatnonzero(self.searcher.columns.doc_code == code)
        return tuple(self.index.passages[int(r)] for r in rows)  # stored in document order

    @cached_property
    def _doc_codes(self) -> dict[str, int]:
        return {d: i for i, d in enumerate(self.searcher.columns.doc_ids)}


class Assistant:
    """An open index and the encoder that answers questions over it.

    Make one with :meth:`open`; it answers any number of questions, from any
    number of threads at once, and keeps to the current version of its index
    folder (see the module's docstring).
    """

    def __init__(self, index: Index, encoder: Encoder, searcher: Searcher, *,
                 recheck_seconds: float = RECHECK_SECONDS) -> None:
        """Args:
            index, encoder, searcher: the loaded index, the question encoder, a searcher of both.
            recheck_seconds: how often, at most, to look for a new version and changed files
                (0: before every question).
        """
        self.encoder = encoder
        self.recheck_seconds = recheck_seconds
        self._version = Version.of(index, searcher, manifest=_manifest_stat(index.path))
        self._checked = time.monotonic()
        self._checking = threading.Lock()  # one thread checks; the others answer from the version they have
        self._failed: tuple[int, int, int] | None = None  # a manifest that would not load (logged once)

    @property
    def index(self) -> Index:
        return self._version.index

    @property
    def searcher(self) -> Searcher:
        return self._version.searcher

    @property
    def version(self) -> Version:
        """The version that answers now, after a due check: a new version swapped into
        place is loaded here (one question waits for it); the source files are checked
        in a thread (a folder of 10,000 files takes a tenth of a second), whose finding
        answers the questions after it."""
        if time.monotonic() - self._checked < self.recheck_seconds or not self._checking.acquire(blocking=False):
            return self._version
        self._checked = time.monotonic()
        try:
            if self._reload() or self._version.checker is None:
                self._checking.release()
                return self._version
        except BaseException:
            self._checking.release()
            raise
        threading.Thread(target=self._recheck_files, daemon=True, name="index-files-check").start()
        return self._version

    def refresh(self) -> bool:
        """Look now for a new version of the index and for changed source files, and
        answer from what is found. Returns whether anything changed."""
        with self._checking:
            self._checked = time.monotonic()
            was = self._version
            if not self._reload() and was.checker is not None:
                self._version = was.judged(was.checker.check())
            return self._version is not was

    def _recheck_files(self) -> None:
        """Withhold what the source files say now (run holding ``_checking``; releases it)."""
        try:
            was = self._version
            fresh = was.checker.check()
            self._version = was.judged(fresh)
        except Exception:  # never let a check stop the answers
            log.exception("checking the source files of the index at %s failed", self._version.index.path)
        finally:
            self._checking.release()

    def _reload(self) -> bool:
        """Load the index folder's new version, if a writer swapped one into place (holding ``_checking``)."""
        was = self._version
        seen = _manifest_stat(was.index.path)
        if seen == was.manifest or seen == self._failed:
            return False
        loaded = self._load(seen)
        if loaded is None:
            return False
        self._version = loaded
        return True

    def _load(self, seen: tuple[int, int, int] | None) -> Version | None:
        """The version now in the index folder; None when it is the one loaded (its
        manifest was rewritten with the same fields) or cannot be loaded (logged once)."""
        was = self._version
        path = was.index.path
        if seen is not None and _manifest_hash(path) == was.index.identity:
            self._version = Version(was.index, was.searcher, was.notes, seen, was.checker)
            return None
        try:
            index = load_index(path)
            if index.manifest.model != was.index.manifest.model:
                raise IndexLoadError(f"it was built with {index.manifest.model}, not {was.index.manifest.model}; "
                                     "restart to answer with that model")
            searcher = Searcher(index, self.encoder, reranker=was.searcher.reranker)
        except (AssistantError, OSError) as e:
            self._failed = seen
            log.warning("the index at %s changed but its new version cannot be loaded (%s); "
                        "answering from the version loaded before", path, e)
            return None
        self._failed = None
        log.info("the index at %s changed: answering from its new version (%d documents)", path, len(index.documents))
        return Version.of(index, searcher, manifest=seen)

    @classmethod
    def open(
        cls, index_dir: str | Path, *, model: str | None = None, encoder: Encoder | None = None,
        threads: int | None = None, reranker: str | None = None, index: Index | None = None,
        onnx_dir: Path | None = None, recheck_seconds: float = RECHECK_SECONDS,
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
            recheck_seconds: how often, at most, to look for a new version of the index
                and for changed source files (0: before every question).

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
        return cls(index, encoder, Searcher(index, encoder, reranker=rr), recheck_seconds=recheck_seconds)

    def reopen(self) -> Assistant:
        """The same assistant (encoder, reranker) over the current version of its index folder.

        Raises:
            IndexLoadError: the folder no longer holds a usable index.
        """
        index = load_index(self.index.path)
        return type(self)(index, self.encoder, Searcher(index, self.encoder, reranker=self.searcher.reranker),
                          recheck_seconds=self.recheck_seconds)

    # ------------------------------------------------------------ questions

    def retrieve(
        self, question: str | Query, *, k: int = 5, mode: str = "hybrid", where: Filter = Filter(),
        encoded: EncodedQuestion | None = None,
    ) -> Retrieval:
        return self.version.searcher.search(question, k=k, mode=mode, where=where, encoded=encoded)

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
                are quotes; those of the rest of the k that reach the refusal floor are the
                answer's ``related`` passages (``assistant.search.evidence.is_offered``).
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
        version = self.version  # the whole answer from one version, whatever a reload does meanwhile
        index = version.index
        retrieval = version.searcher.search(query, k=k, mode=mode, where=where, encoded=encoded)
        reason = abstain_reason(retrieval, index.vocabulary)
        notes = ((f"Not answered: {reason}.",) if reason and retrieval.hits else ()) + version.notes
        answer = make_answer(
            retrieval, index.documents, abstained=bool(reason), asked=asked.text, qid=qid, extra_notes=notes,
            where=where, evidence=None if reason else is_evidence(retrieval), offered=is_offered(retrieval),
        )
        return stamp(answer, index)  # provenance: the index that answered, and when

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
        self.version.searcher.check(where)

    # ------------------------------------------------------------ the collection

    @property
    def documents(self) -> Mapping[str, Document]:
        """doc id -> Document, every document of the index."""
        return self.index.documents

    def passages_of(self, doc_id: str) -> tuple[Passage, ...]:
        """A document's passages in document order (none for an unknown id)."""
        return self._version.passages_of(doc_id)

    @staticmethod
    def document_of(passage_id: str) -> str:
        """The id of the document a passage id belongs to (ids are ``DOC#pN`` or ``DOC#pN.PART``)."""
        return passage_id.rpartition("#")[0]


def _manifest_stat(path: Path) -> tuple[int, int, int] | None:
    """What changes when a writer swaps a new version into place: the manifest's
    inode, time and size (one ``stat``); None when there is none."""
    try:
        st = os.stat(Path(path) / "manifest.json")
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _manifest_hash(path: Path) -> str | None:
    """The identity a build recorded in the index's manifest (None when it cannot be read)."""
    try:
        raw = json.loads((Path(path) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return raw.get(MANIFEST_HASH) if isinstance(raw, dict) else None


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
