"""`assistant calibrate`: fitting the refusal threshold and evidence ratio to judged questions."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import IndexLoadError
from assistant.search import fit as fitting
from assistant.search.fit import Judged

ROOT = Path(__file__).resolve().parent.parent


def _answerable(best: float, grades=(2, 0, 0, 0, 0), rest=(0.5, 0.4, 0.3, 0.2)) -> Judged:
    return Judged(True, (best,) + tuple(rest), tuple(grades))


def test_the_threshold_is_the_order_statistic_that_keeps_half_the_budget():
    best = np.linspace(1.0, 2.0, 101)  # 101 answerable questions
    judged = [_answerable(float(b)) for b in best] + [Judged(False, (0.9, 0.5), (0, 0))] * 10
    f = fitting.fit(judged, max_refused=0.04)
    # k = floor(0.04 * 0.5 * 102) = 2: the second lowest best score; a new question like
    # these falls under it with probability 2/102
    assert f.min_score == pytest.approx(best[1], abs=1e-4) and f.min_score <= best[1]
    assert f.quantile == pytest.approx(2 / 102)
    after = fitting.figures(judged, min_score=f.min_score, evidence_ratio=f.evidence_ratio)
    assert after.refused_answerable == pytest.approx(round(1 / 101, 4))
    assert after.refused_unanswerable == 1.0  # every unanswerable one scores below the answerable ones


def test_the_strictest_ratio_that_keeps_the_answers_is_chosen():
    # the answer is second in 19 of 70 questions, at 0.87 of the best score: a ratio of
    # 0.9 would lose them, 0.85 keeps them all (the one weak question is the lowest best
    # score, k = 1, and keeps the fitted threshold under the others' scores)
    judged = [_answerable(2.0, grades=(2, 0, 0, 0, 0), rest=(1.2, 1.0, 0.9, 0.8)) for _ in range(50)]
    judged += [_answerable(2.0, grades=(0, 2, 0, 0, 0), rest=(1.74, 1.0, 0.9, 0.8)) for _ in range(19)]
    judged += [_answerable(0.5)]
    f = fitting.fit(judged, max_refused=0.03, keep=0.95)
    assert f.min_score == 0.5
    assert f.evidence_ratio == 0.85
    kept = fitting.figures(judged, min_score=f.min_score, evidence_ratio=0.9).answer_kept
    assert kept == pytest.approx(51 / 70, abs=1e-4)
    assert fitting.figures(judged, min_score=f.min_score, evidence_ratio=0.85).answer_kept == 1.0


def test_figures_count_unrelated_quotes_refusals_and_answers_kept_by_hand():
    judged = [
        Judged(True, (2.0, 1.9, 1.0), (2, 0, 1)),  # shows 2 (ratio 0.8): one unrelated
        Judged(True, (0.5, 0.45), (2, 1)),  # refused at 1.0
        Judged(False, (1.5, 1.4, 1.3), (0, 0, 0)),  # answered: three unrelated
        Judged(False, (0.7,), (0,)),  # refused
    ]
    f = fitting.figures(judged, min_score=1.0, evidence_ratio=0.8)
    assert f.refused_answerable == 0.5 and f.refused_unanswerable == 0.5
    assert f.shown_unrelated == pytest.approx(4 / 5)
    assert f.answer_kept == 1.0  # of the one answered question whose hits hold a 2
    assert f.shown_mean == pytest.approx(5 / 4)


def test_too_few_answerable_questions_for_the_budget_are_refused_with_the_number_needed():
    with pytest.raises(ValueError, match="at least 66"):  # a 3% budget with the margin: k >= 1 needs n >= 66
        fitting.fit([_answerable(1.0)] * 65)
    assert fitting.fit([_answerable(1.0)] * 66).quantile == pytest.approx(1 / 67)


@pytest.mark.model
def test_calibrate_records_the_fit_in_the_index_and_a_later_change_keeps_it(default_index, real_encoder, tmp_path):
    from assistant.index.folder import load_index
    from assistant.pipeline.build import add_documents
    from assistant.pipeline.service import Assistant
    from assistant.evaluation.tune import tune

    index = tmp_path / "index"
    shutil.copytree(default_index, index)
    queries, qrels = ROOT / "eval/queries.jsonl", ROOT / "eval/qrels/default.qrels"
    dry = tune(index, queries, qrels=qrels, encoder=real_encoder, write=False)
    assert json.loads((index / "manifest.json").read_text())["ranking"].get("fitted", "") == ""
    tuned = tune(index, queries, qrels=qrels, encoder=real_encoder)
    assert (tuned.new.min_score, tuned.new.evidence_ratio) == (dry.new.min_score, dry.new.evidence_ratio)
    assert tuned.after.refused_answerable <= 0.03
    assert "162 answerable and 22 unanswerable" in tuned.new.fitted
    loaded = Assistant.open(index, encoder=real_encoder).searcher.config
    assert (loaded.min_score, loaded.evidence_ratio) == (tuned.new.min_score, tuned.new.evidence_ratio)
    assert load_index(index, verify=True)  # checksums and manifest hash still hold

    extra = tmp_path / "extra.txt"
    extra.write_text("A short note on rice rations distributed in 2019 in the northern provinces.\n", encoding="utf-8")
    add_documents(index, [extra], encoder=real_encoder)
    kept = Assistant.open(index, encoder=real_encoder).searcher.config
    assert (kept.min_score, kept.evidence_ratio, kept.fitted) == (tuned.new.min_score, tuned.new.evidence_ratio, tuned.new.fitted)

    reset = tune(index, queries, qrels=qrels, encoder=real_encoder, reset=True)
    assert reset.new.fitted == "" and reset.new.min_score == pytest.approx(0.95)


@pytest.mark.model
def test_calibrate_on_the_command_line_refuses_a_set_too_small_to_fit(default_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(default_index, index)
    few = tmp_path / "few.jsonl"
    lines = (ROOT / "eval/queries.jsonl").read_text(encoding="utf-8").splitlines()[:10]
    few.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "assistant", "calibrate", "--index", str(index), "--queries", str(few)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode != 0
    assert "at least 66" in r.stderr and "Traceback" not in r.stderr
    assert json.loads((index / "manifest.json").read_text())["ranking"].get("fitted", "") == ""


def test_a_bad_budget_is_a_value_error():
    with pytest.raises(ValueError):
        fitting.fit([_answerable(1.0)] * 40, max_refused=0.0)


def test_a_fit_is_kept_by_a_rebuild_with_the_same_model_and_dropped_with_another(small_corpus, tiny_encoder, tmp_path):
    from dataclasses import replace

    from assistant.index import writer
    from assistant.index.folder import load_index
    from assistant.pipeline.build import build_index
    from assistant.search.fusion import RankingConfig
    from tests.conftest import TinyEncoder

    out = tmp_path / "index"
    build_index(small_corpus, encoder=tiny_encoder, out_dir=out)
    index = load_index(out)
    fitted = replace(RankingConfig.from_json(index.manifest.ranking), min_score=1.2345, evidence_ratio=0.9,
                     fitted="70 answerable and 5 unanswerable judged questions (mine.jsonl)")
    writer.rewrite_ranking(out, fitted.to_json(), loaded=index.identity)
    with pytest.raises(IndexLoadError, match="changed since it was loaded"):
        writer.rewrite_ranking(out, fitted.to_json(), loaded=index.identity)  # the manifest is not the one loaded

    (small_corpus / "extra.txt").write_text("Extra\n\nA new page about ketches and their two masts.\n")
    build_index(small_corpus, encoder=tiny_encoder, out_dir=out)
    kept = RankingConfig.from_json(load_index(out).manifest.ranking)
    assert (kept.min_score, kept.evidence_ratio, kept.fitted) == (1.2345, 0.9, fitted.fitted)

    class OtherModel(TinyEncoder):
        name = "another-model"

    build_index(small_corpus, encoder=OtherModel(), out_dir=out)
    other = RankingConfig.from_json(load_index(out).manifest.ranking)
    assert other.fitted == "" and other.min_score != 1.2345 and other.evidence_ratio == 0.8
