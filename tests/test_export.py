"""Provenance on every quote and the exports (.md .docx .csv .csl.json .json), each parsed back."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.answer.export import export_record, format_of, to_csl, write_export
from assistant.answer.json_format import to_json
from assistant.answer.provenance import echoes, stamp
from assistant.answer.terminal import to_text
from assistant.cli.main import main
from assistant.errors import ExportError
from assistant.pipeline.service import Assistant
from assistant.pipeline.build import build_index
from docgen import make_pdf

STATEMENT = ("A key UN vote has sent a clear message to the North Korean government that those responsible "
             "for crimes against humanity must face justice, Amnesty International said.")
QUESTION = "UN vote clear message crimes against humanity justice"


@pytest.fixture
def echoed(tmp_path: Path, tiny_encoder) -> tuple[Path, Assistant]:
    """The same statement published in November (listed first by name) and in March."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a-november.txt").write_text(f"November 2014\n\n{STATEMENT}\n\nPrison camps hold many people.\n")
    (corpus / "b-march.txt").write_text(f"March 2014\n\n{STATEMENT}\n\nFood shortages continue in the north.\n")
    (corpus / "metadata.json").write_text(json.dumps([
        {"file": "a-november.txt", "title": "November statement", "organization": "Amnesty International",
         "date": "2014-11-18"},
        {"file": "b-march.txt", "title": "March statement", "organization": "Amnesty International",
         "date": "2014-03-28"},
    ]))
    build_index(corpus, encoder=tiny_encoder, out_dir=tmp_path / "index")
    return corpus, Assistant.open(tmp_path / "index", encoder=tiny_encoder)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_quote_carries_its_files_hash_size_reader_place_index_and_time(echoed, tiny_encoder, capsys):
    corpus, assistant = echoed
    code = main(["ask", QUESTION, "--index", str(assistant.index.path), "--json", "-k", "3"], encoder=tiny_encoder)
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    manifest = json.loads((assistant.index.path / "manifest.json").read_text())
    assert out["provenance"]["index_id"] == manifest["manifest_sha256"]
    assert out["provenance"]["model"] == manifest["model"]
    answered = datetime.datetime.fromisoformat(out["provenance"]["answered_at"])
    assert abs((datetime.datetime.now(datetime.timezone.utc) - answered).total_seconds()) < 120
    assert out["hits"]
    for hit in out["hits"] + [a for h in out["hits"] for a in h["also_in"]]:
        p = hit["provenance"]
        path = Path(hit["source_path"])
        assert p["sha256"] == sha(path) and p["size"] == path.stat().st_size
        assert p["extractor"].startswith("assistant ") and "text reader" in p["extractor"]
        assert (p["start"], p["end"]) == (hit["start"], hit["end"]) and p["pages"] == []
        assert p["index_id"] == manifest["manifest_sha256"] and p["answered_at"] == out["provenance"]["answered_at"]
        assert "path" not in p  # Gradio would serve it as a file


def test_an_answer_names_the_index_that_answered_even_after_the_folder_was_rebuilt(echoed, tiny_encoder):
    """The identity is the loaded index's: a build that replaced the folder since does not blank it
    (nor lend it the new index's)."""
    corpus, assistant = echoed
    index_dir = assistant.index.path
    before = json.loads((index_dir / "manifest.json").read_text())["manifest_sha256"]
    (corpus / "c-later.txt").write_text("A later note\n\nMarkets closed in the winter months.\n")
    build_index(corpus, encoder=tiny_encoder, out_dir=index_dir)
    after = json.loads((index_dir / "manifest.json").read_text())["manifest_sha256"]
    assert after != before
    assert assistant.ask(QUESTION).provenance.index_id == before
    assert assistant.reopen().ask(QUESTION).provenance.index_id == after


def test_a_pdf_quote_names_pypdf_and_its_pages(tmp_path: Path, tiny_encoder) -> None:
    from importlib.metadata import version

    root = tmp_path / "reports"
    root.mkdir()
    body = [("Findings", [f"Paragraph {i} on detention m{i}x and prison camps in the north of the country. " * 4
                          for i in range(30)])]
    make_pdf(root / "annual.pdf", body, title="Annual report", author="Rights Watchers")
    build_index(root, encoder=tiny_encoder, out_dir=tmp_path / "index")
    answer = Assistant.open(tmp_path / "index", encoder=tiny_encoder).ask("m25x detention", k=2)
    prov = to_json(answer)["hits"][0]["provenance"]
    assert prov["extractor"] == f"pypdf {version('pypdf')}"
    assert prov["pages"] and prov["pages"][0] == answer.quotes[0].citation.page >= 1
    assert prov["sha256"] == sha(root / "annual.pdf")


def test_an_index_without_recorded_hashes_takes_them_from_files_json(echoed) -> None:
    corpus, assistant = echoed
    answer = assistant.ask(QUESTION, k=2)
    old = replace(answer, provenance=None, quotes=tuple(
        replace(q, citation=replace(q.citation, sha256="", size=-1), also_in=()) for q in answer.quotes))
    again = stamp(old, assistant.index)
    c = again.quotes[0].citation
    assert c.sha256 == sha(Path(c.path)) and c.size == Path(c.path).stat().st_size


def test_echoes_list_every_place_earliest_first_in_json_terminal_and_exports(echoed, tmp_path) -> None:
    corpus, assistant = echoed
    answer = assistant.ask(QUESTION, k=3)
    first = answer.quotes[0]
    assert first.also_in, "the statement published twice is one quote"
    assert [c.date for c in echoes(first)] == ["2014-03-28", "2014-11-18"]
    hit = to_json(answer)["hits"][0]
    assert [e["title"] for e in hit["echoes"]] == ["March statement", "November statement"]
    text = to_text(answer)
    assert re.search(r"in 2 places, earliest first: 2014-03-28: .*March statement.*; 2014-11-18: .*November", text)
    record = export_record(answer)
    md = write_export(record, tmp_path / "a.md").read_text()
    assert md.index("2014-03-28: “March statement”") < md.index("2014-11-18: “November statement”")
    rows = list(csv.DictReader(io.StringIO(write_export(record, tmp_path / "a.csv").read_text())))
    assert rows[0]["echoes_earliest_first"].startswith("2014-03-28: “March statement”")


def test_each_export_format_parses_back_with_the_quote_and_its_citation(echoed, tmp_path) -> None:
    import docx

    corpus, assistant = echoed
    answer = assistant.ask(QUESTION, k=3)
    record = export_record(answer)
    hits = record["hits"]
    # .json: the full record, as verify reads it
    back = json.loads(write_export(record, tmp_path / "answer.json").read_text())
    assert back == record and back["export"]["format"] == "assistant-answer" and back["export"]["tool"]
    # .md: every quote as a block quote, its citation and hash in the numbered source list
    md = write_export(record, tmp_path / "answer.md").read_text()
    for i, hit in enumerate(hits, 1):
        assert f"> {hit['text']}\n> — [{i}]" in md
        assert f"{i}. {hit['citation']}" in md and hit["provenance"]["sha256"] in md
    # .csv: one row a quote
    rows = list(csv.DictReader(io.StringIO(write_export(record, tmp_path / "answer.csv").read_text(encoding="utf-8"))))
    assert [r["quote"] for r in rows] == [h["text"] for h in hits]
    assert [r["sha256"] for r in rows] == [h["provenance"]["sha256"] for h in hits]
    assert all(r["refused"] == "no" and r["question"] == QUESTION for r in rows)
    # .csl.json: CSL items with the required fields, the quote and its locator in the note
    items = json.loads(write_export(record, tmp_path / "answer.csl.json").read_text())
    assert len(items) == len(hits)
    for item, hit in zip(items, hits):
        assert isinstance(item["id"], str) and item["type"] == "report" and item["title"] == hit["title"]
        assert item["author"] == [{"literal": "Amnesty International"}]
        y, m, d = map(int, hit["date"].split("-"))
        assert item["issued"] == {"date-parts": [[y, m, d]]}
        assert item["URL"] == Path(hit["source_path"]).as_uri()
        assert hit["text"] in item["note"] and f"characters {hit['start']}–{hit['end']}" in item["note"]
        assert hit["provenance"]["sha256"] in item["note"]
    # .docx: quotes as block quotes (the Quote style), then the numbered sources
    d = docx.Document(str(write_export(record, tmp_path / "answer.docx")))
    quotes = [p.text for p in d.paragraphs if p.style.name == "Quote"]
    assert quotes == [f"{h['text']} [{i}]" for i, h in enumerate(hits, 1)]
    listed = [p.text for p in d.paragraphs if p.style.name == "List Number"]
    assert [t.splitlines()[0] for t in listed] == [h["citation"] for h in hits]  # numbered by the style
    assert all(h["provenance"]["sha256"] in t for t, h in zip(listed, hits))


def test_a_refused_answer_exports_as_refused_with_its_reason(echoed, tmp_path) -> None:
    import docx

    corpus, assistant = echoed
    answer = assistant.ask("zygomorphic quasar", k=3)
    assert answer.abstained
    record = export_record(answer)
    md = write_export(record, tmp_path / "no.md").read_text()
    assert "**Not answered.**" in md and "Reason:" in md
    assert "## Sources" not in md or "Possibly related passages (not evidence)" in md
    rows = list(csv.DictReader(io.StringIO(write_export(record, tmp_path / "no.csv").read_text())))
    assert rows and all(r["refused"] == "yes" and r["reason"] for r in rows)
    items = json.loads(write_export(record, tmp_path / "no.csl.json").read_text())
    assert all(i["note"].startswith("Not evidence: the question was not answered") for i in items)
    d = docx.Document(str(write_export(record, tmp_path / "no.docx")))
    assert any(p.text.startswith("Not answered.") for p in d.paragraphs)
    assert json.loads(write_export(record, tmp_path / "no.json").read_text())["abstained"] is True


def test_export_names_and_combinations_are_checked_before_the_model_loads(echoed, tmp_path, capsys) -> None:
    corpus, assistant = echoed
    with pytest.raises(ExportError, match="one of .csl.json, .json, .md, .csv, .docx"):
        format_of(tmp_path / "answer.pdf")
    assert format_of("A.CSL.JSON") == ".csl.json" and format_of("x.json") == ".json"
    code = main(["ask", QUESTION, "--index", str(assistant.index.path), "--export", str(tmp_path / "a.txt")])
    assert code == 1 and "name the file for its format" in capsys.readouterr().err
    code = main(["ask", "--batch", "-", "--index", str(assistant.index.path), "--export", str(tmp_path / "a.md")])
    assert code == 1 and "--export writes one answer" in capsys.readouterr().err
    code = main(["ask", QUESTION, "--index", str(assistant.index.path), "--export", str(tmp_path / "no" / "a.md")],
                encoder=assistant.encoder)
    assert code == 1 and "cannot write" in capsys.readouterr().err


def test_ask_export_writes_the_file_and_prints_the_answer_as_before(echoed, tmp_path, tiny_encoder, capsys) -> None:
    corpus, assistant = echoed
    out = tmp_path / "answer.json"
    code = main(["ask", QUESTION, "--index", str(assistant.index.path), "--export", str(out)], encoder=tiny_encoder)
    captured = capsys.readouterr()
    assert code == 0 and f"exported to {out}" in captured.err
    assert " ".join(captured.out.split()).startswith("[1] " + STATEMENT)  # the terminal answer, wrapped
    assert json.loads(out.read_text())["hits"][0]["text"] == STATEMENT
    assert to_csl(json.loads(out.read_text()))[0]["title"] in {"March statement", "November statement"}


def test_the_chats_download_link_carries_the_export_itself(echoed) -> None:
    import base64
    import html

    from assistant.web.download import FORMATS, answer_record, download_link

    corpus, assistant = echoed
    record = answer_record(assistant.ask(QUESTION, k=2))
    assert download_link(None, ".md") == "" and answer_record(None) is None
    for _, suffix in FORMATS:
        link = download_link(record, suffix)
        name = re.search(r'download="([^"]+)"', link).group(1)
        data = base64.b64decode(re.search(r"base64,([^\"]+)\"", link).group(1))
        assert html.unescape(name).endswith(suffix)
        if suffix == ".json":
            assert json.loads(data) == record
        elif suffix == ".md":
            assert record["hits"][0]["text"] in data.decode("utf-8")
