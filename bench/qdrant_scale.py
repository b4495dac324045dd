"""10^5 real passages on the embedded backends (FAISS, bm25s) and on Qdrant's real engine
in process (qdrant-edge-py's EdgeShard): build, load, query p50/p95 per mode, memory.

    .venv/bin/python bench/qdrant_scale.py [--passages 100000] [--work /tmp/qdrant-scale] [--runs 3]

The passages: the three evaluation collections (the default corpus, the Debian FAQ, the
Debian Reference; ``make eval-data``), built once with the packaged model
(all-MiniLM-L6-v2) into ``--work``: 967 real passages, their real vectors and the texts
BM25 indexes. Encoding 10^5 passages on this machine's two shared cores would take
hours, so the other copies are perturbed, not encoded: copy K of a passage has its
vector plus Gaussian noise (sigma 0.3 / sqrt(384), cosine about 0.96 to the original),
renormalised, and its BM25 text with one word dropped at random and a word of its own
(``copyK``) added. The questions are the 383 evaluation questions, encoded with the model.

Each engine runs in a process of its own (so memory is its own), twice: a build (timed,
saved to ``--work``), then a load (timed) and the questions, warm, ``--runs`` passes:

- dense: the 10 nearest;
- bm25: the 10 best by BM25;
- hybrid: both candidate lists the search takes past 5,000 passages (the 400 nearest and
  the 400 best by BM25, ``RankingConfig.candidates``), as ``search.candidates`` asks them;
- rrf (the engine only): one request, both lists fused by the engine's RRF, top 10.

Engines: ``embedded``: FAISS of the kind the index chooses at this size (``choose_kind``:
IVF-SQ8 past 50,000) and bm25s; ``embedded-flat``: exact FAISS and bm25s; ``edge``: one
shard as built (plain segments: exact search); ``edge-hnsw``: the same shard after
``optimize()`` (the engine's HNSW, m 16, ef_construct 100: its defaults). FAISS HNSW is
left out: 15 minutes to build at 10^5 here (assistant/index/dense.py). Memory is RSS
after the load minus RSS before it (the engine's files are memory-mapped: their resident
pages count), and the peak (VmHWM) of the process.

Not a test: it prints figures (medians of --runs passes, each question once per pass).
The machine may be shared: say so beside them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
COLLECTIONS = ("default", "debian-faq", "debian-reference")
ENGINES = ("embedded", "embedded-flat", "edge", "edge-hnsw")
SIGMA = 0.3
K = 10
CANDIDATES = 400


def rss(field: str = "VmRSS") -> float:
    """MB of this process (``/proc/self/status``)."""
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(ms: list[float]) -> tuple[float, float]:
    ms = sorted(ms)
    return statistics.median(ms), ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]


# -- the passages ---------------------------------------------------------------------


def prepare(work: Path, passages: int) -> None:
    """``work/data``: vectors.npy (passages x 384), texts.json, questions.json (text, vector)."""
    import numpy as np

    data = work / "data"
    if (data / "vectors.npy").exists() and len(np.load(data / "vectors.npy", mmap_mode="r")) == passages:
        return
    from assistant.encoders.embed import DEFAULT_MODEL, SentenceTransformerEncoder
    from assistant.evaluation.collections import load_registry
    from assistant.index.folder import load_index
    from assistant.index.texts import item_leads, keyword_text
    from assistant.pipeline.build import build_index

    encoder = SentenceTransformerEncoder(DEFAULT_MODEL)
    registry = {c.name: c for c in load_registry(ROOT / "eval" / "collections.json")}
    vectors, texts, asked = [], [], []
    for name in COLLECTIONS:
        c = registry[name]
        if not c.corpus.is_dir():
            sys.exit(f"collection {name} has no corpus at {c.corpus}: run make eval-data")
        folder = work / "indexes" / name
        if not (folder / "manifest.json").exists():
            t = time.perf_counter()
            build_index(c.corpus, encoder=encoder, out_dir=folder)
            print(f"built {name} with the model in {time.perf_counter() - t:.0f} s", flush=True)
        index = load_index(folder)
        ps = list(index.passages)
        docs = {p.doc_id: index.documents[p.doc_id] for p in ps}
        texts += [keyword_text(p, docs[p.doc_id], lead) for p, lead in zip(ps, item_leads(ps, docs))]
        vectors.append(np.asarray(index.vectors, dtype=np.float32))
        asked += [json.loads(line)["query"] for line in c.queries.read_text(encoding="utf-8").splitlines() if line.strip()]
    real = np.concatenate(vectors)
    rng = np.random.default_rng(0)
    copies = -(-passages // len(real))
    out = np.empty((copies * len(real), real.shape[1]), dtype=np.float32)
    out_texts: list[str] = []
    for k in range(copies):
        block = real if k == 0 else real + (SIGMA / np.sqrt(real.shape[1])) * rng.standard_normal(real.shape).astype(np.float32)
        out[k * len(real):(k + 1) * len(real)] = block / np.linalg.norm(block, axis=1, keepdims=True)
        for t in texts:
            if k:
                words = t.split()
                words.pop(int(rng.integers(len(words))))
                t = " ".join(words + [f"copy{k}"])
            out_texts.append(t)
    data.mkdir(parents=True, exist_ok=True)
    np.save(data / "vectors.npy", out[:passages])
    (data / "texts.json").write_text(json.dumps(out_texts[:passages]), encoding="utf-8")
    q = encoder.encode(asked)
    (data / "questions.json").write_text(json.dumps({"text": asked, "vectors": q.tolist()}), encoding="utf-8")
    print(f"{passages} passages from {len(real)} real ones ({copies} copies), {len(asked)} questions", flush=True)


# -- one engine, in a process of its own ---------------------------------------------------


def build(engine: str, work: Path) -> dict:
    import numpy as np

    vectors = np.load(work / "data" / "vectors.npy")
    texts = json.loads((work / "data" / "texts.json").read_text(encoding="utf-8"))
    out = work / engine
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    before = rss()
    t = time.perf_counter()
    figures: dict = {}
    if engine.startswith("embedded"):
        from assistant.index.dense import choose_kind
        from assistant.index.factory import build_dense, dense_file, keyword_file
        from assistant.index.keyword import KeywordIndex

        kind = "flat" if engine == "embedded-flat" else choose_kind(len(vectors))
        dense = build_dense(vectors, kind=kind)
        figures["dense_build_s"] = time.perf_counter() - t
        t2 = time.perf_counter()
        keyword = KeywordIndex.build(texts)
        figures["bm25_build_s"] = time.perf_counter() - t2
        dense.save(out / dense_file(kind))
        keyword.save(out / keyword_file(KeywordIndex.kind))
        (out / "kind").write_text(kind)
    else:
        from assistant.index import qdrant_edge

        dense, keyword = qdrant_edge.build_edge(out / "shard", vectors=vectors, texts=texts,
                                                payloads=[{"text": x} for x in texts])
        figures["upsert_s"] = time.perf_counter() - t
        if engine == "edge-hnsw":
            t2 = time.perf_counter()
            dense.store.optimize()
            figures["optimize_s"] = time.perf_counter() - t2
        dense.save(out / qdrant_edge.EdgeDense.stored_as)
        qdrant_edge.close(out / "shard")
    figures["build_s"] = time.perf_counter() - t
    figures["build_rss_peak_mb"] = rss("VmHWM")
    figures["build_rss_delta_mb"] = rss() - before
    figures["disk_mb"] = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
    return figures


def measure(engine: str, work: Path, runs: int) -> dict:
    import numpy as np

    asked = json.loads((work / "data" / "questions.json").read_text(encoding="utf-8"))
    questions = np.asarray(asked["vectors"], dtype=np.float32)
    out = work / engine
    from assistant.index.keyword import tokenize

    terms = tokenize(list(asked["text"]))
    if engine.startswith("embedded"):
        import bm25s  # noqa: F401 (imported by a load anyway: not the index's memory)
        import faiss  # noqa: F401
        from assistant.index.factory import open_dense, open_keyword
        from assistant.index.keyword import KeywordIndex

        before = rss()
        t = time.perf_counter()
        dense = open_dense(out, kind=(out / "kind").read_text())
        keyword = open_keyword(out, kind=KeywordIndex.kind)
    else:
        import qdrant_edge  # noqa: F401
        from assistant.index.qdrant_edge import EdgeDense, EdgeKeyword, _store_of

        before = rss()
        t = time.perf_counter()
        store = _store_of(out / EdgeDense.stored_as)
        dense, keyword = EdgeDense(store), EdgeKeyword(store)
        dense.count()
    figures: dict = {"load_s": time.perf_counter() - t, "rss_after_load_mb": rss() - before}
    modes = {
        "dense": lambda v, t: dense.nearest(v, K),
        "bm25": lambda v, t: keyword.top_k(t, K),
        "hybrid": lambda v, t: (dense.nearest(v, CANDIDATES), keyword.top_k(t, CANDIDATES)),
    }
    if not engine.startswith("embedded"):
        modes["rrf"] = lambda v, t: rrf(store, v, t)
    for v, t in zip(questions[:5], terms[:5]):  # warm
        for f in modes.values():
            f(v, t)
    for mode, f in modes.items():
        passes = []
        for _ in range(runs):
            ms = []
            for v, t in zip(questions, terms):
                t0 = time.perf_counter()
                f(v, t)
                ms.append(1000 * (time.perf_counter() - t0))
            passes.append(percentiles(ms))
        figures[f"{mode}_p50_ms"] = statistics.median(p[0] for p in passes)
        figures[f"{mode}_p95_ms"] = statistics.median(p[1] for p in passes)
    figures["rss_after_queries_mb"] = rss() - before
    figures["rss_peak_mb"] = rss("VmHWM")
    if engine.startswith("edge"):
        figures["segments"] = store.shard.info().segments_count
    return figures


def rrf(store, vector, terms) -> list:
    """The engine's own hybrid: both lists prefetched and fused by RRF in one request."""
    from assistant.index.qdrant import DENSE, SPARSE, question_vector

    q = store.q
    request = q.QueryRequest(limit=K, query=q.Fusion.Rrf(k=60), with_payload=False, prefetches=[
        q.Prefetch(limit=CANDIDATES, query=q.Query.Nearest(store.vector(vector), using=DENSE)),
        q.Prefetch(limit=CANDIDATES, query=q.Query.Nearest(store.vector(question_vector(terms)), using=SPARSE)),
    ])
    with store._lock:
        return store.shard.query(request)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--work", default="/tmp/qdrant-scale")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--child", nargs=2, metavar=("STEP", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work)
    if args.child:
        step, engine = args.child
        figures = build(engine, work) if step == "build" else measure(engine, work, args.runs)
        print(json.dumps(figures))
        return
    prepare(work, args.passages)
    results = {}
    for engine in args.engines.split(","):
        results[engine] = {}
        for step in ("build", "measure"):
            got = subprocess.run([sys.executable, __file__, "--work", str(work), "--runs", str(args.runs),
                                  "--child", step, engine], capture_output=True, text=True)
            if got.returncode:
                sys.exit(f"{engine} {step} failed:\n{got.stderr[-3000:]}")
            results[engine].update(json.loads(got.stdout.strip().splitlines()[-1]))
            print(engine, step, json.dumps({k: round(v, 2) if isinstance(v, float) else v
                                            for k, v in results[engine].items()}), flush=True)
    (work / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print()
    print(table(results, args.passages))


def table(results: dict, passages: int) -> str:
    rows = [f"| engine ({passages} passages) | build s | load s | RSS after load MB | peak RSS MB | disk MB "
            "| dense p50 / p95 ms | BM25 p50 / p95 ms | hybrid (2 x 400) p50 / p95 ms | engine RRF p50 / p95 ms |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for engine, f in results.items():
        def pair(mode: str) -> str:
            return f"{f[mode + '_p50_ms']:.2f} / {f[mode + '_p95_ms']:.2f}" if mode + "_p50_ms" in f else "-"

        rows.append(f"| {engine} | {f['build_s']:.1f} | {f['load_s']:.2f} | {f['rss_after_load_mb']:.0f} | "
                    f"{f['rss_peak_mb']:.0f} | {f['disk_mb']:.0f} | {pair('dense')} | {pair('bm25')} | "
                    f"{pair('hybrid')} | {pair('rrf')} |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
