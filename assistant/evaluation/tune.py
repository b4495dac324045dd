"""``assistant calibrate``: fit an index's refusal threshold and evidence ratio to judged questions.

Owns the order of the steps: load the index, ask every question (hybrid, the k an answer
quotes from), grade each hit (graded judgments when given, else a passage holding a gold
quote is 2 and any other 0), fit (:mod:`assistant.search.fit`), and, unless it is a dry
run, record the fitted values in the index's manifest under the writer lock
(:func:`assistant.index.writer.rewrite_ranking`). A reset puts
back what the build calibrated on its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from assistant.answer.abstain import unknown_names
from assistant.errors import QueryError
from assistant.index import writer
from assistant.index.lock import index_folder, writer_lock
from assistant.search import fit as fitting
from assistant.search import fusion


@dataclass(frozen=True)
class Tuned:
    """What ``calibrate`` found and did."""

    before: fitting.Figures
    after: fitting.Figures
    old: fusion.RankingConfig
    new: fusion.RankingConfig
    written: bool
    graded: bool = True  # judged with graded judgments; else a passage without a gold quote counts as unrelated

    def to_json(self) -> dict:
        from dataclasses import asdict

        return {
            "before": asdict(self.before) | {"min_score": self.old.min_score, "evidence_ratio": self.old.evidence_ratio},
            "after": asdict(self.after) | {"min_score": self.new.min_score, "evidence_ratio": self.new.evidence_ratio},
            "fitted": self.new.fitted, "written": self.written, "graded": self.graded,
        }

    def summary(self) -> str:
        rows = [("", "refusal threshold", "evidence ratio", "unanswerable refused", "answerable refused",
                 "unrelated shown", "answer kept", "quotes shown")]
        for label, cfg, f in (("before", self.old, self.before), ("after", self.new, self.after)):
            rows.append((label, f"{cfg.min_score:.4f}", f"{cfg.evidence_ratio:.2f}", _pct(f.refused_unanswerable),
                         _pct(f.refused_answerable), _pct(f.shown_unrelated), _pct(f.answer_kept), f"{f.shown_mean:.2f}"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        what = self.new.fitted or f"the build's own calibration ({self.new.calibration})"
        tail = f"recorded in the index: {what}" if self.written else "not recorded (dry run)"
        note = [] if self.graded else [
            "(no --qrels: every quote without a gold quote counts as unrelated, so these figures are upper bounds)"]
        return "\n".join(lines + note + [tail])


def _pct(v: float) -> str:
    return "-" if v != v else f"{v:.1%}"  # NaN: no such questions


def tune(
    index_dir: str | Path, queries: str | Path, *, qrels: str | Path | None = None, k: int = 5,
    max_refused: float = 0.03, keep: float = 0.95, write: bool = True, reset: bool = False,
    model: str | None = None, encoder=None, lock_timeout: float = 10.0,
) -> Tuned:
    """Fit (or, with ``reset``, undo the fit of) an index's refusal threshold and evidence
    ratio to the judged questions in ``queries`` (``assistant eval``'s format: answerable
    ones with gold quotes, unanswerable ones with none).

    Raises:
        QueryError: the question set or judgments are unusable, or too few to fit on.
        IndexLoadError: no index, or it changed while the questions were asked.
    """
    from assistant.evaluation.evaluate import load_grades, load_queries, relevant_passages
    from assistant.pipeline.service import Assistant

    if not 0 < max_refused < 0.5 or not 0 < keep <= 1:  # before anything is loaded or asked
        raise QueryError(f"--max-refused must be between 0 and 0.5 (not {max_refused}) and --keep-answers "
                         f"between 0 and 1 (not {keep})")
    folder = index_folder(index_dir)
    assistant = Assistant.open(folder, model=model, encoder=encoder)
    index = assistant.index
    asked = load_queries(queries, index.documents)
    grades = load_grades(qrels) if qrels else None
    old = assistant.searcher.config
    judged = []
    for q in asked:
        r = assistant.retrieve(q.query, k=k, mode="hybrid")
        gold = relevant_passages(q, index)
        judged.append(fitting.Judged(
            answerable=q.answerable,
            scores=tuple(h.score for h in r.hits),
            grades=tuple(_grade(grades, q.qid, h.passage.passage_id, gold) for h in r.hits),
            refused_anyway=bool(r.name_rule and unknown_names(r.query.text, index.vocabulary)),
        ))
    before = fitting.figures(judged, min_score=old.min_score, evidence_ratio=old.evidence_ratio)
    if reset:  # what the build calibrates on its own (pseudo-questions), as if never fitted
        from assistant.search.calibrate import calibrate

        new = calibrate(index, encoder=assistant.encoder)
    else:
        try:
            f = fitting.fit(judged, max_refused=max_refused, keep=keep)
        except ValueError as e:
            raise QueryError(f"cannot calibrate on {queries}: {e}") from None
        new = replace(
            old, min_score=f.min_score, evidence_ratio=f.evidence_ratio,
            fitted=(f"{f.answerable} answerable and {f.unanswerable} unanswerable judged questions "
                    f"({Path(queries).name}{', ' + Path(qrels).name if qrels else ''}; {time.strftime('%Y-%m-%d')})"),
            calibration=(f"fitted to {f.answerable} judged answerable questions: a new one like them is refused with "
                         f"probability {f.quantile:.1%}; the evidence ratio kept {keep:.0%} of their answers"),
        )
    after = fitting.figures(judged, min_score=new.min_score, evidence_ratio=new.evidence_ratio)
    if write:
        with writer_lock(folder, timeout=lock_timeout):
            writer.rewrite_ranking(folder, new.to_json(), loaded=index.identity)
    return Tuned(before, after, old, new, write, graded=grades is not None)


def _grade(grades: dict[str, dict[str, int]] | None, qid: str, pid: str, gold: set[str]) -> int:
    """A hit's grade: as judged, else 2 when it holds a gold quote and 0 otherwise."""
    return (grades or {}).get(qid, {}).get(pid, 2 if pid in gold else 0)
