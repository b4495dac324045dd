"""Running an evaluation end to end, as ``assistant eval`` does: one query set over one
index, or several collections and models side by side; then the report and its summary.

Owns the order of the steps (check the arguments, load, warn, evaluate, write the
report) and the summary printed after it, as text or as the JSON of ``--json``. The
measures and tables come from :mod:`assistant.evaluation.evaluate` and
:mod:`assistant.evaluation.collections`; nothing here prints (``log`` receives the
warnings and progress lines).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import QueryError
from assistant.index.qdrant import Place
from assistant.search.request import MODES, check_mode

if TYPE_CHECKING:
    from assistant.encoders.embed import Encoder
    from assistant.evaluation.collections import Collection, Run
    from assistant.evaluation.evaluate import ModeReport

Log = Callable[[str], None]


def _quiet(line: str) -> None:
    return None


def parse_modes(given: Sequence[str] | None) -> tuple[str, ...]:
    """The modes to compare from ``--mode`` values (comma-separated or repeated; None: all).

    Raises:
        QueryError: no mode, or one that does not exist.
    """
    modes = tuple(m.strip() for m in ",".join(given or [",".join(MODES)]).split(",") if m.strip())
    if not modes:
        raise QueryError("--mode names no mode; choose one of " + ", ".join(MODES))
    for m in modes:
        check_mode(m)
    return modes


def parse_models(given: str | None) -> tuple[str, ...]:
    """The models named by ``--model`` (comma-separated, each once, in order)."""
    return tuple(dict.fromkeys(m.strip() for m in (given or "").split(",") if m.strip()))


def report_folder(report_dir: str | Path, name: str | None) -> Path:
    """Where a report goes: ``report_dir/name``, the date and time when unnamed."""
    return Path(report_dir) / (name or time.strftime("%Y%m%d-%H%M%S"))


# ---------------------------------------------------------------- one index


@dataclass(frozen=True)
class IndexEvaluation:
    """One query set evaluated over one index, every mode; its report written."""

    queries_path: str
    queries: int
    reports: tuple[ModeReport, ...]
    qrels: str | Path | None  # the graded judgments used, if any
    report: Path  # the report's folder

    def to_json(self) -> dict:
        return {"report": str(self.report), "modes": {r.mode: r.metrics for r in self.reports}}

    def summary(self) -> str:
        """The text ``assistant eval`` prints: the table, the worst questions, the report's place."""
        from assistant.evaluation.evaluate import shown_table, summary_table, worst_first

        out = [f"{self.queries} queries ({self.reports[0].metrics['answerable']} answerable) from {self.queries_path}\n",
               summary_table(list(self.reports))]
        if self.qrels is not None:
            out += [f"\nWhat the answers show at k = 5, judged by {self.qrels}:\n", shown_table(list(self.reports))]
        first = self.reports[0]
        misses = [r for r in worst_first(first) if r.answerable and (r.first_relevant_rank or 99) > 5]
        if misses:
            out.append(f"\nWorst questions in {first.mode} mode (gold passage not in the top 5):")
            for r in misses[:8]:
                got = "not in top 10" if r.first_relevant_rank is None else f"rank {r.first_relevant_rank}"
                out.append(f"  {r.qid} ({got}): {r.query[:90]}")
        out.append(f"\nreport: {self.report}/report.md (and report.json, recall.png)")
        return "\n".join(out)


def evaluate_index(
    index_dir: str | Path,
    *,
    queries: str,
    modes: tuple[str, ...],
    report_dir: str | Path,
    name: str | None = None,
    qrels: str | None = None,
    registry: str | Path = "eval/collections.json",
    model: str | None = None,
    encoder: Encoder | None = None,
    threads: int | None = None,
    reranker: str | None = None,
    onnx_dir: Path | None = None,
    log: Log = _quiet,
) -> IndexEvaluation:
    """Evaluate ``modes`` on a query set over an index and write the report.

    Args:
        queries: the JSON-lines query set with gold quotes.
        report_dir, name: the report goes into ``report_dir/name`` (default name: the date and time).
        qrels: graded judgments (default: the registry's for this query set, if any).
        model, encoder, threads, reranker, onnx_dir: as for ``Assistant.open``.
        log: receives the index's notes and a warning per unreachable question.

    Raises:
        IndexLoadError: no usable index, or one built with another ``model``.
        QueryError: the query set is unusable (checked before the model loads).
    """
    from assistant.evaluation.evaluate import evaluate, load_grades, load_queries, unreachable, write_report
    from assistant.index.folder import load_index
    from assistant.pipeline.service import Assistant

    index = load_index(index_dir)
    asked = load_queries(queries, index.documents)  # bad query sets fail before the model loads
    assistant = Assistant.open(index_dir, model=model, encoder=encoder, threads=threads, reranker=reranker,
                               index=index, onnx_dir=onnx_dir)
    for note in assistant.index.notes:
        log(f"note: {note}")
    for qid in unreachable(asked, assistant.index):
        log(f"warning: {qid}: its gold quotes lie in no indexed passage; it counts as not found")
    qrels = qrels or registered_qrels(registry, queries)
    grades = load_grades(qrels) if qrels else None
    reports = evaluate(assistant, asked, modes=modes, grades=grades)
    out = report_folder(report_dir, name)
    write_report(reports, out, queries_path=queries, index=assistant.index, grades=grades)
    return IndexEvaluation(queries, len(asked), tuple(reports), qrels, out)


def registered_qrels(registry: str | Path, queries: str | Path) -> Path | None:
    """The graded judgments the collections registry names for this query set, if any."""
    from assistant.evaluation.collections import load_registry

    try:
        known = load_registry(registry)
    except Exception:  # no registry here: evaluating without judgments is fine
        return None
    target = Path(queries).resolve()
    return next((c.qrels for c in known if c.queries.resolve() == target and c.qrels and c.qrels.is_file()), None)


# ---------------------------------------------------------------- collections side by side


@dataclass(frozen=True)
class CollectionsEvaluation:
    """Every model on every collection; the reports written."""

    runs: tuple[Run, ...]
    collections: tuple[Collection, ...]
    report: Path

    def to_json(self) -> dict:
        from assistant.evaluation.collections import to_json

        return {"report": str(self.report), **to_json(list(self.runs))}

    def summary(self) -> str:
        """The text ``assistant eval --collections`` prints: the tables side by side, the cost."""
        from assistant.evaluation.collections import collection_table, cost_table, mean_table, side_by_side

        runs = list(self.runs)
        out = ["recall@5 / MRR@10\n", side_by_side(runs)]
        for c in self.collections:
            out += [f"\n{c.name} ({c.queries})\n", collection_table(runs, c.name)]
        if len(self.collections) > 1:
            out += ["\nmean over collections\n", mean_table(runs)]
        out += ["\ncost (build passages/s, query p50 of the first mode) and quality\n", cost_table(runs)]
        out.append(f"\nreport: {self.report}/report.md (and report.json; one folder per collection and model)")
        return "\n".join(out)


def choose_collections(
    *, names: str | None, registry: str | Path, queries: str, corpus: str | None = None,
    index_dir: str | Path | None = None, qrels: str | None = None, reranker: str | None = None,
) -> list[Collection]:
    """The collections to evaluate: those ``names`` selects from the registry, else the
    query set given over ``corpus`` (default: the corpus the index was built from).

    Raises:
        QueryError: a reranker was asked for (it works with one index), or a name is unknown.
        IndexLoadError: no corpus given and no usable index to take it from.
    """
    from assistant.evaluation.collections import Collection, load_registry, select

    if reranker:
        raise QueryError("--reranker works with one query set and index, not with --collections or several models")
    if names:
        return select(load_registry(registry), names)
    if corpus:
        folder = Path(corpus)
    else:
        from assistant.index.folder import load_index

        folder = Path(load_index(index_dir).manifest.corpus_dir)
    qrels = qrels or registered_qrels(registry, queries)
    return [Collection(Path(queries).stem, folder, Path(queries), qrels=Path(qrels) if qrels else None)]


def evaluate_collections(
    collections: Sequence[Collection],
    *,
    models: tuple[str, ...],
    modes: tuple[str, ...],
    cache: Path,
    report_dir: str | Path,
    name: str | None = None,
    threads: int | None = None,
    build_threads: int | None = None,
    onnx_dir: Path | None = None,
    encoder: Encoder | None = None,
    progress: bool = False,
    log: Log = _quiet,
    qdrant: Place | None = None,
) -> CollectionsEvaluation:
    """Evaluate every model on every collection (an index per pair, built into ``cache``
    when missing) and write the reports into ``report_dir/name`` (default name: the date and time).

    Args:
        encoder: build and answer with this for every model name (tests pass a tiny one).
        qdrant: build the indexes on this Qdrant server or local folder (a collection per
            collection, aliased by its name); None: embedded.
        log: receives a line of progress or warning.
    """
    from assistant.evaluation.collections import run_collections, write_reports

    runs = run_collections(
        list(collections), models=models, modes=modes, cache=cache, threads=threads, build_threads=build_threads,
        onnx_dir=onnx_dir, progress=progress, log=log, encoder_for=(lambda m: encoder) if encoder else None,
        qdrant=qdrant,
    )
    out = write_reports(runs, report_folder(report_dir, name), collections=list(collections))
    return CollectionsEvaluation(tuple(runs), tuple(collections), out)
