"""Filters and the year signal come from columns computed once per index: they
must let through exactly the passages a per-passage check would, for any filter."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from assistant.pipeline.build import build_index
from assistant.index.folder import load_index
from assistant.index.columns import date_in as _date_in, passage_years as _passage_years
from assistant.search.searcher import Filter, Searcher


@pytest.fixture
def searcher(small_corpus, tmp_path, tiny_encoder) -> Searcher:
    build_index(small_corpus, encoder=tiny_encoder, out_dir=tmp_path / "index")
    return Searcher(load_index(tmp_path / "index"), tiny_encoder)


def _by_passage(searcher: Searcher, where: Filter) -> np.ndarray:
    index = searcher.index
    out = []
    for p in index.passages:
        org = index.documents[p.doc_id].organization.casefold()
        out.append(
            (not where.doc_ids or p.doc_id in where.doc_ids)
            and (not where.organizations or any(o.casefold() in org for o in where.organizations))
            and (not (where.date_from or where.date_to) or _date_in(p.date, where.date_from, where.date_to))
        )
    return np.array(out, dtype=bool)


def test_every_filter_lets_through_what_a_per_passage_check_does(searcher):
    docs = list(searcher.index.documents)
    orgs = sorted({d.organization for d in searcher.index.documents.values() if d.organization})
    filters = [Filter()]
    # (a Filter with an empty date range, e.g. 2016-03 to 2015, is refused when made)
    for doc_ids, org, lo, hi in itertools.product(
        [(), (docs[0],), tuple(docs[:2])], [(), (orgs[0][:4].upper(),)], ["", "2014", "2015-03"], ["", "2015", "2018-06-08"]
    ):
        filters.append(Filter(doc_ids=doc_ids, organizations=org, date_from=lo, date_to=hi))
    for where in filters:
        want = _by_passage(searcher, where)
        assert np.array_equal(searcher.allowed(where), want), where
        assert np.array_equal(searcher.allowed(where), want), where  # from the cache, unchanged
    assert any(searcher.allowed(f).sum() not in (0, len(searcher.index.passages)) for f in filters)


def test_a_cached_mask_cannot_be_changed_by_a_caller(searcher):
    with pytest.raises(ValueError):
        searcher.allowed(Filter())[0] = False


def test_the_year_signal_marks_the_passages_of_the_years_asked(searcher):
    for asked in [set(), {"2014"}, {"2013", "2018"}, {"1850"}]:
        want = [1.0 if asked & _passage_years(p) else 0.0 for p in searcher.index.passages]
        every = np.arange(len(searcher.index.passages))
        assert searcher.columns.year_signal(asked, every).tolist() == want
        some = every[::3]  # candidates: a subset of the rows, in order
        assert searcher.columns.year_signal(asked, some).tolist() == want[::3]
