"""The speed benchmark: one command, one Markdown table per part.

    .venv/bin/python bench/run.py [--runs 3] [--corpus corpus] [--questions 100] [--scale 10000,100000]

Parts (all on this machine, in one run; medians over ``--runs``):
  build   passages/s of build_index against a bare ``model.encode`` of the same
          passages' texts (the floor; target ratio >= 0.9).
  query   warm p50/p95 of ``Assistant.ask`` per mode against a bare encode of the
          same question by the fastest backend (ONNX); targets dense <= 1.3x the
          floor, hybrid <= 1.5x dense.
  cold    ``assistant ask`` from the shell to the printed answer (target <= 2 s,
          moonshot 1 s), and ``assistant serve`` to its first answer (<= 5 s).
  scale   (with --scale) each dense index kind of assistant/index/dense.py on synthetic
          clustered unit vectors of the given sizes: build time, size on disk, load
          time, query p50/p95 and recall@10 against exact search.

Not a test: it prints figures. The machine may be shared: say so beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
QUESTION = "What happens to North Koreans who are forcibly returned from China?"


def _ms(seconds: list[float]) -> tuple[float, float]:
    a = np.array(seconds) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    return env


def bench_build(corpus: Path, out: Path, runs: int) -> list[str]:
    from assistant.encoders.embed import DEFAULT_MODEL, SentenceTransformerEncoder
    from assistant.pipeline.build import build_index
    from assistant.index.folder import load_index
    from assistant.index.texts import embedding_text

    enc = SentenceTransformerEncoder(DEFAULT_MODEL)
    enc.encode(["warm up"])
    builds = []
    for r in range(runs):
        t = time.perf_counter()
        build_index(corpus, encoder=enc, out_dir=out if r == 0 else out.with_name(f"{out.name}-{r}"))
        builds.append(time.perf_counter() - t)
    index = load_index(out)
    texts = [embedding_text(p, index.documents[p.doc_id]) for p in index.passages]
    bares = []
    for _ in range(runs):
        t = time.perf_counter()
        enc._model.encode(texts, batch_size=32, normalize_embeddings=True)
        bares.append(time.perf_counter() - t)
    n = len(texts)
    b, f = statistics.median(builds), statistics.median(bares)
    return [
        f"### Build ({n} passages from {corpus}, medians of {runs})",
        "",
        "| | seconds | passages/s |",
        "|---|---|---|",
        f"| bare model.encode of the passages (floor) | {f:.2f} | {n / f:.1f} |",
        f"| build_index | {b:.2f} | {n / b:.1f} |",
        f"| ratio build / floor (passages/s; target >= 0.9) | | **{f / b:.2f}** |",
    ]


def bench_query(index_dir: Path, questions: list[str], runs: int) -> list[str]:
    from assistant.encoders.onnx import default_onnx_dir
    from assistant.search.searcher import MODES
    from assistant.pipeline.service import Assistant

    assistant = Assistant.open(index_dir, threads=1, onnx_dir=default_onnx_dir())
    enc = assistant.encoder
    for q in questions[:5]:
        enc.encode([q])
        assistant.ask(q)
    floor: list[float] = []
    per_mode: dict[str, list[float]] = {m: [] for m in MODES}
    modes = list(MODES)
    for _ in range(runs):
        for i, q in enumerate(questions):
            t = time.perf_counter()
            enc.encode([q])
            floor.append(time.perf_counter() - t)
            for m in modes[i % len(modes):] + modes[:i % len(modes)]:  # each mode first as often as the others
                t = time.perf_counter()
                assistant.ask(q, mode=m)
                per_mode[m].append(time.perf_counter() - t)
    f50, f95 = _ms(floor)
    d50 = _ms(per_mode["dense"])[0]
    lines = [
        f"### Warm query ({len(questions)} questions x {runs} runs, {len(assistant.index.passages)} passages, "
        f"encoder {type(enc).__name__}, 1 thread)",
        "",
        "| | p50 ms | p95 ms | p50 / floor | p50 / dense |",
        "|---|---|---|---|---|",
        f"| bare question encode (floor) | {f50:.1f} | {f95:.1f} | 1.00 | |",
    ]
    for m in MODES:
        p50, p95 = _ms(per_mode[m])
        lines.append(f"| ask, {m} | {p50:.1f} | {p95:.1f} | {p50 / f50:.2f} | {p50 / d50:.2f} |")
    lines += ["", "Targets: dense <= 1.3x the floor; hybrid <= 1.5x dense."]
    return lines


def _child_cpu() -> float:
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def bench_cold(index_dir: Path, runs: int) -> list[str]:
    asks, ask_cpu = [], []
    for _ in range(runs):
        c, t = _child_cpu(), time.perf_counter()
        subprocess.run([sys.executable, "-m", "assistant", "ask", QUESTION, "--index", str(index_dir)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(), cwd=ROOT)
        asks.append(time.perf_counter() - t)
        ask_cpu.append(_child_cpu() - c)
    serves, serve_cpu = [], []
    for _ in range(runs):
        c = _child_cpu()
        serves.append(_serve_first_answer(index_dir))
        serve_cpu.append(_child_cpu() - c)
    return [
        f"### Cold start (medians of {runs}; each a new process; CPU = user + system seconds of that process, "
        "which a busy machine inflates less than wall time)",
        "",
        "| | wall runs (s) | median wall s | median CPU s | target (wall) |",
        "|---|---|---|---|---|",
        f"| `assistant ask \"...\"` to the printed answer | {', '.join(f'{a:.2f}' for a in asks)} | "
        f"**{statistics.median(asks):.2f}** | {statistics.median(ask_cpu):.2f} | <= 2 (moonshot 1) |",
        f"| `assistant serve` to its first answer | {', '.join(f'{s:.2f}' for s in serves)} | "
        f"**{statistics.median(serves):.2f}** | {statistics.median(serve_cpu):.2f} | <= 5 |",
    ]


def _serve_first_answer(index_dir: Path) -> float:
    """Seconds from starting ``assistant serve`` to the first answer of its /search API."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--index", str(index_dir), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env(), cwd=ROOT, text=True)
    try:
        for line in proc.stdout:  # the server prints when it listens
            if "ready" in line:
                break
        start = httpx.post(f"{url}/gradio_api/call/search", json={"data": [QUESTION, 5, "hybrid"]}, timeout=60)
        event = start.json()["event_id"]
        with httpx.stream("GET", f"{url}/gradio_api/call/search/{event}", timeout=60) as r:
            body = "".join(r.iter_text())
        if "complete" not in body:
            raise RuntimeError(f"serve gave no answer: {body[:200]}")
        return time.perf_counter() - t
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def synthetic(n: int, d: int = 384, *, seed: int = 0) -> np.ndarray:
    """Clustered unit vectors (topics with spread), float32: a stand-in for passages."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(16, n // 200), d)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + 0.9 * rng.standard_normal((n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def bench_scale(sizes: list[int], queries: int = 200) -> list[str]:
    import faiss

    from assistant.index.dense import KINDS, choose_kind
    from assistant.index.factory import build_dense, open_dense

    faiss.omp_set_num_threads(1)
    lines = [
        "### Dense index kinds on synthetic clustered vectors (384 dims, 1 thread, top 10)",
        "",
        "| passages | kind | build s | size MB | load s | query p50 ms | p95 ms | recall@10 vs flat |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in sizes:
        x = synthetic(n + queries, seed=n)
        base, qs = x[:n], x[n:]
        exact = None
        for kind in KINDS:
            if kind == "hnsw" and n > 200_000:
                continue  # an HNSW graph over 10^6 rows takes too long to build on one shared core
            t = time.perf_counter()
            index = build_dense(base, kind=kind)
            built = time.perf_counter() - t
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "dense.faiss"
                index.save(path)
                size = path.stat().st_size / 1e6
                t = time.perf_counter()
                index = open_dense(Path(tmp), kind=kind)
                loaded = time.perf_counter() - t
            times, found = [], []
            for q in qs:
                t = time.perf_counter()
                hit = index.nearest(q, 10)
                times.append(time.perf_counter() - t)
                found.append(hit.rows)
            if exact is None:
                exact = found
            recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact)])
            p50, p95 = _ms(times)
            chosen = " (chosen)" if kind == choose_kind(n) else ""
            lines.append(f"| {n:,} | {kind}{chosen} | {built:.1f} | {size:.0f} | {loaded:.2f} | {p50:.2f} | {p95:.2f} | {recall:.3f} |")
            print(lines[-1], file=sys.stderr, flush=True)  # a long run shows its progress
            del index
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--corpus", default=str(ROOT / "corpus"))
    p.add_argument("--questions", type=int, default=100, help="questions of eval/queries.jsonl timed per run")
    p.add_argument("--scale", default="", help="comma-separated sizes for the dense index part, e.g. 10000,100000,1000000")
    p.add_argument("--parts", default="build,query,cold", help="which parts to run (build,query,cold)")
    args = p.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parts = {x.strip() for x in args.parts.split(",") if x.strip()}
    load = os.getloadavg()[0]
    out = [f"Benchmark {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
           f"load average {load:.1f} at start (a shared machine: read ratios more than absolutes)", ""]
    questions = [json.loads(line)["query"] for line in (ROOT / "eval" / "queries.jsonl").read_text().splitlines()
                 if line.strip()][: args.questions]
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        if parts & {"build", "query", "cold"}:
            build = bench_build(Path(args.corpus), index_dir, args.runs if "build" in parts else 1)
            if "build" in parts:
                out += build + [""]
        if "query" in parts:
            out += bench_query(index_dir, questions, args.runs) + [""]
        if "cold" in parts:
            out += bench_cold(index_dir, max(args.runs, 3)) + [""]
    if args.scale:
        out += bench_scale([int(float(s)) for s in args.scale.split(",") if s.strip()]) + [""]
    print("\n".join(out))


if __name__ == "__main__":
    main()
