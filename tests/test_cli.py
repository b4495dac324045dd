"""The command line through ``main([...])``: parsed JSON, exit codes, one-line errors.

Most tests run the CLI with the conftest's tiny encoder (``main(argv, encoder=...)``)
over an index of the default corpus built with it: they check what the CLI does,
not what the model finds. The tests marked ``model`` check answers that depend on
the real packaged model.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.cli.main import main
from conftest import DEFAULT_CORPUS, TinyEncoder, write_corpus

QUESTION = "What happens to North Koreans who are forcibly returned from China?"
REPO = Path(__file__).resolve().parent.parent

# The shape `assistant ask --json` documents; to_json may add fields, never rename these.
ANSWER_KEYS = {"id", "query", "abstained", "hits"}
HIT_KEYS = {
    "rank", "score", "passage_id", "doc_id", "title", "organization", "date", "section",
    "paragraph", "source", "start", "end", "text", "highlights",
}


@pytest.fixture(scope="session")
def tiny_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default corpus indexed with the tiny encoder (a fraction of a second). Do not modify it."""
    from assistant.pipeline.build import build_index

    out = tmp_path_factory.mktemp("tiny-default-index") / "index"
    build_index(DEFAULT_CORPUS, encoder=TinyEncoder(), out_dir=out)
    return out


def ask(capsys, *argv: str, encoder=None) -> tuple[int, str, str]:
    """``assistant ask ARGV`` with the tiny encoder unless another is given."""
    code = main(["ask", *argv], encoder=encoder or TinyEncoder())
    out, err = capsys.readouterr()
    return code, out, err


def source_text(source: str) -> str:
    """A citation's file ("corpus/x.txt") as it is on disk, decoded without newline translation."""
    return (DEFAULT_CORPUS.parent / source).read_bytes().decode("utf-8")


def last_line_count(err: str) -> str:
    return err.strip().splitlines()[-1]


# ---------------------------------------------------------------- answers (real model)


@pytest.mark.model
def test_ask_json_has_the_documented_shape_and_verbatim_quotes(default_index, real_encoder, capsys):
    code, out, err = ask(capsys, "--index", str(default_index), "--json", QUESTION, encoder=real_encoder)
    assert code == 0, err
    answer = json.loads(out)
    assert ANSWER_KEYS <= set(answer)
    assert answer["id"] is None
    assert answer["query"] == QUESTION
    assert isinstance(answer["abstained"], bool)
    hits = answer["hits"]
    assert len(hits) >= 1
    metadata = {m["doc_id"]: m for m in json.loads((DEFAULT_CORPUS / "metadata.json").read_text())["documents"]}
    for rank, hit in enumerate(hits, start=1):
        assert HIT_KEYS <= set(hit), HIT_KEYS - set(hit)
        assert hit["rank"] == rank
        assert isinstance(hit["score"], float)
        assert hit["passage_id"].startswith(hit["doc_id"] + "#p")
        assert isinstance(hit["paragraph"], int) and hit["paragraph"] >= 1
        meta = metadata[hit["doc_id"]]
        assert (hit["title"], hit["organization"]) == (meta["title"], meta["organization"])
        assert hit["source"] == f"corpus/{meta['file']}"
        assert source_text(hit["source"])[hit["start"] : hit["end"]] == hit["text"]
        for a, b in hit["highlights"]:
            assert hit["start"] <= a < b <= hit["end"]
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    # the briefing's paragraph on forced repatriation answers this question
    assert any("forcibly returned from China" in h["text"] or "forcibly repatriated" in h["text"] for h in hits)


@pytest.mark.model
def test_the_cli_loads_the_packaged_model_when_given_no_encoder(default_index, capsys):
    code = main(["ask", "--index", str(default_index), "--json", "-k", "1", "Who runs the political prison camps?"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["hits"][0]["doc_id"]


@pytest.mark.model
def test_batch_answers_as_the_real_model_does(default_index, real_encoder, capsys, tmp_path):
    batch = tmp_path / "questions.jsonl"
    batch.write_text('{"id": "q1", "query": "%s"}\n' % QUESTION, encoding="utf-8")
    code, out, err = ask(capsys, "--index", str(default_index), "--batch", str(batch), "-k", "5", encoder=real_encoder)
    assert code == 0, err
    (answer,) = [json.loads(line) for line in out.splitlines()]
    assert any("forcibly returned from China" in h["text"] or "forcibly repatriated" in h["text"]
               for h in answer["hits"])


# ---------------------------------------------------------------- answers (tiny encoder)


def test_ask_prints_quotes_and_sources_as_text(tiny_index, capsys):
    code, out, _ = ask(capsys, "--index", str(tiny_index), "-k", "2", QUESTION)
    assert code == 0
    assert "\n[1] " in out and "\n[2] " in out
    quotes, sources = out.split("\nSources:\n")
    # one citation line per quote: “Title”. ... file, characters a–b.
    assert re.search(r"^\[1\] “.+”\..*corpus/[\w.-]+\.txt, characters \d+–\d+\.$", sources, re.M)
    assert re.search(r"^\[2\] “.+”", sources, re.M)


@pytest.mark.parametrize("k", [1, 3, 8])
def test_k_is_the_number_of_passages_returned(tiny_index, capsys, k):
    code, out, _ = ask(capsys, "--index", str(tiny_index), "--json", "-k", str(k), "Which treaties should North Korea respect?")
    assert code == 0
    hits = json.loads(out)["hits"]
    # near-identical passages are shown once, the others listed under also_in
    assert len(hits) <= k
    assert len(hits) + sum(len(h.get("also_in", [])) for h in hits) == k
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))


@pytest.mark.parametrize("k, shown", [("0", "0"), ("101", "101"), ("-1", "-1"), ("2.5", "'2.5'"), ("many", "'many'"),
                                      ("", "''"), ("1e3", "'1e3'")])
def test_k_outside_1_to_100_is_refused_with_the_message_every_interface_uses(tiny_index, capsys, k, shown):
    code, out, err = ask(capsys, "--index", str(tiny_index), "-k", k, QUESTION)
    assert code == 1 and out == ""
    assert err == f"error: the number of quotes (k) must be a whole number from 1 to 100, not {shown}\n"


def test_an_unknown_mode_is_refused_naming_the_modes(tiny_index, capsys):
    code, out, err = ask(capsys, "--index", str(tiny_index), "--mode", "fuzzy", QUESTION)
    assert code == 1 and out == ""
    assert err == "error: unknown mode 'fuzzy'; choose one of hybrid, tokens, rrf, dense, keyword\n"


def test_bad_k_mode_and_dates_are_refused_before_the_index_is_opened(capsys, tmp_path):
    # the index does not exist: the request is refused first, so its message is the request's
    for argv, message in [
        (["-k", "0"], "the number of quotes (k)"),
        (["--mode", "x"], "unknown mode"),
        (["--date-to", "2014-13"], "the end date '2014-13' is not a date"),
    ]:
        code, _, err = ask(capsys, "--index", str(tmp_path / "none"), *argv, QUESTION)
        assert code == 1 and message in err and "no index" not in err


def test_every_mode_answers(tiny_index, capsys):
    for mode in ("hybrid", "tokens", "rrf", "dense", "keyword"):
        code, out, err = ask(capsys, "--index", str(tiny_index), "--json", "-k", "2", "--mode", mode, "prison camps")
        assert code == 0, err
        assert json.loads(out)["mode"] == mode


# ---------------------------------------------------------------- --batch


def batch_file(tmp_path: Path, lines: list[bytes]) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def answered_ids(out: str) -> list:
    return [json.loads(line)["id"] for line in out.splitlines()]


def test_batch_answers_good_lines_and_names_the_bad_one(tiny_index, capsys, tmp_path):
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        '{"id": "q1", "query": "Why was an American tourist arrested in 2014?"}\n'
        "\n"
        '{"id": 2, "query": "How many people are held in prison camps?"}\n'
        '{"id": "q3", "query": "unterminated\n'
        '{"id": "q4", "query": "Which organisation should North Korea join to end forced labour?"}\n',
        encoding="utf-8",
    )
    code, out, err = ask(capsys, "--index", str(tiny_index), "--batch", str(batch), "-k", "2")
    assert code != 0
    answers = [json.loads(line) for line in out.splitlines()]
    assert [a["id"] for a in answers] == ["q1", 2, "q4"]
    assert answers[1]["query"] == "How many people are held in prison camps?"
    assert all(1 <= len(a["hits"]) <= 2 for a in answers)
    assert f"{batch}: line 4 skipped: not valid JSON" in err
    assert "line 3" not in err and "line 5" not in err
    assert "1 of 4 lines could not be answered" in err
    assert "Traceback" not in err


GOOD = b'{"id": "good1", "query": "prison camps"}'
GOOD2 = b'{"id": "good2", "query": "satellite images of the camps"}'


@pytest.mark.parametrize(
    "bad, message",
    [
        # a byte that is not UTF-8 (Latin-1 "é"): the line, not the file
        (b'{"id": "bad", "query": "caf\xe9 workers"}', "not UTF-8 (byte 0xE9 at byte 28 of the line)"),
        # a lone surrogate escape: valid JSON, not text
        (b'{"id": "bad", "query": "camps \\ud800"}', "a lone surrogate (\\ud800)"),
        (b'{"id": "\\udcff", "query": "camps"}', '"id" is not valid text'),
        # nesting deeper than Python's recursion limit
        (b"[" * 100_000, "JSON nested too deeply"),
        (b'{"id": "x", "query": "camps", "extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "JSON nested too deeply"),
        # a number JSON allows and Python will not convert
        (b'{"id": ' + b"9" * 5000 + b', "query": "camps"}', "not valid JSON (Exceeds the limit"),
        (b'{"id": "x", "query": "unterminated', "not valid JSON (Unterminated string starting at column 22)"),
        (b'{"id": "x", "query": "tab\there"}', "not valid JSON (Invalid control character at column 26)"),
        (b"[1, 2]", 'expected an object with a "query" string'),
        (b'{"id": "x", "question": "camps"}', 'expected an object with a "query" string'),
        (b'{"id": "x", "query": 42}', 'expected an object with a "query" string'),
        (b'{"id": [1], "query": "camps"}', '"id" must be a string or a whole number'),
        (b'{"id": true, "query": "camps"}', '"id" must be a string or a whole number'),
        (b'{"id": "x", "query": "  \\u0000 "}', "the question is empty"),
        (b"\x00\x01\x02\xff\xfe", "not UTF-8"),
    ],
)
def test_a_bad_batch_line_is_named_by_number_and_skipped(tiny_index, capsys, tmp_path, bad, message):
    batch = batch_file(tmp_path, [GOOD, bad, GOOD2])
    code, out, err = ask(capsys, "--index", str(tiny_index), "--batch", str(batch), "-k", "1")
    assert code == 1
    assert answered_ids(out) == ["good1", "good2"]
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith(f"error: {batch}: line 2 skipped: ") and message in lines[0], lines[0]
    assert lines[1] == "error: 1 of 3 lines could not be answered (named above); the other 2 were answered"


def test_every_bad_kind_of_line_in_one_file(tiny_index, capsys, tmp_path):
    batch = batch_file(tmp_path, [
        b'{"id": "a", "query": "caf\xe9"}', GOOD, b'{"id": "b", "query": "\\ud800"}', b"[" * 100_000, GOOD2, b"nonsense",
    ])
    code, out, err = ask(capsys, "--index", str(tiny_index), "--batch", str(batch), "-k", "1")
    assert code == 1
    assert answered_ids(out) == ["good1", "good2"]
    assert [int(m) for m in re.findall(r"line (\d+) skipped", err)] == [1, 3, 4, 6]
    assert "4 of 6 lines could not be answered" in err and "Traceback" not in err


def test_crlf_and_a_byte_order_mark_are_read(tiny_index, capsys, tmp_path):
    batch = tmp_path / "bom.jsonl"
    batch.write_bytes("\ufeff".encode() + GOOD + b"\r\n\r\n" + GOOD2 + b"\r\n")
    code, out, err = ask(capsys, "--index", str(tiny_index), "--batch", str(batch), "-k", "1")
    assert code == 0, err
    assert answered_ids(out) == ["good1", "good2"]


def test_a_line_separator_inside_a_json_string_does_not_split_the_line(tiny_index, capsys, tmp_path):
    # U+2028 and U+0085 are line breaks to str.splitlines, not to JSON lines
    batch = batch_file(tmp_path, ['{"id": "a", "query": "prison\u2028camps\x85food"}'.encode(), GOOD])
    code, out, err = ask(capsys, "--index", str(tiny_index), "--batch", str(batch), "-k", "1")
    assert code == 0, err
    assert answered_ids(out) == ["a", "good1"]


def test_batch_reads_stdin_and_reports_an_empty_question(tiny_index, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO('{"id": "a", "query": "   "}\n{"id": "b", "query": "kwanliso"}\n'))
    code, out, err = ask(capsys, "--index", str(tiny_index), "--batch", "-", "--json")
    assert code == 1
    assert answered_ids(out) == ["b"]
    assert "line 1 skipped" in err and "empty" in err


def test_batch_reads_bytes_from_stdin(tiny_index, capsys, monkeypatch):
    stdin = io.TextIOWrapper(io.BytesIO(b'{"id": "a", "query": "caf\xe9"}\n' + GOOD + b"\n"), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", stdin)
    code, out, err = ask(capsys, "--index", str(tiny_index), "--batch", "-")
    assert code == 1
    assert answered_ids(out) == ["good1"]
    assert "-: line 1 skipped: not UTF-8" in err


def test_a_missing_batch_file_is_a_message(tiny_index, capsys, tmp_path):
    code, out, err = ask(capsys, "--index", str(tiny_index), "--batch", str(tmp_path / "none.jsonl"))
    assert code == 1 and out == ""
    assert "batch file not found" in err


@pytest.mark.parametrize("content", [b"", b"\n  \n\r\n", b"\xef\xbb\xbf\n"])
def test_a_batch_file_without_questions_is_a_message(tiny_index, capsys, tmp_path, content):
    batch = tmp_path / "empty.jsonl"
    batch.write_bytes(content)
    code, out, err = ask(capsys, "--index", str(tiny_index), "--batch", str(batch))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "holds no questions" in err


def test_a_folder_as_batch_file_is_a_message(tiny_index, capsys, tmp_path):
    code, out, err = ask(capsys, "--index", str(tiny_index), "--batch", str(tmp_path))
    assert code == 1 and out == ""
    assert err.startswith(f"error: cannot read batch file {tmp_path}") and err.count("\n") == 1


def test_a_question_and_a_batch_together_are_refused(tiny_index, capsys, tmp_path):
    batch = tmp_path / "b.jsonl"
    batch.write_text('{"id": "1", "query": "prison camps"}\n')
    assert main(["ask", "prison camps", "--batch", str(batch), "--index", str(tiny_index)], encoder=TinyEncoder()) == 1
    assert "not both" in capsys.readouterr().err


# ---------------------------------------------------------------- odd questions


@pytest.mark.parametrize("question", ["", "   ", "\n\t  "])
def test_an_empty_question_is_a_message_not_a_traceback(tiny_index, capsys, question):
    code, out, err = ask(capsys, "--index", str(tiny_index), question)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and "empty" in err
    assert "Traceback" not in err


def test_a_question_of_control_characters_only_is_refused(tiny_index, capsys):
    code, out, err = ask(capsys, "--index", str(tiny_index), "--json", "\x00\x07\x1b")
    assert code == 1 and out == ""
    assert "empty" in err


def test_no_question_at_all_is_a_message(tiny_index, capsys):
    code, out, err = ask(capsys, "--index", str(tiny_index))
    assert code == 1 and out == ""
    assert "give a question" in err


def test_a_100000_character_question_is_answered_with_a_truncation_note(tiny_index, capsys):
    question = ("What happens to detainees in the political prison camps of North Korea? " * 1500)[:100_000]
    assert len(question) == 100_000
    code, out, err = ask(capsys, "--index", str(tiny_index), "--json", question)
    assert code == 0, err
    answer = json.loads(out)
    assert answer["hits"]
    assert len(answer["query"]) < 100_000
    notes = " ".join(answer.get("notes", []))
    assert "100,000" in notes and "only its first" in notes


# A shell passes bytes; Python gives those that are not UTF-8 as lone surrogates
# (os.fsdecode(b"\xff") == "\udcff"), which nothing can encode or print.
BAD_BYTES_QUESTION = os.fsdecode(b"food \xff crisis")


def test_a_question_that_is_not_utf8_is_a_one_line_message(tiny_index, capsys):
    code, out, err = ask(capsys, "--index", str(tiny_index), "--json", BAD_BYTES_QUESTION)
    assert code == 1 and out == ""
    assert err == ("error: the question is not valid text: character 6 is the byte 0xFF, which is not UTF-8; "
                   "give it as UTF-8 text\n")


@pytest.mark.parametrize("argv", [["--doc", os.fsdecode(b"a\xffb")], ["--org", os.fsdecode(b"\xe9")],
                                  ["--date-from", os.fsdecode(b"2014\xff")], ["--mode", os.fsdecode(b"\xff")],
                                  ["-k", os.fsdecode(b"\xff")]])
def test_filter_mode_and_k_that_are_not_utf8_are_one_line_messages(tiny_index, capsys, argv):
    code, out, err = ask(capsys, "--index", str(tiny_index), *argv, "prison camps")
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    err.encode("utf-8")  # printable as it stands


def run_cli(*argv: bytes | str) -> subprocess.CompletedProcess:
    """``python -m assistant ARGV`` in a real process, arguments passed as bytes."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUTF8": "1"}
    return subprocess.run([sys.executable, "-m", "assistant", *map(os.fsencode, argv)],
                          capture_output=True, env=env, cwd=REPO, timeout=120)


def test_a_real_process_given_invalid_utf8_bytes_answers_with_one_line(tiny_index):
    done = run_cli("ask", "--index", str(tiny_index), b"food \xff crisis")
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr == (b"error: the question is not valid text: character 6 is the byte 0xFF, which is not UTF-8; "
                           b"give it as UTF-8 text\n")


def test_a_folder_name_that_is_not_utf8_is_refused_in_one_line(tmp_path):
    # FAISS cannot write or read such a path; say so before anything is built
    corpus = write_corpus(tmp_path / "corpus")
    index = os.fsencode(tmp_path) + b"/index-\xff"
    done = run_cli("build", "--corpus", str(corpus), "--index", index)
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.startswith(b"error: the --index folder name '") and done.stderr.count(b"\n") == 1
    assert b"is not valid text: character" in done.stderr and b"the byte 0xFF, which is not UTF-8" in done.stderr
    assert not os.path.exists(index)
    done = run_cli("build", "--corpus", os.fsencode(tmp_path) + b"/docs-\xe9", "--index", str(tmp_path / "i"))
    assert done.returncode == 1 and b"the --corpus folder name" in done.stderr and b"0xE9" in done.stderr


# ---------------------------------------------------------------- the index and the corpus


def test_a_missing_index_names_the_build_command(capsys, tmp_path):
    code, out, err = ask(capsys, "--index", str(tmp_path / "no-index"), QUESTION)
    assert code == 1 and out == ""
    assert "assistant build" in err and "no-index" in err
    assert "Traceback" not in err


def test_a_corrupted_index_is_a_message(tiny_index, capsys, tmp_path):
    broken = tmp_path / "index"
    shutil.copytree(tiny_index, broken)
    (broken / "dense.faiss").write_bytes(b"not a faiss index")
    code, out, err = ask(capsys, "--index", str(broken), QUESTION)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and "damaged" in err and "assistant build" in err


def test_build_skips_a_binary_file_and_names_it(capsys, tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "scan.txt").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    index = tmp_path / "index"
    code = main(["build", "--corpus", str(corpus), "--index", str(index), "--json"], encoder=TinyEncoder())
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "skipped" in err and "scan.txt" in err and "binary" in err
    report = json.loads(out)
    assert (report["documents"], report["index"]) == (3, str(index))
    assert [Path(s["path"]).name for s in report["skipped"]] == ["scan.txt"]
    # the new index answers, quoting its own files
    code, out, err = ask(capsys, "--index", str(index), "--json", "-k", "1", "Who looked at satellite images of the camp?")
    assert code == 0, err
    (hit,) = json.loads(out)["hits"]
    assert hit["doc_id"] == "news"
    assert (corpus / "news-listing.txt").read_text(encoding="utf-8")[hit["start"] : hit["end"]] == hit["text"]
    assert "satellite images" in hit["text"]


def test_build_of_an_empty_corpus_fails_with_a_message(capsys, tmp_path):
    (tmp_path / "corpus").mkdir()
    code = main(["build", "--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index")],
                encoder=TinyEncoder())
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert "no readable documents" in err
    assert "Traceback" not in err
    assert not (tmp_path / "index").exists()


def test_build_of_a_missing_corpus_fails_with_a_message(capsys, tmp_path):
    code = main(["build", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "index")],
                encoder=TinyEncoder())
    _, err = capsys.readouterr()
    assert code == 1
    assert "corpus folder not found" in err


def test_build_will_not_overwrite_its_own_corpus(capsys, tmp_path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Prison camps hold many people, former detainees say.\n")
    assert main(["build", "--corpus", str(corpus), "--index", str(corpus)], encoder=TinyEncoder()) == 1
    assert "corpus folder" in capsys.readouterr().err
    assert (corpus / "a.txt").exists()


@pytest.mark.model
def test_a_model_mismatch_names_a_rebuild_command_that_works(capsys, tmp_path):
    # an index of another folder, built with another encoder: the advice must rebuild *that* folder
    corpus = write_corpus(tmp_path / "my docs")
    index = tmp_path / "my index"
    assert main(["build", "--corpus", str(corpus), "--index", str(index)], encoder=TinyEncoder()) == 0
    capsys.readouterr()
    code = main(["ask", "--index", str(index), "--model", "all-MiniLM-L6-v2", QUESTION])  # refused before loading
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    command = re.search(r"rebuild: (assistant build .*)$", err.strip()).group(1)
    argv = shlex.split(command)
    assert argv[argv.index("--corpus") + 1] == str(corpus)
    assert main(argv[1:]) == 0  # the command as given, with the real model it names
    capsys.readouterr()
    code = main(["ask", "--index", str(index), "--model", "all-MiniLM-L6-v2", "--json", "-k", "1",
                 "Who looked at satellite images of the camp?"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["hits"][0]["doc_id"] == "news"


# ---------------------------------------------------------------- filters


@pytest.mark.parametrize(
    "args, message",
    [
        (["--doc", "no-such-doc"], "unknown document 'no-such-doc'; known: ai-1997"),
        (["--org", "Nobody Org"], "no document is from an organisation matching 'Nobody Org'"),
        (["--date-from", "yesterday"], "the start date 'yesterday' is not a date: use YYYY, YYYY-MM or YYYY-MM-DD"),
        (["--date-to", "2014-02-30"], "the end date '2014-02-30' is not a date"),
        (["--date-from", "2018", "--date-to", "2011"], "the date range is empty: 2018 is after 2011"),
    ],
)
def test_filters_that_cannot_mean_anything_are_refused(tiny_index, capsys, args, message):
    code = main(["ask", "prison camps", "--index", str(tiny_index), *args], encoder=TinyEncoder())
    err = capsys.readouterr().err
    assert code == 1 and message in err and "Traceback" not in err


def test_a_bad_filter_in_a_batch_is_one_message_not_one_per_line(tiny_index, capsys, tmp_path):
    batch = batch_file(tmp_path, [GOOD, GOOD2])
    code, out, err = ask(capsys, "--index", str(tiny_index), "--batch", str(batch), "--doc", "nope")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "unknown document 'nope'" in err


def test_an_organisation_filter_matches_by_name_part(tiny_index, capsys):
    code = main(["ask", "public executions", "--index", str(tiny_index), "--json", "-k", "100",
                 "--org", "Amnesty International"], encoder=TinyEncoder())
    assert code == 0
    orgs = {h["organization"] for h in json.loads(capsys.readouterr().out)["hits"]}
    assert orgs == {"Amnesty International", "Amnesty International UK"}
