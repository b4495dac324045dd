"""Compare two `assistant eval --json` outputs: every figure but the timings must match.

    .venv/bin/python scripts/same_figures.py BEFORE.json AFTER.json

Prints each figure that differs (path, before, after) and exits 1 if any does. Timings
(latency, seconds, cost) and the report folder's path are ignored. Used to show that
a change meant to leave behaviour alone (a restructuring) did.
"""

from __future__ import annotations

import json
import sys

IGNORED = ("latency", "seconds", "cost", "report", "_ms", "per_second")


def flatten(x: object, path: str = "") -> dict[str, object]:
    if isinstance(x, dict):
        out: dict[str, object] = {}
        for k, v in x.items():
            out |= flatten(v, f"{path}/{k}")
        return out
    if isinstance(x, list):
        out = {}
        for i, v in enumerate(x):
            out |= flatten(v, f"{path}[{i}]")
        return out
    return {path: x}


def main(argv: list[str]) -> int:
    before, after = (flatten(json.load(open(p, encoding="utf-8"))) for p in argv[:2])
    keys = sorted(set(before) | set(after))
    differ = [k for k in keys if not any(s in k for s in IGNORED) and before.get(k) != after.get(k)]
    for k in differ:
        print(f"{k}: {before.get(k)!r} -> {after.get(k)!r}")
    compared = sum(1 for k in keys if not any(s in k for s in IGNORED))
    print(f"{compared} figures compared, {len(differ)} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
