"""Stage 1 of search: past its exhaustive limit a Searcher scores only the dense index's
nearest and BM25's best passages, within the filter. With enough candidates that is
exactly exhaustive search; with few, every hit still comes from those candidates."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from assistant.index.folder import load_index
from assistant.index.keyword import tokenize
from assistant.search.searcher import Filter, Searcher

pytestmark = pytest.mark.model

QUESTIONS = [
    "What happens to people forcibly returned from China?",
    "How many prisoners are held in the political prison camps?",
    "food shortages 1997",
    "Which countries voted for the UN resolution in 2014?",
]


@pytest.fixture(scope="module")
def searcher(default_index, real_encoder) -> Searcher:
    return Searcher(load_index(default_index), real_encoder)


def _forced(searcher: Searcher, n: int):
    searcher.config = replace(searcher.config, exhaustive_up_to=0, candidates=n)


def _exhaustive(searcher: Searcher):
    searcher.config = replace(searcher.config, exhaustive_up_to=10**9, candidates=0)


@pytest.mark.parametrize("mode", ["hybrid", "tokens", "dense", "keyword", "rrf"])
def test_candidates_covering_the_collection_rank_exactly_as_exhaustive_search(searcher, mode):
    n = len(searcher.index.passages)
    for question in QUESTIONS:
        _exhaustive(searcher)
        want = searcher.search(question, k=10, mode=mode)
        _forced(searcher, n)
        got = searcher.search(question, k=10, mode=mode)
        assert [h.passage.passage_id for h in got.hits] == [h.passage.passage_id for h in want.hits], question
        assert np.allclose([h.score for h in got.hits], [h.score for h in want.hits], atol=1e-5)
    _exhaustive(searcher)


def test_few_candidates_come_from_the_dense_and_keyword_top_within_the_filter(searcher):
    index = searcher.index
    doc = sorted(index.documents)[1]
    where = Filter(doc_ids=(doc,))
    in_doc = np.array([p.doc_id == doc for p in index.passages])
    for question in QUESTIONS:
        _forced(searcher, 8)
        got = searcher.search(question, k=5, mode="hybrid", where=where)
        _exhaustive(searcher)
        assert got.hits and all(h.passage.doc_id == doc for h in got.hits)
        vector = searcher.encode([got.query.text])[0].vector
        cosine = np.where(in_doc, index.vectors @ vector, -np.inf)
        nearest = set(np.argsort(-cosine, kind="stable")[:8].tolist())
        everything = np.arange(len(index.passages))
        bm25 = np.where(in_doc, index.keyword.scores(index.keyword.terms(got.query.text), everything), -np.inf)
        best = set(np.argsort(-bm25, kind="stable")[:8][bm25[np.argsort(-bm25, kind="stable")[:8]] > 0].tolist())
        row = {p.passage_id: i for i, p in enumerate(index.passages)}
        for h in got.hits:
            assert row[h.passage.passage_id] in nearest | best, (question, h.passage.passage_id)
        assert tokenize([got.query.text])[0]  # the keyword stage had words to look for
