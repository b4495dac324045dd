"""Quality guard: retrieval on the default corpus and on each evaluation collection may not
fall below the recorded figures (eval/baseline.json, eval/collections/NAME/baseline.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.evaluation.evaluate import evaluate, load_grades, load_queries
from assistant.pipeline.service import Assistant

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.model
def test_recall_and_mrr_do_not_regress(default_index: Path) -> None:
    baseline = json.loads((ROOT / "eval" / "baseline.json").read_text())
    assistant = Assistant.open(default_index)
    queries = load_queries(ROOT / baseline["queries"], assistant.index.documents)
    modes = tuple(baseline["modes"])
    grades = load_grades(ROOT / "eval" / "qrels" / "default.qrels")
    reports = {r.mode: r.metrics for r in evaluate(assistant, queries, modes=modes, grades=grades)}
    _check(reports, baseline, "eval/baseline.json")


def _check(reports: dict, baseline: dict, where: str) -> None:
    """No recorded figure regresses by more than the tolerance: recall@5, MRR@10 and the
    share of answers still showing a quote that states the answer may not fall; the share
    of shown quotes that are unrelated may not rise."""
    tol = baseline["tolerance"]
    for mode, recorded in baseline["modes"].items():
        for metric in ("recall@5", "mrr@10", "answer_kept"):
            now = reports[mode][metric]
            assert now >= recorded[metric] - tol, (
                f"{mode} {metric} fell from {recorded[metric]} to {now}; "
                f"if this is intended, update {where} in the same commit"
            )
        now = reports[mode]["shown_unrelated"]
        assert now <= recorded["shown_unrelated"] + tol, (
            f"{mode}: the share of unrelated quotes shown rose from {recorded['shown_unrelated']} to {now}; "
            f"if this is intended, update {where} in the same commit"
        )


def _collection_baselines() -> list[tuple[str, Path]]:
    """Each collection's recorded figures: eval/collections/NAME/baseline.json, or for a
    second question set over a collection's corpus (``shares``), QUERIES.baseline.json."""
    from assistant.evaluation.collections import load_registry

    out = []
    for c in load_registry(ROOT / "eval" / "collections.json"):
        path = c.queries.with_name(c.queries.stem + ".baseline.json") if c.shares else c.queries.parent / "baseline.json"
        if c.name != "default" and path.is_file():
            out.append((c.name, path))
    return out


@pytest.fixture(scope="session")
def collection_index(tmp_path_factory: pytest.TempPathFactory, real_encoder):
    """Each evaluation collection built with the real model, once per session."""
    from assistant.evaluation.collections import load_registry
    from assistant.pipeline.build import build_index

    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        c = next(x for x in load_registry(ROOT / "eval" / "collections.json") if x.name == name)
        if c.index_name not in built:  # a second question set uses its collection's index
            if not c.corpus.is_dir():
                pytest.skip(f"collection {name} not fetched: run {c.fetch or 'make eval-data'}")
            out = tmp_path_factory.mktemp(f"{c.index_name}-index") / "index"
            build_index(c.corpus, encoder=real_encoder, out_dir=out)
            built[c.index_name] = out
        return built[c.index_name]

    return get


@pytest.mark.model
@pytest.mark.parametrize("name,baseline_path", _collection_baselines(), ids=lambda v: v if isinstance(v, str) else "")
def test_collections_do_not_regress(name: str, baseline_path: Path, collection_index) -> None:
    """The same guard on every evaluation collection (eval/collections/NAME/baseline.json)."""
    baseline = json.loads(baseline_path.read_text())
    assistant = Assistant.open(collection_index(name))
    queries = load_queries(ROOT / baseline["queries"], assistant.index.documents)
    grades = load_grades(ROOT / "eval" / "qrels" / f"{name}.qrels")
    reports = {r.mode: r.metrics for r in evaluate(assistant, queries, modes=tuple(baseline["modes"]), grades=grades)}
    _check(reports, baseline, f"{name}: {baseline_path.relative_to(ROOT)}")
