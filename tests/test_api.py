"""The public Python API (assistant/__init__.py, docs/api.md): build, add, remove,
Assistant.open / ask / ask_many / reopen, and the lazy re-exports."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import assistant
from assistant import (
    Answer, Assistant, AssistantError, Filter, IndexLoadError, Question, QueryError, add, build, remove,
)

ROOT = Path(__file__).resolve().parent.parent

QUESTIONS = [
    "Who is held without trial?",
    "What did the court sentence the farmers to?",
    "What does the coalition ask the minister?",
    "Which labour camp expanded near the coast?",
    "What happened to the journalist?",
]


@pytest.fixture
def index(small_corpus, tmp_path, tiny_encoder) -> Path:
    out = tmp_path / "index"
    build(small_corpus, index=out, encoder=tiny_encoder)
    return out


@pytest.fixture
def bot(index, tiny_encoder) -> Assistant:
    return Assistant.open(index, encoder=tiny_encoder)


# ---------------------------------------------------------------- the package root


def test_importing_the_package_loads_nothing_heavy():
    code = ("import sys, assistant; heavy = [m for m in ('numpy', 'faiss', 'torch', 'gradio') if m in sys.modules]; "
            "print(heavy, sorted(assistant.__all__) == sorted(set(assistant.__all__)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "True"]


def test_every_exported_name_resolves_to_its_module():
    from assistant.answer.model import Answer as ModelAnswer
    from assistant.errors import QueryError as ErrorsQueryError
    from assistant.pipeline.service import Assistant as ServiceAssistant

    for name in assistant.__all__:
        assert getattr(assistant, name) is not None, name
    assert set(assistant.__all__) <= set(dir(assistant))
    assert (assistant.Assistant, assistant.Answer, assistant.QueryError) == (
        ServiceAssistant, ModelAnswer, ErrorsQueryError)
    assert issubclass(IndexLoadError, AssistantError)
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        assistant.nothing_here  # noqa: B018


# ---------------------------------------------------------------- build, open, ask


def test_build_then_ask_quotes_the_source(small_corpus, index, bot):
    answer = bot.ask("Who is held without trial?", k=3)
    assert isinstance(answer, Answer) and answer.quotes
    first = answer.quotes[0]
    assert first.citation.doc_id == "pr-detention"
    for q in answer.quotes + answer.related:  # every quote is its document's text at its offsets
        source = Path(q.citation.path).read_text(encoding="utf-8")
        assert Path(q.citation.path).parent == small_corpus.resolve()
        assert source[q.citation.start:q.citation.end] == q.text
    assert set(bot.documents) == {"pr-detention", "news", "open-letter"}


def test_a_filter_and_bad_values_are_refused_with_one_message(bot):
    only = bot.ask("Who is held?", k=5, where=Filter(doc_ids=("news",)))
    assert {q.citation.doc_id for q in only.quotes + only.related} <= {"news"}
    with pytest.raises(QueryError, match="unknown mode"):
        bot.ask("Who is held?", mode="psychic")
    with pytest.raises(QueryError, match="unknown document 'nope'"):
        bot.ask("Who is held?", where=Filter(doc_ids=("nope",)))
    with pytest.raises(QueryError, match="empty"):
        bot.ask("   ")


def test_open_refuses_a_missing_index(tmp_path, tiny_encoder):
    with pytest.raises(IndexLoadError):
        Assistant.open(tmp_path / "no-index", encoder=tiny_encoder)


# ---------------------------------------------------------------- ask_many


def test_ask_many_answers_as_ask_does_in_order(bot):
    one_by_one = [bot.ask(q, k=3) for q in QUESTIONS]
    assert list(bot.ask_many(QUESTIONS, k=3)) == one_by_one
    assert list(bot.ask_many(QUESTIONS, k=3, batch_size=2)) == one_by_one


def test_ask_many_encodes_a_group_per_call(bot, tiny_encoder):
    """The questions of a group are encoded together: one encoder call for the group."""
    questions = [f"{q} ({i})" for i, q in enumerate(QUESTIONS * 4)]  # 20 distinct questions
    batches = []
    original = tiny_encoder.encode_tokens

    def counting(texts, **kw):
        batches.append(len(texts))
        return original(texts, **kw)

    tiny_encoder.encode_tokens = counting
    answers = list(bot.ask_many(questions, k=1, batch_size=8))
    assert len(answers) == 20 and batches == [8, 8, 4]  # and none encoded again one by one


def test_ask_many_gives_each_failure_in_its_place(bot):
    told = QueryError("line 2 is not JSON")
    given = [Question("Who is held without trial?", qid="a"), told, "   ", Question("What happened to the journalist?", 7)]
    out = list(bot.ask_many(given, k=2))
    assert [type(x).__name__ for x in out] == ["Answer", "QueryError", "QueryError", "Answer"]
    assert out[0].id == "a" and out[3].id == 7
    assert out[1] is told and "empty" in str(out[2])


def test_ask_many_refuses_bad_settings_before_any_question(bot):
    def never():
        raise AssertionError("no question may be read")
        yield  # pragma: no cover

    with pytest.raises(QueryError, match="unknown mode"):
        bot.ask_many(never(), mode="psychic")
    with pytest.raises(QueryError, match="unknown document"):
        bot.ask_many(never(), where=Filter(doc_ids=("nope",)))


def test_ask_many_reads_its_questions_as_it_answers(bot):
    endless = (f"Who is held without trial? {i}" for i in itertools.count())
    first = list(itertools.islice(bot.ask_many(endless, k=1, batch_size=4), 6))
    assert [a.query for a in first] == [f"Who is held without trial? {i}" for i in range(6)]


# ---------------------------------------------------------------- the collection, add, remove


def test_passages_of_a_document_in_order_and_the_document_of_a_passage(bot):
    news = bot.passages_of("news")
    assert news and all(p.doc_id == "news" for p in news)
    assert [p.start for p in news] == sorted(p.start for p in news)
    assert all(bot.document_of(p.passage_id) == "news" for p in news)
    assert bot.document_of("a#b#p3.2") == "a#b"
    assert bot.passages_of("no-such-document") == ()


def test_add_and_remove_then_reopen(index, bot, tmp_path, tiny_encoder):
    outside = tmp_path / "elsewhere" / "lighthouse.txt"
    outside.parent.mkdir()
    outside.write_text("The lighthouse keeper\n\nThe keeper lit the lamp of the lighthouse every night.\n",
                       encoding="utf-8")
    report = add([outside], index=index, encoder=tiny_encoder)
    assert report.added == ("lighthouse",) and report.documents == 4
    assert "lighthouse" not in bot.documents  # an open assistant keeps the index it opened
    fresh = bot.reopen()
    assert "lighthouse" in fresh.documents and fresh.encoder is bot.encoder
    assert fresh.ask("Who lit the lamp of the lighthouse?", k=1).quotes[0].citation.doc_id == "lighthouse"
    report = remove(["lighthouse"], index=index, encoder=tiny_encoder)
    assert report.removed == ("lighthouse",) and "lighthouse" not in bot.reopen().documents
    with pytest.raises(QueryError):
        remove(["never-indexed"], index=index, encoder=tiny_encoder)


def test_add_to_a_missing_index_says_what_to_run(tmp_path):
    with pytest.raises(IndexLoadError, match="assistant build"):
        add([tmp_path / "x.txt"], index=tmp_path / "no-index")


# ---------------------------------------------------------------- docs/api.md


@pytest.mark.model
def test_the_documented_example_runs(tmp_path):
    """docs/api.md's example, as written, with the real packaged model."""
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    (tmp_path / "example.py").write_text(code, encoding="utf-8")
    out = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "indexed 2 documents, 2 passages"
    assert lines[1] == "[1] Former prisoners describe forced labour in the camps from dawn until night."
    assert "What did families eat? -> food" in lines
    assert any(line.startswith("not asked: the question is empty") for line in lines)
    assert "filtered: {'food'}" in lines
    assert "documents: ['camps', 'food', 'letter']" in lines
    assert lines[-1].startswith("refused: unknown mode 'psychic'")


@pytest.mark.model
def test_the_documented_export_and_verify_run_after_the_example(tmp_path):
    """docs/api.md's provenance example, run after its first example, with the real model."""
    import hashlib

    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    first, second = re.findall(r"```python\n(.*?)```", text, re.S)[:2]
    (tmp_path / "example.py").write_text(first + "\n" + second, encoding="utf-8")
    out = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    sha = hashlib.sha256((tmp_path / "my-corpus" / "camps.txt").read_bytes()).hexdigest()
    index_id = json.loads((tmp_path / "my-index" / "manifest.json").read_text())["manifest_sha256"]
    assert lines[-2] == f"{sha[:12]} {index_id[:12]}"
    assert lines[-1] == "True ['verified']"
