"""``assistant verify``: an exported answer checked against real files on disk, without index or model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.answer.export import export_record, write_export
from assistant.cli.main import main
from assistant.pipeline.service import Assistant
from assistant.pipeline.build import build_index
from docgen import make_pdf

STATEMENT = ("A key UN vote has sent a clear message to the North Korean government that those responsible "
             "for crimes against humanity must face justice, Amnesty International said.")
QUESTION = "UN vote clear message crimes against humanity justice"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def exported(tmp_path: Path, tiny_encoder) -> tuple[Path, Path]:
    """A corpus of two text files and a PDF, and the .json export of an answer quoting them."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "march.txt").write_text(f"March 2014\n\n{STATEMENT}\n\nFood shortages continue in the north.\n")
    (corpus / "camps.txt").write_text("Prison camps\n\nPrison camps hold many people who are forced to work. "
                                      "Crimes against humanity occur in the camps, a UN vote said.\n")
    make_pdf(corpus / "report.pdf", [("Findings", [
        "The UN vote on crimes against humanity sent a message about justice to the government. " * 3,
        "Other matters of trade and weather were discussed at length in the meeting. " * 3])], title="Report")
    build_index(corpus, encoder=tiny_encoder, out_dir=tmp_path / "index")
    answer = Assistant.open(tmp_path / "index", encoder=tiny_encoder).ask(QUESTION, k=3)
    assert len(answer.quotes) >= 2 and not answer.abstained
    out = write_export(export_record(answer), tmp_path / "answer.json")
    return corpus, out


def verify(*args: str, capsys) -> tuple[int, str, str]:
    code = main(["verify", *args])
    got = capsys.readouterr()
    return code, got.out, got.err


def edit(path: Path, change) -> Path:
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))
    return path


def test_an_untouched_export_verifies_every_quote(exported, capsys) -> None:
    corpus, out = exported
    code, text, _ = verify(str(out), capsys=capsys)
    n = len(json.loads(out.read_text())["hits"])
    assert code == 0 and f"{n} of {n} quotes verified." in text
    assert text.count("verified: ") == n


def test_a_pdf_quote_verifies_by_reading_the_pdf_again(exported, capsys) -> None:
    corpus, out = exported
    record = json.loads(out.read_text())
    record["hits"] = [h for h in record["hits"] if h["source"].endswith(".pdf")]
    assert record["hits"], "the PDF is quoted"
    only_pdf = out.with_name("pdf.json")
    only_pdf.write_text(json.dumps(record))
    code, text, _ = verify(str(only_pdf), capsys=capsys)
    assert code == 0 and "report.pdf, characters" in text


def test_a_tampered_quote_fails_verification(exported, capsys) -> None:
    corpus, out = exported
    edit(out, lambda r: r["hits"][0].update(text=r["hits"][0]["text"].replace("UN", "EU", 1)))
    code, text, err = verify(str(out), capsys=capsys)
    assert code == 1 and "[1] not found:" in text and "nowhere in its text (was the export edited?)" in text
    assert "NOT VERIFIED: 1 of" in text and err == ""


def test_a_tampered_hash_fails_and_says_the_file_differs(exported, capsys) -> None:
    corpus, out = exported
    edit(out, lambda r: r["hits"][0]["provenance"].update(sha256="0" * 64))
    code, text, _ = verify(str(out), capsys=capsys)
    assert code == 1 and "[1] file changed:" in text and "not the recorded 000000000000" in text
    assert "the quote is still at characters" in text


def test_a_moved_file_still_verifies_by_its_hash(exported, tmp_path, capsys) -> None:
    corpus, out = exported
    elsewhere = tmp_path / "received" / "from-a-colleague"
    elsewhere.parent.mkdir()
    shutil.move(corpus, elsewhere)
    for name in ("march.txt", "camps.txt", "report.pdf"):  # renamed too: found by bytes, not by name
        (elsewhere / name).rename(elsewhere / f"copy-of-{name}")
    code, text, _ = verify(str(out), capsys=capsys)
    assert code == 1 and "not found: no file with SHA-256" in text and "give --corpus DIR" in text
    code, text, _ = verify(str(out), "--corpus", str(tmp_path / "received"), capsys=capsys)
    assert code == 0 and "moved: found by its hash; recorded at" in text and "copy-of-" in text


def test_a_changed_source_says_where_the_quote_is_now(exported, capsys) -> None:
    corpus, out = exported
    hit = next(h for h in json.loads(out.read_text())["hits"] if h["source"].endswith("march.txt"))
    path = Path(hit["source_path"])
    path.write_text("A new first line.\n\n" + path.read_text())
    code, text, _ = verify(str(out), capsys=capsys)
    shift = len("A new first line.\n\n")
    assert code == 1 and "file changed:" in text
    assert f"the quote is now at characters {hit['start'] + shift}–{hit['end'] + shift}" in text
    path.write_text("Nothing of the kind.\n")
    code, text, _ = verify(str(out), capsys=capsys)
    assert code == 1 and "the quote is no longer in it" in text


def test_a_missing_source_is_not_found(exported, capsys) -> None:
    corpus, out = exported
    shutil.rmtree(corpus)
    code, text, _ = verify(str(out), capsys=capsys)
    assert code == 1 and text.count("not found: no file with SHA-256") == len(json.loads(out.read_text())["hits"])


def test_an_export_from_a_model_and_backend_this_machine_lacks_still_verifies(exported, capsys) -> None:
    corpus, out = exported
    edit(out, lambda r: r["provenance"].update(model="some-org/model-not-installed-here", dense_index="qdrant",
                                               index_path="/nowhere/index"))
    code, text, _ = verify(str(out), capsys=capsys)
    assert code == 0 and "model some-org/model-not-installed-here" in text and "verifying needs neither" in text


@pytest.mark.parametrize("content, says", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "is not an answer exported by"),
    (json.dumps({"export": {"format": "assistant-answer"}}), "has no list of quotes"),
    (json.dumps({"export": {"format": "assistant-answer"}, "hits": [{"text": "x"}]}), "quote [1] has no provenance"),
    (json.dumps({"export": {"format": "assistant-answer"}, "hits": [
        {"text": "x", "start": 5, "end": 2, "source": "a", "source_path": "/a", "provenance": {}}]}),
     "no valid character offsets"),
    (json.dumps({"export": {"format": "assistant-answer"}, "hits": [
        {"text": "x", "start": 0, "end": 1, "source": "a", "source_path": "/a", "provenance": {"sha256": "abc"}}]}),
     "no valid SHA-256"),
])
def test_a_malformed_export_is_one_clear_line_and_exit_2(tmp_path, capsys, content, says) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code, text, err = verify(str(bad), capsys=capsys)
    assert code == 2 and says in err and err.startswith("error: ") and err.count("\n") == 1 and text == ""


def test_a_missing_or_non_json_export_is_refused(exported, tmp_path, capsys) -> None:
    corpus, out = exported
    code, _, err = verify(str(tmp_path / "nothing.json"), capsys=capsys)
    assert code == 2 and "no export at" in err
    md = write_export(json.loads(out.read_text()), tmp_path / "answer.md")
    code, _, err = verify(str(md), capsys=capsys)
    assert code == 2 and "verify reads the .json one" in err


def test_verify_json_output(exported, capsys) -> None:
    corpus, out = exported
    edit(out, lambda r: r["hits"][0].update(text="Edited."))
    code, text, _ = verify(str(out), "--json", capsys=capsys)
    got = json.loads(text)
    assert code == 1 and got["verified"] is False
    assert got["quotes"][0]["status"] == "not found" and all(q["status"] == "verified" for q in got["quotes"][1:])


def test_verify_loads_no_model_index_or_web_libraries(exported) -> None:
    corpus, out = exported
    code = (
        "import sys; from assistant.cli.main import main; rc = main(['verify', %r]); "
        "heavy = [m for m in ('torch', 'faiss', 'gradio', 'sentence_transformers', 'onnxruntime') if m in sys.modules]; "
        "print(rc, heavy)" % str(out)
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout + done.stderr


def test_a_pdf_quote_in_the_text_layer_but_not_drawn_does_not_verify(tmp_path: Path, tiny_encoder, capsys) -> None:
    from test_pdf_rects import make_hidden_text_pdf

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make_hidden_text_pdf(corpus / "doctored.pdf", "Witnesses said no register of names was kept at the camp.",
                         "The guards kept a full register of the names of every prisoner who arrived.")
    build_index(corpus, encoder=tiny_encoder, out_dir=tmp_path / "index")
    bot = Assistant.open(tmp_path / "index", encoder=tiny_encoder)
    for question, status, code_wanted in (("guards full register every prisoner arrived", "not drawn", 1),
                                          ("witnesses said no register kept camp", "verified", 0)):
        answer = bot.ask(question, k=1)
        out = write_export(export_record(answer), tmp_path / f"{status}.json")
        assert json.loads(out.read_text())["hits"][0]["provenance"]["rects"]
        code, text, _ = verify(str(out), capsys=capsys)
        assert f"[1] {status}: " in text and code == code_wanted, text
        assert ("does not draw it where it stands" in text) == (status == "not drawn")
