"""Passages, documents and arrays read from the index folder as they are asked for."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.ingest.corpus import Document, Passage
from assistant.errors import IndexLoadError
from assistant.index.folder import load_index
from assistant.index.store import DocumentStore, PassageStore, RowFile, write_jsonl_with_offsets
from conftest import TinyEncoder, write_corpus
from test_index import build


def _passage(i: int, doc: str = "d") -> Passage:
    return Passage(f"{doc}#p{i}", doc, i, 0, "Sec", "2014", "paragraph", 10 * i, 10 * i + 9, f"text {i} é — ü")


def test_a_passage_store_reads_any_row_and_iterates_in_order(tmp_path):
    passages = [_passage(i) for i in range(1, 8)]
    offsets = write_jsonl_with_offsets(tmp_path / "p.jsonl", (p.__dict__ for p in passages))
    store = PassageStore(tmp_path / "p.jsonl", np.asarray(offsets))
    assert len(store) == 7
    assert store[0] == passages[0] and store[6] == passages[6] and store[-1] == passages[-1]
    assert store[np.int64(3)] == passages[3]
    assert store[2:4] == passages[2:4]
    assert list(store) == passages and store == passages and store != passages[:-1]
    with pytest.raises(IndexError):
        store[7]


def test_a_document_store_is_a_mapping_that_reads_a_document_when_asked(tmp_path):
    docs = [Document(f"doc-{i}", f"s{i}.txt", f"/x/s{i}.txt", f"Title {i}", "Org", "2014", "report", "body " * i)
            for i in range(1, 4)]
    offsets = write_jsonl_with_offsets(tmp_path / "d.jsonl", (d.__dict__ for d in docs))
    store = DocumentStore(tmp_path / "d.jsonl", [d.doc_id for d in docs], np.asarray(offsets))
    assert list(store) == ["doc-1", "doc-2", "doc-3"] and len(store) == 3
    assert store["doc-2"] == docs[1] and "doc-3" in store and "doc-9" not in store
    assert store.get("doc-9") is None and store == {d.doc_id: d for d in docs}
    assert store.values() == docs
    with pytest.raises(KeyError):
        store["doc-9"]


def test_a_row_file_copies_out_exactly_the_rows_asked_for(tmp_path):
    a = np.arange(60 * 4, dtype=np.int8).reshape(60, 4)
    np.save(tmp_path / "a.npy", a)
    f = RowFile(tmp_path / "a.npy")
    assert f.shape == (60, 4) and f.dtype == np.int8 and len(f) == 60
    rows = np.array([0, 1, 2, 9, 10, 59, 3])
    got = f[rows]
    np.testing.assert_array_equal(got, a[rows])
    got[0, 0] = 99  # a copy: the file and later reads are untouched
    np.testing.assert_array_equal(f[0:3], a[0:3])
    np.testing.assert_array_equal(f[5], a[5])
    np.testing.assert_array_equal(np.asarray(f), a)
    f.RUNS_ONE_BY_ONE = 1  # one span for all the runs: the answers stay the same
    for _ in range(3):
        np.testing.assert_array_equal(f[rows], a[rows])


@pytest.mark.parametrize("dtype", [np.int8, np.float32, np.int64])
def test_a_row_file_reads_the_same_rows_by_pread_and_through_its_mapping(tmp_path, dtype):
    rng = np.random.default_rng(7)
    a = rng.integers(-100, 100, size=(500, 6)).astype(dtype)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", a[:, 0])  # one dimension
    by_read, by_map = RowFile(tmp_path / "a.npy"), RowFile(tmp_path / "a.npy")
    by_map.READ_RUNS = 0  # every read through the mapping
    runs = np.concatenate([np.arange(10, 40), np.arange(3, 5), [499], np.arange(200, 260)])  # 4 runs, out of order
    takes = [runs, rng.permutation(500)[:50], np.arange(500), slice(20, 90), slice(None), slice(5, 5),
             np.array([], dtype=np.int64), np.array([7]), rng.random(500) < 0.1, np.array([-1, 3]), slice(0, 50, 2)]
    for take in takes:
        np.testing.assert_array_equal(by_read[take], a[take])
        np.testing.assert_array_equal(by_map[take], a[take])
    one = RowFile(tmp_path / "b.npy")
    np.testing.assert_array_equal(one[runs], a[:, 0][runs])
    got = by_read[runs]
    got[:] = 0  # a copy
    np.testing.assert_array_equal(by_read[runs], a[runs])


def test_a_row_file_shorter_than_its_header_is_refused(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((100, 8), dtype=np.float32))
    raw = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "a.npy").write_bytes(raw[: len(raw) - 64])
    with pytest.raises(ValueError, match="shorter"):
        RowFile(tmp_path / "a.npy")


def test_a_loaded_index_holds_no_passage_or_document_text_until_asked(tmp_path):
    out = tmp_path / "index"
    build(write_corpus(tmp_path / "corpus"), out, TinyEncoder())
    index = load_index(out)
    assert isinstance(index.passages, PassageStore) and isinstance(index.documents, DocumentStore)
    stored = [json.loads(line) for line in (out / "passages.jsonl").read_text().splitlines()]
    assert [p.passage_id for p in index.passages] == [p["passage_id"] for p in stored]
    p = index.passages[len(index.passages) // 2]
    assert index.documents[p.doc_id].text[p.start : p.end] == p.text


def test_passage_offsets_that_disagree_with_the_file_are_refused(tmp_path):
    out = tmp_path / "index"
    build(write_corpus(tmp_path / "corpus"), out, TinyEncoder())
    offsets = np.load(out / "passages.offsets.npy")
    offsets[-1] += 1
    np.save(out / "passages.offsets.npy", offsets)
    with pytest.raises(IndexLoadError, match="checksum"):
        load_index(out)
    with pytest.raises(IndexLoadError, match="disagree"):  # a large index's load checks no checksum
        load_index(out, verify=False)

