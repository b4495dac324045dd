"""Real text at scale: a folder of about N passages made from the three evaluation
collections' documents, copied with variations, built and queried like a user's own.

Each copy K of every document (the default corpus, the Debian FAQ answers and the
Debian Reference chapters) has "Copy K: " before its first line, so every title, and
every text encoded, differs from the other copies'. With ``--distinct N`` only the
first N copies differ and copy K repeats copy ((K - 1) mod N) + 1 whole: the encoder
embeds N copies' texts and the encoder cache gives the rest, so an index of 10^5
real passages is built in minutes instead of hours (the index and its questions cost
what they cost; only the build time is then not an encoding's). Reports build time, index size on
disk, memory (RSS) after load, load time, the question encoding (the floor) and warm
p50/p95 per mode with the question encoded ahead (search alone), on the evaluation
collections' questions.

    .venv/bin/python bench/real_scale.py [--passages 10000] [--distinct N] [--work /tmp/real-scale] [--runs 3]

Not a test: it prints figures. The machine may be shared: say so beside them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "corpus", ROOT / "eval/collections/debian-faq/corpus", ROOT / "eval/collections/debian-reference/corpus"]
QUERIES = [ROOT / "eval/queries.jsonl", ROOT / "eval/collections/debian-faq/queries.jsonl",
           ROOT / "eval/collections/debian-reference/queries.jsonl"]
PASSAGES_PER_COPY = 967  # the three collections' passages together


def make_corpus(folder: Path, copies: int, distinct: int | None = None) -> int:
    if folder.exists():
        shutil.rmtree(folder)
    files = 0
    for k in range(1, copies + 1):
        shown = (k - 1) % (distinct or copies) + 1  # the copy whose text this one repeats
        for src in SOURCES:
            for f in sorted(src.iterdir()):
                if f.suffix not in (".txt", ".md"):
                    continue
                text = f.read_text(encoding="utf-8")
                out = folder / f"copy-{k:03d}" / src.parent.name / f.name
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(f"Copy {shown}: {text}", encoding="utf-8")
                files += 1
    return files


MEASURE = r'''
import json, statistics, sys, time
import numpy as np
def rss(field="VmRSS"):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
index_dir, questions_file, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
questions = json.load(open(questions_file))
from assistant.index.folder import load_index
import faiss, bm25s  # imported by the load anyway: not the index's memory
before = rss()
t = time.perf_counter()
index = load_index(index_dir)
load = time.perf_counter() - t
from assistant.encoders.onnx import default_onnx_dir
from assistant.pipeline.service import Assistant
t = time.perf_counter()
assistant = Assistant.open(index_dir, index=index, threads=1, onnx_dir=default_onnx_dir())
ready = time.perf_counter() - t
loaded = {"rss": rss(), "anon": rss("RssAnon"), "file": rss("RssFile")}
searcher = assistant.searcher
encoded = searcher.encode(questions[:3])
for e in encoded:
    searcher.search(e.text, encoded=e)
floor, per_mode = [], {m: [] for m in ("hybrid", "tokens", "rrf", "dense", "keyword")}
modes = list(per_mode)
for _ in range(runs):
    for i, q in enumerate(questions):
        t = time.perf_counter()
        (e,) = searcher.encode([q])
        floor.append(time.perf_counter() - t)
        for m in modes[i % len(modes):] + modes[:i % len(modes)]:  # each mode first as often as the others
            t = time.perf_counter()
            searcher.search(e.text, mode=m, encoded=e)
            per_mode[m].append(time.perf_counter() - t)
ms = lambda xs: (float(np.percentile(np.array(xs) * 1000, 50)), float(np.percentile(np.array(xs) * 1000, 95)))
print(json.dumps({"load_s": load, "searcher_s": ready, "rss_mb": rss(), "rss_index_mb": rss() - before,
                  "loaded": loaded, "after": {"rss": rss(), "anon": rss("RssAnon"), "file": rss("RssFile")},
                  "passages": len(index.passages), "dense_index": index.manifest.dense_index,
                  "floor": ms(floor), "modes": {m: ms(v) for m, v in per_mode.items()}}))
'''

# Recall@10 of the index's dense search (approximate past 50,000 passages) against exact
# search over the same passages' float32 vectors, which the index's encoder cache holds.
# Every question of the three evaluation sets; a separate process, after MEASURE, so that
# the exact index's 4 * 384 bytes a passage do not count in the memory figures above.
RECALL = r'''
import json, sys, tempfile
import faiss, numpy as np
index_dir, questions_file = sys.argv[1], sys.argv[2]
questions = json.load(open(questions_file))
from pathlib import Path
from assistant.encoders.cache import CACHE_DIR, EncoderCache
from assistant.index.folder import load_index
from assistant.index.texts import embedding_text
from assistant.encoders.onnx import default_onnx_dir, question_encoder
index = load_index(index_dir)
encoder = question_encoder(index.manifest.model, onnx_dir=default_onnx_dir())
texts = [embedding_text(p, index.documents[p.doc_id]) for p in index.passages]
with tempfile.TemporaryDirectory() as work:
    cache = EncoderCache(encoder=encoder, sources=[Path(index_dir) / CACHE_DIR], work_dir=Path(work))
    missing = cache.missing(passages=texts, sentences=[])
    if missing:  # never encode here: report instead
        print(json.dumps({"missing": missing, "passages": len(texts)}))
        sys.exit(0)
    exact = faiss.IndexFlatIP(encoder.dimension)
    exact.add(cache.passage_vectors(texts))
qvecs = np.asarray(encoder.encode(questions), dtype=np.float32)
_, want = exact.search(qvecs, 10)
_, got = index.dense.search(qvecs, 10)  # the loaded FAISS index, with the search settings questions use
recall = [len(set(g[g >= 0].tolist()) & set(w.tolist())) / 10 for g, w in zip(got, want)]
print(json.dumps({"kind": index.manifest.dense_index, "questions": len(questions), "recall10": float(np.mean(recall)),
                  "all_ten": float(np.mean([r == 1.0 for r in recall])), "passages": len(texts)}))
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=10_000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/real-scale"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--questions", type=int, default=60)
    ap.add_argument("--distinct", type=int, default=None,
                    help="only this many different copies; the others repeat them (encoded once)")
    ap.add_argument("--reuse", action="store_true", help="keep an index already built in WORK")
    args = ap.parse_args()
    bin_dir = Path(sys.executable).parent
    corpus, index = args.work / "corpus", args.work / "index"
    copies = math.ceil(args.passages / PASSAGES_PER_COPY)
    build_env = dict(os.environ, PYTHONPATH=str(ROOT))  # `assistant build` from a shell: every core
    env = dict(build_env, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="1")  # as `assistant ask` and `serve` run
    build_line = "(reused)"
    if not (args.reuse and (index / "manifest.json").exists()):
        files = make_corpus(corpus, copies, args.distinct)
        if index.exists():
            shutil.rmtree(index)
        t = time.perf_counter()
        done = subprocess.run([str(bin_dir / "assistant"), "build", "--corpus", str(corpus), "--index", str(index)],
                              capture_output=True, text=True, env=build_env)
        wall = time.perf_counter() - t
        if done.returncode:
            sys.exit(done.stderr)
        said = re.search(r"indexed .* in ([\d.]+) s", done.stdout + done.stderr)
        build_line = f"{files} files; build {said.group(1) if said else '?'} s ({wall:.0f} s wall)"
    size = sum(f.stat().st_size for f in index.rglob("*") if f.is_file() and "cache" not in f.relative_to(index).parts)
    questions = []
    for qf in QUERIES:
        for line in qf.read_text().splitlines():
            if line.strip():
                questions.append(json.loads(line)["query"])
    allq = args.work / "all-questions.json"
    allq.write_text(json.dumps(questions))
    step = max(1, len(questions) // args.questions)
    qfile = args.work / "questions.json"
    qfile.write_text(json.dumps(questions[::step][: args.questions]))
    out = subprocess.run([sys.executable, "-c", MEASURE, str(index), str(qfile), str(args.runs)],
                         capture_output=True, text=True, env=env)
    if out.returncode:
        sys.exit(out.stderr)
    m = json.loads(out.stdout.strip().splitlines()[-1])
    load = os.getloadavg()
    kinds = f", {args.distinct} different" if args.distinct and args.distinct < copies else ""
    print(f"### Real text: {m['passages']:,} passages ({copies} copies of the three evaluation collections{kinds})")
    print()
    print(f"{build_line}; index {size / 1e6:.0f} MB on disk (without its encoder cache); dense index "
          f"{m['dense_index']}; load {m['load_s']:.2f} s (+{m['searcher_s']:.2f} s encoder and searcher); "
          f"RSS after load and the encoder {m['loaded']['rss']:.0f} MB ({m['loaded']['anon']:.0f} MB anonymous); after "
          f"the questions {m['after']['rss']:.0f} MB ({m['after']['anon']:.0f} MB anonymous, {m['after']['file']:.0f} MB "
          f"file pages: the memory-mapped token vectors read, which the kernel can drop); load average {load[0]:.1f}")
    print()
    print("| | p50 ms | p95 ms |")
    print("|---|---|---|")
    print(f"| question encoding (ONNX, 1 thread; not in the rows below) | {m['floor'][0]:.1f} | {m['floor'][1]:.1f} |")
    for mode, (p50, p95) in m["modes"].items():
        print(f"| search, {mode} | {p50:.1f} | {p95:.1f} |")
    out = subprocess.run([sys.executable, "-c", RECALL, str(index), str(allq)], capture_output=True, text=True, env=env)
    if out.returncode:
        sys.exit(out.stderr)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print()
    if "missing" in r:
        print(f"Dense recall@10 against exact: not measured ({r['missing']:,} of {r['passages']:,} passage vectors are "
              "not in the index's encoder cache)")
    else:
        print(f"Dense recall@10 of the index ({r['kind']}) against exact search over the same float32 passage vectors, "
              f"{r['questions']} questions of the three evaluation sets: **{r['recall10']:.3f}** (all ten found for "
              f"{r['all_ten']:.0%} of the questions)")


if __name__ == "__main__":
    main()
