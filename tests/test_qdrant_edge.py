"""The Qdrant views on the real engine (qdrant-edge-py's EdgeShard, Qdrant's Rust code in
process) against the embedded index: the protocols' contract against brute force, then
every evaluation question of every fetched collection (eval/collections.json) asked of
both: the dense top 10 and the BM25 top 10 are the same rows (equal scores, within
1e-5, may swap), and ``Assistant.ask`` shows the same ten passages in the same order,
with every allowed passage a candidate and with the candidates taken from each backend's
top N (N near 30 where neither backend's N-th place ties: else each side may let in
another of the tied passages; a question tied at every N from 10 to 60, at most one in
twenty, is compared with every passage a candidate only). The fast tests encode with the tiny encoder; the ``model`` test with the packaged
model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assistant.evaluation.collections import load_registry
from assistant.index import qdrant_edge
from assistant.index.backends import Ranked
from assistant.index.qdrant_edge import EdgeDense, EdgeKeyword, on_edge
from conftest import TinyEncoder
from test_backends import ALLOWED, BASE, QUESTIONS as VECTORS, TEXTS, agreement, keyword_agrees

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "eval" / "collections.json"
COLLECTIONS = {c.name: c for c in load_registry(REGISTRY)}
K = 10
N_AIM = 30  # candidates from each backend when not every passage is one (fewer or more where the 30th ties)
TIE = 1e-5  # equal scores within this (relative above 1) may come in either order
SHOWN = 1e-4  # an answer shows scores to 4 decimals: equal scores may round one unit apart


@pytest.fixture
def shard(tmp_path):
    """A folder for one Edge shard, closed after the test."""
    folder = tmp_path / "shard"
    yield folder
    qdrant_edge.close(folder)


# -- the contract against brute force -------------------------------------------------


def test_dense_on_the_engine_is_exact_before_optimising(shard):
    backend = EdgeDense.build(BASE, folder=shard)
    assert backend.count() == len(BASE) and backend.dimension == BASE.shape[1]
    assert agreement(backend, BASE, K) == 1.0
    assert agreement(backend, BASE, K, ALLOWED) == 1.0
    rows = np.array([0, 7, 2999, 7])
    np.testing.assert_allclose(backend.vectors(rows), BASE[rows], atol=1e-6)


def test_dense_add_delete_save_and_load(shard, tmp_path):
    backend = EdgeDense.build(BASE[:2000], folder=shard)
    backend.add(BASE[2000:])
    assert agreement(backend, BASE, K) == 1.0
    gone = np.arange(0, len(BASE), 3)
    backend.delete(gone)
    rest = np.delete(BASE, gone, axis=0)
    assert backend.count() == len(rest) and agreement(backend, rest, K) == 1.0
    backend.save(tmp_path / EdgeDense.stored_as)
    loaded = EdgeDense.load(tmp_path / EdgeDense.stored_as)
    for q in VECTORS:
        a, b = backend.nearest(q, K), loaded.nearest(q, K)
        assert np.array_equal(a.rows, b.rows) and np.array_equal(a.scores, b.scores)


def test_bm25_on_the_engine_is_bm25s(shard, tmp_path):
    backend = EdgeKeyword.build(TEXTS, folder=shard)
    keyword_agrees(backend)
    keyword_agrees(backend, ALLOWED[: len(TEXTS)])
    backend.save(tmp_path / EdgeKeyword.stored_as)
    keyword_agrees(EdgeKeyword.load(tmp_path / EdgeKeyword.stored_as))


def test_bm25_add_and_delete_reweigh_as_a_rebuild(tmp_path):
    more = TEXTS[:300]
    backend = EdgeKeyword.build(TEXTS[:1000], folder=tmp_path / "a")
    backend.add(TEXTS[1000:] + more)
    gone = np.arange(0, len(TEXTS), 4)
    backend.delete(gone)
    rest = [t for i, t in enumerate(TEXTS + more) if i not in set(gone.tolist())]
    fresh = EdgeKeyword.build(rest, folder=tmp_path / "b")
    try:
        rows = np.arange(fresh.count())
        for query in ("prison camp", "famine food ration ration", "court trial of a defector family at the border"):
            terms = fresh.terms(query)
            np.testing.assert_allclose(backend.scores(terms, rows), fresh.scores(terms, rows), rtol=1e-5, atol=1e-6)
    finally:
        qdrant_edge.close(tmp_path / "a")
        qdrant_edge.close(tmp_path / "b")


def test_a_folder_holds_one_shard(shard):
    EdgeDense.build(BASE[:10], folder=shard)
    with pytest.raises(Exception, match="already"):
        EdgeDense.build(BASE[:10], folder=shard)


# -- the evaluation questions, embedded against the engine --------------------------------


def same_top(want: Ranked, got: Ranked, what: str) -> int:
    """Asserts ``got`` is ``want`` up to ties; returns how many places hold another row."""
    assert len(got.rows) == len(want.rows), what
    np.testing.assert_allclose(got.scores, want.scores, rtol=TIE, atol=TIE, err_msg=what)
    scored = {int(r): float(s) for r, s in zip(want.rows, want.scores)}
    last = float(want.scores[-1]) if len(want.rows) else 0.0
    for r, s in zip(got.rows, got.scores):  # another row only where the scores tie
        assert abs(scored.get(int(r), last) - float(s)) <= TIE * max(1.0, abs(float(s))), what
    return int(np.count_nonzero(got.rows != want.rows))


def same_answers(want, got, what: str) -> None:
    """The same passages in the same order (up to ties of the score shown), and the same refusal."""
    assert got.abstained == want.abstained, what
    a = [(q.citation.passage_id, q.score) for q in want.quotes + want.related]
    b = [(q.citation.passage_id, q.score) for q in got.quotes + got.related]
    assert len(a) == len(b), what
    for (pa, sa), (pb, sb) in zip(a, b):
        assert abs(sa - sb) <= SHOWN + TIE * abs(sa), what
        assert pa == pb or any(p == pb and abs(s - sa) <= SHOWN + TIE * abs(sa) for p, s in a), what


def questions(name: str) -> list[str]:
    lines = COLLECTIONS[name].queries.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["query"] for line in lines if line.strip()]


def fetched(name: str):
    collection = COLLECTIONS[name]
    if not collection.corpus.is_dir():
        pytest.skip(f"collection {name} not fetched: run {collection.fetch or 'make eval-data'}")
    return collection


def untied(index, question: str, vector: np.ndarray) -> int | None:
    """The N nearest to N_AIM (from K to 2 N_AIM) at which neither backend's N-th and
    (N+1)-th scores tie, so that each backend's best N are the same rows whichever way
    ties are ordered; None when every such place ties."""
    terms = index.keyword.terms(question)
    dense = index.dense.nearest(vector, 2 * N_AIM + 1).scores
    bm25 = index.keyword.top_k(terms, 2 * N_AIM + 1).scores
    for n in sorted(range(K, 2 * N_AIM + 1), key=lambda n: abs(n - N_AIM)):
        if all(len(s) <= n or s[n - 1] - s[n] > TIE * max(1.0, abs(float(s[n]))) for s in (dense, bm25)):
            return n
    return None


def compare(index, edge, encoder, asked: list[str], *, modes=("hybrid", "dense", "keyword")) -> dict[str, int]:
    """Every question of ``asked`` on ``index`` (embedded) and ``edge`` (its backends on the
    engine): the backends' top K, and answers with all passages as candidates and with
    each backend's top N as candidates. Returns the tie swaps seen per stage."""
    from assistant.pipeline.service import Assistant
    from assistant.search.searcher import ranking_config

    swaps = {"dense": 0, "bm25": 0, "tied": 0}
    vectors = encoder.encode(asked)
    for question, v in zip(asked, vectors):
        swaps["dense"] += same_top(index.dense.nearest(v, K), edge.dense.nearest(v, K), f"dense: {question}")
        terms = index.keyword.terms(question)
        assert edge.keyword.terms(question) == terms
        swaps["bm25"] += same_top(index.keyword.top_k(terms, K), edge.keyword.top_k(terms, K), f"bm25: {question}")
    assistants: dict[int | None, tuple] = {}

    def pair(n: int | None) -> tuple:
        """The embedded and the engine's assistant, every passage a candidate (None) or each backend's best n."""
        if n not in assistants:
            ranking = ranking_config(index).to_json() | {"exhaustive_up_to": 0, "candidates": n}
            assistants[n] = tuple(Assistant.open(i.path, encoder=encoder, index=i if n is None else replace(
                i, manifest=replace(i.manifest, ranking=ranking))) for i in (index, edge))
        return assistants[n]

    for question, v in zip(asked, vectors):
        n = untied(index, question, v)
        swaps["tied"] += n is None
        for candidates in (None,) if n is None else (None, n):
            embedded, engine = pair(candidates)
            for mode in modes:
                what = f"{mode}, {candidates or 'all'} candidates: {question}"
                same_answers(embedded.ask(question, k=K, mode=mode), engine.ask(question, k=K, mode=mode), what)
    return swaps


def built(name: str, tmp_path: Path, encoder):
    from assistant.index.folder import load_index
    from assistant.pipeline.build import build_index

    collection = fetched(name)
    build_index(collection.corpus, encoder=encoder, out_dir=tmp_path / "index")
    index = load_index(tmp_path / "index")
    return index, on_edge(index, tmp_path / "shard")


@pytest.mark.parametrize("name", sorted(COLLECTIONS))
def test_every_evaluation_question_has_the_same_top_10_on_the_engine(name, tmp_path):
    encoder = TinyEncoder()
    index, edge = built(name, tmp_path, encoder)
    try:
        assert edge.dense.count() == edge.keyword.count() == len(index.passages)
        asked = questions(name)
        swaps = compare(index, edge, encoder, asked, modes=("hybrid",))
        assert swaps["tied"] <= 0.05 * len(asked), swaps
    finally:
        qdrant_edge.close(tmp_path / "shard")


@pytest.mark.model
@pytest.mark.parametrize("name", sorted(COLLECTIONS))
def test_every_evaluation_question_has_the_same_top_10_with_the_model(name, tmp_path, real_encoder):
    index, edge = built(name, tmp_path, real_encoder)
    try:
        asked = questions(name)
        swaps = compare(index, edge, real_encoder, asked)
        assert swaps["tied"] <= 0.05 * len(asked), swaps
    finally:
        qdrant_edge.close(tmp_path / "shard")
