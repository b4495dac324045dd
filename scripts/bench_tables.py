"""Time and peak memory of reading PDFs with tables, and what the reader makes of them.

    PYTHONPATH=$PWD .venv/bin/python scripts/bench_tables.py [--corpus FOLDER ...]
    PYTHONPATH=/path/to/older/checkout .venv/bin/python scripts/bench_tables.py   # the same, older code

Draws the PDFs of issue 25 (tests/tablegen.py: the five layouts, a page that is one
1,000-row table, merged cells, an empty table, a scanned table), then reads each in a
child process (``read_document`` and the splitter, no encoder) and prints its seconds,
peak RSS (the kernel's VmHWM, read every 50 ms), the tables found, the passages and the
first row of its first table. ``--corpus`` also reads whole folders (a real PDF
collection) the same way. A child past --cap-gb or --timeout is killed and shown so.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts"))

import tablegen  # noqa: E402
from bench_hostile import GB, run  # noqa: E402

READ = """
import json, sys, time
from pathlib import Path
from assistant.ingest.corpus import passages_of, read_corpus
t = time.perf_counter()
c = read_corpus(sys.argv[1])
docs = c.documents
tables = [len(getattr(d, "tables", ())) for d in docs]
first = next((d.text[d.tables[0].start : d.tables[0].end].split("\\n")[0] for d in docs if getattr(d, "tables", ())), "")
print(json.dumps({"seconds": time.perf_counter() - t, "documents": len(docs), "tables": sum(tables),
                  "passages": sum(len(passages_of(d)) for d in docs), "first_row": first[:60],
                  "skipped": [s.reason[:60] for s in c.skipped]}))
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", action="append", default=[], help="also read this folder (repeatable)")
    p.add_argument("--cap-gb", type=float, default=2.0, help="kill a child past this RSS (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=600, help="kill a child after this many seconds (default: %(default)s)")
    args = p.parse_args()
    import json

    tmp = Path(tempfile.mkdtemp(prefix="bench-tables-"))
    try:
        cases: list[tuple[str, Path]] = []
        for name, make in {**tablegen.LAYOUTS, **tablegen.BAD}.items():
            folder = tmp / name
            folder.mkdir()
            make(folder / f"{name}.pdf")
            cases.append((name, folder))
        cases += [(Path(c).name, Path(c).resolve()) for c in args.corpus]
        print(f"{'case':14} {'seconds':>8} {'peak RSS':>9} {'docs':>5} {'tables':>6} {'passages':>8}  first row of a table")
        for name, folder in cases:
            peak, secs, out = run([sys.executable, "-c", READ, str(folder)], cap=int(args.cap_gb * GB), cwd=tmp,
                                  timeout=args.timeout)
            try:
                got = json.loads(out.splitlines()[-1])
            except (ValueError, IndexError):
                print(f"{name:14} {secs:>8.2f} {peak / 1e6:>7.0f}MB  {out[-200:]}")
                continue
            said = got["first_row"] or "; ".join(got["skipped"])
            print(f"{name:14} {got['seconds']:>8.2f} {peak / 1e6:>7.0f}MB {got['documents']:>5} {got['tables']:>6} "
                  f"{got['passages']:>8}  {said}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
