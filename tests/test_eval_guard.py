"""Quality guard: retrieval on the default corpus may not fall below the recorded figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.evaluate import evaluate, load_queries
from assistant.service import Assistant

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.model
def test_recall_and_mrr_do_not_regress(default_index: Path) -> None:
    baseline = json.loads((ROOT / "eval" / "baseline.json").read_text())
    assistant = Assistant.open(default_index)
    queries = load_queries(ROOT / baseline["queries"], assistant.index.documents)
    modes = tuple(baseline["modes"])
    reports = {r.mode: r.metrics for r in evaluate(assistant, queries, modes=modes)}
    tol = baseline["tolerance"]
    for mode, recorded in baseline["modes"].items():
        for metric in ("recall@5", "mrr@10"):
            now = reports[mode][metric]
            assert now >= recorded[metric] - tol, (
                f"{mode} {metric} fell from {recorded[metric]} to {now}; "
                "if this is intended, update eval/baseline.json in the same commit"
            )
