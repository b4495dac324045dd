"""assistant.pipeline.build: incremental builds, add and remove give what a full rebuild gives;
one writer at a time; leftovers of killed writers are cleaned up and reused."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import CorpusError, IndexBusyError, IndexLoadError, QueryError
from assistant.pipeline.build import build_index
from assistant.index import sources
from assistant.index.folder import load_index
from assistant.pipeline.progress import Progress
from test_index import stale_message_of
from assistant.search.searcher import Searcher
from assistant.pipeline.build import add_documents, remove_documents
from assistant.index.lock import lock_path, writer_lock
from conftest import PAGES, TinyEncoder, write_corpus

QUESTIONS = ["held without trial", "satellite images of a labour camp", "death penalty", "rice at a private market",
             "forced labour in mines", "who signed the letter"]

NEW_PAGE = """Forced labour

Prisoners are made to work in mines and farms from dawn until late at night, former detainees say.

Guards punish those who do not meet their quota by cutting their food rations.
"""


class CountingEncoder(TinyEncoder):
    """The tiny encoder, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    def encode(self, texts, *, batch_size=32, progress=False):
        self.texts += len(texts)
        return super().encode(texts, batch_size=batch_size, progress=progress)

    def encode_tokens(self, texts, *, batch_size=32, progress=False):
        vectors, tokens = super().encode_tokens(texts, batch_size=batch_size, progress=progress)
        # encode_tokens calls encode for the texts and for each word: count the texts only
        self.texts -= sum(len(t.pieces) for t in tokens)
        return vectors, tokens


def index_files(folder: Path) -> dict[str, bytes]:
    """The index's own files, without the manifest (it records times) and the cache."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json" and p.relative_to(folder).parts[0] != "cache"
    }


def assert_same_index(a: Path, b: Path) -> None:
    """Same documents, passages, vectors and search results (files.json aside, which
    records where files came from)."""
    x, y = load_index(a, check_corpus=False), load_index(b, check_corpus=False)
    assert x.documents == y.documents
    assert x.passages == y.passages
    np.testing.assert_allclose(x.vectors, y.vectors, atol=1e-6)
    np.testing.assert_allclose(x.sentences.rows(), y.sentences.rows(), atol=3e-3)
    np.testing.assert_array_equal(x.sentences.spans, y.sentences.spans)
    np.testing.assert_allclose(x.tokens.rows(slice(None)), y.tokens.rows(slice(None)), atol=1e-3)
    np.testing.assert_array_equal(x.tokens.first, y.tokens.first)
    np.testing.assert_array_equal(x.tokens.sentence, y.tokens.sentence)
    assert [x.tokens.pieces[i] for i in x.tokens.piece] == [y.tokens.pieces[i] for i in y.tokens.piece]
    enc = TinyEncoder()
    for q in QUESTIONS:
        for mode in ("hybrid", "dense", "keyword"):
            hx = Searcher(x, enc).search(q, k=5, mode=mode).hits
            hy = Searcher(y, enc).search(q, k=5, mode=mode).hits
            assert [h.passage.passage_id for h in hx] == [h.passage.passage_id for h in hy]
            np.testing.assert_allclose([h.score for h in hx], [h.score for h in hy], atol=1e-6)


def no_leftovers(parent: Path) -> None:
    assert not [p.name for p in parent.iterdir() if ".tmp-" in p.name or p.name.endswith(".old")]


@pytest.fixture
def built(small_corpus: Path) -> Path:
    out = small_corpus.parent / "index"
    build_index(small_corpus, encoder=TinyEncoder(), out_dir=out)
    return out


# --- incremental builds ------------------------------------------------------------


def test_an_incremental_build_equals_a_full_rebuild_and_counts_the_changes(built, small_corpus, tmp_path):
    page = small_corpus / "news-listing.txt"
    page.write_text(page.read_text(encoding="utf-8").replace("two farmers", "three farmers"), encoding="utf-8")
    (small_corpus / "press-release-detention.txt").unlink()
    (small_corpus / "forced-labour.txt").write_text(NEW_PAGE, encoding="utf-8")
    encoder = CountingEncoder()
    report = build_index(small_corpus, encoder=encoder, out_dir=built)
    assert report.summary() == "1 added, 1 updated, 1 removed, 1 unchanged"
    assert (report.added, report.updated, report.removed) == (("forced-labour",), ("news",), ("pr-detention",))
    full = tmp_path / "full"
    fresh = CountingEncoder()
    full_report = build_index(small_corpus, encoder=fresh, out_dir=full)
    assert_same_index(built, full)
    assert index_files(built) == index_files(full) | {"files.json": (built / "files.json").read_bytes()}
    # only the changed passages and sentences were encoded; the open letter's came from the cache
    assert 0 < report.encoded < full_report.encoded
    assert encoder.texts == report.encoded
    assert report.encoded + report.reused == full_report.encoded
    load_index(built)  # fresh: nothing changed since


def test_an_unchanged_corpus_encodes_nothing_and_keeps_ids_and_vectors(built, small_corpus):
    before = load_index(built)
    encoder = CountingEncoder()
    report = build_index(small_corpus, encoder=encoder, out_dir=built)
    assert report.summary() == "0 added, 0 updated, 0 removed, 3 unchanged"
    assert (report.encoded, encoder.texts) == (0, 0)
    after = load_index(built)
    assert after.passages == before.passages
    np.testing.assert_array_equal(after.vectors, before.vectors)


def test_a_metadata_change_re_encodes_what_it_changes(built, small_corpus):
    meta = json.loads((small_corpus / "metadata.json").read_text())
    meta["documents"][0]["title"] = "People held without any trial"
    (small_corpus / "metadata.json").write_text(json.dumps(meta))
    assert "metadata.json" in stale_message_of(load_index(built))
    report = build_index(small_corpus, encoder=TinyEncoder(), out_dir=built)
    assert report.updated == ("pr-detention",)
    assert load_index(built).documents["pr-detention"].title == "People held without any trial"


def test_the_cache_keeps_only_what_the_index_uses(built, small_corpus, tmp_path):
    for i in range(4):  # four versions of one page: the cache must not keep them all
        page = small_corpus / "news-listing.txt"
        page.write_text(page.read_text(encoding="utf-8") + f"\nA line added in round {i} about rice.\n", encoding="utf-8")
        build_index(small_corpus, encoder=TinyEncoder(), out_dir=built)
    size = sum(p.stat().st_size for p in (built / "cache").iterdir())
    fresh = tmp_path / "fresh"
    build_index(small_corpus, encoder=TinyEncoder(), out_dir=fresh)
    fresh_size = sum(p.stat().st_size for p in (fresh / "cache").iterdir())
    assert size <= 2 * fresh_size


# --- add and remove -------------------------------------------------------------------


def test_add_a_file_from_outside_the_corpus_then_build_and_remove(built, small_corpus, tmp_path):
    outside = tmp_path / "uploads" / "forced-labour.txt"
    outside.parent.mkdir()
    outside.write_text(NEW_PAGE, encoding="utf-8")
    before = index_files(built)
    encoder = CountingEncoder()
    report = add_documents(built, [outside], encoder=encoder)
    assert report.summary() == "1 added, 0 updated, 0 removed, 3 unchanged"
    assert report.added == ("forced-labour",)
    assert encoder.texts == report.encoded > 0
    index = load_index(built)  # fresh: the added file is known
    doc = index.documents["forced-labour"]
    assert doc.path == str(outside.resolve()) and doc.source == "uploads/forced-labour.txt"
    assert any("mines and farms" in p.text for p in index.passages)
    # a later build keeps it, encoding nothing
    again = build_index(small_corpus, encoder=TinyEncoder(), out_dir=built)
    assert (again.summary(), again.encoded) == ("0 added, 0 updated, 0 removed, 4 unchanged", 0)
    # the same as a fresh index given the same file
    other = tmp_path / "other"
    build_index(small_corpus, encoder=TinyEncoder(), out_dir=other)
    add_documents(other, [outside], encoder=TinyEncoder())
    assert_same_index(built, other)
    # an edited added file makes the index stale; add refreshes it
    outside.write_text(NEW_PAGE.replace("dawn", "early morning"), encoding="utf-8")
    index = load_index(built)
    assert "forced-labour.txt" in stale_message_of(index)
    assert sources.withheld(index.files, index.freshness) == {"forced-labour": str(outside.resolve())}
    assert add_documents(built, [outside], encoder=TinyEncoder()).updated == ("forced-labour",)
    # removed again, the index is what it was
    gone = remove_documents(built, [str(outside)], encoder=TinyEncoder())
    assert gone.summary() == "0 added, 0 updated, 1 removed, 3 unchanged"
    assert index_files(built) == before
    no_leftovers(built.parent)


def test_add_a_new_corpus_file_equals_a_build(built, small_corpus, tmp_path):
    new = small_corpus / "forced-labour.txt"
    new.write_text(NEW_PAGE, encoding="utf-8")
    add_documents(built, [new], encoder=TinyEncoder())
    load_index(built)  # fresh
    full = tmp_path / "full"
    build_index(small_corpus, encoder=TinyEncoder(), out_dir=full)
    assert_same_index(built, full)
    assert index_files(built) == index_files(full)


def test_add_skips_unreadable_files_and_adds_the_rest(built, tmp_path):
    good = tmp_path / "good.txt"
    good.write_text(NEW_PAGE, encoding="utf-8")
    binary = tmp_path / "junk.txt"
    binary.write_bytes(b"\x00\x01\x02binary")
    report = add_documents(built, [good, binary, tmp_path / "missing.txt"], encoder=TinyEncoder())
    assert report.added == ("good",)
    assert [Path(s.path).name for s in report.skipped] == ["junk.txt", "missing.txt"]
    with pytest.raises(CorpusError, match="nothing to add"):
        add_documents(built, [binary], encoder=TinyEncoder())


def test_two_added_files_with_the_same_name_get_distinct_ids(built, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "news.txt").write_text(NEW_PAGE, encoding="utf-8")
    first = add_documents(built, [tmp_path / "a" / "news.txt"], encoder=TinyEncoder())
    second = add_documents(built, [tmp_path / "b" / "news.txt"], encoder=TinyEncoder())
    assert (first.added, second.added) == (("news-2",), ("news-3",))  # "news" is the listing's id
    index = load_index(built)
    assert index.documents["news"].source == "corpus/news-listing.txt"


def test_remove_a_corpus_document_by_id_keeps_it_out_of_later_builds(built, small_corpus, tmp_path):
    report = remove_documents(built, ["news"], encoder=TinyEncoder())
    assert report.removed == ("news",)
    index = load_index(built)  # the file is still there, but excluded: not stale
    assert "news" not in index.documents
    again = build_index(small_corpus, encoder=TinyEncoder(), out_dir=built)
    assert "news" not in load_index(built).documents and again.encoded == 0
    assert add_documents(built, [small_corpus / "news-listing.txt"], encoder=TinyEncoder()).added == ("news",)
    full = tmp_path / "full"
    build_index(small_corpus, encoder=TinyEncoder(), out_dir=full)
    assert_same_index(built, full)


def test_remove_refuses_unknown_names_and_changes_nothing(built):
    before = index_files(built)
    with pytest.raises(QueryError, match="no-such-doc.*known ids: news, open-letter, pr-detention"):
        remove_documents(built, ["news", "no-such-doc"], encoder=TinyEncoder())
    with pytest.raises(QueryError, match="every document"):
        remove_documents(built, ["news", "open-letter", "pr-detention"], encoder=TinyEncoder())
    assert index_files(built) == before


def test_add_and_remove_need_an_index(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text(NEW_PAGE, encoding="utf-8")
    with pytest.raises(IndexLoadError, match="no index at"):
        add_documents(tmp_path / "index", [f], encoder=TinyEncoder())
    with pytest.raises(IndexLoadError, match="no index at"):
        remove_documents(tmp_path / "index", ["a"], encoder=TinyEncoder())


def test_add_with_another_model_is_refused(built, tmp_path):
    class Other(TinyEncoder):
        name = "other-model"

    f = tmp_path / "a.txt"
    f.write_text(NEW_PAGE, encoding="utf-8")
    with pytest.raises(IndexLoadError, match="built with tiny-hash-64, not other-model"):
        add_documents(built, [f], encoder=Other())


# --- one writer at a time, and leftovers ------------------------------------------------


def test_a_second_writer_waits_then_is_told_another_is_running(built, small_corpus, tmp_path):
    from filelock import FileLock

    before = index_files(built)
    holder = FileLock(str(lock_path(built)))
    holder.acquire()
    try:
        t0 = time.monotonic()
        from assistant.pipeline.build import build_index as build

        with pytest.raises(IndexBusyError, match="another build, add or remove is running"):
            build(small_corpus, encoder=TinyEncoder(), out_dir=built, lock_timeout=0.5)
        assert time.monotonic() - t0 >= 0.5
        f = tmp_path / "a.txt"
        f.write_text(NEW_PAGE, encoding="utf-8")
        with pytest.raises(IndexBusyError):
            add_documents(built, [f], encoder=TinyEncoder(), lock_timeout=0.1)
        with pytest.raises(IndexBusyError):
            remove_documents(built, ["news"], encoder=TinyEncoder(), lock_timeout=0.1)
    finally:
        holder.release()
    assert index_files(built) == before


def test_concurrent_writers_take_turns(built, small_corpus, tmp_path):
    files = []
    for i in range(4):
        f = tmp_path / f"extra-{i}.txt"
        f.write_text(NEW_PAGE.replace("dawn", f"dawn ({i})"), encoding="utf-8")
        files.append(f)
    errors: list[BaseException] = []

    def run(f):
        try:
            add_documents(built, [f], encoder=TinyEncoder(), lock_timeout=60)
        except BaseException as e:  # noqa: BLE001 - any failure fails the test
            errors.append(e)

    threads = [threading.Thread(target=run, args=(f,)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    index = load_index(built)
    assert {f"extra-{i}" for i in range(4)} <= set(index.documents)
    no_leftovers(built.parent)


def test_readers_never_see_a_half_swapped_index(built, tmp_path):
    """Loads running while add and remove swap new versions in: each load returns a
    whole index (the old or the new), never a 'damaged' error."""
    f = tmp_path / "extra.txt"
    f.write_text(NEW_PAGE, encoding="utf-8")
    stop = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def read():
        while not stop.is_set():
            try:
                seen.append(len(load_index(built).documents))
            except BaseException as e:  # noqa: BLE001 - any failure fails the test
                errors.append(e)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(6):
            add_documents(built, [f], encoder=TinyEncoder())
            remove_documents(built, ["extra"], encoder=TinyEncoder())
    finally:
        stop.set()
        reader.join()
    assert errors == []
    assert set(seen) <= {3, 4} and seen


def test_leftovers_of_a_killed_build_are_reused_and_removed(built, small_corpus):
    # what a build killed midway leaves: its temporary folder with the shards it encoded
    (small_corpus / "forced-labour.txt").write_text(NEW_PAGE, encoding="utf-8")
    dead = built.parent / ".index.tmp-999999"
    shutil.copytree(built, dead)  # a whole (older) index in it, as a kill just before the swap leaves
    (dead / "manifest.json").unlink()
    old = built.parent / ".index.old"
    old.mkdir()
    (old / "x").write_text("half-deleted")
    encoder = CountingEncoder()
    report = build_index(small_corpus, encoder=encoder, out_dir=built)
    assert report.added == ("forced-labour",)
    assert encoder.texts == report.encoded < report.encoded + report.reused
    assert not dead.exists() and not old.exists()
    load_index(built)


def test_a_failed_build_keeps_its_encoder_work_for_the_next_one(built, small_corpus):
    (small_corpus / "forced-labour.txt").write_text(NEW_PAGE, encoding="utf-8")

    class FailsOnSentences(CountingEncoder):
        tokens = False

        def encode_tokens(self, texts, *, batch_size=32, progress=False):
            self.tokens = True
            try:
                return super().encode_tokens(texts, batch_size=batch_size, progress=progress)
            finally:
                self.tokens = False

        def encode(self, texts, *, batch_size=32, progress=False):
            if not self.tokens and any("Guards punish" in t for t in texts):
                raise RuntimeError("simulated crash")
            return super().encode(texts, batch_size=batch_size, progress=progress)

    with pytest.raises(RuntimeError):
        build_index(small_corpus, encoder=FailsOnSentences(), out_dir=built)
    no_leftovers(built.parent)
    encoder = CountingEncoder()
    report = build_index(small_corpus, encoder=encoder, out_dir=built)
    # the new page's passages were encoded before the crash: only its sentences are left
    index = load_index(built)
    new_sentences = sum(index.passages[r].doc_id == "forced-labour" for r in index.sentences.row)
    assert report.encoded == encoder.texts == new_sentences > 0


# --- manifest quirks and freshness ------------------------------------------------------


def _edit_manifest(index: Path, **changes) -> None:
    data = json.loads((index / "manifest.json").read_text())
    data.update(changes)
    (index / "manifest.json").write_text(json.dumps(data))


def test_a_format_given_as_a_string_says_so_and_names_a_command_that_works(built, small_corpus):
    _edit_manifest(built, format="6")
    with pytest.raises(IndexLoadError) as e:
        load_index(built)
    msg = str(e.value)
    assert 'format is "6", not a whole number' in msg
    assert f"assistant build --corpus {small_corpus.resolve()} --index {built}" in msg
    build_index(small_corpus, encoder=TinyEncoder(), out_dir=built)  # the command works
    load_index(built)


def test_an_unknown_manifest_field_is_ignored(built):
    from assistant.index.folder import MANIFEST_HASH, manifest_hash

    data = json.loads((built / "manifest.json").read_text()) | {"written_by_a_newer_version": True}
    data[MANIFEST_HASH] = manifest_hash(data)  # as a newer version writes it: its fields hashed too
    (built / "manifest.json").write_text(json.dumps(data))
    assert len(load_index(built).passages) == 8


def test_an_older_format_names_the_build_command(built, small_corpus):
    _edit_manifest(built, format=5)
    with pytest.raises(IndexLoadError, match=rf"format 5, written by an older version.*--corpus {small_corpus.resolve()}"):
        load_index(built)


def test_an_index_without_its_manifest_can_be_rebuilt_in_place(built, small_corpus):
    (built / "manifest.json").unlink()
    with pytest.raises(IndexLoadError) as e:
        load_index(built)
    assert f"damaged (no manifest.json); rebuild it: assistant build --corpus {small_corpus.resolve()}" in str(e.value)
    build_index(small_corpus, encoder=TinyEncoder(), out_dir=built)
    load_index(built)


def test_a_folder_that_is_not_an_index_is_told_to_build_elsewhere(tmp_path, small_corpus, monkeypatch):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("buy milk")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(IndexLoadError) as e:
        load_index(Path("notes"))
    msg = str(e.value)
    # ./corpus is build's default corpus, so the command needs no --corpus here
    assert "build the index in a new folder: assistant build --index notes-index" in msg
    build_index(Path("corpus"), encoder=TinyEncoder(), out_dir=Path("notes-index"))  # that works
    assert (notes / "todo.txt").read_text() == "buy milk"


def test_a_damaged_index_of_another_folder_names_that_folder(built, small_corpus, tmp_path, monkeypatch):
    (built / "dense.faiss").write_bytes(b"garbage")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "corpus").mkdir()  # a default corpus here is not the index's corpus
    monkeypatch.chdir(elsewhere)
    with pytest.raises(IndexLoadError, match=rf"assistant build --corpus {small_corpus.resolve()} --index {built}"):
        load_index(built)
    (built / "manifest.json").write_text("{garbage")  # even without a readable manifest
    with pytest.raises(IndexLoadError, match=rf"assistant build --corpus {small_corpus.resolve()} --index {built}"):
        load_index(built)


def test_paths_with_spaces_are_quoted_in_commands(tmp_path):
    corpus = write_corpus(tmp_path / "my corpus")
    out = tmp_path / "my index"
    build_index(corpus, encoder=TinyEncoder(), out_dir=out)
    page = corpus / "news-listing.txt"
    page.write_text(page.read_text(encoding="utf-8") + "\nMore news.\n", encoding="utf-8")
    index = load_index(out)
    assert re.search(r"assistant build --corpus '.*/my corpus' --index '.*/my index'", stale_message_of(index))
    assert re.search(r"assistant add '.*/my corpus/news-listing.txt' --index '.*/my index'",
                     sources.stale_notes(index.files, index.freshness, index_dir=out)[0])


def test_the_stale_message_names_each_change(built, small_corpus):
    (small_corpus / "open-letter.txt").unlink()
    (small_corpus / "new.txt").write_text(NEW_PAGE, encoding="utf-8")
    page = small_corpus / "news-listing.txt"
    page.write_text(page.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    assert re.search(r"changed: news-listing.txt; new: new.txt; removed: open-letter.txt",
                     stale_message_of(load_index(built)))


def test_a_touched_but_unchanged_file_is_still_fresh(built, small_corpus):
    page = small_corpus / "news-listing.txt"
    os.utime(page, ns=(0, 1_000_000_000))
    load_index(built)


def test_a_corpus_file_that_becomes_unreadable_is_a_note_not_an_error(built, small_corpus):
    """Checked in a subprocess that cannot read the file (root reads everything,
    so as root it runs without the capabilities that let it)."""
    import subprocess
    import sys

    page = small_corpus / "news-listing.txt"
    os.chmod(page, 0o000)
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a file unreadable")
        caps = "-dac_override,-dac_read_search"
        prefix = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]
    script = (
        "from assistant.index.folder import load_index\n"
        f"i = load_index({str(built)!r}); print(len(i.passages)); print('\\n'.join(i.notes))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))

    def run():
        return subprocess.run(prefix + [sys.executable, "-c", script], capture_output=True, text=True, env=env,
                              timeout=120)

    try:
        done = run()  # unreadable but unchanged (size and time as recorded): nothing to say
        assert done.returncode == 0, done.stderr
        assert done.stdout.split("\n")[:2] == ["8", ""]
        os.utime(page, ns=(0, 2_000_000_000))  # it may have changed, and cannot be read to tell
        done = run()
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        lines = done.stdout.splitlines()
        assert lines[0] == "8"
        assert "cannot check whether" in lines[1] and "news-listing.txt" in lines[1] and "Permission denied" in lines[1]
    finally:
        os.chmod(page, 0o644)


# --- progress -------------------------------------------------------------------------


def test_progress_without_a_terminal_prints_lines_with_the_time_left():
    import io

    stream = io.StringIO()
    bar = Progress(100, desc="embedding", stream=stream, interval=0.0)
    for _ in range(4):
        bar.update(25)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("embedding:  25%") and "25/100" in lines[0] and "<" in lines[0]  # elapsed<left
    assert "100/100" in lines[-1]
    quiet = io.StringIO()
    short = Progress(100, desc="embedding", stream=quiet, interval=60.0)
    short.update(100)
    short.close()
    assert quiet.getvalue() == ""  # a short build prints nothing


# --- with the real model ----------------------------------------------------------------


@pytest.mark.model
def test_real_model_incremental_build_equals_a_full_rebuild(real_encoder, tmp_path):
    from conftest import DEFAULT_CORPUS

    corpus = tmp_path / "corpus"
    shutil.copytree(DEFAULT_CORPUS, corpus)
    out = tmp_path / "index"
    first = build_index(corpus, encoder=real_encoder, out_dir=out)
    page = sorted(corpus.glob("*.txt"))[0]
    page.write_text(page.read_text(encoding="utf-8") + "\nFamilies of detainees are not told where they are held.\n",
                    encoding="utf-8")
    report = build_index(corpus, encoder=real_encoder, out_dir=out)
    assert report.summary() == f"0 added, 1 updated, 0 removed, {first.documents - 1} unchanged"
    assert 0 < report.encoded < first.encoded / 5
    full = tmp_path / "full"
    build_index(corpus, encoder=real_encoder, out_dir=full)
    x, y = load_index(out), load_index(full)
    assert x.passages == y.passages
    np.testing.assert_allclose(x.vectors, y.vectors, atol=1e-5)
    np.testing.assert_allclose(x.sentences.rows(), y.sentences.rows(), atol=3e-3)
    np.testing.assert_allclose(x.tokens.rows(slice(None)), y.tokens.rows(slice(None)), atol=3e-3)
    for q in ["What happens to people sent back from China?", "Who signed the letter?", "food shortages",
              "Are families told where detainees are held?", "public executions"]:
        hx = Searcher(x, real_encoder).search(q, k=5).hits
        hy = Searcher(y, real_encoder).search(q, k=5).hits
        assert [h.passage.passage_id for h in hx] == [h.passage.passage_id for h in hy]
        np.testing.assert_allclose([h.score for h in hx], [h.score for h in hy], atol=1e-4)


@pytest.mark.model
def test_cli_build_add_remove(small_corpus, tmp_path, capsys):
    from assistant.cli.main import main

    out = tmp_path / "index"
    assert main(["build", "--corpus", str(small_corpus), "--index", str(out)]) == 0
    assert "documents: 3 added, 0 updated, 0 removed, 0 unchanged; encoded" in capsys.readouterr().out
    new = tmp_path / "uploads" / "forced-labour.txt"
    new.parent.mkdir()
    new.write_text(NEW_PAGE, encoding="utf-8")
    assert main(["add", "--index", str(out), str(new), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["added"], report["unchanged"], report["documents"]) == (["forced-labour"], 3, 4)
    assert main(["ask", "--index", str(out), "--json", "Are prisoners made to work in mines?"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["doc_id"] == "forced-labour"
    assert main(["remove", "--index", str(out), "forced-labour"]) == 0
    assert "documents: 0 added, 0 updated, 1 removed, 3 unchanged; encoded 0 texts" in capsys.readouterr().out
    assert main(["remove", "--index", str(out), "nothing-like-it"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: nothing-like-it is neither a document id nor a file") and "Traceback" not in err
    assert main(["add", "--index", str(tmp_path / "none"), str(new)]) == 1
    assert "no index at" in capsys.readouterr().err
