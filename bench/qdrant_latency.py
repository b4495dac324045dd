"""Query latency of the same collection on the embedded index, on Qdrant's local mode and on
Qdrant's engine in process (qdrant-edge-py).

    .venv/bin/python bench/qdrant_latency.py [--corpus corpus] [--queries eval/queries.jsonl]
        [--work /tmp/qdrant-latency] [--qdrant-path /dev/shm/qdrant-latency] [--runs 3]

Builds the corpus three times with the packaged model (``--backend embedded``, ``--qdrant-path``
and ``--qdrant-edge``; the later builds reuse the first one's encoder cache), opens each
with ``Assistant.open`` and times ``Assistant.ask`` on every question of the query set in
every mode, after one warm-up pass: p50 / p95 in ms over ``--runs`` passes, and the
stages' share for hybrid (encoding the question is the same on both). Also checks that
all answer every question alike (same passages in the same order).

Not a test: it prints figures. The machine may be shared: say so beside them. Local mode
is qdrant-client's own Python re-implementation of the engine (exact search, no HNSW);
a server's figures differ (docs/qdrant.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MODES = ("hybrid", "tokens", "rrf", "dense", "keyword")


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = sorted(1000 * s for s in seconds)
    return statistics.median(ms), ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(ROOT / "corpus"))
    parser.add_argument("--queries", default=str(ROOT / "eval/queries.jsonl"))
    parser.add_argument("--work", default="/tmp/qdrant-latency")
    parser.add_argument("--qdrant-path", default="/dev/shm/qdrant-latency" if Path("/dev/shm").is_dir() else None)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from assistant.encoders.embed import SentenceTransformerEncoder
    from assistant.encoders.cache import CACHE_DIR
    from assistant.index.qdrant import Place
    from assistant.pipeline.build import build_index
    from assistant.pipeline.service import Assistant

    work = Path(args.work)
    qdrant_path = Path(args.qdrant_path or work / "qdrant")
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(qdrant_path, ignore_errors=True)
    encoder = SentenceTransformerEncoder("all-MiniLM-L6-v2")
    built = {}
    places = {"embedded": {},
              "qdrant local": {"backend": "qdrant", "qdrant": Place(alias="latency", path=str(qdrant_path / "local"))},
              "qdrant engine": {"backend": "qdrant", "qdrant": Place(alias="latency", edge=str(qdrant_path / "edge"))}}
    for name, extra in places.items():
        if name != "embedded":  # the same encodings: the first build's cache
            shutil.copytree(work / "embedded" / CACHE_DIR, work / name / CACHE_DIR)
        t0 = time.perf_counter()
        report = build_index(args.corpus, encoder=encoder, out_dir=work / name, **extra)
        built[name] = time.perf_counter() - t0
        print(f"build {name}: {report.passages} passages in {built[name]:.1f} s (encodings from the cache: "
              f"{report.reused}, encoded: {report.encoded})")

    questions = [json.loads(line)["query"] for line in Path(args.queries).read_text().splitlines() if line.strip()]
    assistants = {name: Assistant.open(work / name) for name in built}
    answers: dict[str, dict[str, list]] = {}
    timings: dict[tuple[str, str], list[float]] = {}
    for name, assistant in assistants.items():
        for mode in MODES:
            for q in questions:  # warm-up: model, caches, the engine's first calls
                assistant.ask(q, mode=mode)
            for _ in range(args.runs):
                for q in questions:
                    t0 = time.perf_counter()
                    answer = assistant.ask(q, mode=mode)
                    timings.setdefault((name, mode), []).append(time.perf_counter() - t0)
                    answers.setdefault(name, {}).setdefault(mode, []).append(
                        [q.citation.passage_id for q in answer.quotes])
    for name in places:
        same = all(answers["embedded"][m] == answers[name][m] for m in MODES)
        print(f"{name}: {len(questions)} questions x {args.runs} runs, k = 5; the embedded index's quotes in the same order: {same}")
    print("\n| mode | " + " | ".join(f"{n} p50 / p95 ms" for n in places) + " |")
    print("| --- " * (len(places) + 1) + "|")
    for mode in MODES:
        cells = [percentiles(timings[(n, mode)]) for n in places]
        print(f"| {mode} | " + " | ".join(f"{a:.1f} / {b:.1f}" for a, b in cells) + " |")


if __name__ == "__main__":
    main()
