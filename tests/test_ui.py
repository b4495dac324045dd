"""The web chat's content, tested directly: escaping, answers, sources view, filters, follow-ups.

A small corpus written into each test's tmp_path (one document holds
``<script>``, ``<b>`` and a Markdown link) is indexed with the conftest's tiny
deterministic encoder; :class:`assistant.web.chat.Chat` runs on a real
:class:`Assistant` over it. Markdown is rendered with markdown-it (CommonMark,
raw HTML allowed) to check what a browser would get.
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.answer.model import NOTHING_ANSWERS
from assistant.answer.json_format import to_json
from assistant.web.chat import (
    EMPTY_SOURCE,
    SORRY,
    Chat,
    display_lines,
    escape_markdown,
    passage_html,
    quote_markdown,
    render_answer,
)
from assistant.errors import QueryError
from assistant.search.followup import follow_up_query, is_follow_up, topic_question, user_messages
from assistant.pipeline.build import build_index
from assistant.search.request import Filter, make_filter
from assistant.pipeline.service import Assistant
from conftest import BOLD, LINK, SCRIPT, write_markup_corpus

MarkdownIt = pytest.importorskip("markdown_it").MarkdownIt

MARKUP_QUESTION = "Which page contained script tags, bold tags and a link?"


@pytest.fixture
def index_dir(tmp_path, tiny_encoder) -> Path:
    out = tmp_path / "index"
    build_index(write_markup_corpus(tmp_path / "corpus"), encoder=tiny_encoder, out_dir=out)
    return out


@pytest.fixture
def chat(index_dir, tiny_encoder) -> Chat:
    return Chat(Assistant.open(index_dir, encoder=tiny_encoder))


def rendered(markdown: str) -> str:
    """HTML as a CommonMark renderer that passes raw HTML through would make it."""
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)


def shown_text(markup: str) -> str:
    """The characters a reader sees in HTML."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def collapse(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- escaping


def test_escape_markdown_shows_markup_literally():
    line = f"Text with {SCRIPT}, {BOLD}, {LINK}, ![img](x.png), *star* _under_ `code` ~~strike~~ $x$ a|b & www.example.org"
    out = rendered(escape_markdown(line))
    assert "<script" not in out and "<b>" not in out and "<a " not in out and "<img" not in out
    assert "<em>" not in out and "<strong>" not in out and "<code>" not in out and "<s>" not in out
    assert shown_text(out).strip() == line


@pytest.mark.parametrize("line", ["- item", "+ item", "1. first", "2) second", "# heading", "> quoted", "---", "==="])
def test_escape_markdown_defuses_line_start_markers(line):
    out = rendered(escape_markdown(line))
    assert out.startswith("<p>"), out
    assert shown_text(out).strip() == line


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\x7f"), min_size=1))
def test_escape_markdown_round_trips_any_line(text):
    line = display_lines(text)[0] if display_lines(text) else ""
    if not line:
        return
    out = rendered(escape_markdown(line))
    inner = out.removeprefix("<p>").removesuffix("</p>\n")
    assert "<" not in inner, out  # no element at all: every character is text
    assert html.unescape(inner) == line


# ---------------------------------------------------------------- layout of quotes


def test_display_lines_marks_spans_and_keeps_list_lines():
    text = "Signed by:\n  Alpha Group\n\n  Beta  Network\n"
    start = text.index("Alpha")
    end = text.index("Network") + len("Network")
    assert display_lines(text, [(start, end)], keep_lines=True) == [
        "Signed by:", "\x01Alpha Group\x02", "\x01Beta Network\x02"
    ]
    assert display_lines(text, [(start, end)]) == ["Signed by: \x01Alpha Group Beta Network\x02"]


def test_display_lines_moves_spaces_outside_the_marks():
    text = "One.  Two three.  Four."
    assert display_lines(text, [(4, 18)]) == ["One. \x01Two three.\x02 Four."]


def test_quote_is_a_block_quote_with_the_best_sentence_in_bold(chat):
    answer = chat.assistant.ask(MARKUP_QUESTION, k=3)
    q = answer.quotes[0]
    assert q.highlights, "the tiny encoder still scores sentences"
    md = quote_markdown(q)
    assert all(line.startswith("> ") for line in md.split("\n"))
    out = rendered(md)
    strong = re.findall(r"<strong>(.*?)</strong>", out, flags=re.S)
    source = chat.documents[q.citation.doc_id].text
    assert [html.unescape(s) for s in strong] == [collapse(source[a:b]) for a, b in q.highlights]
    assert collapse(shown_text(out)) == collapse(q.text)


def test_answer_shows_document_markup_as_text(chat):
    reply = chat.reply(MARKUP_QUESTION, [], 3)
    assert reply.answer.quotes[0].citation.doc_id == "markup"
    assert SCRIPT not in reply.text and BOLD not in reply.text.split("```")[0]
    out = rendered(reply.text)
    assert "<script" not in out and "<b>" not in out and "<a " not in out and "<i>" not in out
    seen = shown_text(out)
    for literal in (SCRIPT, BOLD, LINK, "Markup <i>in</i> a report", "Test & Co"):
        assert literal in seen


def test_answer_numbers_quotes_and_lists_copyable_citations(chat):
    reply = chat.reply(MARKUP_QUESTION, [], 3)
    quotes = reply.answer.quotes
    for q in quotes:
        assert f"**[{q.rank}]**" in reply.text
    block = re.search(r"```text\n(.*?)\n```", reply.text, flags=re.S).group(1)
    assert block.split("\n") == [f"[{q.rank}] {q.citation.text()}" for q in quotes]
    cited = [s for s in reply.sources if s.marker == "cited"]
    assert [s.passage_id for s in cited] == [q.citation.passage_id for q in quotes]
    # related passages can be opened too, labelled as such and never numbered (an answer whose
    # first hit alone is evidence, so that it has some whatever the floor)
    from assistant.answer.model import make_answer

    hits = chat.assistant.retrieve(MARKUP_QUESTION, k=3)
    cut = make_answer(hits, chat.assistant.index.documents, evidence=(True,) + (False,) * (len(hits.hits) - 1))
    related = [s for s in chat.sources_of(cut) if s.marker == "related"]
    assert related and [s.passage_id for s in related] == [q.citation.passage_id for q in cut.related]
    assert all(s.label.startswith("related · ") for s in related)
    assert reply.sources[0].label == f"[1] ¶ {quotes[0].citation.paragraph} · Markup <i>in</i> a report"


def every_hit_quoted(chat, question: str, k: int):
    """An answer quoting every hit of a question (no evidence cut), to test rendering."""
    from assistant.answer.model import make_answer

    return make_answer(chat.assistant.retrieve(question, k=k), chat.assistant.index.documents)


def test_a_statement_published_twice_is_quoted_once_with_both_citations(chat):
    answer = every_hit_quoted(chat, MARKUP_QUESTION, 2)
    first, second = answer.quotes
    merged = dataclasses.replace(answer, quotes=(dataclasses.replace(first, also_in=(second.citation,)),))
    text = render_answer(merged)
    assert text.count("**[") == 1
    assert f"also published in *{escape_markdown(second.citation.title)}* ¶ {second.citation.paragraph}" in text
    assert f"    also published as: {second.citation.text()}" in text


def test_abstained_answer_says_so_and_offers_hits_only_as_possibly_related(chat):
    answer = dataclasses.replace(every_hit_quoted(chat, MARKUP_QUESTION, 2), abstained=True)
    text = render_answer(answer)
    assert NOTHING_ANSWERS in text
    assert text.index(NOTHING_ANSWERS) < text.index("Possibly related") < text.index("[1]")
    quotes = re.findall(r"<blockquote>(.*?)</blockquote>", rendered(text), flags=re.S)
    assert len(quotes) == 2 and not any("<strong>" in q for q in quotes)
    # nothing of a declined answer is presented as cited
    assert "**Sources of the possibly related passages** (plain text, to copy)" in text
    sources = chat.sources_of(answer)
    assert {s.marker for s in sources} == {"possibly related"}
    assert all(s.highlights == () for s in sources)  # no sentence is marked as answering
    page = chat.source_html(sources[0].passage_id, sources[0].highlights, marker=sources[0].marker)
    assert "· possibly related</div>" in page and "· cited" not in page
    assert {s.marker for s in chat.sources_of(dataclasses.replace(answer, abstained=False))} == {"cited"}


def test_notes_and_rewritten_query_are_shown(chat):
    long_question = "prison camps " * 20_000
    reply = chat.reply(long_question, [])
    assert "*Note:*" in reply.text and "characters long" in reply.text
    history = [{"role": "user", "content": "What happens in prison camps?"}, {"role": "assistant", "content": "…"}]
    follow = chat.reply("And what about children?", history)
    assert follow.answer.searched == "happens prison camps children?"
    assert "*Searched for:* “happens prison camps children?”" in follow.text


# ---------------------------------------------------------------- filters


def test_filter_matching_nothing_says_so_and_returns_nothing(chat):
    reply = chat.reply("prison camps", [], 5, "hybrid", [], [], "2030", "")
    assert reply.answer.quotes == () and reply.sources == ()
    assert "No passage matches the filter" in reply.text and "2030" in reply.text
    assert "[1]" not in reply.text


def test_filter_by_document_organisation_and_date(chat):
    by_doc = chat.reply("prison camps food", [], 10, "hybrid", ["camps"], [], "", "")
    assert {s.passage_id.split("#")[0] for s in by_doc.sources} == {"camps"}
    by_org = chat.reply("prison camps food", [], 10, "hybrid", [], ["Coalition for Prison Reform"], "", "")
    assert {s.passage_id.split("#")[0] for s in by_org.sources} == {"letter"}
    by_date = chat.reply("prison camps food", [], 10, "hybrid", [], [], "2012", "2013")
    assert {s.passage_id.split("#")[0] for s in by_date.sources} == {"camps"}


def test_filter_names_the_documents_it_could_not_match(chat):
    reply = chat.reply("prison camps", [], 5, "hybrid", ["markup"], [], "", "2000")
    assert "No passage matches the filter" in reply.text
    assert "Markup &lt;i&gt;in&lt;/i&gt; a report" in reply.text and "dated up to 2000" in reply.text


@pytest.mark.parametrize(
    "date_from, date_to, expected",
    [("", "", Filter()), (" 2014 ", "2015-06", Filter(date_from="2014", date_to="2015-06")),
     ("2014-03-01", "2014", Filter(date_from="2014-03-01", date_to="2014"))],
)
def test_make_filter_accepts_iso_prefixes(date_from, date_to, expected):
    assert make_filter(date_from=date_from, date_to=date_to) == expected


@pytest.mark.parametrize("date_from, date_to", [("14", ""), ("2014-13", ""), ("", "2014-02-40"), ("2015", "2014"),
                                                ("yesterday", "")])
def test_make_filter_refuses_bad_dates(date_from, date_to):
    with pytest.raises(QueryError):
        make_filter(date_from=date_from, date_to=date_to)


def test_bad_settings_become_a_message(chat):
    reply = chat.reply("prison camps", [], 5, "hybrid", [], [], "20x", "")
    # the same words as the CLI and the /search API (assistant.search.request)
    assert reply.answer is None and "The start date '20x' is not a date: use YYYY" in reply.text
    assert "Unknown mode" in chat.reply("prison camps", [], 5, "fuzzy").text
    for k in ("many", 0, 101, 2.5):
        assert "The number of quotes (k) must be a whole number from 1 to 100" in chat.reply("prison camps", [], k).text
    floated = chat.reply("prison camps", [], 5.0).answer  # a slider sends a float
    assert len(floated.quotes) + len(floated.related) == 5


# ---------------------------------------------------------------- odd questions and failures


@pytest.mark.parametrize(
    "question",
    ["", "   ", "\x00\x01\x7f", "x" * 100_000, "camps\x00 and\x1b[31m food\u200b", "<img src=x onerror=alert(1)> camps",
     "[click](javascript:alert(1)) camps", None],
)
def test_any_question_gets_a_reply(chat, question):
    reply = chat.reply(question, [])
    assert isinstance(reply.text, str) and reply.text
    assert "Traceback" not in reply.text and "<img" not in reply.text and "](javascript" not in reply.text


def test_empty_question_is_explained(chat):
    assert "question is empty" in chat.reply("", []).text


def test_html_in_a_follow_up_is_shown_as_text(chat):
    history = [{"role": "user", "content": [{"type": "text", "text": "What happens in prison camps?"}]}]
    reply = chat.reply("<b>them</b>?", history)
    assert "Searched for" in reply.text
    assert "<b>" not in reply.text and "&lt;b&gt;them&lt;/b&gt;" in reply.text


def test_a_failure_becomes_an_apology_and_a_log_entry(index_dir, tiny_encoder, caplog):
    class BrokenEncoder(type(tiny_encoder)):
        def encode(self, texts, *, batch_size=32, progress=False):
            raise RuntimeError("secret internals")

    chat = Chat(Assistant.open(index_dir, encoder=BrokenEncoder()))
    with caplog.at_level(logging.ERROR, logger="assistant.web.chat"):
        reply = chat.reply("prison camps", [])
    assert reply.text == SORRY and reply.sources == ()
    assert "secret internals" in caplog.text


# ---------------------------------------------------------------- the /search JSON


def test_search_returns_the_json_of_ask(chat):
    got = chat.search(MARKUP_QUESTION, 3, "dense")
    assert got == to_json(chat.assistant.ask(MARKUP_QUESTION, k=3, mode="dense"))
    assert got["hits"][0]["text"] == chat.documents["markup"].text[got["hits"][0]["start"]:got["hits"][0]["end"]]
    assert json.loads(json.dumps(got)) == got


@pytest.mark.parametrize("question, k, mode", [("", 5, "hybrid"), ("camps", 0, "hybrid"), ("camps", 5, "fuzzy")])
def test_search_refuses_bad_requests(chat, question, k, mode):
    with pytest.raises(QueryError):
        chat.search(question, k, mode)


# ---------------------------------------------------------------- the sources view


def test_source_view_shows_the_cited_paragraph_between_its_neighbours(chat):
    ids = [p.passage_id for p in chat.context("markup#p2")]
    assert ids == ["markup#p1", "markup#p2", "markup#p3"]
    assert [p.passage_id for p in chat.context("markup#p1", around=1)] == ["markup#p1", "markup#p2"]
    page = chat.source_html("markup#p2")
    blocks = re.findall(r'<div class="(src-para[^"]*)">', page)
    assert blocks == ["src-para", "src-para cited", "src-para"]
    assert re.search(r'<div class="src-para cited"><div class="src-where">¶ 2 [^<]*· cited</div>', page)
    assert chat.documents["markup"].source in page


def test_source_view_shows_markup_as_text_and_marks_the_best_sentence(chat):
    q = chat.assistant.ask(MARKUP_QUESTION, k=1).quotes[0]
    page = chat.source_html(q.citation.passage_id, q.highlights)
    assert "<script" not in page and "<b>" not in page and "<i>" not in page
    seen = shown_text(page)
    assert SCRIPT in seen and BOLD in seen and LINK in seen and "Markup <i>in</i> a report" in seen
    marked = re.findall(r"<mark>(.*?)</mark>", page)
    doc = chat.documents["markup"].text
    assert [html.unescape(m) for m in marked] == [collapse(doc[a:b]) for a, b in q.highlights]


def test_source_view_of_nothing_is_the_placeholder(chat):
    assert chat.source_html(None) == EMPTY_SOURCE
    assert chat.source_html("no-such#p1") == EMPTY_SOURCE


def test_passage_html_keeps_list_lines():
    assert passage_html("Signed:\n  A & B\n  <C>", keep_lines=True) == "Signed:<br>A &amp; B<br>&lt;C&gt;"


def test_settings_choices_come_from_the_index(chat):
    assert chat.document_choices == [
        ("Letter on executions", "letter"), ("Markup <i>in</i> a report", "markup"), ("Prison camps", "camps")
    ]
    assert chat.organizations == ["Coalition for Prison Reform", "Test & Co", "Watchers"]


# ---------------------------------------------------------------- follow-ups

FOOD = "How has the food crisis affected North Korea?"


@pytest.mark.parametrize(
    "message, follows",
    [
        ("And what about children?", True),
        ("also in 2011", True),
        ("What about the camps?", True),
        ("Who signed it?", True),
        ("What happened to them in 2011?", True),
        ("Why?", True),
        ("How many?", True),
        ("Children?", False),  # a keyword is a new search
        ("hunger", False),
        ("Who signed the 2011 coalition letter?", False),
        ("What are public executions?", False),
        ("Is there torture in the prison camps?", False),
        ("Is it true that prisoners are tortured in camps?", False),
    ],
)
def test_is_follow_up(message, follows):
    assert is_follow_up(message) is follows


def test_follow_up_searches_with_the_topic_question():
    assert follow_up_query("And what about children?", [FOOD]) == "food crisis affected North Korea children?"
    assert follow_up_query("Who signed it?", ["Tell me about the 2011 letter"]) == "2011 letter Who signed it?"
    assert follow_up_query("And?", [FOOD]) == "food crisis affected North Korea"


def test_a_standalone_question_or_a_first_message_is_searched_as_asked():
    assert follow_up_query("What are public executions?", [FOOD]) is None
    assert follow_up_query("And what about children?", []) is None
    assert follow_up_query("And what about children?", ["", "  "]) is None


def test_chained_follow_ups_keep_the_topic():
    earlier = [FOOD, "And what about children?", "what about women?"]
    assert topic_question(earlier) == FOOD
    assert follow_up_query("And the elderly?", earlier) == "food crisis affected North Korea the elderly?"
    assert topic_question(earlier + ["Who signed the 2011 coalition letter?"]) == "Who signed the 2011 coalition letter?"


def test_user_messages_reads_both_history_shapes():
    history = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": [{"type": "text", "text": "second"}]},
        {"role": "user", "content": {"path": "file.png"}},
        "not a message",
    ]
    assert user_messages(history) == ["first", "second"]
    assert user_messages(None) == []


# ---------------------------------------------------------------- the chat page (issue 11, issue 9)


@pytest.mark.parametrize("message", ["", "   ", "\n\t ", None])
def test_an_empty_message_adds_no_bubble(message):
    from assistant.web.app import show_question

    assert show_question(message, [{"role": "user", "content": "earlier"}]) is None


@pytest.mark.parametrize(
    "message", ["<b>bold</b> camps", "<img src=x onerror=alert(1)>", "![x](javascript:alert(1))",
                "[click](http://example.com) *stars* # heading", "1. first\n- second\n<script>alert(1)</script>"],
)
def test_the_users_message_is_shown_as_text(message):
    from assistant.web.app import show_question

    shown = show_question(message, [])
    assert len(shown) == 1 and shown[0]["role"] == "user"
    out = rendered(shown[0]["content"])
    assert not re.search(r"<(?!/?p>|br ?/?>)[a-z]", out), out  # no element but paragraphs
    assert collapse(shown_text(out)) == collapse(message)


def test_the_header_names_no_side(chat):
    from assistant.web.app import build_app

    demo = build_app(chat)
    about = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "about")
    assert "on the right" not in about.value and "under *Sources*" in about.value
    assert "3 documents from" in about.value


def test_the_chat_describes_the_collection_it_serves(chat, tmp_path):
    from assistant.web.app import build_app, chat_collection

    info = chat_collection(chat)
    assert info.title == "Ask the documents in corpus/"
    assert info.description == (
        "3 documents from Coalition for Prison Reform, Test & Co and Watchers, dated 2011–2015"
    )
    # examples from the collection's own headings: never the default corpus's questions
    assert info.examples and all("North Korea" not in q for q in info.examples)
    assert "What does “Prison camps” say?" in info.examples
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        '{"id": "a", "query": "Where are public executions held?", "relevant": [{"doc_id": "camps"}]}\n'
        '{"id": "b", "query": "Who won the football cup?", "relevant": []}\n'
        'What do former prisoners describe?\n', encoding="utf-8")
    info = chat_collection(chat, title="  Camp reports ", queries=str(queries))
    assert info.title == "Camp reports"
    assert info.examples == ("Where are public executions held?", "What do former prisoners describe?")
    demo = build_app(chat, info=info)
    examples = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "examples")
    assert [s[0] for s in examples.samples] == list(info.examples)
    assert demo.title == "Camp reports"


def test_a_bad_query_set_is_one_message(chat, tmp_path):
    from assistant.web.app import chat_collection

    with pytest.raises(QueryError, match="cannot read the query set"):
        chat_collection(chat, queries=str(tmp_path / "missing.jsonl"))
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"query": "unanswerable", "relevant": []}\n', encoding="utf-8")
    with pytest.raises(QueryError, match="holds no question"):
        chat_collection(chat, queries=str(empty))


def test_describe_documents_names_three_organisations_then_counts():
    from assistant.web.collection import describe_documents
    from assistant.ingest.corpus import Document

    def doc(i, org, date=""):
        return Document(f"d{i}", f"c/{i}.txt", f"/c/{i}.txt", f"T{i}", org, date, "report", "text")

    docs = {d.doc_id: d for d in [doc(1, "B", "2001-02"), doc(2, "B"), doc(3, "A", "1999"), doc(4, "C"),
                                  doc(5, "D"), doc(6, "E")]}
    assert describe_documents(docs) == "6 documents from B, A, C and 2 other organisations, dated 1999–2001"
    assert describe_documents({"d1": doc(1, "")}) == "1 document"


def test_the_settings_label_names_the_active_filter():
    from types import SimpleNamespace

    from assistant.web.app import SETTINGS, settings_label_text

    chat = SimpleNamespace(documents={})
    assert settings_label_text(chat, [], [], "", "") == SETTINGS
    assert settings_label_text(chat, [], [], "2014", "") == f"{SETTINGS} · active: dated from 2014"
    assert settings_label_text(chat, [], ["Amnesty"], "2014", "2016-05") == \
        f"{SETTINGS} · active: organisation Amnesty; dated from 2014 to 2016-05"
    assert settings_label_text(chat, [], [], "20x4", "") == f"{SETTINGS} · filter not valid yet"


def test_gradio_is_imported_without_its_stub_writer(tmp_path):
    """serve's start: Gradio re-writes a .pyi stub for every component on import
    unless assistant.web.app replaces the writer as the module loads."""
    import subprocess
    import sys

    code = ("from assistant.web.app import _gradio; gr = _gradio(); import gradio.component_meta as m; "
            "print(m.create_or_modify_pyi.__name__, gr.Blocks.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["<lambda>", "Blocks"]
