"""The retrieval protocols' contract (assistant.index.backends), checked for every backend
the factory knows against brute force: numpy inner products for the dense kinds, bm25s's
own scoring of every passage for the keyword index. Top k with and without a filter,
adding and deleting rows, the count, and a save and load. The Qdrant backend runs in
local mode (a folder, in /dev/shm when there is one: local mode commits every point to
SQLite, about 12 ms a point on this disk)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from assistant.index import factory, qdrant
from assistant.index.backends import DenseBackend, KeywordBackend
from assistant.index.keyword import KeywordIndex

D = 32


def clustered(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, D)).astype(np.float32)
    x = centres[rng.integers(0, 20, n)] + 0.5 * rng.standard_normal((n, D)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


BASE = clustered(3000)
QUESTIONS = clustered(30, seed=1)
ALLOWED = np.random.default_rng(2).random(len(BASE)) < 0.5  # a filter keeping about half


def brute(base: np.ndarray, q: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    scores = base @ q
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    order = np.argsort(-scores, kind="stable")[:k]
    return order[np.isfinite(scores[order])]


def agreement(backend: DenseBackend, base: np.ndarray, k: int, allowed: np.ndarray | None = None) -> float:
    """Share of the brute-force top k the backend finds (the recall@k), over QUESTIONS;
    every row it returns is allowed and scored as numpy scores it."""
    found = []
    for q in QUESTIONS:
        got = backend.nearest(q, k, allowed=allowed)
        assert len(got.rows) == min(k, len(base) if allowed is None else int(allowed.sum()))
        assert allowed is None or allowed[got.rows].all()
        np.testing.assert_allclose(got.scores, base[got.rows] @ q, atol=0.02)  # 8-bit codes: within 0.02
        assert list(got.scores) == sorted(got.scores, reverse=True)
        want = brute(base, q, k, allowed)
        found.append(len(set(got.rows) & set(want)) / len(want))
    return float(np.mean(found))


# what each kind must reach against brute force: flat is exact, and so is Qdrant's local mode
RECALL = {"flat": 1.0, "hnsw": 0.95, "ivf-sq8": 0.9, "qdrant": 1.0}


@pytest.fixture(scope="module")
def folders():
    """Makes local-mode Qdrant folders, removed after the module's tests."""
    made: list[str] = []
    base = "/dev/shm" if Path("/dev/shm").is_dir() else None

    def make() -> qdrant.Place:
        made.append(tempfile.mkdtemp(prefix="qdrant-test-", dir=base))
        return qdrant.Place(alias="passages", path=made[-1])

    yield make
    for folder in made:
        qdrant.close(qdrant.Place(alias="passages", path=folder))
        shutil.rmtree(folder, ignore_errors=True)


def make_dense(vectors: np.ndarray, kind: str, folders) -> DenseBackend:
    return factory.build_dense(vectors, kind=kind, place=folders() if kind in factory.QDRANT_KINDS else None)


def make_keyword(texts: list[str], kind: str, folders) -> KeywordBackend:
    return factory.build_keyword(texts, kind=kind, place=folders() if kind in factory.QDRANT_KINDS else None)


@pytest.fixture(scope="module", params=sorted(factory.DENSE))
def built(request, folders) -> DenseBackend:
    return make_dense(BASE, request.param, folders)


def test_every_dense_kind_is_checked():
    assert set(RECALL) == set(factory.DENSE)


def test_dense_top_k_against_brute_force(built):
    assert built.count() == len(BASE) and built.dimension == D
    assert agreement(built, BASE, 10) >= RECALL[built.kind]


def test_dense_top_k_within_a_filter_against_brute_force(built):
    assert agreement(built, BASE, 10, ALLOWED) >= RECALL[built.kind]
    narrow = np.random.default_rng(3).random(len(BASE)) < 0.1  # scored exactly from the stored vectors
    assert agreement(built, BASE, 10, narrow) >= (0.95 if built.kind == "ivf-sq8" else 1.0)  # (8-bit codes)
    two = np.zeros(len(BASE), dtype=bool)
    two[[5, 17]] = True
    for q in QUESTIONS[:3]:  # a filter narrower than k: every allowed row, none other
        assert sorted(built.nearest(q, 10, allowed=two).rows) == [5, 17]


def test_dense_vectors_are_the_stored_rows(built):
    rows = np.array([0, 7, 2999, 7])
    np.testing.assert_allclose(built.vectors(rows), BASE[rows], atol=0.02 if built.kind == "ivf-sq8" else 1e-6)
    assert built.vectors(np.zeros(0, dtype=np.int64)).shape == (0, D)


@pytest.mark.parametrize("kind", sorted(factory.DENSE))
def test_dense_add_and_delete_renumber_as_passages_do(kind, folders):
    backend = make_dense(BASE[:2000], kind, folders)
    backend.add(BASE[2000:])
    assert backend.count() == len(BASE)
    assert agreement(backend, BASE, 10) >= RECALL[kind]
    np.testing.assert_allclose(backend.vectors(np.array([3, 2500])), BASE[[3, 2500]], atol=0.02)
    gone = np.arange(0, len(BASE), 3)
    backend.delete(gone)
    rest = np.delete(BASE, gone, axis=0)
    assert backend.count() == len(rest)
    assert agreement(backend, rest, 10) >= RECALL[kind]
    np.testing.assert_allclose(backend.vectors(np.array([0, len(rest) - 1])), rest[[0, -1]], atol=0.02)


@pytest.mark.parametrize("mmap", [False, True])
def test_dense_save_and_load_answer_alike(built, tmp_path: Path, mmap):
    built.save(tmp_path / factory.dense_file(built.kind))
    loaded = factory.open_dense(tmp_path, kind=built.kind, mmap=mmap)
    assert loaded.kind == built.kind and loaded.count() == built.count()
    for q in QUESTIONS:
        a, b = built.nearest(q, 10, allowed=ALLOWED), loaded.nearest(q, 10, allowed=ALLOWED)
        assert np.array_equal(a.rows, b.rows) and np.allclose(a.scores, b.scores)


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown dense index kind"):
        factory.build_dense(BASE, kind="annoy")


# -- keyword ---------------------------------------------------------------------

WORDS = ("prison camp torture detention border refugee china famine food ration market trial court "
         "execution family defector satellite image report commission inquiry law").split()


def texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, int(rng.integers(3, 25)))) for _ in range(n)]


TEXTS = texts(1500)
ASKED = ["prison camp", "famine food ration ration", "satellite images of the camps", "the of and", "zebra",
         "court trial of a defector family at the border"]


REFERENCE = KeywordIndex.build(TEXTS)  # bm25s, for the scores every keyword backend must give


def full(query: str) -> np.ndarray:
    """bm25s's own score of every passage of TEXTS (brute force)."""
    terms = REFERENCE.terms(query)
    if not terms:
        return np.zeros(REFERENCE.count(), dtype=np.float32)
    return np.asarray(REFERENCE._retriever.get_scores(terms), dtype=np.float32)


def same(got: np.ndarray, want: np.ndarray, kind: str) -> bool:
    """bm25s's own float32 sums exactly; an engine summing in its own order to float rounding."""
    return np.array_equal(got, want) if kind == KeywordIndex.kind else np.allclose(got, want, rtol=1e-5, atol=1e-6)


def keyword_agrees(backend: KeywordBackend, allowed: np.ndarray | None = None, k: int = 10) -> None:
    rows = np.arange(backend.count())
    for query in ASKED:
        want = full(query)
        terms = backend.terms(query)
        assert same(backend.scores(terms, rows), want, backend.kind)  # the same float32 sums
        shuffled = np.random.default_rng(0).permutation(rows)[:100]
        assert same(backend.scores(terms, shuffled), want[shuffled], backend.kind)
        top = backend.top_k(terms, k, allowed=allowed)
        eligible = (want > 0) & (True if allowed is None else allowed)
        assert len(top.rows) == min(k, int(eligible.sum()))
        assert eligible[top.rows].all() and same(top.scores, want[top.rows], backend.kind)
        assert list(top.scores) == sorted(top.scores, reverse=True)
        if len(top.rows):  # nothing left out scores more than the last one taken
            assert want[eligible & ~np.isin(rows, top.rows)].max(initial=0) <= top.scores[-1] * (1 + 1e-5)


@pytest.fixture(scope="module", params=sorted(factory.KEYWORD))
def keyword(request, folders) -> KeywordBackend:
    return make_keyword(TEXTS, request.param, folders)


def test_keyword_top_k_and_scores_against_full_scoring(keyword):
    assert keyword.count() == len(TEXTS)
    keyword_agrees(keyword)
    keyword_agrees(keyword, ALLOWED[: len(TEXTS)])


@pytest.mark.parametrize("kind", sorted(factory.KEYWORD))
def test_keyword_add_and_delete_are_a_rebuild_of_what_is_left(kind, folders):
    more = texts(300, seed=1)
    backend = make_keyword(TEXTS[:1000], kind, folders)
    backend.add(TEXTS[1000:] + more)
    fresh = make_keyword(TEXTS + more, kind, folders)
    rows = np.arange(fresh.count())
    for query in ASKED:
        assert same(backend.scores(backend.terms(query), rows), fresh.scores(fresh.terms(query), rows), kind)
    gone = np.arange(0, len(TEXTS), 4)
    backend.delete(gone)
    rest = [t for i, t in enumerate(TEXTS + more) if i not in set(gone.tolist())]
    assert backend.count() == len(rest)
    fresh = make_keyword(rest, kind, folders)
    for query in ASKED:
        assert np.array_equal(backend.top_k(backend.terms(query), 10).rows, fresh.top_k(fresh.terms(query), 10).rows)


@pytest.mark.parametrize("mmap", [False, True])
def test_keyword_save_and_load_answer_alike(keyword, tmp_path: Path, mmap):
    keyword.save(tmp_path / factory.keyword_file(keyword.kind))
    loaded = factory.open_keyword(tmp_path, kind=keyword.kind, mmap=mmap)
    assert loaded.count() == keyword.count()
    rows = np.arange(loaded.count())
    for query in ASKED:
        assert np.array_equal(loaded.scores(loaded.terms(query), rows), keyword.scores(keyword.terms(query), rows))
        a, b = keyword.top_k(keyword.terms(query), 10, allowed=ALLOWED[: len(TEXTS)]), loaded.top_k(
            loaded.terms(query), 10, allowed=ALLOWED[: len(TEXTS)])
        assert np.array_equal(a.rows, b.rows) and np.array_equal(a.scores, b.scores)
    keyword_agrees(loaded)
