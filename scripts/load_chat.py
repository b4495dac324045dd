"""Load test of a running web chat: many gradio_client clients asking at once.

Starts nothing itself: start the server first (``assistant serve``), then

    .venv/bin/python scripts/load_chat.py http://127.0.0.1:7860/ [--clients 20] [--questions 10]

Each client is a thread with its own gradio_client session that asks its
questions one after another through the ``/chat`` endpoint, so up to
``--clients`` questions are in flight at once. Only local servers are accepted
(127.0.0.1 / localhost), and the numbers of clients and questions are capped.
Prints how many answers came back (ok), how many failed, and latency
percentiles; exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

MAX_CLIENTS = 50
MAX_QUESTIONS = 50
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

QUESTIONS = (  # about the default corpus
    "What happens to prisoners in North Korea's prison camps?",
    "How did the food crisis affect people in North Korea?",
    "What happens to North Koreans who are forcibly returned from China?",
    "Which organizations signed the 2011 coalition letter to Kim Jong Il?",
    "Are public executions carried out in North Korea?",
    "What did the UN Commission of Inquiry find?",
    "What did Human Rights Watch urge Kim Jong Un to do in 2018?",
    "How are political prisoners treated in detention centres?",
    "What reforms did Amnesty International ask Kim Jong Il to consider in 1997?",
    "Is freedom of expression restricted in North Korea?",
)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def run(url: str, clients: int, questions: int, timeout: float) -> tuple[list[float], list[str], float]:
    from gradio_client import Client

    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def one_client(c: int) -> None:
        try:
            client = Client(url, verbose=False, httpx_kwargs={"timeout": timeout})
        except Exception as e:
            with lock:
                failures.extend([f"client {c}: cannot connect: {type(e).__name__}: {e}"] * questions)
            return
        for i in range(questions):
            question = QUESTIONS[(c + i) % len(QUESTIONS)]
            t0 = time.perf_counter()
            try:
                text = client.predict(question, api_name="/chat")
                ok = isinstance(text, str) and ("[1]" in text or "No passage" in text)
                problem = None if ok else f"unexpected answer: {str(text)[:120]!r}"
            except Exception as e:
                problem = f"{type(e).__name__}: {str(e)[:200]}"
            elapsed = time.perf_counter() - t0
            with lock:
                if problem:
                    failures.append(f"client {c} question {i}: {problem}")
                else:
                    latencies.append(elapsed)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one_client, range(clients)))
    return latencies, failures, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("url", help="the running chat, e.g. http://127.0.0.1:7860/")
    p.add_argument("--clients", type=int, default=20,
                   help=f"concurrent clients (default: %(default)s, at most {MAX_CLIENTS})")
    p.add_argument("--questions", type=int, default=10,
                   help=f"questions per client (default: %(default)s, at most {MAX_QUESTIONS})")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default: %(default)s)")
    args = p.parse_args(argv)
    host = urlparse(args.url).hostname
    if host not in LOCAL_HOSTS:
        p.error(f"only a local server may be loaded (127.0.0.1 or localhost), not {host!r}")
    if not 1 <= args.clients <= MAX_CLIENTS or not 1 <= args.questions <= MAX_QUESTIONS:
        p.error(f"--clients must be 1..{MAX_CLIENTS} and --questions 1..{MAX_QUESTIONS}")

    latencies, failures, wall = run(args.url, args.clients, args.questions, args.timeout)
    total = args.clients * args.questions
    print(f"{total} questions from {args.clients} concurrent clients x {args.questions} each, in {wall:.1f} s")
    print(f"ok {len(latencies)}, failed {len(failures)}")
    if latencies:
        print(
            f"latency p50 {percentile(latencies, 50):.2f} s, p95 {percentile(latencies, 95):.2f} s, "
            f"max {max(latencies):.2f} s; throughput {len(latencies) / wall:.1f} answers/s"
        )
    for f in failures[:10]:
        print(f"  {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
