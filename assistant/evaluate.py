"""Retrieval evaluation: a query set with verbatim gold quotes, metrics per mode, reports.

Owns reading a query set (gold evidence given as quotes, located once as
character spans in their documents), matching passages to gold evidence by
overlapping spans, computing the metrics with trec_eval (pytrec-eval-terrier), timing queries, judging
abstention, and writing the Markdown / JSON / PNG report.

A query is *found at k* when any of its gold quotes overlaps a passage in the
top k (gold quotes are alternatives); we report that as recall@k.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assistant.corpus import Document
from assistant.errors import QueryError
from assistant.index import Index

KS = (1, 3, 5, 10)
DEPTH = 10


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


def evaluate(assistant, queries: list[EvalQuery], *, modes: tuple[str, ...]) -> list[ModeReport]:
    """Run every query in every mode and compute the metrics.

    Args:
        assistant: an ``assistant.service.Assistant``.
        queries: from :func:`load_queries`.
        modes: retrieval modes to compare.
    """
    from assistant.abstain import should_abstain

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
            results[mode].append(
                QueryResult(
                    q.qid, q.query, q.answerable, rank, abstained, round(ms, 2), ids,
                    " ".join(r.hits[0].passage.text.split())[:300] if r.hits else "",
                    q.gold[0].quote if q.gold else "", q.tags,
                )
            )
    reports = []
    for mode in modes:
        metrics = _metrics(queries, qrels, runs[mode], results[mode])
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


def write_report(reports: list[ModeReport], out_dir: str | Path, *, queries_path: str, index: Index) -> Path:
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
    data = {"meta": meta, "modes": {r.mode: r.metrics for r in reports},
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
