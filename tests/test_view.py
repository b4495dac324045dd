"""One answer view, two renderers: the terminal text and the chat's Markdown say the same things in the same order.

Answers come from a real :class:`Assistant` over a small corpus written into
tmp_path and indexed with the conftest's tiny encoder.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from assistant.answer.model import NOTHING_ANSWERS
from assistant.answer.terminal import to_text
from assistant.web.chat import render_answer
from assistant.pipeline.build import build_index
from assistant.search.searcher import Filter
from assistant.pipeline.service import Assistant
from assistant.answer.view import NO_MATCH, answer_view, describe_filter, shown_highlights
from conftest import write_corpus


@pytest.fixture
def assistant(tmp_path, tiny_encoder) -> Assistant:
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "one-sentence.txt").write_text(
        "Short notes\n\nGuards confiscated every mobile phone found in the border villages last winter.\n",
        encoding="utf-8",
    )
    build_index(corpus, encoder=tiny_encoder, out_dir=tmp_path / "index")
    return Assistant.open(tmp_path / "index", encoder=tiny_encoder)


def test_both_renderers_say_the_filter_above_the_quotes(assistant):
    answer = assistant.ask("labour camp satellite images", k=2, where=Filter(date_from="2014"))
    assert answer.quotes
    text = to_text(answer)
    assert text.splitlines()[0] == "Filtered: dated from 2014"
    md = render_answer(answer)
    assert md.startswith("*Filtered:* dated from 2014\n\n")
    assert md.index("*Filtered:*") < md.index("**[1]**")
    assert "Filtered:" not in to_text(assistant.ask("labour camp satellite images", k=2))


def test_a_filter_matching_nothing_is_one_headline_in_both(assistant):
    answer = assistant.ask("prison", k=2, where=Filter(date_to="1990"))
    text, md = to_text(answer), render_answer(answer)
    assert text.splitlines()[:2] == ["Filtered: dated up to 1990", NO_MATCH]
    assert "Note:" not in text and "*Note:*" not in md  # the headline says it once
    assert md.startswith(f"*Filtered:* dated up to 1990\n\n**{NO_MATCH}**")


def test_the_headline_comes_before_the_notes_in_both(assistant):
    answer = assistant.ask("Myanmar Singapore", k=2)
    declined = dataclasses.replace(answer, abstained=True, notes=("Not answered: a test reason.",))
    text, md = to_text(declined), render_answer(declined)
    assert text.index(NOTHING_ANSWERS) < text.index("Note: Not answered") < text.index("[1]")
    assert md.index(NOTHING_ANSWERS) < md.index("*Note:* Not answered") < md.index("**[1]**")


@pytest.mark.parametrize(
    "where, words",
    [(Filter(), ""), (Filter(date_from="2014"), "dated from 2014"), (Filter(date_to="2016-05"), "dated up to 2016-05"),
     (Filter(date_from="2014", date_to="2016"), "dated from 2014 to 2016"),
     (Filter(doc_ids=("news",), organizations=("Rights Watchers",)),
      "document “Country news, 2013-2018”; organisation Rights Watchers")],
)
def test_describe_filter(assistant, where, words):
    assert describe_filter(where, assistant.index.documents) == words


def test_a_one_sentence_passage_is_not_all_marked(assistant):
    answer = assistant.ask("mobile phone border villages", k=1, where=Filter(doc_ids=("one-sentence",)))
    q = answer.quotes[0]
    assert q.highlights, "the best sentence is the whole passage"
    assert shown_highlights(q) == ()
    view = answer_view(answer)
    assert not any(run.marked for line in view.quotes[0].lines for run in line)
    assert "»" not in to_text(answer) and "**Guards" not in render_answer(answer)


def test_a_sentence_of_a_longer_passage_is_marked(assistant):
    answer = assistant.ask("detainees sleep in shifts crowded cells", k=1, where=Filter(doc_ids=("pr-detention",)))
    q = answer.quotes[0]
    assert shown_highlights(q) == q.highlights != ()
    assert re.search(r"»[^«]+«", to_text(answer))
    assert "**" in render_answer(answer).split("\n> ", 1)[1]


def test_the_terminal_keeps_a_list_passage_on_its_lines(assistant):
    answer = assistant.ask("Coalition for Prison Reform Lawyers for Justice signatories", k=5)
    listing = next(q for q in answer.quotes if q.kind == "list")
    text = to_text(dataclasses.replace(answer, quotes=(listing,)))
    shown = [line.strip().strip("»«") for line in text.splitlines()]
    for name in ("Coalition for Prison Reform", "Lawyers for Justice (Canada)", "Friends of the Detained (Japan)"):
        assert name in shown, text
    md = render_answer(dataclasses.replace(answer, quotes=(listing,)))
    assert "> Lawyers for Justice (Canada)" in md.replace("**", "")
