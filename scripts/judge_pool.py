"""Write the judging pool of an evaluation collection: for each question, every passage
that any ranking mode places in its top 10, with the passage's text, for graded
relevance judgments (eval/README.md, "Graded judgments").

Usage: python scripts/judge_pool.py INDEX QUERIES OUT.jsonl [--depth 10]

One JSON object per line: {"qid", "query", "passage_id", "doc_id", "title", "section", "text"},
grouped by question, passages in document order within a question (not ranked order,
so that an assessor cannot read the ranking into the label).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from assistant.evaluation.evaluate import load_queries
from assistant.search.request import MODES
from assistant.pipeline.service import Assistant


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("index")
    ap.add_argument("queries")
    ap.add_argument("out")
    ap.add_argument("--depth", type=int, default=10)
    args = ap.parse_args()
    assistant = Assistant.open(args.index)
    index = assistant.index
    order = {p.passage_id: i for i, p in enumerate(index.passages)}
    queries = load_queries(args.queries, index.documents)
    n = 0
    with Path(args.out).open("w", encoding="utf-8") as out:
        for q in queries:
            pool: set[str] = set()
            for mode in MODES:
                r = assistant.retrieve(q.query, k=args.depth, mode=mode)
                pool.update(h.passage.passage_id for h in r.hits)
            for pid in sorted(pool, key=order.__getitem__):
                p = index.passages[order[pid]]
                doc = index.documents[p.doc_id]
                out.write(json.dumps({
                    "qid": q.qid, "query": q.query, "passage_id": pid, "doc_id": p.doc_id,
                    "title": doc.title, "section": p.section, "text": doc.text[p.start:p.end],
                }, ensure_ascii=False) + "\n")
                n += 1
    print(f"{len(queries)} questions, {n} (question, passage) pairs -> {args.out}")


if __name__ == "__main__":
    main()
