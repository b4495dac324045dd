"""What an answer shows: evidence numbered as quotes, related passages apart, and the
measures of what is shown (graded judgments)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.answer.model import RELATED, STRONG, make_answer
from assistant.answer.terminal import to_text
from assistant.answer.json_format import to_json
from assistant.web.chat import render_answer
from assistant.ingest.corpus import Document, Passage
from assistant.evaluation.evaluate import QueryResult, load_grades, shown_metrics
from assistant.search.evidence import is_evidence, is_offered
from assistant.search.request import clean_query
from assistant.search.fusion import DEFAULT as DEFAULT_CONFIG
from assistant.search.searcher import Hit, Retrieval, Signals

TEXT = "Alpha statement one. Beta statement two. Gamma statement three. Delta statement four."


def _doc() -> Document:
    return Document(doc_id="d", title="Doc", organization="Org", date="2020", kind="report", source="corpus/d.txt",
                    text=TEXT, path="/abs/corpus/d.txt")


def _hit(n: int, score: float, *, cosine: float = 0.5) -> Hit:
    start = TEXT.index(["Alpha", "Beta", "Gamma", "Delta"][n])
    end = TEXT.index(".", start) + 1
    p = Passage(f"d#p{n + 1}", "d", n + 1, 0, "", "2020", "paragraph", start, end, TEXT[start:end])
    return Hit(p, score, n + 1, Signals(paragraph_cosine=cosine, bm25=1.0, sentence_cosine=cosine))


def _retrieval(scores, *, mode="hybrid", min_score=0.95, ratio=0.8, cosines=None) -> Retrieval:
    cosines = cosines or [0.5] * len(scores)
    hits = tuple(_hit(i, s, cosine=c) for i, (s, c) in enumerate(zip(scores, cosines)))
    config = replace(DEFAULT_CONFIG, min_score=min_score, evidence_ratio=ratio)
    return Retrieval(clean_query("statement"), mode, hits, 4, config=config)


def test_hits_far_below_the_best_or_under_the_floor_are_not_evidence() -> None:
    # 1.5 best; 1.25 >= 0.8 * 1.5 = 1.2 stays; 1.1 is below the ratio; 0.9 below both
    assert is_evidence(_retrieval([1.5, 1.25, 1.1, 0.9])) == (True, True, False, False)
    # the floor alone: every hit within the ratio, but 0.97 < a floor of 1.0
    assert is_evidence(_retrieval([1.2, 1.0, 0.97], min_score=1.0)) == (True, True, False)
    # the best hit is always evidence (refusing is assistant.answer.abstain's decision)
    assert is_evidence(_retrieval([0.5, 0.45], min_score=0.95)) == (True, False)
    assert is_evidence(_retrieval([])) == ()


def test_other_modes_are_cut_by_their_cosine_against_the_best() -> None:
    # keyword scores are BM25: the cut looks at the cosines (0.6 * 0.8 = 0.48)
    r = _retrieval([9.0, 8.0, 7.0], mode="keyword", cosines=[0.6, 0.3, 0.5])
    assert is_evidence(r) == (True, False, True)


def test_related_passages_are_apart_unnumbered_and_labelled() -> None:
    r = _retrieval([1.5, 1.25, 1.1, 0.9])
    answer = make_answer(r, {"d": _doc()}, evidence=is_evidence(r))
    assert [q.rank for q in answer.quotes] == [1, 2]
    assert [q.strength for q in answer.quotes] == [STRONG, STRONG]
    assert [q.citation.passage_id for q in answer.related] == ["d#p3", "d#p4"]
    assert all(q.rank == 0 and q.strength == RELATED for q in answer.related)
    out = to_json(answer)
    assert [h["rank"] for h in out["hits"]] == [1, 2] and [h["strength"] for h in out["hits"]] == [STRONG] * 2
    assert [h["rank"] for h in out["related"]] == [None, None]
    assert [h["text"] for h in out["related"]] == ["Gamma statement three.", "Delta statement four."]
    assert all(TEXT[h["start"]:h["end"]] == h["text"] for h in out["hits"] + out["related"])
    text = to_text(answer)
    sources = text[text.index("Sources:"):text.index("Related, not cited")]
    assert "[1]" in sources and "[2]" in sources and "[3]" not in text  # related ones are never numbered
    assert text.index("Gamma statement three.") > text.index("Related, not cited")
    md = render_answer(answer)
    details = md[md.index("<details>"):]
    assert "Gamma statement three" in details and "related" in details and "**[" not in details
    assert "Gamma" not in md[: md.index("<details>")]


def test_related_passages_under_the_refusal_floor_are_not_offered() -> None:
    # 1.5 best: 1.25 is evidence; 1.1 (under the ratio, over the floor 0.95) is offered as
    # related; 0.9 is under the floor: too weak to answer on its own, so not offered either
    r = _retrieval([1.5, 1.25, 1.1, 0.9])
    assert is_offered(r) == (True, True, True, False)
    answer = make_answer(r, {"d": _doc()}, evidence=is_evidence(r), offered=is_offered(r))
    assert [q.citation.passage_id for q in answer.quotes] == ["d#p1", "d#p2"]
    assert [q.citation.passage_id for q in answer.related] == ["d#p3"]
    assert answer.below_floor == ("d#p4",)
    assert "Delta" not in to_text(answer) and "Delta" not in render_answer(answer)
    assert [h["passage_id"] for h in to_json(answer)["related"]] == ["d#p3"]
    # other modes have no calibrated floor (evidence is judged by rule 1 alone): every hit is offered
    k = _retrieval([9.0, 8.0, 7.0], mode="keyword", cosines=[0.6, 0.3, 0.05])
    assert is_offered(k) == (True, True, True)
    kw = make_answer(k, {"d": _doc()}, evidence=is_evidence(k), offered=is_offered(k))
    assert [q.citation.passage_id for q in kw.quotes] == ["d#p1"]
    assert [q.citation.passage_id for q in kw.related] == ["d#p2", "d#p3"] and kw.below_floor == ()
    # a refused answer shows its closest passages whatever the floor ("possibly related")
    refused = make_answer(_retrieval([0.5, 0.45]), {"d": _doc()}, abstained=True, offered=(False, False))
    assert len(refused.quotes) == 2 and refused.below_floor == ()


def test_a_refused_answer_has_no_related_section_only_possibly_related_hits() -> None:
    r = _retrieval([0.5, 0.45])
    answer = make_answer(r, {"d": _doc()}, abstained=True)
    assert answer.related == () and {q.strength for q in answer.quotes} == {"possibly related"}
    assert to_json(answer)["related"] == []


def _result(qid: str, shown: tuple[str, ...], uncut: tuple[str, ...], answerable: bool = True,
            related: tuple[str, ...] = ()) -> QueryResult:
    return QueryResult(qid, "q", answerable, 1, not uncut, 1.0, uncut, "", "", (), shown, uncut, "", related)


def test_shown_measures_match_a_hand_computed_example(tmp_path: Path) -> None:
    qrels = tmp_path / "x.qrels"
    qrels.write_text("a 0 p1 2\na 0 p2 0\na 0 p3 1\nb 0 p4 1\nb 0 p5 2\nc 0 p6 0\n")
    grades = load_grades(qrels)
    results = [
        _result("a", ("p1", "p3"), ("p1", "p3", "p2"), related=("p2",)),  # 0 of 2 shown unrelated; uncut 1 of 3
        # p9 never judged: unrelated, under the floor; the answer (p5) was cut, offered as related
        _result("b", ("p4",), ("p4", "p5", "p9"), related=("p5",)),
        _result("c", ("p6",), ("p6",), answerable=False),  # an unanswerable question answered: 1 unrelated
        _result("d", (), (), answerable=False),  # refused: shows nothing
    ]
    run = {"a": {"p1": 3.0, "p2": 2.0, "p3": 1.0}, "b": {"p4": 3.0, "p5": 2.0}}
    m = shown_metrics(results, grades, run)
    assert m["shown_unrelated"] == pytest.approx(1 / 4, abs=1e-3)
    assert m["shown_unrelated_uncut"] == pytest.approx(3 / 7, abs=1e-3)
    assert m["shows_answer"] == pytest.approx(1 / 2, abs=1e-3) and m["shows_answer_uncut"] == pytest.approx(1.0, abs=1e-3)
    assert m["answer_kept"] == pytest.approx(1 / 2, abs=1e-3)
    assert m["shown_mean"] == pytest.approx(4 / 4, abs=1e-3) and m["shown_mean_uncut"] == pytest.approx(7 / 4, abs=1e-3)
    assert m["unjudged_shown"] == 1
    assert m["related_mean"] == pytest.approx(2 / 4, abs=1e-3) and m["related_unrelated"] == pytest.approx(1 / 2, abs=1e-3)
    # graded nDCG@10 by hand, trec_eval's gains being the grades: a: 2, 0, 1 at ranks 1-3
    # (ideal 2, 1); b: 1, 2 (ideal 2, 1); c and d are not answerable
    import math

    dcg_a = 2 + 1 / math.log2(4)
    ideal_a = 2 + 1 / math.log2(3)
    dcg_b = 1 + 2 / math.log2(3)
    ideal_b = 2 + 1 / math.log2(3)
    assert m["ndcg_graded@10"] == pytest.approx((dcg_a / ideal_a + dcg_b / ideal_b) / 2, abs=1e-3)


def test_judgments_that_are_not_qrels_are_refused(tmp_path: Path) -> None:
    from assistant.errors import QueryError

    bad = tmp_path / "bad.qrels"
    bad.write_text("a 0 p1\n")
    with pytest.raises(QueryError, match="line 1"):
        load_grades(bad)


def test_the_committed_judgments_cover_every_question_of_their_sets() -> None:
    root = Path(__file__).resolve().parent.parent
    for name, queries in (("default", "eval/queries.jsonl"),
                          ("debian-faq", "eval/collections/debian-faq/queries.jsonl"),
                          ("debian-reference", "eval/collections/debian-reference/queries.jsonl")):
        grades = load_grades(root / "eval" / "qrels" / f"{name}.qrels")
        qids = re.findall(r'"id": "([^"]+)"', (root / queries).read_text(encoding="utf-8"))
        assert set(qids) == set(grades), name
        assert all(g in (0, 1, 2) for per in grades.values() for g in per.values())
