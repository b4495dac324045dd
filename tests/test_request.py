"""One check of a request's question, k, mode and filter (assistant.search.request), and the
same limits and words through every way in: the CLI, the web chat and the /search API."""

from __future__ import annotations

import os

import pytest

from assistant.errors import QueryError
from assistant.search.request import (
    MAX_K,
    MODES,
    Filter,
    Request,
    check_k,
    check_mode,
    check_text,
    clean_query,
    make_filter,
    make_request,
)


@pytest.mark.parametrize("k, expected", [(1, 1), (100, 100), (5.0, 5), ("7", 7), (" 3 ", 3)])
def test_k_accepts_whole_numbers_from_1_to_100(k, expected):
    assert check_k(k) == expected


@pytest.mark.parametrize("k", [0, -1, 101, 2.5, float("nan"), float("inf"), "", "x", "1e3", "٣", True, None, [5], "9" * 5000])
def test_k_refuses_everything_else_with_one_message(k):
    with pytest.raises(QueryError, match=r"^the number of quotes \(k\) must be a whole number from 1 to 100, not "):
        check_k(k)


def test_modes():
    assert [check_mode(m) for m in MODES] == list(MODES)
    for bad in ("fuzzy", "HYBRID", "", None, 3):
        with pytest.raises(QueryError, match="^unknown mode .*; choose one of hybrid, tokens, rrf, dense, keyword$"):
            check_mode(bad)


@pytest.mark.parametrize(
    "date_from, date_to, expected",
    [("", "", Filter()), (" 2014 ", "2015-06", Filter(date_from="2014", date_to="2015-06")),
     ("2014-03-01", "2014", Filter(date_from="2014-03-01", date_to="2014")), (None, None, Filter()),
     ("2016-02-29", "", Filter(date_from="2016-02-29"))],
)
def test_dates_are_iso_prefixes(date_from, date_to, expected):
    assert make_filter(date_from=date_from, date_to=date_to) == expected


@pytest.mark.parametrize(
    "date_from, date_to, message",
    [("14", "", "the start date '14' is not a date"), ("2014-13", "", "the start date '2014-13' is not a date"),
     ("", "2014-02-40", "the end date '2014-02-40' is not a date"), ("2015-02-29", "", "is not a date"),
     ("yesterday", "", "use YYYY, YYYY-MM or YYYY-MM-DD"), ("2015", "2014", "the date range is empty: 2015 is after 2014"),
     ("2014-06", "2014-05-31", "the date range is empty")],
)
def test_bad_dates_are_refused_with_one_message(date_from, date_to, message):
    with pytest.raises(QueryError, match=message):
        make_filter(date_from=date_from, date_to=date_to)
    with pytest.raises(QueryError, match=message):  # a Filter made directly is checked the same way
        Filter(date_from=date_from.strip(), date_to=date_to.strip())


def test_filter_drops_blanks_and_keeps_order():
    where = make_filter(doc_ids=["b", " ", "a"], organizations=None)
    assert where == Filter(doc_ids=("b", "a")) and where.active and not Filter().active


def test_request_defaults_and_raw_values():
    assert make_request() == Request(k=5, mode="hybrid", where=Filter())
    assert make_request(k="3", mode="dense", date_from="2014") == Request(3, "dense", Filter(date_from="2014"))
    with pytest.raises(QueryError, match="number of quotes"):
        Request(k="3")  # a Request holds checked values; make_request converts raw ones


def test_text_that_is_not_utf8_is_refused_naming_the_byte():
    with pytest.raises(QueryError, match=r"^the question is not valid text: character 6 is the byte 0xFF, which is not UTF-8"):
        clean_query(os.fsdecode(b"food \xff crisis"))
    with pytest.raises(QueryError, match=r"character 1 is a lone surrogate \(\\ud800\)"):
        check_text("\ud800x")
    with pytest.raises(QueryError, match="^the document id 'a\\\\udcffb' is not valid text"):
        Filter(doc_ids=(os.fsdecode(b"a\xffb"),))
    assert check_text("café 🙂") == "café 🙂"


# ---------------------------------------------------------------- every way in says the same


@pytest.fixture
def chat(tmp_path, tiny_encoder):
    from assistant.web.chat import Chat
    from assistant.pipeline.build import build_index
    from assistant.pipeline.service import Assistant
    from conftest import write_corpus

    index = tmp_path / "index"
    build_index(write_corpus(tmp_path / "corpus"), encoder=tiny_encoder, out_dir=index)
    return Chat(Assistant.open(index, encoder=tiny_encoder)), index


BAD = [
    ({"k": 0}, "the number of quotes (k) must be a whole number from 1 to 100, not 0"),
    ({"k": 101}, "the number of quotes (k) must be a whole number from 1 to 100, not 101"),
    ({"mode": "fuzzy"}, "unknown mode 'fuzzy'; choose one of hybrid, tokens, rrf, dense, keyword"),
]


@pytest.mark.parametrize("bad, message", BAD)
def test_cli_chat_and_search_api_refuse_alike(chat, tiny_encoder, capsys, bad, message):
    from assistant.cli.main import main
    from assistant.web.chat import friendly

    chat, index = chat
    k, mode = bad.get("k", 5), bad.get("mode", "hybrid")
    with pytest.raises(QueryError) as e:
        chat.search("prison camps", k, mode)  # the /search API
    assert str(e.value) == message
    assert chat.reply("prison camps", [], k, mode).text == friendly(message)  # the chat
    argv = ["ask", "prison camps", "--index", str(index), "-k", str(k), "--mode", mode]
    assert main(argv, encoder=tiny_encoder) == 1  # the CLI
    assert capsys.readouterr().err == f"error: {message}\n"


def test_dates_are_refused_alike_by_cli_and_chat(chat, tiny_encoder, capsys):
    from assistant.cli.main import main
    from assistant.web.chat import friendly

    chat, index = chat
    message = "the end date '2014-02-30' is not a date: use YYYY, YYYY-MM or YYYY-MM-DD (e.g. 2014, 2014-03 or 2014-03-01)"
    assert chat.reply("prison camps", [], 5, "hybrid", [], [], "", "2014-02-30").text == friendly(message)
    assert main(["ask", "prison camps", "--index", str(index), "--date-to", "2014-02-30"], encoder=tiny_encoder) == 1
    assert capsys.readouterr().err == f"error: {message}\n"


def test_a_question_that_is_not_utf8_is_a_message_in_the_chat_and_the_api(chat):
    chat, _ = chat
    question = os.fsdecode(b"food \xff crisis")
    assert "The question is not valid text" in chat.reply(question, []).text
    with pytest.raises(QueryError, match="not valid text"):
        chat.search(question, 5, "hybrid")
    with pytest.raises(QueryError, match="lone surrogate"):
        chat.search("\ud800", 5, "hybrid")
