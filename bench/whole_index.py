"""The whole index at 10^5-10^6 passages, with synthetic vectors and text, so that the
index's own costs are measured without a model's encoding.

Writes a real index folder (format, files and manifest exactly as ``assistant build``
writes them: its parts go through ``assistant.pipeline.build.write_index``, the last
steps of every build) whose passages are synthetic: words drawn from a Zipf
vocabulary, some years, documents of 100 passages from 50 organisations; clustered
unit vectors for passages and sentences; random unit token vectors (int8, as stored). Then, in a fresh process,
loads it with ``load_index`` and answers questions with ``Searcher.search`` in every
mode: load time, memory (RSS) after load, query p50/p95. A question is a noisy copy of
one passage's vector with words from its text, encoded ahead (the question's encoding
is excluded, as the issue's target says; ``bench/run.py`` reports it beside).

    .venv/bin/python bench/whole_index.py [--passages 1000000] [--tokens 48] [--work /tmp/whole-index]
        [--qdrant-edge FOLDER]

With ``--qdrant-edge`` the same index is written into Qdrant's engine in process (every
part in its collections, the folder keeping the manifest: ``build --qdrant-edge``) and
measured there.

Not a test: it prints figures. The machine may be shared: say so beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

D = 384
SENTENCES = 3  # per passage
WORDS = 13  # per sentence
PER_DOC = 100  # passages per document
ORGS = 50


class SyntheticEncoder:
    """The encoder the manifest names: the vectors are synthetic, so it encodes nothing."""

    name, dimension, max_tokens = "synthetic-384", D, 256

    def encode(self, texts, *, batch_size=32, progress=False):
        raise NotImplementedError("synthetic vectors: nothing to encode")

    encode_tokens = encode

    def count_tokens(self, text: str) -> int:
        raise NotImplementedError("synthetic vectors: nothing to encode")


def _words(n: int, rng: np.random.Generator) -> list[str]:
    syllables = ["ka", "lo", "mi", "ren", "sa", "tor", "vel", "un", "dra", "pel", "os", "qui", "ba", "nor", "fe", "zin"]
    out: set[str] = set()
    while len(out) < n:
        k = rng.integers(2, 5)
        out.add("".join(syllables[i] for i in rng.integers(0, len(syllables), k)))
    return sorted(out)


def write(folder: Path, n: int, tokens_per: int, seed: int = 0, edge: Path | None = None) -> dict:
    from assistant.index import sources
    from assistant.index.columns import Columns
    from assistant.ingest.corpus import Document, Passage
    from assistant.index.dense import choose_kind
    from assistant.index.factory import build_dense
    from assistant.index.folder import AUTO, Sentences
    from assistant.index.texts import vocabulary_of
    from assistant.index.keyword import KeywordIndex
    from assistant.index.parts import IndexParts
    from assistant.index.tokens import TokenVectors
    from assistant.pipeline.build import write_index

    rng = np.random.default_rng(seed)
    times: dict[str, float] = {}
    t0 = t = time.perf_counter()
    vocab = np.array(_words(50_000, rng))
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    zipf /= zipf.sum()
    years = np.array([str(y) for y in range(1990, 2025)])
    n_docs = (n + PER_DOC - 1) // PER_DOC
    docs, passages, sent_rows, sent_spans = [], [], [], []
    widx = rng.choice(len(vocab), size=(n, SENTENCES, WORDS), p=zipf).astype(np.int32)
    year_of = rng.integers(0, len(years), n)
    for d in range(n_docs):
        doc_id = f"doc-{d:06d}"
        paragraphs, spans, pos = [], [], 0
        for i in range(d * PER_DOC, min(n, (d + 1) * PER_DOC)):
            sents = [" ".join(vocab[widx[i, s]]).capitalize() + "." for s in range(SENTENCES)]
            if i % 7 == 0:
                sents[0] = sents[0][:-1] + f" in {years[year_of[i]]}."
            text = " ".join(sents)
            a = pos
            s_pos = a
            for s in sents:
                sent_rows.append(i)
                sent_spans.append((s_pos, s_pos + len(s)))
                s_pos += len(s) + 1
            spans.append((a, a + len(text), text))
            paragraphs.append(text)
            pos += len(text) + 2
        full = "\n\n".join(paragraphs)
        org = f"Organisation {d % ORGS}"
        date = f"{years[d % len(years)]}-0{1 + d % 9}-1{d % 10}"
        docs.append(Document(doc_id, f"synthetic/{doc_id}.txt", f"/synthetic/{doc_id}.txt", f"Report {d}", org, date,
                             "report", full))
        for k, (a, b, text) in enumerate(spans, start=1):
            passages.append(Passage(f"{doc_id}-p{k:03d}", doc_id, k, 0, "", date, "paragraph", a, b, text))
    times["text"] = time.perf_counter() - t

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    arrays = folder if edge is None else folder.parent / "arrays"  # on Qdrant the folder holds the manifest alone
    arrays.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    from bench.run import synthetic

    vectors = synthetic(n, D, seed=seed)
    sent_vectors = np.lib.format.open_memmap(arrays / "sentences.vectors.npy", mode="w+", dtype=np.int8,
                                             shape=(len(sent_rows), D))
    for a in range(0, n, 50_000):  # each sentence near its passage
        b = min(n, a + 50_000)
        block = np.repeat(vectors[a:b], SENTENCES, axis=0) + 0.5 * rng.standard_normal(((b - a) * SENTENCES, D)).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        sent_vectors[a * SENTENCES : b * SENTENCES] = np.clip(np.rint(block * 127 / np.abs(block).max(axis=1, keepdims=True)), -127, 127)
    sentences = Sentences(
        np.asarray(sent_rows, dtype=np.int64), np.asarray(sent_spans, dtype=np.int64), sent_vectors,
        np.ones(len(sent_rows), dtype=bool), np.arange(0, n * SENTENCES + 1, SENTENCES, dtype=np.int64),
        np.full(len(sent_rows), 1 / 127 / 19.6, dtype=np.float32),  # unit rows: |x|max ~ 1/19.6 for random 384-d
    )
    total = n * tokens_per
    tv = np.lib.format.open_memmap(arrays / "tokens.vectors.npy", mode="w+", dtype=np.int8, shape=(total, D))
    for a in range(0, total, 1_000_000):
        b = min(total, a + 1_000_000)
        tv[a:b] = rng.integers(-127, 128, size=(b - a, D), dtype=np.int8)
    pieces = tuple(vocab)
    flat = widx.reshape(n, -1)  # a passage's tokens are its words (repeated when it has fewer)
    piece = np.take(flat, np.arange(tokens_per) % flat.shape[1], axis=1)
    piece = np.ascontiguousarray(piece, dtype=np.int32).ravel()
    first = np.arange(0, total + 1, tokens_per, dtype=np.int64)
    position = np.arange(total) % tokens_per
    token_sentence = (np.arange(total) // tokens_per * SENTENCES + position * SENTENCES // tokens_per).astype(np.int32)
    counts = np.zeros(len(pieces), dtype=np.int64)
    for a in range(0, n, 100_000):  # TokenVectors.piece_passages, a slice of passages at a time (memory)
        b = min(n, a + 100_000)
        part = TokenVectors(tv, piece[a * tokens_per : b * tokens_per], first[a : b + 1] - first[a], pieces, token_sentence)
        counts += part.piece_passages()
    tokens = TokenVectors(tv, piece, first, pieces, token_sentence, np.full(total, 1 / 127 / 3.0, dtype=np.float32), counts)
    times["vectors"] = time.perf_counter() - t

    t = time.perf_counter()
    if edge is not None:
        from dataclasses import asdict

        from assistant.index import qdrant_contents
        from assistant.index.qdrant import Place, build_collection

        by_id = {d.doc_id: d for d in docs}
        payloads = [asdict(p) | {"title": by_id[p.doc_id].title, "source": by_id[p.doc_id].source,
                                 "organization": by_id[p.doc_id].organization} for p in passages]
        texts = [p.text for p in passages]
        dense, keyword = build_collection(Place(alias="whole", edge=str(edge)), vectors=vectors, texts=texts,
                                          payloads=payloads)
        dense.store.keys = qdrant_contents.passage_keys(payloads, texts, texts)
        times["vectors and BM25 into the engine"] = time.perf_counter() - t
    else:
        kind = choose_kind(n)
        dense = build_dense(vectors, kind=kind)
        times["dense"] = time.perf_counter() - t
        t = time.perf_counter()
        keyword = KeywordIndex.build([p.text for p in passages])
        times["bm25"] = time.perf_counter() - t
    t = time.perf_counter()
    columns = Columns.of({d.doc_id: d for d in docs}, passages)
    times["columns"] = time.perf_counter() - t
    t = time.perf_counter()
    parts = IndexParts(
        tuple(docs), tuple(passages), vectors, dense, keyword, sentences, tokens, columns, vocabulary_of(docs),
        sources.SourceFiles("/synthetic", ""),
    )
    # Documents of PER_DOC passages are long ones: their threshold is measured, and the
    # calibration asks the encoder nothing (so this one has no model).
    write_index(folder, parts, at=folder, encoder=SyntheticEncoder(), index_type=AUTO, batch_size=32, t0=t0)
    times["write"] = time.perf_counter() - t
    if edge is not None:
        from assistant.index import qdrant

        qdrant.close(qdrant.Place(alias="whole", edge=str(edge)))  # the engine's folder: one process at a time
        shutil.rmtree(arrays, ignore_errors=True)
    qs = rng.choice(n, 100, replace=False)
    questions = [{"text": " ".join(vocab[widx[i, 0, :6]]) + "?", "row": int(i),
                  "vector": (vectors[i] + 0.7 * rng.standard_normal(D) / np.sqrt(D)).tolist()} for i in qs]
    (folder.parent / "questions.json").write_text(json.dumps(questions))
    return times


MEASURE = r'''
import json, sys, time
import numpy as np
def rss(field="VmRSS"):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
folder, questions, runs = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3])
import faiss, bm25s
from assistant.encoders.embed import Tokens
from assistant.index.folder import load_index
from assistant.search.searcher import EncodedQuestion, Searcher
faiss.omp_set_num_threads(1)
before = rss()
t = time.perf_counter()
index = load_index(folder, check_corpus=False)
load = time.perf_counter() - t
class QuestionsEncodedAhead:  # the question's encoding is excluded from these figures
    name, dimension = "synthetic-384", 384
t = time.perf_counter()
searcher = Searcher(index, QuestionsEncodedAhead())
ready = time.perf_counter() - t
loaded = {"rss": rss(), "anon": rss("RssAnon"), "file": rss("RssFile")}
rng = np.random.default_rng(1)
encoded = []
for q in questions:
    v = np.asarray(q["vector"], dtype=np.float32); v /= np.linalg.norm(v)
    words = q["text"].rstrip("?").split()
    tv = rng.standard_normal((len(words), 384)).astype(np.float32); tv /= np.linalg.norm(tv, axis=1, keepdims=True)
    from assistant.search.request import clean_query
    text = clean_query(q["text"]).text
    encoded.append(EncodedQuestion(text, v, Tokens(tuple(words), tv, tuple((0, 1) for _ in words))))
modes = ("hybrid", "tokens", "rrf", "dense", "keyword")
for e in encoded[:5]:
    for m in modes:
        searcher.search(e.text, mode=m, encoded=e)
per_mode = {m: [] for m in modes}
found = 0
for _ in range(runs):
    for q, e in zip(questions, encoded):
        for m in modes:
            t = time.perf_counter()
            r = searcher.search(e.text, mode=m, encoded=e, k=10)
            per_mode[m].append(time.perf_counter() - t)
            if m == "hybrid":
                found += any(h.passage.passage_id == index.passages[q["row"]].passage_id for h in r.hits)
ms = lambda xs: (float(np.percentile(np.array(xs) * 1000, 50)), float(np.percentile(np.array(xs) * 1000, 95)))
print(json.dumps({"load_s": load, "searcher_s": ready, "loaded": loaded, "before_mb": before,
                  "after": {"rss": rss(), "anon": rss("RssAnon"), "file": rss("RssFile")},
                  "passages": len(index.passages), "dense_index": index.manifest.dense_index,
                  "hybrid_found_own_passage": found / (runs * len(questions)),
                  "modes": {m: ms(v) for m, v in per_mode.items()}}))
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=1_000_000)
    ap.add_argument("--tokens", type=int, default=48, help="token vectors per passage (real passages: about 230)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/whole-index"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--reuse", action="store_true", help="measure the index already written in WORK")
    ap.add_argument("--qdrant-edge", type=Path, help="write the index into Qdrant's engine in process, in this folder")
    args = ap.parse_args()
    folder = args.work / "index"
    times = None
    if not (args.reuse and (folder / "manifest.json").exists()):
        if args.qdrant_edge is not None:
            shutil.rmtree(args.qdrant_edge, ignore_errors=True)
        t = time.perf_counter()
        times = write(folder, args.passages, args.tokens, edge=args.qdrant_edge)
        times["total"] = time.perf_counter() - t
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    if args.qdrant_edge is not None:
        size += sum(f.stat().st_size for f in args.qdrant_edge.rglob("*") if f.is_file())
    big = {f.name: f.stat().st_size for f in folder.iterdir() if f.is_file() and f.stat().st_size > 50e6}
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="1")
    subprocess.run(["sync"], check=False)
    out = subprocess.run([sys.executable, "-c", MEASURE, str(folder), str(args.work / "questions.json"), str(args.runs)],
                         capture_output=True, text=True, env=env)
    if out.returncode:
        sys.exit(out.stderr)
    m = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"### Whole index, synthetic: {m['passages']:,} passages, {args.tokens} token vectors each "
          f"(load average {os.getloadavg()[0]:.1f})")
    print()
    if times:
        print("written in " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
    print(f"index {size / 1e9:.2f} GB on disk ({', '.join(f'{k} {v / 1e9:.2f} GB' for k, v in sorted(big.items()))}); "
          f"dense index {m['dense_index']}")
    print(f"load {m['load_s']:.2f} s (+{m['searcher_s']:.2f} s searcher); RSS after load {m['loaded']['rss']:.0f} MB "
          f"({m['loaded']['anon']:.0f} anonymous, {m['loaded']['file']:.0f} file-backed; {m['before_mb']:.0f} MB before "
          f"the load, for Python, numpy, FAISS and bm25s); after the questions {m['after']['rss']:.0f} MB "
          f"({m['after']['anon']:.0f} anonymous)")
    print(f"hybrid found the question's own passage in its top 10 for {m['hybrid_found_own_passage']:.0%} of the questions")
    print()
    print("| mode | p50 ms | p95 ms |")
    print("|---|---|---|")
    for mode, (p50, p95) in m["modes"].items():
        print(f"| {mode} | {p50:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
