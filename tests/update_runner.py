"""Runs one build, add or remove with the tiny test encoder, slowly, so a test can
kill it with SIGKILL at a chosen moment (tests/test_kill.py).

    python tests/update_runner.py [--delay S] [--pause-swap S] [--two-step] build CORPUS INDEX
    python tests/update_runner.py ... add INDEX FILE...
    python tests/update_runner.py ... remove INDEX NAME...

Prints "encoded N" after each encoder call, "swapping" just before the new index
is swapped into place (then waits --pause-swap seconds), "swapped" once it is in place
(then waits --pause-after-swap seconds), "renamed" between the
two renames of a swap without renameat2 (--two-step; then waits again), and the
report as JSON at the end. The waits are this script's, not the library's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conftest import TinyEncoder  # noqa: E402


class SlowEncoder(TinyEncoder):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.batches = 0
        self.nested = False

    def encode_tokens(self, texts, *, batch_size=32, progress=False):
        self.nested = True
        try:
            out = super().encode_tokens(texts, batch_size=batch_size, progress=progress)
        finally:
            self.nested = False
        self._done()
        return out

    def encode(self, texts, *, batch_size=32, progress=False):
        out = super().encode(texts, batch_size=batch_size, progress=progress)
        if not self.nested:
            self._done()
        return out

    def _done(self) -> None:
        self.batches += 1
        print(f"encoded {self.batches}", flush=True)
        time.sleep(self.delay)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--pause-swap", type=float, default=0.0)
    p.add_argument("--pause-after-swap", type=float, default=0.0)
    p.add_argument("--two-step", action="store_true")
    p.add_argument("--real", action="store_true", help="the packaged model instead of the tiny encoder")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("op", choices=["build", "add", "remove"])
    p.add_argument("args", nargs="+")
    a = p.parse_args()

    import assistant.index.writer as writer
    import assistant.pipeline.build as build

    real_swap = writer.swap_into_place

    def swap(tmp, out):
        print("swapping", flush=True)
        time.sleep(a.pause_swap)
        real_swap(tmp, out)

    writer.swap_into_place = swap
    if a.pause_after_swap:
        real_exchange = writer._exchange

        def exchange(x, y):
            done = real_exchange(x, y)
            print("swapped", flush=True)  # the new index in place, the previous one not yet deleted
            time.sleep(a.pause_after_swap)
            return done

        writer._exchange = exchange
    if a.two_step:
        import os

        class Os:
            """os, with a pause after the first rename of a swap."""

            def __getattr__(self, name):
                return getattr(os, name)

            def replace(self, src, dst):
                os.replace(src, dst)
                if Path(str(dst)).name.endswith(".old"):
                    print("renamed", flush=True)
                    time.sleep(a.pause_swap)

        writer._exchange = lambda x, y: False
        writer.os = Os()

    if a.real:
        from assistant.encoders.embed import DEFAULT_MODEL, SentenceTransformerEncoder

        class Real(SentenceTransformerEncoder):
            batches = 0

            def encode_tokens(self, texts, *, batch_size=32, progress=False):
                out = super().encode_tokens(texts, batch_size=batch_size, progress=progress)
                Real.batches += 1
                print(f"encoded {Real.batches}", flush=True)
                return out

        encoder = Real(DEFAULT_MODEL)
    else:
        encoder = SlowEncoder(a.delay)
    if a.op == "build":
        report = build.build_index(a.args[0], encoder=encoder, out_dir=a.args[1], batch_size=a.batch_size)
    elif a.op == "add":
        report = build.add_documents(a.args[0], a.args[1:], encoder=encoder, batch_size=a.batch_size)
    else:
        report = build.remove_documents(a.args[0], a.args[1:], encoder=encoder)
    print(json.dumps({"summary": report.summary(), "encoded": report.encoded, "reused": report.reused}), flush=True)


if __name__ == "__main__":
    main()
