"""Peak memory of `assistant build` and `assistant add` on hostile files, against a build without them.

    .venv/bin/python scripts/bench_hostile.py [--cap-gb 4]
    PYTHONPATH=/path/to/older/checkout .venv/bin/python scripts/bench_hostile.py   # the same, older code

Makes the hostile files (tests/hostile.py: a .docx whose main part inflates to 1 GB
and one to 3 GB, one whose ZIP headers lie about that size, a 40 MB web page, a
PDF whose 30 pages each inflate a 40 MB content stream, a PDF just under every limit,
a 200 MB one-line text file read with --max-file-mb 300), then runs each build in a child process and
prints its peak RSS (the kernel's VmHWM, read every 50 ms) and its time. A child
past --cap-gb or --timeout is killed and shown so: the machine is shared.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hostile import big_html, docx_bomb, pdf_bomb  # noqa: E402

GB = 1 << 30


def _status(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def run(cmd: list[str], *, cap: int, cwd: Path, timeout: float) -> tuple[int, float, str]:
    """Peak RSS (bytes), seconds, and the output ("killed" past ``cap`` or ``timeout``)."""
    t0 = time.perf_counter()
    # run outside the project folder: `python -m` puts the working folder first on the path,
    # ahead of PYTHONPATH (which the "before" figures use to run an older copy of the code)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd)
    peak, killed = 0, ""
    while proc.poll() is None:
        peak = max(peak, _status(proc.pid, "VmHWM"))
        if _status(proc.pid, "VmRSS") > cap:
            proc.kill()
            killed = "killed at the memory cap"
        elif time.perf_counter() - t0 > timeout:
            proc.kill()
            killed = f"killed after {timeout:.0f} s, still running"
        time.sleep(0.05)
    out = proc.stdout.read() if proc.stdout else ""
    seconds = time.perf_counter() - t0
    return peak, seconds, killed or out.strip()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cap-gb", type=float, default=4.0, help="kill a child past this RSS (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=300, help="kill a child after this many seconds (default: %(default)s)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument("--serve-only", action="store_true", help="only the web server's case")
    args = p.parse_args()
    cap = int(args.cap_gb * GB)
    tmp = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    try:
        base = tmp / "base"
        base.mkdir()
        for f in sorted((ROOT / "corpus").glob("*.txt"))[:2]:
            shutil.copy(f, base / f.name)
        made = tmp / "made"
        made.mkdir()
        cases = {
            "docx inflating to 1 GB": lambda d: docx_bomb(d / "bomb-1g.docx", inflated=1 * GB),
            "docx inflating to 3 GB": lambda d: docx_bomb(d / "bomb-3g.docx", inflated=3 * GB),
            "docx lying about 1 GB": lambda d: docx_bomb(d / "liar.docx", inflated=1 * GB, lie=True),
            "web page of 40 MB": lambda d: big_html(d / "big.html", size=40_000_000),
            "PDF, 30 pages x 40 MB streams": lambda d: pdf_bomb(d / "bomb.pdf", pages=30, stream=40_000_000),
            "PDF under every limit: 10 x 9.5 MB streams, 5 MB": lambda d: pdf_bomb(
                d / "under.pdf", pages=10, stream=9_500_000, padding=5_000_000),
            "one-line text of 200 MB (--max-file-mb 300)": lambda d: _one_line(d / "line.txt", 200_000_000),
        }
        py = sys.executable
        rows = []
        peak, secs, out = run([py, "-m", "assistant", "build", "--corpus", str(base), "--index",
                               str(tmp / "index-base")], cap=cap, cwd=tmp, timeout=args.timeout)
        rows.append(("without hostile files", 0, peak, secs, out.splitlines()[-1:] or [""]))
        for name, make in ({} if args.serve_only else cases).items():
            corpus = tmp / f"corpus-{len(rows)}"
            shutil.copytree(base, corpus)
            path = make(corpus)
            extra = ["--max-file-mb", "300"] if "300" in name else []
            peak, secs, out = run([py, "-m", "assistant", "build", "--corpus", str(corpus), "--index",
                                   str(tmp / f"index-{len(rows)}"), *extra], cap=cap, cwd=tmp, timeout=args.timeout)
            said = [x for x in out.splitlines() if path.name in x or "killed" in x] or out.splitlines()[-1:]
            rows.append((f"build + {name}", path.stat().st_size, peak, secs, said))
            shutil.rmtree(corpus)
        # adding the 1 GB docx to an existing index (what the web chat's upload runs)
        bomb = docx_bomb(made / "upload-bomb.docx", inflated=1 * GB)
        add = [py, "-m", "assistant", "add", str(bomb), "--index", str(tmp / "index-base")]
        peak, secs, out = (0, 0.0, "not run") if args.serve_only else run(add, cap=cap, cwd=tmp, timeout=args.timeout)
        rows.append(("add a docx inflating to 1 GB", bomb.stat().st_size, peak, secs,
                     [x for x in out.splitlines() if bomb.name in x] or out.splitlines()[-1:]))
        rows.append(serve_case(py, tmp, made, cap=cap, timeout=args.timeout))
        print(f"{'case':48} {'on disk':>10} {'peak RSS':>10} {'seconds':>8}  what it said")
        for name, size, peak, secs, said in rows:
            print(f"{name:48} {size / 1e6:>8.2f}MB {peak / 1e6:>8.0f}MB {secs:>8.1f}  {' | '.join(x[:150] for x in said)}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def serve_case(py: str, tmp: Path, made: Path, *, cap: int, timeout: float) -> tuple:
    """`serve --allow-uploads --max-upload-mb 5`, then a .docx inflating to 1 GB uploaded and added
    from the chat's API: the server's peak RSS over its RSS once ready."""
    import json
    import socket
    import threading
    import urllib.request

    bomb = docx_bomb(made / "chat-bomb.docx", inflated=1 * GB)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp / "serve.log").open("w")
    proc = subprocess.Popen([py, "-m", "assistant", "serve", "--index", str(tmp / "index-base"), "--port", str(port),
                             "--allow-uploads", "--max-upload-mb", "5"], stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    url = f"http://127.0.0.1:{port}/"
    try:
        while f"Open {url}" not in (tmp / "serve.log").read_text():
            if proc.poll() is not None:
                return ("serve: add a docx inflating to 1 GB", bomb.stat().st_size, 0, 0.0, ["the server did not start"])
            time.sleep(0.5)
        ready = _status(proc.pid, "VmRSS")
        boundary = "bench-boundary"
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="report.docx"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + bomb.read_bytes() + \
            f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(url + "gradio_api/upload", data=body, method="POST",
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(request, timeout=60) as r:
            (received,) = json.loads(r.read())
        said: list[str] = []

        def add() -> None:
            from gradio_client import Client

            try:
                payload = {"path": received, "orig_name": "report.docx", "meta": {"_type": "gradio.FileData"}}
                said.append(Client(url, verbose=False).predict([payload], api_name="/add_documents")[0])
            except Exception as e:  # the server died or refused: say so
                said.append(f"{type(e).__name__}: {str(e)[:100]}")

        t0 = time.perf_counter()
        worker = threading.Thread(target=add, daemon=True)
        worker.start()
        peak = 0
        while worker.is_alive() and proc.poll() is None:
            peak = max(peak, _status(proc.pid, "VmHWM"))
            if _status(proc.pid, "VmRSS") > cap:
                proc.kill()
                said.append("killed at the memory cap")
            elif time.perf_counter() - t0 > timeout:
                proc.kill()
                said.append(f"killed after {timeout:.0f} s, still running")
            time.sleep(0.05)
        worker.join(timeout=30)
        left = [str(p) for p in (tmp / "base" / "uploads").rglob("*")] if (tmp / "base" / "uploads").exists() else []
        said.append(f"RSS when ready {ready / 1e6:.0f} MB; left in uploads/: {left or 'nothing'}; "
                    f"Gradio's copy {'still there' if Path(received).exists() else 'deleted'}")
        return ("serve: add a docx inflating to 1 GB", bomb.stat().st_size, peak, time.perf_counter() - t0, said)
    finally:
        proc.kill()
        proc.wait()
        log.close()


def _one_line(path: Path, size: int) -> Path:
    with path.open("wb") as f:
        chunk = b"x" * (1 << 20)
        for _ in range(size // len(chunk)):
            f.write(chunk)
    return path


if __name__ == "__main__":
    sys.exit(main())
