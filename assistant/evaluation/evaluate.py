"""Retrieval evaluation: a query set with verbatim gold quotes, metrics per mode, reports.

Owns reading a query set (gold evidence given as quotes, located once as
character spans in their documents), matching passages to gold evidence by
overlapping spans, computing the metrics with trec_eval (pytrec-eval-terrier), timing queries, judging
abstention, and writing the Markdown / JSON / PNG report.

A query is *found at k* when any of its gold quotes overlaps a passage in the
top k (gold quotes are alternatives); we report that as recall@k.

With graded judgments (``eval/qrels/NAME.qrels``: 2 states the answer, 1 related,
0 unrelated; eval/README.md) it also measures what an answer *shows* at the default
k of 5: the share of shown quotes that are unrelated (grade 0, or never judged), the
share of answerable questions showing a quote that states the answer, the mean number
of quotes shown (a refused answer shows none), and nDCG@10 with graded gains. The
same figures for every hit of the answer, uncut (``*_uncut``), show what the evidence
cut (``assistant.search.evidence``) changes. The related passages an answer offers
apart (not cited) are counted too: how many per question and the share of them that
are unrelated (``related_mean``, ``related_unrelated``).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assistant.ingest.corpus import Document
from assistant.errors import QueryError
from assistant.index.folder import Index

KS = (1, 3, 5, 10)
DEPTH = 10
SHOWN_K = 5  # the k of `assistant ask` and the chat by default: what a user sees


def load_grades(path: str | Path) -> dict[str, dict[str, int]]:
    """Graded judgments in TREC qrels format (``QID 0 PASSAGE_ID GRADE``): qid -> passage id -> grade.

    Raises:
        QueryError: the file is missing or a line is malformed.
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise QueryError(f"cannot read the judgments {p}: {e.strerror or e}") from None
    out: dict[str, dict[str, int]] = {}
    for n, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4 or not parts[3].lstrip("-").isdigit():
            raise QueryError(f"{p}: line {n}: expected 'QID 0 PASSAGE_ID GRADE'")
        out.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    return out


@dataclass(frozen=True)
class Gold:
    doc_id: str
    quote: str
    start: int
    end: int


@dataclass(frozen=True)
class EvalQuery:
    qid: str
    query: str
    gold: tuple[Gold, ...]
    tags: tuple[str, ...]

    @property
    def answerable(self) -> bool:
        return bool(self.gold)


@dataclass(frozen=True)
class QueryResult:
    qid: str
    query: str
    answerable: bool
    first_relevant_rank: int | None  # 1-based, None when not in the top DEPTH
    abstained: bool
    latency_ms: float
    retrieved: tuple[str, ...]  # passage ids, best first
    top_text: str
    expected: str
    tags: tuple[str, ...]
    shown: tuple[str, ...] = ()  # passage ids the answer at SHOWN_K quotes as evidence (none when refused)
    uncut: tuple[str, ...] = ()  # every quote of that answer, related ones included (none when refused)
    reason: str = ""  # why it was refused
    related: tuple[str, ...] = ()  # passage ids offered apart as related context (not cited)


def unreachable(queries: list[EvalQuery], index: Index) -> list[str]:
    """Ids of answerable queries whose gold quotes lie in no passage (e.g. in boilerplate)."""
    return [q.qid for q in queries if q.answerable and not relevant_passages(q, index)]


@dataclass(frozen=True)
class ModeReport:
    mode: str
    metrics: dict[str, float]
    results: tuple[QueryResult, ...] = field(repr=False)


def load_queries(path: str | Path, documents: dict[str, Document]) -> list[EvalQuery]:
    """Read a JSON-lines query set and locate every gold quote in its document.

    Raises:
        QueryError: naming the line of any malformed entry, unknown document or
            quote that is not in its document.
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise QueryError(f"query set not found: {p}") from None
    except UnicodeDecodeError as e:
        raise QueryError(f"{p} is not UTF-8 text ({e})") from None
    except OSError as e:
        raise QueryError(f"cannot read the query set {p}: {e.strerror or e}") from None
    by_name = _document_names(documents)
    out: list[EvalQuery] = []
    seen: set[str] = set()
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{p}: line {n}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise QueryError(f"{where}: not valid JSON ({e.msg})") from None
        if not isinstance(item, dict):
            raise QueryError(f"{where}: expected a JSON object")
        for key, kind in (("id", str), ("query", str), ("relevant", list)):
            if not isinstance(item.get(key), kind):
                raise QueryError(f"{where}: missing or invalid field {key!r} (a {kind.__name__})")
        if item["id"] in seen:
            raise QueryError(f"{where}: duplicate id {item['id']!r}")
        seen.add(item["id"])
        if not item["query"].strip():
            raise QueryError(f"{where}: empty query")
        gold: list[Gold] = []
        for g in item["relevant"]:
            if not isinstance(g, dict) or not isinstance(g.get("doc"), str) or not isinstance(g.get("quote"), str):
                raise QueryError(f"{where}: each relevant item needs \"doc\" and \"quote\" strings")
            doc = by_name.get(g["doc"])
            if doc is None:
                raise QueryError(f"{where}: unknown document {g['doc']!r} (not in the index)")
            if not g["quote"].strip():
                raise QueryError(f"{where}: empty quote")
            start = doc.text.find(g["quote"])
            if start < 0:
                raise QueryError(f"{where}: the quote is not in {doc.doc_id}: {g['quote'][:80]!r}")
            gold.append(Gold(doc.doc_id, g["quote"], start, start + len(g["quote"])))
        tags = item.get("tags", [])
        out.append(EvalQuery(item["id"], item["query"], tuple(gold), tuple(str(t) for t in tags)))
    if not out:
        raise QueryError(f"{p} holds no queries")
    return out


def relevant_passages(query: EvalQuery, index: Index) -> set[str]:
    """Passage ids whose span overlaps a gold quote's span in the same document.

    A quote inside a heading line counts for the passages under that heading
    (the ones that follow it and carry it as their section), since each of them
    is shown with it.
    """
    out: set[str] = set()
    for g in query.gold:
        in_doc = [p for p in index.passages if p.doc_id == g.doc_id]
        out.update(p.passage_id for p in in_doc if p.start < g.end and g.start < p.end)
        after = [p for p in in_doc if p.start >= g.end]
        for p in after:
            if g.quote not in p.section:
                break
            out.add(p.passage_id)
    return out


def evaluate(
    assistant, queries: list[EvalQuery], *, modes: tuple[str, ...], grades: dict[str, dict[str, int]] | None = None,
) -> list[ModeReport]:
    """Run every query in every mode and compute the metrics.

    Args:
        assistant: an ``assistant.pipeline.service.Assistant``.
        queries: from :func:`load_queries`.
        modes: retrieval modes to compare.
        grades: graded judgments (:func:`load_grades`), for the measures of what is shown.
    """
    from assistant.answer.abstain import should_abstain

    index: Index = assistant.index
    qrels = {q.qid: relevant_passages(q, index) for q in queries}
    assistant.retrieve("warm up", k=1, mode=modes[0])
    results: dict[str, list[QueryResult]] = {m: [] for m in modes}
    runs: dict[str, dict[str, dict[str, float]]] = {m: {} for m in modes}
    # Each question is asked in every mode before the next question, so that the
    # machine's load drifts alike for all modes and latencies compare fairly.
    for q in queries:
        for mode in modes:
            t0 = time.perf_counter()
            r = assistant.retrieve(q.query, k=DEPTH, mode=mode)
            abstained = should_abstain(r, index.vocabulary)
            ms = (time.perf_counter() - t0) * 1000
            ids = tuple(h.passage.passage_id for h in r.hits)
            # trec_eval ranks by score: give strictly decreasing scores in our rank order.
            runs[mode][q.qid] = {pid: float(DEPTH - i) for i, pid in enumerate(ids)}
            rank = next((i for i, pid in enumerate(ids, start=1) if pid in qrels[q.qid]), None)
            answer = assistant.ask(q.query, k=SHOWN_K, mode=mode)
            shown = () if answer.abstained else tuple(x.citation.passage_id for x in answer.quotes)
            related = () if answer.abstained else tuple(x.citation.passage_id for x in answer.related)
            uncut = () if answer.abstained else shown + related + answer.below_floor
            results[mode].append(
                QueryResult(
                    q.qid, q.query, q.answerable, rank, abstained, round(ms, 2), ids,
                    " ".join(r.hits[0].passage.text.split())[:300] if r.hits else "",
                    q.gold[0].quote if q.gold else "", q.tags, shown, uncut,
                    next((n.removeprefix("Not answered: ").rstrip(".") for n in answer.notes if n.startswith("Not answered")), ""),
                    related,
                )
            )
    reports = []
    for mode in modes:
        metrics = _metrics(queries, qrels, runs[mode], results[mode])
        if grades is not None:
            metrics |= shown_metrics(results[mode], grades, runs[mode])
        if "dense" in modes:
            # median over questions of this mode's time / dense's time for the same question
            ratios = [a.latency_ms / b.latency_ms for a, b in zip(results[mode], results["dense"]) if b.latency_ms > 0]
            metrics["latency_vs_dense"] = float(np.median(ratios)) if ratios else float("nan")
        reports.append(ModeReport(mode, metrics, tuple(results[mode])))
    return reports


def _metrics(queries, qrels, run, results: list[QueryResult]) -> dict[str, float]:
    import pytrec_eval  # trec_eval's own C code: the reference implementation

    answerable = [q.qid for q in queries if q.answerable]
    metrics: dict[str, float] = {}
    if answerable:
        evaluator = pytrec_eval.RelevanceEvaluator(
            {qid: {pid: 1 for pid in qrels[qid]} or {"(none)": 0} for qid in answerable},
            {"success.1,3,5,10", "recip_rank", "ndcg_cut.10"},
        )
        per_query = evaluator.evaluate({qid: run[qid] or {"(nothing)": 0.0} for qid in answerable})
        for k in KS:
            metrics[f"recall@{k}"] = _mean(per_query, f"success_{k}")
        # The run holds the top 10 only, so reciprocal rank is MRR@10.
        metrics["mrr@10"] = _mean(per_query, "recip_rank")
        metrics["ndcg@10"] = _mean(per_query, "ndcg_cut_10")
        for k in range(1, DEPTH + 1):
            found = [r for r in results if r.answerable and r.first_relevant_rank and r.first_relevant_rank <= k]
            metrics[f"curve@{k}"] = round(len(found) / len(answerable), 4)
    unanswerable = [r for r in results if not r.answerable]
    answer_res = [r for r in results if r.answerable]
    metrics["refused_unanswerable"] = round(sum(r.abstained for r in unanswerable) / len(unanswerable), 4) if unanswerable else float("nan")
    metrics["refused_answerable"] = round(sum(r.abstained for r in answer_res) / len(answer_res), 4) if answer_res else float("nan")
    lat = np.array([r.latency_ms for r in results])
    metrics["latency_p50_ms"] = round(float(np.percentile(lat, 50)), 2)
    metrics["latency_p95_ms"] = round(float(np.percentile(lat, 95)), 2)
    metrics["queries"] = len(results)
    metrics["answerable"] = len(answer_res)
    return metrics


def shown_metrics(
    results: list[QueryResult], grades: dict[str, dict[str, int]], run: dict[str, dict[str, float]],
) -> dict[str, float]:
    """What the answers show, judged by graded judgments (see the module docstring)."""
    import pytrec_eval

    def grade(qid: str, pid: str) -> int:
        return grades.get(qid, {}).get(pid, 0)  # never judged: outside every mode's top 10

    out: dict[str, float] = {}
    answerable = [r for r in results if r.answerable]
    for suffix, of in (("", lambda r: r.shown), ("_uncut", lambda r: r.uncut)):
        quotes = [(r.qid, pid) for r in results for pid in of(r)]
        out[f"shown_unrelated{suffix}"] = round(sum(grade(*x) == 0 for x in quotes) / len(quotes), 4) if quotes else 0.0
        out[f"shows_answer{suffix}"] = (
            round(sum(any(grade(r.qid, pid) == 2 for pid in of(r)) for r in answerable) / len(answerable), 4)
            if answerable else float("nan")
        )
        out[f"shown_mean{suffix}"] = round(len(quotes) / len(results), 3) if results else 0.0
    offered = [(r.qid, pid) for r in results for pid in r.related]
    out["related_mean"] = round(len(offered) / len(results), 3) if results else 0.0
    out["related_unrelated"] = round(sum(grade(*x) == 0 for x in offered) / len(offered), 4) if offered else float("nan")
    with_answer = [r for r in answerable if any(grade(r.qid, pid) == 2 for pid in r.uncut)]
    out["answer_kept"] = (
        round(sum(any(grade(r.qid, pid) == 2 for pid in r.shown) for r in with_answer) / len(with_answer), 4)
        if with_answer else float("nan")
    )
    out["unjudged_shown"] = sum(r.qid not in grades or pid not in grades[r.qid] for r in results for pid in r.uncut)
    judged = {r.qid: grades[r.qid] for r in answerable if any(g > 0 for g in grades.get(r.qid, {}).values())}
    if judged:
        evaluator = pytrec_eval.RelevanceEvaluator(judged, {"ndcg_cut.10"})
        per_query = evaluator.evaluate({qid: run.get(qid) or {"(nothing)": 0.0} for qid in judged})
        out["ndcg_graded@10"] = _mean(per_query, "ndcg_cut_10")
    return out


def unrelated_shown(result: QueryResult, grades: dict[str, dict[str, int]]) -> int:
    """How many quotes this answer shows that are unrelated (grade 0 or never judged)."""
    return sum(grades.get(result.qid, {}).get(pid, 0) == 0 for pid in result.shown)


SHOWN_COLUMNS = ("shown_unrelated", "shows_answer", "answer_kept", "shown_mean", "ndcg_graded@10",
                 "shown_unrelated_uncut", "shows_answer_uncut", "shown_mean_uncut", "related_mean", "related_unrelated")


def shown_table(reports: list[ModeReport]) -> str:
    """A Markdown table of what the answers show (needs graded judgments), one row per mode."""
    head = "| mode | " + " | ".join(SHOWN_COLUMNS) + " |"
    rule = "|" + "---|" * (len(SHOWN_COLUMNS) + 1)
    rows = [f"| {r.mode} | " + " | ".join(_fmt_metric(c, r.metrics.get(c)) for c in SHOWN_COLUMNS) + " |" for r in reports]
    return "\n".join([head, rule, *rows])


SUMMARY_COLUMNS = ("recall@1", "recall@3", "recall@5", "recall@10", "mrr@10", "ndcg@10",
                   "refused_unanswerable", "refused_answerable", "latency_p50_ms", "latency_p95_ms", "latency_vs_dense")


def summary_table(reports: list[ModeReport]) -> str:
    """A Markdown table of the headline figures, one row per mode."""
    head = "| mode | " + " | ".join(SUMMARY_COLUMNS) + " |"
    rule = "|" + "---|" * (len(SUMMARY_COLUMNS) + 1)
    rows = [f"| {r.mode} | " + " | ".join(_fmt_metric(c, r.metrics.get(c)) for c in SUMMARY_COLUMNS) + " |" for r in reports]
    return "\n".join([head, rule, *rows])


def by_tag_table(reports: list[ModeReport], k: int = 5) -> str:
    """recall@k of each mode over the answerable questions carrying each tag."""
    tags = sorted({t for x in reports[0].results if x.answerable for t in x.tags})
    head = "| tag | questions | " + " | ".join(r.mode for r in reports) + " |"
    rows = [head, "|" + "---|" * (len(reports) + 2)]
    for tag in tags:
        cells = []
        n = 0
        for r in reports:
            sel = [x for x in r.results if x.answerable and tag in x.tags]
            n = len(sel)
            found = sum(1 for x in sel if x.first_relevant_rank and x.first_relevant_rank <= k)
            cells.append(f"{found / n:.2f}" if n else "")
        rows.append(f"| {tag} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def worst_first(report: ModeReport) -> list[QueryResult]:
    """Failures first: answerable questions not found (or found late), then wrongly handled unanswerables."""

    def key(r: QueryResult) -> tuple:
        if r.answerable:
            return (0 if r.first_relevant_rank is None else 1, -(r.first_relevant_rank or 99), r.qid)
        return (2 if not r.abstained else 3, 0, r.qid)

    return sorted(report.results, key=key)


def write_report(
    reports: list[ModeReport], out_dir: str | Path, *, queries_path: str, index: Index,
    grades: dict[str, dict[str, int]] | None = None,
) -> Path:
    """Write report.md, report.json and recall.png into ``out_dir``; returns the folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "queries": str(queries_path),
        "index": str(index.path),
        "model": index.manifest.model,
        "corpus_fingerprint": index.manifest.corpus_fingerprint,
        "passages": index.manifest.passages,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    data = {"meta": meta, "modes": {r.mode: r.metrics for r in reports},  # per_query has what each answer showed
            "per_query": {r.mode: [asdict(x) for x in r.results] for r in reports}}
    (out / "report.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    _plot(reports, out / "recall.png")
    md = ["# Retrieval evaluation\n", f"Query set `{queries_path}`, index `{index.path}` "
          f"({index.manifest.passages} passages, model {index.manifest.model}), {meta['written_at']}.\n",
          "recall@k: share of answerable questions with a gold passage in the top k. "
          "refused_*: share of questions the assistant abstained on. latency_vs_dense: median over "
          "questions of the mode's time over dense's for the same question (each question is asked "
          "in every mode in turn, so load drifts alike).\n",
          summary_table(reports), "\n![recall@k](recall.png)\n"]
    if grades is not None:
        md.append("\n## What the answers show (graded judgments)\n")
        md.append("shown_unrelated: share of the quotes shown (k = 5, refused answers show none) that are unrelated "
                  "(grade 0 or never judged). shows_answer: share of answerable questions showing a quote that states "
                  "the answer (grade 2). answer_kept: of the answerable questions whose uncut answer shows one, the "
                  "share whose shown quotes still do. *_uncut: every quote of the answer, related ones included.\n")
        md.append(shown_table(reports))
        for r in reports:
            md.append(f"\n### Most unrelated quotes shown first: {r.mode}\n")
            md.append("| id | question | unrelated shown | shown | refused because |")
            md.append("|---|---|---|---|---|")
            ranked = sorted(r.results, key=lambda x: (-unrelated_shown(x, grades), x.qid))
            for x in ranked[:40]:
                md.append(f"| {x.qid} | {_cell(x.query)} | {unrelated_shown(x, grades)} | {len(x.shown)} | {_cell(x.reason)} |")
    md.append("\n## recall@5 by tag\n")
    md.append(by_tag_table(reports))
    for r in reports:
        md.append(f"\n## Per question, worst first: {r.mode}\n")
        md.append("| id | question | expected (gold quote) | rank | abstained | top passage returned |")
        md.append("|---|---|---|---|---|---|")
        for x in worst_first(r):
            rank = "—" if not x.answerable else (str(x.first_relevant_rank) if x.first_relevant_rank else "not in top 10")
            md.append(f"| {x.qid} | {_cell(x.query)} | {_cell(x.expected[:140]) or '(unanswerable)'} | {rank} | "
                      f"{'yes' if x.abstained else 'no'} | {_cell(x.top_text[:160])} |")
    (out / "report.md").write_text("\n".join(md) + "\n")
    return out


def _plot(reports: list[ModeReport], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ks = list(range(1, DEPTH + 1))
    for r in reports:
        ax.plot(ks, [r.metrics.get(f"curve@{k}", float("nan")) for k in ks], marker="o", label=r.mode)
    ax.set_xlabel("k")
    ax.set_ylabel("recall@k (answerable questions)")
    ax.set_xticks(ks)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Gold passage in the top k")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _mean(per_query: dict[str, dict[str, float]], measure: str) -> float:
    return round(float(np.mean([m[measure] for m in per_query.values()])), 4)


def _document_names(documents: dict[str, Document]) -> dict[str, Document]:
    names: dict[str, Document] = {}
    for d in documents.values():
        for name in (d.doc_id, d.source, d.source.split("/", 1)[-1], Path(d.source).name):
            names.setdefault(name, d)
    return names


def _fmt(v) -> str:
    if v is None:
        return ""
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _fmt_metric(name: str, v) -> str:
    if name.endswith("_ms") and isinstance(v, float):
        return f"{v:.1f}"
    return _fmt(v)


def _cell(s: str) -> str:
    return " ".join(s.split()).replace("|", "\\|")
