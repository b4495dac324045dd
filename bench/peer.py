"""The peer benchmark: this tool's hybrid search beside txtai's, on the same passages.

    .venv/bin/python bench/peer.py [--collections all] [--runs 3] [--threads 1] [--peer-text passage]

(``make bench-peer`` installs txtai, the ``peer`` extra, first.)

For each evaluation collection of ``eval/collections.json``:
  build   this tool's ``build_index`` into a fresh folder (no encoder cache to
          reuse) against txtai's ``Embeddings.index`` of the built index's passages:
          each passage's text (``--peer-text context``: the text this tool embeds,
          with title, section and date before it), with its passage_id as id. Both embed with the
          same packaged all-MiniLM-L6-v2 through sentence-transformers (PyTorch),
          with PyTorch's default threads; the runs alternate so load drifts alike.
  query   warm ``Assistant.retrieve(k=10, mode="hybrid")`` (ONNX question encoder)
          against txtai's ``search(limit=10)`` with ``hybrid=True`` (its BM25 and
          dense scores fused by convex combination), each question asked of both
          in turn, every question ``--runs`` times, on ``--threads`` threads.
  quality recall@5 and MRR@10 of both from their first run's top 10, over the
          answerable questions, against the same gold passage ids
          (``assistant.evaluation.evaluate.relevant_passages``); this tool's figures are
          checked against ``assistant.evaluation.evaluate.evaluate``.

Not a test: it prints figures. The machine may be shared: the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEPTH = 10  # as assistant.evaluation.evaluate: the top 10 make MRR@10


@dataclass(frozen=True)
class Side:
    """One engine on one collection."""

    name: str
    passages: int
    build_seconds: tuple[float, ...]
    latencies_ms: tuple[float, ...]
    recall5: float
    mrr10: float

    @property
    def build(self) -> float:
        return statistics.median(self.build_seconds)

    @property
    def p50(self) -> float:
        return float(np.percentile(self.latencies_ms, 50))

    @property
    def p95(self) -> float:
        return float(np.percentile(self.latencies_ms, 95))


@dataclass(frozen=True)
class Result:
    collection: str
    questions: int
    answerable: int
    refused_unanswerable: float  # this tool's; txtai never refuses
    ours: Side
    peer: Side


def txtai_embeddings(model_path: str):
    """txtai's hybrid index over the local MiniLM folder (no database: search gives (id, score))."""
    from txtai import Embeddings

    return Embeddings(path=model_path, method="sentence-transformers", content=False, hybrid=True)


def quality(ranked: dict[str, tuple[str, ...]], qrels: dict[str, set[str]]) -> tuple[float, float]:
    """recall@5 (a gold passage in the top 5) and MRR@10 over the answerable questions."""
    found5, rr = [], []
    for qid, gold in qrels.items():
        rank = next((i for i, pid in enumerate(ranked[qid][:DEPTH], start=1) if pid in gold), None)
        found5.append(1.0 if rank and rank <= 5 else 0.0)
        rr.append(1.0 / rank if rank else 0.0)
    return float(np.mean(found5)), float(np.mean(rr))


@contextmanager
def threads(n: int):
    """PyTorch and FAISS on ``n`` threads inside the block (builds keep the defaults)."""
    import faiss
    import torch

    before_torch, before_faiss = torch.get_num_threads(), faiss.omp_get_max_threads()
    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before_torch)
        faiss.omp_set_num_threads(before_faiss)


def bench_collection(collection, *, encoder, model_path: str, work: Path, runs: int, n_threads: int,
                     peer_text: str, log) -> Result:
    from assistant.encoders.embed import DEFAULT_MODEL
    from assistant.evaluation.collections import ensure_index, index_folder
    from assistant.evaluation.evaluate import evaluate, load_queries, relevant_passages
    from assistant.pipeline.build import build_index
    from assistant.index.texts import embedding_text
    from assistant.encoders.onnx import default_onnx_dir
    from assistant.pipeline.service import Assistant

    peer = txtai_embeddings(model_path)
    peer.batchtransform([(None, "warm up", None)])
    ours_build, peer_build = [], []
    index = None
    for r in range(runs):
        cache = work / f"run{r}"
        t = time.perf_counter()
        report = build_index(collection.corpus, encoder=encoder, out_dir=index_folder(cache, collection, DEFAULT_MODEL))
        ours_build.append(time.perf_counter() - t)
        assert report.reused == 0, "a fresh folder has no encoder cache to reuse"
        index, built_now = ensure_index(collection, model=DEFAULT_MODEL, cache=cache, encoder=encoder)
        assert not built_now, "ensure_index should find the index just built"
        docs = [(p.passage_id, embedding_text(p, index.documents[p.doc_id]) if peer_text == "context" else p.text, None)
                for p in index.passages]
        t = time.perf_counter()
        peer.index(docs)
        peer_build.append(time.perf_counter() - t)
        log(f"{collection.name}: build run {r + 1}: ours {ours_build[-1]:.2f} s, txtai {peer_build[-1]:.2f} s")
    assert peer.count() == len(index.passages)

    queries = load_queries(collection.queries, index.documents)
    qrels = {q.qid: relevant_passages(q, index) for q in queries if q.answerable}
    unreachable = sum(1 for g in qrels.values() if not g)
    if unreachable:
        log(f"{collection.name}: {unreachable} answerable questions have no gold passage; they count as not found")
    with threads(n_threads):
        assistant = Assistant.open(index.path, index=index, threads=n_threads, onnx_dir=default_onnx_dir())
        for q in queries[:5]:
            assistant.retrieve(q.query, k=DEPTH, mode="hybrid")
            peer.search(q.query, limit=DEPTH)
        ours_ms, peer_ms = [], []
        ours_ranked: dict[str, tuple[str, ...]] = {}
        peer_ranked: dict[str, tuple[str, ...]] = {}
        for r in range(runs):
            for q in queries:
                t = time.perf_counter()
                got = assistant.retrieve(q.query, k=DEPTH, mode="hybrid")
                ours_ms.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                hits = peer.search(q.query, limit=DEPTH)
                peer_ms.append((time.perf_counter() - t) * 1000)
                if r == 0:
                    ours_ranked[q.qid] = tuple(h.passage.passage_id for h in got.hits)
                    peer_ranked[q.qid] = tuple(str(uid) for uid, _ in hits)
        official = next(x.metrics for x in evaluate(assistant, queries, modes=("hybrid",)))
    o5, omrr = quality(ours_ranked, qrels)
    p5, pmrr = quality(peer_ranked, qrels)
    # The same matching as `assistant eval`: our figures must be its figures.
    if abs(o5 - official["recall@5"]) > 1e-3 or abs(omrr - official["mrr@10"]) > 1e-3:
        raise RuntimeError(f"{collection.name}: recall@5 / MRR@10 {o5:.4f} / {omrr:.4f} differ from "
                           f"assistant eval's {official['recall@5']:.4f} / {official['mrr@10']:.4f}")
    n = len(index.passages)
    return Result(
        collection.name, len(queries), len(qrels), official["refused_unanswerable"],
        Side("this tool, hybrid", n, tuple(ours_build), tuple(ours_ms), o5, omrr),
        Side(f"txtai {_txtai_version()}, hybrid" + (", context text" if peer_text == "context" else ""), n, tuple(peer_build), tuple(peer_ms), p5, pmrr),
    )


def _txtai_version() -> str:
    from importlib.metadata import version

    return version("txtai")


HEAD = ("| engine | passages | build s | passages/s | query p50 ms | p95 ms | recall@5 | MRR@10 |",
        "|---|---|---|---|---|---|---|---|")


def _row(name: str, passages: float, build: float, p50: float, p95: float, r5: float, mrr: float) -> str:
    return (f"| {name} | {passages:.0f} | {build:.2f} | {passages / build:.1f} | {p50:.1f} | {p95:.1f} | "
            f"{r5:.3f} | {mrr:.3f} |")


def collection_table(res: Result, runs: int) -> list[str]:
    refused = "" if np.isnan(res.refused_unanswerable) else (
        f"; this tool refuses {res.refused_unanswerable:.0%} of the unanswerable ones (txtai has no refusal)")
    lines = [f"### {res.collection} ({res.questions} questions, {res.answerable} answerable{refused}; "
             f"build: median of {runs}; queries: {runs} runs of every question)", "", *HEAD]
    for s in (res.ours, res.peer):
        lines.append(_row(s.name, s.passages, s.build, s.p50, s.p95, s.recall5, s.mrr10))
    return lines


def mean_table(results: list[Result]) -> list[str]:
    lines = ["### Mean over the collections", "", *HEAD]
    for pick in (lambda r: r.ours, lambda r: r.peer):
        sides = [pick(r) for r in results]
        lines.append(_row(sides[0].name, np.mean([s.passages for s in sides]), np.mean([s.build for s in sides]),
                          np.mean([s.p50 for s in sides]), np.mean([s.p95 for s in sides]),
                          np.mean([s.recall5 for s in sides]), np.mean([s.mrr10 for s in sides])))
    lines += ["", "(passages/s of the mean row: mean passages over mean build seconds.)"]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--collections", default="all", help="all, or names from eval/collections.json")
    ap.add_argument("--registry", default=str(ROOT / "eval" / "collections.json"))
    ap.add_argument("--runs", type=int, default=3, help="builds per engine, and passes over the questions")
    ap.add_argument("--threads", type=int, default=1, help="threads while answering (both engines)")
    ap.add_argument("--peer-text", choices=("passage", "context"), default="passage",
                    help="what txtai indexes: the passage's text, or the text this tool embeds (with its context)")
    args = ap.parse_args(argv)

    from assistant.encoders.embed import DEFAULT_MODEL, SentenceTransformerEncoder, resolve_model
    from assistant.evaluation.collections import load_registry, select

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    collections = select(load_registry(args.registry), args.collections)
    model_path = resolve_model(DEFAULT_MODEL)
    encoder = SentenceTransformerEncoder(DEFAULT_MODEL)
    encoder.encode(["warm up"])
    load_before = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results = []
    with tempfile.TemporaryDirectory(prefix="peer-bench-") as tmp:
        for c in collections:
            results.append(bench_collection(c, encoder=encoder, model_path=model_path, work=Path(tmp) / c.name,
                                            runs=args.runs, n_threads=args.threads, peer_text=args.peer_text,
                                            log=log))
    load_after = os.getloadavg()
    out = [f"## Peer: txtai {_txtai_version()} against this tool, hybrid mode ({started}, "
           f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f} at the start and {load_after[0]:.1f} at the end)",
           "", f"Model {model_path} for both. Query times on {args.threads} thread(s).", ""]
    for r in results:
        out += collection_table(r, args.runs) + [""]
    out += mean_table(results)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
