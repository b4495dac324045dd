"""Many readers, many writers: a running assistant (the service and the web chat's
answering path) follows what other writers change in its index folder, a stale
source file withholds its own document instead of stopping every question, a
writer killed just after its swap does not make the next report miscount, and
special files (named pipes, sockets) in a corpus are named as skipped, never opened.

Writers are real processes where it matters (tests/update_runner.py, the tiny
encoder); files are real files on disk."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from assistant.cli.main import main
from assistant.errors import CorpusError
from assistant.index.folder import MANIFEST_HASH, load_index, manifest_hash
from assistant.pipeline.build import add_documents, build_index
from assistant.pipeline.service import Assistant
from assistant.web.chat import Chat
from conftest import TinyEncoder
from test_kill import finish, run_until
from test_update import NEW_PAGE

MINES = "Who is made to work in mines and farms from dawn?"
FARMERS = "Which court sentenced two farmers to hard labour for selling rice?"
DEADLINE = 15.0  # seconds a running assistant may take to see a change (it checks every 2 s)


@pytest.fixture
def built(small_corpus: Path) -> Path:
    out = small_corpus.parent / "index"
    build_index(small_corpus, encoder=TinyEncoder(), out_dir=out)
    return out


@pytest.fixture
def new_file(tmp_path: Path) -> Path:
    path = tmp_path / "uploads" / "forced-labour.txt"
    path.parent.mkdir()
    path.write_text(NEW_PAGE, encoding="utf-8")
    return path


def cited(answer) -> set[str]:
    return {q.citation.doc_id for q in (*answer.quotes, *answer.related)}


def until(check, *, seconds: float = DEADLINE):
    """Call ``check`` until it returns something true; that value (fails after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"not seen within {seconds} s")
        time.sleep(0.2)


# --- live reload -----------------------------------------------------------------------


def test_a_running_assistant_answers_from_what_another_process_added(built, new_file, tmp_path):
    encoder = TinyEncoder()
    bot = Assistant.open(built, encoder=encoder)
    assert "forced-labour" not in cited(bot.ask(MINES, k=8))
    before = bot.version
    finish(["add", str(built), str(new_file)], cwd=tmp_path)  # another process, the CLI's path
    t0 = time.monotonic()
    answer = until(lambda: (a := bot.ask(MINES, k=3)) and "forced-labour" in cited(a) and a)
    assert time.monotonic() - t0 < 2 + 3  # within the recheck interval (and the load)
    assert answer.quotes[0].citation.doc_id == "forced-labour"
    assert answer.provenance.index_id == load_index(built).identity  # the new version answered, whole
    assert bot.encoder is encoder and bot.searcher.encoder is encoder  # the model is not reloaded
    # the version a question began with still answers in full after the swap deleted its files
    old = before.searcher.search(FARMERS, k=3)
    assert old.hits and all(before.index.documents[h.passage.doc_id].text[h.passage.start:h.passage.end]
                            == h.passage.text for h in old.hits)
    assert "forced-labour" not in before.index.documents


def test_a_new_version_that_cannot_be_loaded_keeps_the_old_one_and_says_so_once(built, caplog):
    bot = Assistant.open(built, encoder=TinyEncoder(), recheck_seconds=0)
    manifest = built / "manifest.json"
    data = json.loads(manifest.read_text())
    data["format"] = 999  # as a newer version of the program might write it
    data[MANIFEST_HASH] = manifest_hash(data)
    tmp = built / "manifest.tmp"
    tmp.write_text(json.dumps(data))
    os.replace(tmp, manifest)  # a new manifest: a new version to look at
    with caplog.at_level(logging.WARNING, logger="assistant.pipeline.service"):
        for _ in range(3):
            assert bot.ask(FARMERS, k=1).quotes[0].citation.doc_id == "news"
    said = [r for r in caplog.records if "cannot be loaded" in r.getMessage()]
    assert len(said) == 1 and "format 999" in said[0].getMessage()


def test_the_web_chat_answers_from_a_document_added_meanwhile(built, new_file):
    chat = Chat(Assistant.open(built, encoder=TinyEncoder()))
    assert "forced-labour" not in chat.reply(MINES, [], 8).text
    assert "forced-labour" not in chat.documents
    add_documents(built, [new_file], encoder=TinyEncoder())  # another writer (here: in-process)
    reply = until(lambda: (r := chat.reply(MINES, [], 3)) and "mines and farms" in r.text and r)
    assert reply.sources[0].passage_id.startswith("forced-labour#")
    assert "forced-labour" in chat.documents  # the document filter and the sources view follow
    assert "mines and farms" in chat.source_html(reply.sources[0].passage_id)
    assert chat.search(MINES, 3)["hits"][0]["doc_id"] == "forced-labour"  # the /search route's JSON


# --- a changed or missing source file -------------------------------------------------


def test_a_changed_file_is_withheld_and_the_answer_names_it_and_its_command(built, small_corpus):
    page = small_corpus / "news-listing.txt"
    page.write_text(page.read_text(encoding="utf-8").replace("two farmers", "three farmers"), encoding="utf-8")
    bot = Assistant.open(built, encoder=TinyEncoder())
    n_news = len(bot.passages_of("news"))
    retrieval = bot.retrieve(FARMERS, k=8)
    assert retrieval.candidates == len(bot.index.passages) - n_news  # left out before ranking
    answer = bot.ask(FARMERS, k=8)
    assert answer.quotes or answer.related  # answered from the rest
    assert "news" not in cited(answer)
    command = f"assistant add {page.resolve()} --index {built}"
    assert any("news-listing.txt changed since it was indexed" in n and n.endswith(command) for n in answer.notes)
    # the command it names refreshes it
    add_documents(built, [str(page.resolve())], encoder=TinyEncoder())
    bot.refresh()
    fresh = bot.ask(FARMERS, k=3)
    assert fresh.quotes[0].citation.doc_id == "news" and not any("withheld" in n for n in fresh.notes)


def test_the_note_shows_in_the_terminal_the_json_and_the_web_chat(built, small_corpus, capsys):
    (small_corpus / "open-letter.txt").unlink()
    assert main(["ask", "What does the coalition ask the minister?", "--index", str(built)],
                encoder=TinyEncoder()) == 0
    text = capsys.readouterr().out
    command = f"assistant remove open-letter --index {built}"
    assert "Note: open-letter.txt is missing since it was indexed; its quotes are withheld" in text
    assert command in text and "open-letter.txt, characters" not in text
    assert main(["ask", "What does the coalition ask the minister?", "--index", str(built), "--json"],
                encoder=TinyEncoder()) == 0
    got = json.loads(capsys.readouterr().out)
    assert any(command in n for n in got["notes"])
    assert all(h["doc_id"] != "open-letter" for h in got["hits"] + got["related"])
    reply = Chat(Assistant.open(built, encoder=TinyEncoder())).reply("What does the coalition ask the minister?")
    assert "*Note:* open-letter.txt is missing since it was indexed" in reply.text
    assert "assistant remove open\\-letter" in reply.text or "assistant remove open-letter" in reply.text
    assert not any(s.passage_id.startswith("open-letter#") for s in reply.sources)
    assert main(["check", "--index", str(built)]) == 1  # check still says the index is stale
    assert "stale: " in capsys.readouterr().err


def test_a_running_assistant_withholds_a_file_changed_while_it_runs(built, small_corpus):
    bot = Assistant.open(built, encoder=TinyEncoder(), recheck_seconds=0.2)
    assert bot.ask(FARMERS, k=1).quotes[0].citation.doc_id == "news"
    page = small_corpus / "news-listing.txt"
    page.write_text(page.read_text(encoding="utf-8") + "\nMore news.\n", encoding="utf-8")
    answer = until(lambda: (a := bot.ask(FARMERS, k=3)) and any("withheld" in n for n in a.notes) and a)
    assert "news" not in cited(answer)


# --- kill -9 ------------------------------------------------------------------------------


def test_an_add_killed_just_after_its_swap_does_not_make_the_next_report_miscount(built, new_file, tmp_path):
    reader = Assistant.open(built, encoder=TinyEncoder())
    run_until(["--pause-after-swap", "30", "add", str(built), str(new_file)], "swapped", cwd=tmp_path)
    assert "forced-labour" in load_index(built).documents  # in place: what readers see
    until(lambda: "forced-labour" in cited(reader.ask(MINES, k=3)))  # a running reader too
    report = add_documents(built, [new_file], encoder=TinyEncoder())
    assert report.summary() == "0 added, 0 updated, 0 removed, 4 unchanged"
    assert any("stopped just after it put its new index in place" in n for n in report.notes)
    assert not [p for p in built.parent.iterdir() if p.name.startswith(".index.tmp-")]  # its leftovers are gone


# --- special files ------------------------------------------------------------------------


def in_time(call, seconds: float = 30.0):
    """``call()``'s result, failing (not hanging) when it waits on a named pipe."""
    out: dict = {}

    def run():
        try:
            out["value"] = call()
        except BaseException as e:  # handed to the test
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "blocked (a named pipe was opened)"
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_named_pipes_and_sockets_in_a_corpus_are_listed_as_skipped(small_corpus, tmp_path, capsys):
    os.mkfifo(small_corpus / "pipe.txt")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(small_corpus / "sock.md"))
        out = tmp_path / "index"
        report = in_time(lambda: build_index(small_corpus, encoder=TinyEncoder(), out_dir=out))
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert "named pipe" in reasons["pipe.txt"] and "socket" in reasons["sock.md"]
    outside = tmp_path / "outside.txt"
    os.mkfifo(outside)
    assert in_time(lambda: main(["add", str(outside), "--index", str(out)], encoder=TinyEncoder())) == 1
    assert f"{outside}: not a regular file (a named pipe)" in capsys.readouterr().err


def test_a_named_pipe_in_place_of_an_indexed_file_or_metadata_is_never_opened(built, small_corpus):
    page = small_corpus / "open-letter.txt"
    page.unlink()
    os.mkfifo(page)
    bot = in_time(lambda: Assistant.open(built, encoder=TinyEncoder()))
    assert bot.index.freshness.changed == (str(page),)
    assert any("open-letter.txt changed since it was indexed" in n for n in bot.ask("prison monitors").notes)
    meta = small_corpus / "metadata.json"
    shutil.move(meta, small_corpus.parent / "metadata.json")
    os.mkfifo(meta)
    with pytest.raises(CorpusError, match="metadata.json: not a regular file"):
        in_time(lambda: build_index(small_corpus, encoder=TinyEncoder(), out_dir=built))


def test_on_qdrant_a_running_assistant_follows_the_new_collection_and_withholds(small_corpus, tmp_path, new_file):
    """Qdrant local mode (one process: the writer runs in this one): the manifest names
    the collection and the version of its contents (an add changes it in place), so a
    reload answers from the new version; withholding works the same."""
    from assistant.index import qdrant

    place = qdrant.Place(alias="passages", path=str(tmp_path / "qdrant"))
    out = tmp_path / "qindex"
    try:
        build_index(small_corpus, encoder=TinyEncoder(), out_dir=out, backend="qdrant", qdrant=place)
        bot = Assistant.open(out, encoder=TinyEncoder())
        first = bot.index.manifest.qdrant
        add_documents(out, [new_file], encoder=TinyEncoder())
        answer = until(lambda: (a := bot.ask(MINES, k=3)) and "forced-labour" in cited(a) and a)
        now = bot.index.manifest.qdrant
        assert now["collection"] == first["collection"] and now["meta"] != first["meta"]
        page = small_corpus / "news-listing.txt"
        page.write_text(page.read_text(encoding="utf-8") + "\nMore news.\n", encoding="utf-8")
        bot.refresh()
        answer = bot.ask(FARMERS, k=3)
        assert "news" not in cited(answer) and any("news-listing.txt changed" in n for n in answer.notes)
    finally:
        qdrant.close(place)
