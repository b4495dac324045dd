"""assistant.index.folder: the index folder is built, saved atomically, loaded and checked."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.version import __version__
from assistant.ingest.corpus import fingerprint, passages_of, read_corpus
from assistant.errors import CorpusError, IndexLoadError
from assistant.pipeline.build import build_index
from assistant.index import sources
from assistant.index.folder import load_index
from assistant.index.texts import embedding_text
from conftest import TinyEncoder, write_corpus

FILES = {
    "manifest.json", "documents.jsonl", "documents.index.json", "passages.jsonl", "passages.offsets.npy", "dense.faiss",
    "keyword", "columns.json", "columns.npz", "vocabulary.json", "tokens.json",
    *(f"tokens.{name}.npy" for name in ("vectors", "scale", "piece", "first", "sentence", "counts")),
    *(f"sentences.{name}.npy" for name in ("row", "spans", "vectors", "scores", "first", "scale")),
}


def build(corpus: Path, out: Path, encoder=None):
    return build_index(corpus, encoder=encoder or TinyEncoder(), out_dir=out)


def beside(folder: Path) -> list[str]:
    """What a folder holds apart from the writers' (empty) lock file."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of an index folder but its encoder cache (which may grow)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).parts[0] != "cache"
    }


class FailingEncoder(TinyEncoder):
    """Encodes the passages, then fails on the second call (the sentences)."""

    def encode(self, texts, *, batch_size=32, progress=False):
        if self.calls >= 1:
            self.calls += 1
            raise RuntimeError("simulated crash while embedding")
        return super().encode(texts, batch_size=batch_size, progress=progress)


@pytest.fixture
def index_dir(small_corpus: Path) -> Path:
    out = small_corpus.parent / "index"
    build(small_corpus, out)
    return out


# --- what a build writes ------------------------------------------------------------


def test_build_reports_and_writes_the_index_folder(small_corpus, tmp_path):
    report = build(small_corpus, tmp_path / "index")
    assert (report.documents, report.passages, report.skipped) == (3, 8, ())
    assert report.index_dir == str(tmp_path / "index")
    assert FILES <= {p.name for p in (tmp_path / "index").iterdir()}
    # nothing else is left beside the index: no temporary or old folder
    assert beside(tmp_path) == ["corpus", "index"]


def test_manifest_records_what_built_the_index(index_dir, small_corpus):
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert manifest["model"] == "tiny-hash-64"
    assert manifest["dimension"] == 64
    assert manifest["normalized"] is True
    assert manifest["package_version"] == __version__
    assert manifest["corpus_fingerprint"] == fingerprint(read_corpus(small_corpus).documents)
    assert manifest["corpus_dir"] == str(small_corpus.resolve())
    assert (manifest["documents"], manifest["passages"]) == (3, 8)
    assert manifest["passage_tokens"] == 200
    index = load_index(index_dir)
    assert index.manifest.model == "tiny-hash-64"
    assert index.manifest.corpus_fingerprint == manifest["corpus_fingerprint"]


def test_loaded_passages_and_documents_are_the_corpus_ones(index_dir, small_corpus):
    encoder = TinyEncoder()
    corpus = read_corpus(small_corpus)
    expected = [p for d in corpus.documents for p in passages_of(d, max_tokens=200, count_tokens=encoder.count_tokens)]
    index = load_index(index_dir)
    assert list(index.passages) == expected
    assert index.documents == {d.doc_id: d for d in corpus.documents}
    for p in index.passages:
        assert index.documents[p.doc_id].text[p.start : p.end] == p.text


def test_dense_vectors_are_the_encoders_and_faiss_equals_brute_force(index_dir):
    index = load_index(index_dir)
    encoder = TinyEncoder()
    expected = encoder.encode([embedding_text(p, index.documents[p.doc_id]) for p in index.passages])
    np.testing.assert_allclose(index.vectors, expected, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-5)

    rng = np.random.default_rng(0)
    random = rng.normal(size=(5, 64)).astype(np.float32)
    random /= np.linalg.norm(random, axis=1, keepdims=True)
    questions = encoder.encode(["held without trial", "satellite images of a labour camp", "death penalty"])
    queries = np.vstack([random, questions])
    n = len(index.passages)
    scores, rows = index.dense.search(queries, n)
    brute = queries @ expected.T
    for q in range(len(queries)):
        assert sorted(rows[q]) == list(range(n))
        np.testing.assert_allclose(scores[q], np.sort(brute[q])[::-1], atol=1e-5)
        np.testing.assert_allclose(brute[q][rows[q]], scores[q], atol=1e-5)


def test_sentences_lie_inside_their_passages_and_have_unit_vectors(index_dir):
    index = load_index(index_dir)
    s = index.sentences
    assert len(s.row) == len(s.spans) == len(s.vectors) == index.manifest.sentences > len(index.passages)
    assert s.vectors.shape[1] == 64
    assert set(s.row.tolist()) == set(range(len(index.passages)))  # every passage has a sentence
    assert list(s.row) == sorted(s.row)
    for row, (a, b) in zip(s.row, s.spans):
        p = index.passages[row]
        assert p.start <= a < b <= p.end
    np.testing.assert_allclose(np.linalg.norm(s.rows(), axis=1), 1.0, atol=1e-2)  # int8, a scale per row


def test_list_items_are_sentences_of_their_own(index_dir):
    index = load_index(index_dir)
    (row,) = [i for i, p in enumerate(index.passages) if p.kind == "list"]
    doc = index.documents[index.passages[row].doc_id]
    items = [doc.text[a:b] for r, (a, b) in zip(index.sentences.row, index.sentences.spans) if r == row]
    assert items == [
        "Yours sincerely,",
        "Coalition for Prison Reform",
        "Lawyers for Justice (Canada)",
        "Friends of the Detained (Japan)",
        "Open Doors Monitoring Network",
    ]


def test_keyword_index_ranks_the_passage_with_a_rare_word_first(index_dir):
    index = load_index(index_dir)
    keyword = index.keyword
    best = keyword.top_k(keyword.terms("satellite towers"), 1)
    assert "satellite images" in index.passages[int(best.rows[0])].text
    assert not len(keyword.top_k(keyword.terms("the of and"), len(index.passages)).rows)  # stop words only


def test_a_corpus_without_any_passage_is_refused(tmp_path):
    root = write_corpus(tmp_path / "corpus", {"chrome.txt": "Skip to main content\nFacebook Share\nMain menu\n"}, None)
    with pytest.raises(CorpusError, match="no passages"):
        build(root, tmp_path / "index")
    assert not (tmp_path / "index").exists()


# --- loading refuses damaged, missing and stale indexes ------------------------------


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00garbage\xff" * 10)


def _halve(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _drop_last_line(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-1]), encoding="utf-8")


def _rewrite_manifest(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


DAMAGE = {
    "garbage dense.faiss": lambda d: _garbage(d / "dense.faiss"),
    "truncated dense.faiss": lambda d: _halve(d / "dense.faiss"),
    "passages.jsonl cut mid-line": lambda d: _halve(d / "passages.jsonl"),
    "passages.jsonl missing its last line": lambda d: _drop_last_line(d / "passages.jsonl"),
    "empty documents.jsonl": lambda d: (d / "documents.jsonl").write_text(""),
    "deleted manifest": lambda d: (d / "manifest.json").unlink(),
    "garbage manifest": lambda d: _garbage(d / "manifest.json"),
    "manifest of another format": lambda d: _rewrite_manifest(d / "manifest.json", format=99),
    "manifest missing a field": lambda d: (d / "manifest.json").write_text('{"format": 1}'),
    "manifest of another dimension": lambda d: _rewrite_manifest(d / "manifest.json", dimension=384),
    "deleted sentences.vectors.npy": lambda d: (d / "sentences.vectors.npy").unlink(),
    "truncated sentences.vectors.npy": lambda d: _halve(d / "sentences.vectors.npy"),
    "truncated passages.offsets.npy": lambda d: _halve(d / "passages.offsets.npy"),
    "garbage columns.npz": lambda d: _garbage(d / "columns.npz"),
    "deleted keyword index": lambda d: shutil.rmtree(d / "keyword"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_index_is_refused_with_the_command_that_fixes_it(index_dir, damage):
    DAMAGE[damage](index_dir)
    with pytest.raises(IndexLoadError) as e:
        load_index(index_dir)
    assert "assistant build" in str(e.value)
    assert str(index_dir) in str(e.value)


def test_a_passage_that_no_longer_matches_its_document_names_the_fix(index_dir):
    path = index_dir / "passages.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows[0]["text"] = rows[0]["text"].upper()
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(IndexLoadError, match="assistant build"):
        load_index(index_dir)


def test_a_passage_of_an_unknown_document_is_refused(index_dir):
    path = index_dir / "passages.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows[0]["doc_id"] = "no-such-document"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(IndexLoadError, match="assistant build"):
        load_index(index_dir)


def test_a_missing_index_names_the_build_command(tmp_path):
    with pytest.raises(IndexLoadError, match=r"no index at .*nowhere.*assistant build (--corpus FOLDER )?--index"):
        load_index(tmp_path / "nowhere")


def test_a_folder_that_is_not_an_index_is_refused(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("buy milk")
    with pytest.raises(IndexLoadError, match=r"not an index folder.*assistant build"):
        load_index(tmp_path / "notes")


def stale_message_of(index) -> str:
    return sources.stale_message(index.freshness, corpus_dir=index.files.corpus_dir, index_dir=index.path)


def test_a_changed_corpus_file_makes_the_index_stale(index_dir, small_corpus):
    page = small_corpus / "news-listing.txt"
    page.write_text(page.read_text(encoding="utf-8").replace("two farmers", "three farmers"), encoding="utf-8")
    index = load_index(index_dir)  # still loads: the answers withhold that document (test_stale.py)
    assert index.freshness.changed == (str(page.resolve()),)
    assert sources.withheld(index.files, index.freshness) == {"news": str(page.resolve())}
    assert re.search(r"has changed since the index .* was built.*assistant build --corpus", stale_message_of(index))
    # asked not to look at the corpus, the index itself is intact
    assert load_index(index_dir, check_corpus=False).freshness is None


def test_a_new_corpus_file_makes_the_index_stale(index_dir, small_corpus):
    (small_corpus / "extra.txt").write_text("A new report on forced labour was published today.\n", encoding="utf-8")
    index = load_index(index_dir)
    assert index.freshness.new == (str((small_corpus / "extra.txt").resolve()),)
    assert sources.withheld(index.files, index.freshness) == {}  # nothing indexed is withheld


def test_an_index_whose_corpus_moved_away_still_loads(index_dir, small_corpus):
    small_corpus.rename(small_corpus.parent / "elsewhere")
    index = load_index(index_dir)
    assert len(index.documents) == 3
    for p in index.passages:
        assert index.documents[p.doc_id].text[p.start : p.end] == p.text


# --- atomic writes ------------------------------------------------------------------


def test_a_build_that_fails_midway_leaves_the_previous_index_unchanged(index_dir, small_corpus):
    before = snapshot(index_dir)
    (small_corpus / "extra.txt").write_text("Forced labour is used in the camps.\n", encoding="utf-8")
    failing = FailingEncoder()
    with pytest.raises(RuntimeError, match="simulated crash"):
        build(small_corpus, index_dir, encoder=failing)
    assert failing.calls == 2  # it did fail midway, after embedding the passages
    assert snapshot(index_dir) == before
    assert beside(index_dir.parent) == ["corpus", "index"]
    index = load_index(index_dir, check_corpus=False)
    assert len(index.documents) == 3


def test_a_first_build_that_fails_leaves_no_index(small_corpus, tmp_path):
    with pytest.raises(RuntimeError):
        build(small_corpus, tmp_path / "index", encoder=FailingEncoder())
    assert not (tmp_path / "index").exists()
    with pytest.raises(IndexLoadError, match="assistant build"):
        load_index(tmp_path / "index")


def test_rebuilding_over_an_existing_index_replaces_it(index_dir, small_corpus):
    (small_corpus / "extra.txt").write_text(
        "Forced labour\n\nPrisoners are made to work in mines and farms from dawn until late at night.\n",
        encoding="utf-8",
    )
    assert load_index(index_dir).freshness.stale
    report = build(small_corpus, index_dir)
    assert (report.documents, report.passages) == (4, 9)
    index = load_index(index_dir)
    assert "extra" in index.documents
    assert index.manifest.corpus_fingerprint == fingerprint(read_corpus(small_corpus).documents)
    assert beside(index_dir.parent) == ["corpus", "index"]


def test_an_index_left_aside_by_an_interrupted_swap_is_recovered(index_dir):
    before = snapshot(index_dir)
    # killed between "index -> .index.old" and ".index.tmp -> index"
    os.replace(index_dir, index_dir.parent / ".index.old")
    index = load_index(index_dir)
    assert len(index.passages) == 8
    assert snapshot(index_dir) == before


def test_build_refuses_to_overwrite_the_corpus_or_a_folder_that_is_not_an_index(small_corpus, tmp_path, monkeypatch):
    before = snapshot(small_corpus)
    with pytest.raises(CorpusError, match="corpus folder"):
        build(small_corpus, small_corpus)
    with pytest.raises(CorpusError, match="corpus folder"):
        build(small_corpus, small_corpus / "index")
    assert snapshot(small_corpus) == before
    other = tmp_path / "notes"
    other.mkdir()
    (other / "important.txt").write_text("keep me")
    with pytest.raises(CorpusError, match="not an index"):
        build(small_corpus, other)
    assert (other / "important.txt").read_text() == "keep me"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CorpusError, match="its own folder"):
        build(small_corpus, Path("."))


def test_a_flipped_byte_in_any_index_file_is_refused(index_dir):
    target = index_dir / "sentences.vectors.npy"
    data = bytearray(target.read_bytes())
    data[-10] ^= 0xFF  # same size, still a valid .npy: only the checksum can tell
    target.write_bytes(bytes(data))
    with pytest.raises(IndexLoadError, match="checksum.*assistant build"):
        load_index(index_dir)


def test_an_index_path_that_is_a_file_is_a_clear_error(tmp_path):
    f = tmp_path / "queries.jsonl"
    f.write_text("{}\n")
    with pytest.raises(IndexLoadError, match="is a file, not an index folder"):
        load_index(f)


def test_memory_mapped_and_in_memory_token_vectors_give_identical_answers(tmp_path):
    from assistant.search.searcher import Searcher

    encoder = TinyEncoder()
    out = tmp_path / "index"
    build(write_corpus(tmp_path / "corpus"), out, encoder)
    from assistant.index.store import RowFile

    mapped, loaded = load_index(out, mmap=True), load_index(out, mmap=False)
    assert isinstance(load_index(out).tokens.vectors, np.ndarray)  # a small index: in memory by default
    for on_disk in (mapped.tokens.vectors, mapped.tokens.scale, mapped.sentences.vectors, mapped.sentences.spans):
        assert isinstance(on_disk, RowFile)
    assert isinstance(loaded.tokens.vectors, np.ndarray) and isinstance(loaded.sentences.vectors, np.ndarray)
    assert mapped.tokens.vectors.dtype == np.int8  # as stored: a question converts only its candidates' rows
    rows = np.array([0, 1, 2, 7, 9, 10, 3])  # runs and jumps, out of order
    np.testing.assert_array_equal(mapped.tokens.vectors[rows], loaded.tokens.vectors[rows])
    np.testing.assert_array_equal(mapped.sentences.spans[2:5], loaded.sentences.spans[2:5])
    a, b = Searcher(mapped, encoder), Searcher(loaded, encoder)
    for question in ["food shortages", "prison camps and forced labour", "What happened in 2014?"]:
        for mode in ("hybrid", "tokens", "dense", "keyword", "rrf"):
            x, y = a.search(question, k=5, mode=mode), b.search(question, k=5, mode=mode)
            assert [(h.passage, h.score, h.tokens, h.sentence) for h in x.hits] == \
                [(h.passage, h.score, h.tokens, h.sentence) for h in y.hits]
            assert x.best_sentences == y.best_sentences


def test_a_damaged_token_file_is_reported(tmp_path):
    out = tmp_path / "index"
    build(write_corpus(tmp_path / "corpus"), out)
    raw = bytearray((out / "tokens.vectors.npy").read_bytes())
    raw[-7] ^= 0xFF  # one token vector's value, same size
    (out / "tokens.vectors.npy").write_bytes(bytes(raw))
    with pytest.raises(IndexLoadError, match="damaged"):
        load_index(out)


def test_an_index_of_the_previous_format_is_refused_with_a_command_and_rebuilt_in_place(tmp_path):
    corpus, out = write_corpus(tmp_path / "corpus"), tmp_path / "index"
    build(corpus, out)
    # what format 7 wrote: sentences in sentences.npy (float32) and sentences.json, no offsets, columns or vocabulary
    s = load_index(out).sentences
    np.save(out / "sentences.npy", s.rows())
    (out / "sentences.json").write_text(json.dumps({"row": s.row.tolist(), "spans": s.spans[:].tolist()}))
    for name in ("row", "spans", "vectors", "scores", "first", "scale"):
        (out / f"sentences.{name}.npy").unlink()
    for name in ("passages.offsets.npy", "documents.index.json", "columns.json", "columns.npz", "vocabulary.json"):
        (out / name).unlink()
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps(manifest | {"format": 7}))
    with pytest.raises(IndexLoadError, match=r"format 7.*assistant build"):
        load_index(out)
    build(corpus, out)  # not refused as a folder of someone else's files
    assert load_index(out).manifest.format == 8
    assert not (out / "sentences.npy").exists() and not (out / "sentences.json").exists()


def test_a_large_index_loads_on_sizes_and_check_finds_what_the_load_skipped(tmp_path, monkeypatch, capsys):
    import assistant.index.folder as index_module
    from assistant.cli.main import main

    out = tmp_path / "index"
    build(write_corpus(tmp_path / "corpus"), out)
    assert main(["check", "--index", str(out)]) == 0
    assert "intact" in capsys.readouterr().out
    raw = bytearray((out / "tokens.vectors.npy").read_bytes())
    raw[-7] ^= 0xFF  # same size: only a checksum sees it
    (out / "tokens.vectors.npy").write_bytes(bytes(raw))
    monkeypatch.setattr(index_module, "LOAD_VERIFY_BYTES", 0)  # as if the index were large
    large = load_index(out)  # sizes match: loaded without reading every byte
    from assistant.index.store import RowFile

    assert isinstance(large.tokens.vectors, RowFile)  # and its arrays left on disk
    assert main(["check", "--index", str(out)]) == 1
    assert "damaged" in capsys.readouterr().err
    with (out / "passages.jsonl").open("ab") as f:  # a size that differs is seen by any load
        f.write(b"\n")
    with pytest.raises(IndexLoadError, match="another size"):
        load_index(out)
