"""Token-level matching: the scores, which question words count, the stored token
vectors, the year bonus, and the real encoder's token output."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.ingest.corpus import Passage
from assistant.encoders.embed import Tokens
from assistant.pipeline.build import build_index
from assistant.index.folder import load_index
from assistant.index.texts import embedding_text
from assistant.index.columns import passage_years as _passage_years
from assistant.search.fusion import TOKENS_SENTENCE_WEIGHT as SENTENCE_TOKEN_WEIGHT
from assistant.search.searcher import Searcher
from assistant.index.tokens import CONTEXT, MIN_PASSAGES_FOR_COMMON, NO_SENTENCE, TokenVectors, late_interaction, query_weights
from conftest import TinyEncoder, write_corpus


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    v = rng.normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _brute(query: Tokens, weights: np.ndarray, passages: list[Tokens]) -> np.ndarray:
    out = []
    for p in passages:
        best = [max(float(q @ t) for t in p.vectors) for q in query.vectors]
        out.append(sum(w * b for w, b in zip(weights, best)) / weights.sum())
    return np.array(out)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 7), min_size=1, max_size=8),
    q=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_late_scores_equal_a_brute_force_maxsim(sizes, q, seed, data):
    rng = np.random.default_rng(seed)
    d = 8
    passages = [Tokens(tuple(f"w{i}" for i in range(n)), _unit(rng, n, d)) for n in sizes]
    tv = TokenVectors.of(passages, d)
    query = Tokens(tuple(f"q{i}" for i in range(q)), _unit(rng, q, d))
    weights = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=q, max_size=q)), dtype=np.float32)
    if weights.sum() == 0:
        weights[0] = 1.0
    rows = np.array(sorted(data.draw(st.sets(st.integers(0, len(sizes) - 1), min_size=1))), dtype=np.int64)
    expected = _brute(query, weights, [passages[r] for r in rows])
    np.testing.assert_allclose(late_interaction(query, weights, tv, rows)[0], expected, atol=1e-5)
    # every passage at once takes the no-copy path and must agree
    everything = late_interaction(query, weights, tv, np.arange(len(sizes)))[0]
    np.testing.assert_allclose(everything[rows], expected, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(layout=st.lists(st.tuples(st.integers(0, 3), st.lists(st.integers(1, 4), max_size=3)), min_size=1, max_size=6),
       q=st.integers(1, 4), seed=st.integers(0, 2**16), data=st.data())
def test_the_best_sentence_score_equals_a_brute_force_one(layout, q, seed, data):
    # each passage: some context tokens, then sentences of some tokens each
    rng = np.random.default_rng(seed)
    d = 6
    passages, sentence_of, sentence_row, ok = [], [], [], []
    for row, (n_ctx, sentences) in enumerate(layout):
        rows = [CONTEXT] * n_ctx
        for n in sentences:
            rows += [len(sentence_row)] * n
            sentence_row.append(row)
            ok.append(data.draw(st.booleans()))
        if not rows:
            rows = [NO_SENTENCE]
        passages.append(Tokens(tuple("w" for _ in rows), _unit(rng, len(rows), d)))
        sentence_of.append(rows)
    tv = TokenVectors.of(passages, d, sentence_of)
    query = Tokens(tuple(f"q{i}" for i in range(q)), _unit(rng, q, d))
    weights = np.ones(q, dtype=np.float32)
    rows = np.array(sorted(data.draw(st.sets(st.integers(0, len(layout) - 1), min_size=1))), dtype=np.int64)[::-1]
    whole, best = late_interaction(query, weights, tv, rows, np.array(sentence_row, dtype=np.int64), np.array(ok, dtype=bool))
    for got_whole, got_best, r in zip(whole, best, rows):
        v, kinds = passages[r].vectors, np.array(sentence_of[r])
        def score(mask):
            return float(np.mean([max(float(qv @ t) for t in v[mask]) for qv in query.vectors]))
        assert got_whole == pytest.approx(score(np.ones(len(kinds), bool)), abs=1e-5)
        candidates = [score((kinds == s) | (kinds == CONTEXT)) for s in set(kinds[kinds >= 0].tolist()) if ok[s]]
        assert got_best == pytest.approx(max(candidates) if candidates else got_whole, abs=1e-5)


def test_tokens_are_assigned_to_the_sentence_they_lie_in(small_corpus, tmp_path):
    build_index(small_corpus, encoder=TinyEncoder(), out_dir=tmp_path / "index")
    index = load_index(tmp_path / "index")
    tv, sents = index.tokens, index.sentences
    for row, p in enumerate(index.passages):
        doc = index.documents[p.doc_id]
        text = embedding_text(p, doc)
        body_start = len(text) - len(" ".join(p.text.split()))
        got = tv.sentence[tv.first[row] : tv.first[row + 1]]
        pieces = [tv.pieces[i] for i in tv.piece[tv.first[row] : tv.first[row + 1]]]
        assert (got[: 1] == CONTEXT).all() or body_start == 0  # the title comes first
        for piece, s in zip(pieces, got):
            if s >= 0:
                assert sents.row[s] == row
                a, b = sents.spans[s]
                assert piece in doc.text[a:b].lower()  # the word is in that sentence's text
        assert (got >= 0).any()


def test_token_vectors_keep_passage_boundaries_and_count_pieces_per_passage():
    rng = np.random.default_rng(0)
    a = Tokens(("red", "cross", "red"), _unit(rng, 3, 4))
    b = Tokens(("penal",), _unit(rng, 1, 4))
    c = Tokens(("red", "camp"), _unit(rng, 2, 4))
    tv = TokenVectors.of([a, b, c], 4)
    assert tv.first.tolist() == [0, 3, 4, 6]
    assert tv.passages == 3
    np.testing.assert_array_equal(tv.vectors[3], b.vectors[0])
    assert [tv.pieces[i] for i in tv.piece] == ["red", "cross", "red", "penal", "red", "camp"]
    # "red" twice in one passage counts once for that passage
    assert tv.passage_counts() == {"red": 2, "cross": 1, "penal": 1, "camp": 1}
    with pytest.raises(ValueError):
        TokenVectors.of([a, Tokens((), np.zeros((0, 4), np.float32))], 4)


def test_token_vectors_streamed_in_any_order_equal_those_made_at_once(tmp_path):
    rng = np.random.default_rng(3)
    words = ["red", "cross", "camp", "penal", "##s", "the"]
    tokens = [Tokens(tuple(rng.choice(words, size=n)), _unit(rng, n, 8).astype(np.float16)) for n in (4, 1, 6, 2, 3)]
    sentence = [[int(x) for x in rng.integers(-2, 3, size=len(t.pieces))] for t in tokens]
    whole = TokenVectors.of(tokens, 8, sentence, quantize=True)
    counts = np.array([len(t.pieces) for t in tokens])
    streamed = TokenVectors.stream(counts, 8, ((i, tokens[i], sentence[i]) for i in (3, 0, 4, 2, 1)))
    for name in ("vectors", "scale", "piece", "first", "sentence"):
        np.testing.assert_array_equal(getattr(streamed, name), getattr(whole, name), err_msg=name)
    assert streamed.pieces == whole.pieces  # numbered in passage order, whatever order they came in
    on_disk = TokenVectors.stream(counts, 8, ((i, tokens[i], sentence[i]) for i in (4, 3, 2, 1, 0)),
                                  vectors_file=tmp_path / "tokens.vectors.npy")
    on_disk.vectors.flush()
    np.testing.assert_array_equal(np.load(tmp_path / "tokens.vectors.npy"), whole.vectors)
    with pytest.raises(ValueError, match="no tokens given for passage 1"):
        TokenVectors.stream(counts, 8, ((i, tokens[i], sentence[i]) for i in (0, 2, 3, 4)))
    with pytest.raises(ValueError, match="passage 0"):
        TokenVectors.stream(counts, 8, [(0, tokens[1], sentence[1])])
    with pytest.raises(ValueError, match="at least one token"):
        TokenVectors.stream(np.array([2, 0]), 8, [])


def test_tokens_left_out_by_a_mask_match_as_if_they_had_been_cut_out():
    """calibrate's pseudo-index marks a held-out sentence's tokens instead of copying
    every other token: the matches and piece counts must be those of the copy."""
    from assistant.search.calibrate import _without_tokens

    rng = np.random.default_rng(11)
    words = ["red", "cross", "camp", "penal", "prison", "food", "##s", "the"]
    sizes = [9, 5, 12, 7]
    tokens = [Tokens(tuple(rng.choice(words, size=n)), _unit(rng, n, 8)) for n in sizes]
    # sentence rows: passage 0 owns sentences 0-1, passage 1 sentence 2, passage 2 sentences 3-5, passage 3 sentence 6
    owned = [[CONTEXT, 0, 1], [2, NO_SENTENCE], [CONTEXT, 3, 4, 5], [6, CONTEXT]]
    sentence = [[int(x) for x in rng.choice(owned[i], size=n)] for i, n in enumerate(sizes)]
    tv = TokenVectors.of(tokens, 8, sentence, quantize=True)
    tv = TokenVectors(tv.vectors, tv.piece, tv.first, tv.pieces, tv.sentence, tv.scale, tv.piece_passages())
    held = np.array([1, 4])  # one sentence of passage 0 and one of passage 2
    masked = _without_tokens(tv, held, [0, 2])
    keep = ~np.isin(tv.sentence, held)
    cut_first = np.concatenate([[0], np.cumsum(keep)])[tv.first]
    cut = TokenVectors(tv.vectors[keep], tv.piece[keep], cut_first, tv.pieces, tv.sentence[keep], tv.scale[keep])
    np.testing.assert_array_equal(masked.counts, cut.piece_passages())
    sentence_row = np.array([0, 0, 1, 2, 2, 2, 3])
    ok = np.ones(7, dtype=bool)
    for _ in range(5):
        n = int(rng.integers(2, 6))
        q = Tokens(tuple(rng.choice(words, size=n)), _unit(rng, n, 8))
        weights = rng.integers(0, 2, size=n).astype(np.float32)
        weights[0] = 1.0
        for rows in (np.arange(4), np.array([2, 0]), np.array([3, 1, 2])):
            got = late_interaction(q, weights, masked, rows, sentence_row, ok)
            want = late_interaction(q, weights, cut, rows, sentence_row, ok)
            np.testing.assert_allclose(got[0], want[0], atol=1e-6)
            np.testing.assert_allclose(got[1], want[1], atol=1e-6)


def test_only_topic_words_of_the_question_count():
    stop = frozenset({"the", "of"})
    n = MIN_PASSAGES_FOR_COMMON
    counts = {"korea": n, "camp": 2, "abuse": n // 2}  # "korea" is in every passage
    pieces = ("what", "of", "the", "camp", "##s", "?", "korea", "abuse")
    w = query_weights(pieces, counts, n, stop)
    assert dict(zip(pieces, w.tolist())) == {
        "what": 1.0, "of": 0.0, "the": 0.0, "camp": 1.0, "##s": 0.0, "?": 0.0, "korea": 0.0, "abuse": 1.0,
    }
    # in a small collection shares say little: only stop words and punctuation drop
    small = query_weights(pieces, {"korea": 3}, 3, stop)
    assert small[pieces.index("korea")] == 1.0
    # a question of nothing but stop words and punctuation names nothing: no piece counts,
    # and its token match is 0 everywhere
    nothing = query_weights(("the", "of", "?"), counts, n, stop)
    assert nothing.tolist() == [0.0, 0.0, 0.0]
    rng = np.random.default_rng(1)
    tv = TokenVectors.of([Tokens(("the", "camp"), _unit(rng, 2, 4))], 4)
    q = Tokens(("the", "of", "?"), _unit(rng, 3, 4))
    assert late_interaction(q, nothing, tv, np.arange(1))[0].tolist() == [0.0]


def test_the_index_stores_each_passages_tokens(small_corpus, tmp_path):
    encoder = TinyEncoder()
    build_index(small_corpus, encoder=encoder, out_dir=tmp_path / "index")
    index = load_index(tmp_path / "index")
    tv = index.tokens
    assert tv.passages == len(index.passages)
    for row, p in enumerate(index.passages):
        _, (expected,) = encoder.encode_tokens([embedding_text(p, index.documents[p.doc_id])])
        got = slice(tv.first[row], tv.first[row + 1])
        assert tuple(tv.pieces[i] for i in tv.piece[got]) == expected.pieces
        np.testing.assert_allclose(tv.rows(got), expected.vectors, atol=2e-3)  # stored as int8 with a scale per row


def test_a_passage_years_are_its_own_and_its_dates(small_corpus):
    def p(text: str, date: str) -> Passage:
        return Passage("d#p1", "d", 1, 0, "", date, "paragraph", 0, len(text), text)

    assert _passage_years(p("In 2014 and again in 1997 the camp grew.", "")) == {"2014", "1997"}
    assert _passage_years(p("No year here; 120,000 people.", "2016-03-01")) == {"2016"}
    assert _passage_years(p("A listing.", "2013-06-21/2015-01-01")) == {"2013", "2014", "2015"}
    # metadata dates are free text when a user writes them so: only their years count
    assert _passage_years(p("Undated.", "Spring 2014")) == {"2014"}
    assert _passage_years(p("Undated.", "n.d.")) == frozenset()


def test_a_collection_with_free_text_dates_is_searchable(tmp_path):
    meta = {"documents": [{"file": "a.txt", "title": "Appeal", "date": "n.d."}, {"file": "b.txt", "date": "Spring 2014"}]}
    corpus = write_corpus(
        tmp_path / "corpus",
        {"a.txt": "Prisoners were released after an appeal.\n", "b.txt": "Families waited for news in 2014.\n"},
        meta,
    )
    encoder = TinyEncoder()
    build_index(corpus, encoder=encoder, out_dir=tmp_path / "index")
    hits = Searcher(load_index(tmp_path / "index"), encoder).search("What happened in 2014?", k=2).hits
    assert {h.passage.doc_id for h in hits} == {"a", "b"}
    assert {h.passage.doc_id: h.signals.year for h in hits} == {"a": 0.0, "b": 1.0}


def test_a_named_year_adds_exactly_the_year_weight(tmp_path, monkeypatch):
    import assistant.search.searcher as search

    text = "Prisoners were released after a long appeal by their families.\n"
    meta = {"documents": [
        {"file": "a.txt", "title": "Appeal", "date": "2014"},
        {"file": "b.txt", "title": "Appeal", "date": "2016"},
    ]}
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": text, "b.txt": text}, meta)
    encoder = TinyEncoder()
    build_index(corpus, encoder=encoder, out_dir=tmp_path / "index")
    searcher = Searcher(load_index(tmp_path / "index"), encoder)

    def gap(year: str) -> float:  # score of the passage of that year minus the other's
        hits = {h.passage.doc_id: h.score for h in searcher.search(f"Which prisoners were released in {year}?", k=2).hits}
        return hits["a"] - hits["b"] if year == "2014" else hits["b"] - hits["a"]

    weight = searcher.config.weights.year
    assert weight > 0
    with_year = {y: gap(y) for y in ("2014", "2016")}
    searcher.config = replace(searcher.config, weights=replace(searcher.config.weights, year=0.0))
    without = {y: gap(y) for y in ("2014", "2016")}
    for y in with_year:
        assert with_year[y] == pytest.approx(without[y] + weight, abs=1e-5)


def test_tokens_mode_ranks_every_passage_by_its_token_match(index_dir_tiny):
    searcher, index = index_dir_tiny
    n = len(index.passages)
    r = searcher.search("satellite images of the camps", k=n, mode="tokens")
    for h in r.hits:
        assert h.score == pytest.approx(h.signals.token_match + SENTENCE_TOKEN_WEIGHT * h.signals.sentence_token_match)
    _, (q,) = searcher.encoder.encode_tokens(["satellite images of the camps"])
    weights = query_weights(q.pieces, index.tokens.passage_counts(), n, frozenset({"of", "the"}))
    expected = late_interaction(q, weights, index.tokens, np.arange(n))[0]
    by_id = {p.passage_id: s for p, s in zip(index.passages, expected)}
    for h in r.hits:
        assert h.tokens == pytest.approx(by_id[h.passage.passage_id], abs=1e-5)
    assert "satellite images" in r.hits[0].passage.text


@pytest.fixture
def index_dir_tiny(small_corpus, tmp_path):
    encoder = TinyEncoder()
    build_index(small_corpus, encoder=encoder, out_dir=tmp_path / "index")
    index = load_index(tmp_path / "index")
    return Searcher(index, encoder), index


@pytest.mark.model
def test_the_real_encoders_tokens_come_from_the_same_pass_as_its_vectors(real_encoder):
    texts = ["Prison camps hold up to 120,000 people.", "Food", "The ICRC should visit all penal institutions, including the kwan-li-so."]
    vectors, tokens = real_encoder.encode_tokens(texts)
    np.testing.assert_allclose(vectors, real_encoder.encode(texts), atol=1e-5)
    tok = real_encoder._tokenizer
    for text, t in zip(texts, tokens):  # in input order, although the model sorts by length
        assert t.pieces == tuple(tok.tokenize(text))
        assert t.vectors.shape == (len(t.pieces), real_encoder.dimension)
        np.testing.assert_allclose(np.linalg.norm(t.vectors, axis=1), 1.0, atol=1e-5)


def test_the_hybrid_score_is_the_sum_of_its_documented_signals(index_dir_tiny):
    searcher, index = index_dir_tiny
    w = searcher.config.weights
    question = "Were prisoners held without trial in 2019?"
    hits = searcher.search(question, k=len(index.passages)).hits
    top_bm25 = max(h.keyword for h in hits)
    for h in hits:
        year = 1.0 if "2019" in _passage_years(h.passage) else 0.0
        expected = (
            h.tokens + w.sentence_token * h.signals.sentence_token_match + w.paragraph_cosine * h.dense
            + w.best_cosine * max(h.dense, h.sentence) + w.keyword * h.keyword / top_bm25 + w.year * year
        )
        assert h.score == pytest.approx(expected, abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_past_the_pool_size_only_the_best_candidates_are_token_matched(index_dir_tiny, monkeypatch):
    searcher, index = index_dir_tiny
    question = "Were prisoners held without trial?"
    full = searcher.search(question, k=len(index.passages))
    monkeypatch.setattr(searcher, "config", replace(searcher.config, token_margin=1))
    pooled = searcher.search(question, k=2)
    assert len(pooled.hits) == 2
    # the pool is the k + 1 = 3 best by the other signals; within it the scores are unchanged
    cheap = {h.passage.passage_id: h.score - h.tokens for h in full.hits}
    pool = sorted(cheap, key=lambda p: -cheap[p])[:3]
    best_in_pool = sorted((h for h in full.hits if h.passage.passage_id in pool), key=lambda h: -h.score)[:2]
    assert [h.passage.passage_id for h in pooled.hits] == [h.passage.passage_id for h in best_in_pool]
    assert [h.score for h in pooled.hits] == pytest.approx([h.score for h in best_in_pool])
    # asking for more widens the pool with k: every hit is really scored
    wide = searcher.search(question, k=5).hits
    assert len(wide) == 5 and all(np.isfinite(h.score) for h in wide)
    full_tokens = {h.passage.passage_id: h.tokens for h in full.hits}
    for h in wide:
        assert h.tokens == pytest.approx(full_tokens[h.passage.passage_id])


def test_signals_are_those_the_mode_uses_and_add_up_to_the_hybrid_score(index_dir_tiny):
    from dataclasses import asdict

    searcher, _ = index_dir_tiny
    w = searcher.config.weights
    question = "Were prisoners held without trial?"
    for mode, expected in (
        ("dense", {"paragraph_cosine"}),
        ("keyword", {"bm25"}),
        ("rrf", {"paragraph_cosine", "bm25"}),
        ("tokens", {"token_match", "sentence_token_match"}),
    ):
        for h in searcher.search(question, k=3, mode=mode).hits:
            assert {k for k, v in asdict(h.signals).items() if v is not None} == expected, mode
    for h in searcher.search(question, k=3).hits:
        s = h.signals
        cosine = max(s.paragraph_cosine, s.sentence_cosine if s.sentence_cosine is not None else -1.0)
        total = (
            s.token_match + w.sentence_token * s.sentence_token_match + w.paragraph_cosine * s.paragraph_cosine
            + w.best_cosine * cosine + w.keyword * s.bm25_scaled + w.year * s.year
        )
        assert h.score == pytest.approx(total, abs=1e-5)
        assert s.bm25 == pytest.approx(h.keyword)


@pytest.mark.model
def test_a_question_that_names_nothing_is_refused(default_index, real_encoder):
    from assistant.pipeline.service import Assistant

    assistant = Assistant.open(default_index, encoder=real_encoder)
    for question in ("???", "?!", "what is it?", "Is there any?"):
        assert assistant.ask(question).abstained, question
    # punctuation names nothing: no token of any passage matches it
    assert all(q.signals.token_match == 0.0 for q in assistant.ask("???").quotes)


@pytest.mark.model
def test_text_the_vocabulary_lacks_still_has_tokens(real_encoder):
    _, (t,) = real_encoder.encode_tokens(["\u2603\u2603 \U0001F600"])
    assert t.pieces and set(t.pieces) == {"[UNK]"}


def test_a_question_encoded_ahead_gives_the_same_hits(index_dir_tiny):
    searcher, _ = index_dir_tiny
    questions = ["Were prisoners held without trial?", "satellite images of the camps"]
    ahead = searcher.encode(questions)
    for q, enc in zip(questions, ahead):
        plain = searcher.search(q, k=4)
        reused = searcher.search(q, k=4, encoded=enc)
        assert [(h.passage.passage_id, h.score) for h in reused.hits] == [(h.passage.passage_id, h.score) for h in plain.hits]
    # an encoding of other text is not used for this question
    other = searcher.search(questions[0], k=4, encoded=ahead[1])
    assert [h.passage.passage_id for h in other.hits] == [h.passage.passage_id for h in searcher.search(questions[0], k=4).hits]


@pytest.mark.model
def test_batch_encoding_answers_as_one_by_one(default_index, real_encoder):
    from assistant.pipeline.service import Assistant

    assistant = Assistant.open(default_index, encoder=real_encoder)
    questions = ["hunger", "Who signed the 2011 letter?", "What happens to people sent back from China?"]
    ahead = assistant.searcher.encode(questions)
    for q, enc in zip(questions, ahead):
        one = assistant.ask(q)
        batched = assistant.ask(q, encoded=enc)
        assert [x.citation.passage_id for x in batched.quotes] == [x.citation.passage_id for x in one.quotes]
        assert [x.score for x in batched.quotes] == pytest.approx([x.score for x in one.quotes], abs=1e-3)
        assert batched.abstained == one.abstained


def test_a_free_text_date_never_falls_in_a_date_range():
    from assistant.index.columns import date_in as _date_in

    assert not _date_in("Spring 2014", "2015", "")
    assert not _date_in("Spring 2014", "2014", "2014")
    assert _date_in("2014-03", "2014", "2014")
    assert _date_in("2013-06-21/2018-06-08", "2015", "2016")


def test_question_words_inside_a_searched_follow_up_are_not_names():
    from assistant.answer.abstain import unknown_names

    vocabulary = frozenset({"commission", "inquiry", "un"})
    assert unknown_names("chaired UN Commission Inquiry Why?", vocabulary) == []
    assert unknown_names("What did the Commission say about Myanmar?", vocabulary) == ["Myanmar"]
