"""Stage 1 of search (candidates) against scoring every passage, on every evaluation collection.

For each collection of ``eval/collections.json`` and each candidate count N, the
Searcher is forced past its exhaustive limit (so the dense index's N nearest and
BM25's N best are the only passages scored) and the collection's query set is run
in hybrid mode. Prints recall@5 and MRR@10 beside the exhaustive figures, the share
of questions whose top 5 is the same as exhaustive search's, and the median time of
a question (same run, so compare ratios).

    .venv/bin/python bench/candidates.py [--counts 400,100,50,20] [--collections all]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from assistant.evaluation.collections import ensure_index, load_registry, select
    from assistant.evaluation.evaluate import evaluate, load_queries
    from assistant.pipeline.service import Assistant

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="400,100,50,20")
    ap.add_argument("--collections", default="all")
    ap.add_argument("--mode", default="hybrid")
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    collections = select(load_registry(ROOT / "eval" / "collections.json"), args.collections)
    print(f"| collection | passages | candidates | recall@5 | MRR@10 | same top 5 | median ms |")
    print("|---|---|---|---|---|---|---|")
    for c in collections:
        index, _ = ensure_index(c, model="minilm", cache=ROOT / "eval" / "collections")
        queries = load_queries(c.queries, index.documents)
        assistant = Assistant.open(index.path, index=index)
        searcher = assistant.searcher
        runs = {}
        for n in [None, *counts]:
            searcher.config = replace(searcher.config, exhaustive_up_to=10**12 if n is None else 0, candidates=n or 0)
            (report,) = evaluate(assistant, queries, modes=(args.mode,))
            runs[n] = report
        exact = {r.qid: r.retrieved[:5] for r in runs[None].results}
        for n, report in runs.items():
            same = sum(r.retrieved[:5] == exact[r.qid] for r in report.results) / len(report.results)
            ms = statistics.median(r.latency_ms for r in report.results)
            print(f"| {c.name} | {index.manifest.passages} | {'all (exhaustive)' if n is None else n} | "
                  f"{report.metrics['recall@5']:.3f} | {report.metrics['mrr@10']:.3f} | {same:.3f} | {ms:.1f} |")


if __name__ == "__main__":
    main()
