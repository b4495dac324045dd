"""The evaluation collections' converters (scripts/eval_data.py), on small files shaped like the packages'."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from assistant.ingest.corpus import passages_of, read_corpus
from assistant.evaluation.evaluate import load_queries

ROOT = Path(__file__).resolve().parent.parent


def _script():
    if "eval_data" not in sys.modules:  # a script, not a package module: load it by path
        spec = importlib.util.spec_from_file_location("eval_data", ROOT / "scripts" / "eval_data.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["eval_data"] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
    return sys.modules["eval_data"]


FAQ_INDEX = """<html><body><div class="book"><p class="releaseinfo">Version 11.0</p>
<p class="pubdate">January 2021</p></div></body></html>"""

FAQ_CHAPTER = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Chapter 7. Basics</title></head><body>
<div class="navheader"><table><tr><th>Chapter 7. Basics</th></tr></table></div>
<div class="chapter"><div class="titlepage"><div><div><h1 class="title"><a id="c"></a>Chapter 7. Basics of packages</h1></div></div></div>
<div class="toc"><p><strong>Table of Contents</strong></p><dl class="toc"><dt>7.1. What is a package?</dt></dl></div>
<p>This chapter introduces packages.</p>
<div class="section"><div class="titlepage"><div><div><h2 class="title"><a id="s7.1"></a>7.1. What is a
 package?</h2></div></div></div><p>
Packages contain the files  of a <code class="literal">program</code>
(see <a class="xref" href="x.html#s7.2" title="7.2. How are packages named?">Section 7.2, \u201cHow are packages named?\u201d</a>).
</p><div class="itemizedlist"><ul class="itemizedlist"><li class="listitem"><p>
Binary packages<a id="idm1" class="indexterm"></a>, with executables.</p></li><li class="listitem"><p>
Source packages.</p></li></ul></div>
<pre class="screen">
$ dpkg -l
ii  hello
</pre>
<div class="section"><div class="titlepage"><div><div><h3 class="title"><a id="s7.1.1"></a>7.1.1. Nested: and this?</h3></div></div></div>
<p>Nested answer text.</p></div></div>
<div class="section"><div class="titlepage"><div><div><h2 class="title"><a id="s7.2"></a>7.2. Naming</h2></div></div></div>
<div class="note"><h3 class="title">Note</h3><p>Names follow a convention.</p></div></div>
</div></body></html>"""


def _faq_root(tmp_path: Path) -> Path:
    html = tmp_path / "usr/share/doc/debian/FAQ"
    html.mkdir(parents=True)
    (html / "index.en.html").write_text(FAQ_INDEX)
    (html / "pkg-basics.en.html").write_text(FAQ_CHAPTER, encoding="utf-8")
    return tmp_path


def test_faq_answers_lose_their_questions_and_keep_their_text(tmp_path: Path) -> None:
    mod = _script()
    docs, queries, book = mod.convert_faq(_faq_root(tmp_path / "pkg"))
    by_id = {d.doc_id: d for d in docs}
    assert list(by_id) == ["debian-faq-7-intro", "debian-faq-7-1", "debian-faq-7-1-1", "debian-faq-7-2"]
    answer = by_id["debian-faq-7-1"].text
    assert answer.startswith("Packages contain the files of a program (see Section 7.2).\n\n")
    assert "What is a package" not in answer and "How are packages named" not in answer
    assert "Nested answer text." not in answer  # a sub-question is its own document
    assert "* Binary packages, with executables.\n\n* Source packages.\n\n" in answer
    assert "$ dpkg -l\nii  hello" in answer  # a command listing keeps its lines
    assert by_id["debian-faq-7-2"].text == "Names follow a convention.\n"  # no "Note" heading
    assert {d.title for d in docs} == {"Basics of packages"}
    assert book == {"version": "Version 11.0", "date": "January 2021"}
    assert [(q.qid, q.query) for q in queries] == [("faq-7.1", "What is a package?"), ("faq-7.1.1", "Nested: and this?")]
    assert queries[0].quotes == (
        "Packages contain the files of a program (see Section 7.2).",
        "* Binary packages, with executables.",
        "* Source packages.",
    )


def test_faq_corpus_and_queries_load_and_every_quote_lies_in_a_passage(tmp_path: Path) -> None:
    mod = _script()
    docs, queries, book = mod.convert_faq(_faq_root(tmp_path / "pkg"))
    corpus = tmp_path / "corpus"
    mod.write_corpus(corpus, docs, meta_about="test", organization="Debian", date=mod._iso_month(book["date"]),
                     kind="FAQ answer")
    mod.write_queries(tmp_path / "queries.jsonl", queries)
    assert mod.check_quotes(tmp_path / "queries.jsonl", corpus) == []
    read = read_corpus(corpus)
    assert {d.date for d in read.documents} == {"2021-01"}
    loaded = load_queries(tmp_path / "queries.jsonl", {d.doc_id: d for d in read.documents})
    docs_by_id = {d.doc_id: d for d in read.documents}
    for q in loaded:
        passages = passages_of(docs_by_id[q.gold[0].doc_id])
        assert all(any(p.start < g.end and g.start < p.end for p in passages) for g in q.gold), q.qid


def test_check_quotes_reports_a_quote_that_is_not_verbatim(tmp_path: Path) -> None:
    mod = _script()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("The quick brown fox.\n")
    q = tmp_path / "q.jsonl"
    q.write_text(json.dumps({"id": "x", "query": "?", "relevant": [{"doc": "a", "quote": "quick  brown"}]}) + "\n"
                 + json.dumps({"id": "y", "query": "?", "relevant": [{"doc": "b", "quote": "fox"}]}) + "\n")
    problems = mod.check_quotes(q, corpus)
    assert len(problems) == 2 and "quote not in a" in problems[0] and "unknown document b" in problems[1]


@pytest.mark.parametrize("date,iso", [("January 2021", "2021-01"), ("Spring 2021", ""), ("", "")])
def test_iso_month(date: str, iso: str) -> None:
    assert _script()._iso_month(date) == iso


def test_reference_chapters_are_cut_verbatim_from_the_text_edition(tmp_path: Path) -> None:
    mod = _script()
    body = {n: f"Chapter\u00a0{n}.\u00a0Title {n}\n\n    Text of chapter {n}, hard-wrapped\n    as shipped.\n\n"
            for n in range(1, 7)}
    text = ("Debian Reference\n\n    This Debian Reference (version 2.100) (2023-02-04) is\n\n"
            + "".join(body.values()) + "Appendix\u00a0A.\u00a0Appendix\n\n    Not a chapter.\n")
    path = tmp_path / mod._REF_TXT
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    docs, info = mod.convert_reference(tmp_path)
    assert info == {"version": "2.100"}
    assert [d.doc_id for d in docs] == [f"debian-reference-ch{n:02d}" for n in mod.REFERENCE_CHAPTERS]
    for d, n in zip(docs, mod.REFERENCE_CHAPTERS):
        assert d.text == body[n].rstrip() + "\n"  # verbatim, up to the next chapter
        assert d.title == f"Debian Reference, chapter {n}: Title {n}"
    assert all("Appendix" not in d.text for d in docs)


def test_hand_written_unanswerable_questions_follow_the_generated_ones(tmp_path: Path) -> None:
    mod = _script()
    extra = tmp_path / "unanswerable.jsonl"
    extra.write_text('{"id": "u1", "query": "Who won the cup?", "relevant": [], "tags": ["unanswerable"]}\n\n')
    out = tmp_path / "queries.jsonl"
    mod.write_queries(out, [mod.Query("a", "What?", "doc", ("Because.",), ("faq",))], extra=extra)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "u1"] and rows[1]["relevant"] == []
    # the shipped FAQ extras are unanswerable and tagged so
    shipped = ROOT / "eval" / "collections" / "debian-faq" / "unanswerable.jsonl"
    for line in shipped.read_text().splitlines():
        item = json.loads(line)
        assert item["relevant"] == [] and "unanswerable" in item["tags"]


def test_check_quotes_reads_a_pdfs_text_as_the_assistant_does(tmp_path: Path) -> None:
    from docgen import make_pdf

    mod = _script()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make_pdf(corpus / "R-FAQ.pdf", [("What is R?", ["R is a system for statistical computation and graphics."])])
    queries = tmp_path / "queries.jsonl"
    good = {"id": "a", "query": "What is R?", "relevant": [{"doc": "R-FAQ", "quote": "statistical computation and graphics"}]}
    bad = {"id": "b", "query": "Who wrote it?", "relevant": [{"doc": "R-FAQ", "quote": "written by Ross Ihaka"}]}
    queries.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    problems = mod.check_quotes(queries, corpus)
    assert len(problems) == 1 and "(b): quote not in R-FAQ" in problems[0]
