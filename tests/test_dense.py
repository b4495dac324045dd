"""Dense index kinds: the approximate ones find what exact search finds on a small
collection, and a saved index answers as the one in memory (checked against numpy)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from assistant.index.dense import EXACT_UP_TO, KINDS, DenseIndex, choose_kind


def clustered(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, d)).astype(np.float32)
    x = centres[rng.integers(0, 20, n)] + 0.5 * rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    x = clustered(3050)
    return x[:3000], x[3000:]


def test_flat_is_exact_against_numpy(data):
    base, questions = data
    index = DenseIndex.build(base, kind="flat")
    for q in questions:
        want = np.argsort(-(base @ q), kind="stable")[:10]
        got = index.nearest(q, 10)
        assert set(got.rows) == set(want)
        assert np.allclose(got.scores, np.sort(base @ q)[::-1][:10], atol=1e-5)


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "flat"])
def test_approximate_kinds_find_the_same_top_results_as_exact(data, kind):
    base, questions = data
    exact, approx = DenseIndex.build(base, kind="flat"), DenseIndex.build(base, kind=kind)
    for q in questions:
        want, got = exact.nearest(q, 5), approx.nearest(q, 5)
        # 8-bit codes may swap near ties (within 0.01 of cosine); anything else is a miss
        assert float(base[got.rows[0]] @ q) >= float(want.scores[0]) - 0.01
        fifth = float(want.scores[-1])
        assert all(float(base[r] @ q) >= fifth - 0.01 for r in set(got.rows) - set(want.rows))
    same = np.mean([exact.nearest(q, 1).rows[0] == approx.nearest(q, 1).rows[0] for q in questions])
    assert same >= 0.95


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mmap", [False, True])
def test_a_saved_index_answers_as_the_one_in_memory(data, tmp_path, kind, mmap):
    base, questions = data
    built = DenseIndex.build(base, kind=kind)
    built.save(tmp_path / "dense.faiss")
    loaded = DenseIndex.load(tmp_path / "dense.faiss", kind=kind, mmap=mmap)
    assert loaded.ntotal == len(base)
    for q in questions:
        a, b = built.nearest(q, 10), loaded.nearest(q, 10)
        assert np.array_equal(a.rows, b.rows)
        assert np.allclose(a.scores, b.scores)


def test_fewer_rows_than_asked_and_unknown_kinds():
    index = DenseIndex.build(clustered(3), kind="flat")
    assert len(index.nearest(clustered(1, seed=1)[0], 10).rows) == 3
    with pytest.raises(ValueError, match="unknown dense index kind"):
        DenseIndex.build(clustered(3), kind="annoy")


def test_the_kind_is_chosen_by_size():
    assert choose_kind(1000) == "flat"
    assert choose_kind(EXACT_UP_TO) == "flat"
    assert choose_kind(EXACT_UP_TO + 1) != "flat"


def test_build_records_the_dense_index_kind_and_keeps_it_through_rebuilds_and_adds(small_corpus, tmp_path, tiny_encoder):
    from assistant.pipeline.build import build_index
    from assistant.index.folder import load_index
    from assistant.search.searcher import Searcher
    from assistant.pipeline.build import add_documents

    flat, hnsw = tmp_path / "flat", tmp_path / "hnsw"
    build_index(small_corpus, encoder=tiny_encoder, out_dir=flat)
    build_index(small_corpus, encoder=tiny_encoder, out_dir=hnsw, index_type="hnsw")
    assert (load_index(flat).manifest.index_type, load_index(flat).manifest.dense_index) == ("auto", "flat")
    index = load_index(hnsw)
    assert (index.manifest.index_type, index.manifest.dense_index) == ("hnsw", "hnsw")
    assert index.dense.kind == "hnsw" and type(index.dense._index).__name__ == "IndexHNSWFlat"
    question = "prison camps"
    want = [h.passage.passage_id for h in Searcher(load_index(flat), tiny_encoder).search(question, k=5).hits]
    searcher = Searcher(index, tiny_encoder)
    assert [h.passage.passage_id for h in searcher.search(question, k=5).hits] == want
    searcher.config = replace(searcher.config, exhaustive_up_to=0, candidates=len(index.passages))  # through the HNSW graph
    assert [h.passage.passage_id for h in searcher.search(question, k=5).hits] == want

    build_index(small_corpus, encoder=tiny_encoder, out_dir=hnsw)  # no --index-type: as last asked
    assert load_index(hnsw).manifest.dense_index == "hnsw"
    extra = tmp_path / "extra.txt"
    extra.write_text("Lighthouse keepers\n\nThe beacon fuel ran out in January, and the boats had no guide.\n")
    add_documents(hnsw, [extra], encoder=tiny_encoder)
    assert load_index(hnsw).manifest.dense_index == "hnsw"
    build_index(small_corpus, encoder=tiny_encoder, out_dir=hnsw, index_type="auto")
    assert load_index(hnsw).manifest.dense_index == choose_kind(load_index(hnsw).manifest.passages) == "flat"
