"""The command line, end to end with the real model: ``main([...])``, parsed JSON, exit codes."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest

from assistant.cli import main
from conftest import DEFAULT_CORPUS, write_corpus

pytestmark = pytest.mark.model

QUESTION = "What happens to North Koreans who are forcibly returned from China?"

# The shape `assistant ask --json` documents; to_json may add fields, never rename these.
ANSWER_KEYS = {"id", "query", "abstained", "hits"}
HIT_KEYS = {
    "rank", "score", "passage_id", "doc_id", "title", "organization", "date", "section",
    "paragraph", "source", "start", "end", "text", "highlights",
}


def ask(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["ask", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def source_text(source: str) -> str:
    """A citation's file ("corpus/x.txt") as it is on disk, decoded without newline translation."""
    return (DEFAULT_CORPUS.parent / source).read_bytes().decode("utf-8")


def test_ask_json_has_the_documented_shape_and_verbatim_quotes(default_index, capsys):
    code, out, err = ask(capsys, "--index", str(default_index), "--json", QUESTION)
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


def test_ask_prints_quotes_and_sources_as_text(default_index, capsys):
    code, out, _ = ask(capsys, "--index", str(default_index), "-k", "2", QUESTION)
    assert code == 0
    assert "\n[1] " in out and "\n[2] " in out
    quotes, sources = out.split("\nSources:\n")
    # one citation line per quote: “Title”. ... file, characters a–b.
    assert re.search(r"^\[1\] “.+”\..*corpus/[\w.-]+\.txt, characters \d+–\d+\.$", sources, re.M)
    assert re.search(r"^\[2\] “.+”", sources, re.M)


@pytest.mark.parametrize("k", [1, 3, 8])
def test_k_is_the_number_of_passages_returned(default_index, capsys, k):
    code, out, _ = ask(capsys, "--index", str(default_index), "--json", "-k", str(k), "Which treaties should North Korea respect?")
    assert code == 0
    hits = json.loads(out)["hits"]
    # near-identical passages are shown once, the others listed under also_in
    assert len(hits) <= k
    assert len(hits) + sum(len(h.get("also_in", [])) for h in hits) == k
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))


def test_k_below_one_is_refused(default_index, capsys):
    # a usage error: argparse's exit code 2 and its one-line message
    with pytest.raises(SystemExit) as e:
        main(["ask", "--index", str(default_index), "-k", "0", QUESTION])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "argument -k: must be at least 1" in err and "Traceback" not in err


def test_batch_answers_good_lines_and_names_the_bad_one(default_index, capsys, tmp_path):
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        '{"id": "q1", "query": "Why was an American tourist arrested in 2014?"}\n'
        "\n"
        '{"id": 2, "query": "How many people are held in prison camps?"}\n'
        '{"id": "q3", "query": "unterminated\n'
        '{"id": "q4", "query": "Which organisation should North Korea join to end forced labour?"}\n',
        encoding="utf-8",
    )
    code, out, err = ask(capsys, "--index", str(default_index), "--batch", str(batch), "-k", "2")
    assert code != 0
    answers = [json.loads(line) for line in out.splitlines()]
    assert [a["id"] for a in answers] == ["q1", 2, "q4"]
    assert answers[1]["query"] == "How many people are held in prison camps?"
    assert all(1 <= len(a["hits"]) <= 2 for a in answers)
    assert "line 4" in err and "not valid JSON" in err
    assert "line 3" not in err and "line 5" not in err
    assert "1 of 4 lines could not be answered" in err
    assert "Traceback" not in err


def test_batch_reads_stdin_and_reports_an_empty_question(default_index, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO('{"id": "a", "query": "   "}\n{"id": "b", "query": "kwanliso"}\n'))
    code, out, err = ask(capsys, "--index", str(default_index), "--batch", "-", "--json")
    assert code == 1
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["b"]
    assert "line 1" in err and "empty" in err


def test_a_batch_file_with_a_byte_order_mark_is_read(default_index, capsys, tmp_path):
    batch = tmp_path / "bom.jsonl"
    batch.write_bytes('{"id": "a", "query": "Who runs the political prison camps?"}\n'.encode("utf-8-sig"))
    code, out, err = ask(capsys, "--index", str(default_index), "--batch", str(batch), "-k", "1")
    assert code == 0, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["a"]


def test_a_missing_batch_file_is_a_message(default_index, capsys, tmp_path):
    code, out, err = ask(capsys, "--index", str(default_index), "--batch", str(tmp_path / "none.jsonl"))
    assert code == 1 and out == ""
    assert "batch file not found" in err


@pytest.mark.parametrize("question", ["", "   ", "\n\t  "])
def test_an_empty_question_is_a_message_not_a_traceback(default_index, capsys, question):
    code, out, err = ask(capsys, "--index", str(default_index), question)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and "empty" in err
    assert "Traceback" not in err


def test_a_question_of_control_characters_only_is_refused(default_index, capsys):
    code, out, err = ask(capsys, "--index", str(default_index), "--json", "\x00\x07\x1b")
    assert code == 1 and out == ""
    assert "empty" in err


def test_no_question_at_all_is_a_message(default_index, capsys):
    code, out, err = ask(capsys, "--index", str(default_index))
    assert code == 1 and out == ""
    assert "give a question" in err


def test_a_100000_character_question_is_answered_with_a_truncation_note(default_index, capsys):
    question = ("What happens to detainees in the political prison camps of North Korea? " * 1500)[:100_000]
    assert len(question) == 100_000
    code, out, err = ask(capsys, "--index", str(default_index), "--json", question)
    assert code == 0, err
    answer = json.loads(out)
    assert answer["hits"]
    assert len(answer["query"]) < 100_000
    notes = " ".join(answer.get("notes", []))
    assert "100,000" in notes and "only its first" in notes


def test_a_missing_index_names_the_build_command(capsys, tmp_path):
    code, out, err = ask(capsys, "--index", str(tmp_path / "no-index"), QUESTION)
    assert code == 1 and out == ""
    assert "assistant build" in err and "no-index" in err
    assert "Traceback" not in err


def test_a_corrupted_index_is_a_message(default_index, capsys, tmp_path):
    broken = tmp_path / "index"
    shutil.copytree(default_index, broken)
    (broken / "dense.faiss").write_bytes(b"not a faiss index")
    code, out, err = ask(capsys, "--index", str(broken), QUESTION)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and "damaged" in err and "assistant build" in err


def test_build_skips_a_binary_file_and_names_it(capsys, tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "scan.txt").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    index = tmp_path / "index"
    code = main(["build", "--corpus", str(corpus), "--index", str(index), "--json"])
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
    code = main(["build", "--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index")])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert "no readable documents" in err
    assert "Traceback" not in err
    assert not (tmp_path / "index").exists()


def test_build_of_a_missing_corpus_fails_with_a_message(capsys, tmp_path):
    code = main(["build", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "index")])
    _, err = capsys.readouterr()
    assert code == 1
    assert "corpus folder not found" in err



@pytest.mark.parametrize(
    "args, message",
    [
        (["--doc", "no-such-doc"], "unknown document 'no-such-doc'; known: ai-1997"),
        (["--org", "Nobody Org"], "no document is from an organisation matching 'Nobody Org'"),
        (["--date-from", "yesterday"], "the start date 'yesterday' is not a date"),
        (["--date-from", "2018", "--date-to", "2011"], "the date range is empty"),
    ],
)
def test_filters_that_cannot_mean_anything_are_refused(default_index, capsys, args, message):
    code = main(["ask", "prison camps", "--index", str(default_index), *args])
    err = capsys.readouterr().err
    assert code == 1 and message in err and "Traceback" not in err


def test_an_organisation_filter_matches_by_name_part(default_index, capsys):
    code = main(["ask", "public executions", "--index", str(default_index), "--json", "-k", "10",
                 "--org", "Amnesty International"])
    assert code == 0
    orgs = {h["organization"] for h in json.loads(capsys.readouterr().out)["hits"]}
    assert orgs <= {"Amnesty International", "Amnesty International UK"} and "Amnesty International UK" in orgs


def test_a_question_and_a_batch_together_are_refused(default_index, capsys, tmp_path):
    batch = tmp_path / "b.jsonl"
    batch.write_text('{"id": "1", "query": "prison camps"}\n')
    assert main(["ask", "prison camps", "--batch", str(batch), "--index", str(default_index)]) == 1
    assert "not both" in capsys.readouterr().err


def test_build_will_not_overwrite_its_own_corpus(capsys, tmp_path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Prison camps hold many people, former detainees say.\n")
    assert main(["build", "--corpus", str(corpus), "--index", str(corpus)]) == 1
    assert "corpus folder" in capsys.readouterr().err
    assert (corpus / "a.txt").exists()
