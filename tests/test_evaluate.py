"""The evaluation harness: gold quotes to spans, metrics against hand computation, bad query sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.cli.main import main
from assistant.errors import QueryError
from assistant.evaluation.evaluate import evaluate, load_queries, relevant_passages
from assistant.pipeline.build import build_index
from assistant.index.folder import load_index
from assistant.search.searcher import Searcher
from assistant.pipeline.service import Assistant

ROOT = Path(__file__).resolve().parent.parent

PAGES = {
    "camps.txt": "Prison camps\n\nUp to 120,000 people are held in political prison camps where torture is common.\n\n"
    "Detainees are forced to work from dawn to night in mines and farms.\n",
    "food.txt": "The food crisis\n\nFamine killed hundreds of thousands of people in the 1990s.\n\n"
    "Aid agencies could not reach a fifth of the country to monitor food distribution.\n",
}


@pytest.fixture
def small(tmp_path: Path, tiny_encoder) -> Assistant:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in PAGES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    build_index(corpus, encoder=tiny_encoder, out_dir=tmp_path / "index")
    index = load_index(tmp_path / "index")
    return Assistant(index, tiny_encoder, Searcher(index, tiny_encoder))


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_quote_spans_map_to_overlapping_passages(small: Assistant, tmp_path: Path) -> None:
    qs = load_queries(
        _write(tmp_path / "q.jsonl", [{"id": "a", "query": "camp work", "relevant": [
            {"doc": "camps", "quote": "forced to work from dawn"}]}]),
        small.index.documents,
    )
    (gold,) = qs[0].gold
    doc = small.index.documents["camps"]
    assert doc.text[gold.start:gold.end] == "forced to work from dawn"
    rel = relevant_passages(qs[0], small.index)
    assert len(rel) == 1
    (pid,) = rel
    passage = next(p for p in small.index.passages if p.passage_id == pid)
    assert "forced to work" in passage.text


def test_metrics_match_a_hand_computed_example(small: Assistant, tmp_path: Path) -> None:
    # Two answerable questions, one unanswerable. Compute each figure by hand from the ranks.
    rows = [
        {"id": "q1", "query": "famine killed hundreds of thousands", "relevant": [
            {"doc": "food", "quote": "Famine killed hundreds of thousands"}]},
        {"id": "q2", "query": "famine killed hundreds of thousands", "relevant": [
            {"doc": "camps", "quote": "forced to work from dawn"}]},
        {"id": "q3", "query": "zebra giraffe", "relevant": []},
    ]
    qs = load_queries(_write(tmp_path / "q.jsonl", rows), small.index.documents)
    (report,) = evaluate(small, qs, modes=("dense",))
    ranks = {r.qid: r.first_relevant_rank for r in report.results}
    assert ranks["q1"] == 1  # the exact words: the tiny encoder puts it first
    r2 = ranks["q2"]
    assert r2 is not None and r2 > 1
    m = report.metrics
    assert m["recall@1"] == pytest.approx(0.5)
    assert m["recall@10"] == pytest.approx(1.0)
    assert m["mrr@10"] == pytest.approx(round((1 + 1 / r2) / 2, 4), abs=1e-4)
    import math

    assert m["ndcg@10"] == pytest.approx(round((1 + 1 / math.log2(r2 + 1)) / 2, 4), abs=1e-4)
    assert m["answerable"] == 2 and m["queries"] == 3
    assert 0.0 <= m["refused_unanswerable"] <= 1.0


@pytest.mark.parametrize(
    "line, expected",
    [
        ("{not json", "line 2: not valid JSON"),
        ('{"id": "x", "relevant": []}', "line 2: missing or invalid field 'query'"),
        ('{"id": "x", "query": "q"}', "line 2: missing or invalid field 'relevant'"),
        ('{"id": "x", "query": "q", "relevant": [{"doc": "nope", "quote": "a"}]}', "line 2: unknown document 'nope'"),
        ('{"id": "x", "query": "q", "relevant": [{"doc": "camps", "quote": "not in the text"}]}',
         "line 2: the quote is not in camps"),
        ('{"id": "ok", "query": "again", "relevant": []}', "line 2: duplicate id 'ok'"),
    ],
)
def test_bad_query_sets_name_the_line(small: Assistant, tmp_path: Path, line: str, expected: str) -> None:
    path = _write(tmp_path / "q.jsonl", [{"id": "ok", "query": "famine", "relevant": []}, line])
    with pytest.raises(QueryError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_queries(path, small.index.documents)


def test_empty_query_set_is_refused(small: Assistant, tmp_path: Path) -> None:
    (tmp_path / "q.jsonl").write_text("\n\n")
    with pytest.raises(QueryError, match="holds no queries"):
        load_queries(tmp_path / "q.jsonl", small.index.documents)


def test_every_gold_quote_of_the_shipped_query_set_is_in_its_document() -> None:
    from assistant.ingest.corpus import read_corpus

    docs = {d.doc_id: d for d in read_corpus(ROOT / "corpus").documents}
    queries = load_queries(ROOT / "eval" / "queries.jsonl", docs)
    assert len(queries) >= 80
    unanswerable = [q for q in queries if not q.answerable]
    assert len(unanswerable) >= 10
    covered = {g.doc_id for q in queries for g in q.gold}
    assert covered == set(docs)
    for q in queries:
        for g in q.gold:
            assert docs[g.doc_id].text[g.start:g.end] == g.quote


@pytest.mark.model
def test_cli_eval_writes_reports_and_refuses_bad_input(default_index: Path, tmp_path: Path, capsys) -> None:
    bad = _write(tmp_path / "bad.jsonl", ['{"id": "1", "query": "x", "relevant": [{"doc": "zzz", "quote": "a"}]}'])
    assert main(["eval", "--index", str(default_index), "--queries", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "line 1" in err and "Traceback" not in err
    few = _write(tmp_path / "few.jsonl", [
        {"id": "a", "query": "Who is held in political prison camps?", "relevant": [
            {"doc": "ai-2013-2018-north-korea-news", "quote": "up to 120,000 held in prison camps"}]},
        {"id": "b", "query": "What is the capital of France?", "relevant": []},
    ])
    code = main(["eval", "--index", str(default_index), "--queries", str(few), "--report-dir", str(tmp_path / "r"),
                 "--name", "t", "--mode", "hybrid,dense", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["modes"]) == {"hybrid", "dense"}
    folder = tmp_path / "r" / "t"
    assert (folder / "report.md").read_text().count("| a |") == 2
    assert (folder / "recall.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((folder / "report.json").read_text())
    assert data["modes"]["hybrid"]["queries"] == 2
