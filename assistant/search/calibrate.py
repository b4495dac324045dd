"""Calibrating a collection's abstention threshold on its own pseudo-questions.

Owns the arrow ``built index -> RankingConfig`` at build time. A sentence held
out of its paragraph is a question whose answer is known: that paragraph
without the sentence. For up to ``LIMIT`` passages (one sentence each, chosen
by a hash of their text: as good as a random draw, and stable, so a change
elsewhere in the collection keeps the same choice and an incremental build
finds its encodings in the cache) the passage is re-embedded without its sentence,
the sentence's own vector and tokens are left out, BM25 is rebuilt on the
shortened texts, and the sentence is asked as an ordinary hybrid question. The
best scores these questions reach show what "answered" looks like in this
collection. The long-document weights have a threshold measured on real
questions of two long collections (``fusion.DEFAULT_MIN_SCORE``); the
pseudo-questions' low tail is less reliable there (technical text has many
sentences no one would ask: debian-reference's 2% quantile is 0.69, while its
real answerable questions begin at 0.95). The short-document weights have no
such measured threshold, so a collection of short documents is refused below
its pseudo-questions' ``RankingConfig.calibration_quantile`` (4%; why, in
``assistant.search.fusion``); in between the two are interpolated with the weights. Collections with fewer than ``MIN_QUESTIONS`` such passages keep the
default threshold.

The cost is one passage and one question encoding per pseudo-question (on the
Debian FAQ, 483 passages, about 60% of the time that encoding the passages
takes); collections of long documents need none.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np

from assistant.search import fusion
from assistant.encoders.embed import Encoder
from assistant.index.folder import Index
from assistant.index.texts import embedding_text, item_leads, keyword_text
from assistant.index.factory import build_dense, build_keyword
from assistant.search.searcher import Searcher
from assistant.index.tokens import NO_SENTENCE, TokenVectors

LIMIT = 200  # pseudo-questions per collection
MIN_QUESTIONS = 20  # fewer than this say too little about a distribution's tail
PROSE_SHARE = 0.8  # share of a pseudo-question's words that must be words of letters
MIN_TOPIC_WORDS = 4  # distinct words other than stop words a pseudo-question names


def calibrate(index: Index, *, encoder: Encoder, batch_size: int = 32) -> fusion.RankingConfig:
    """The collection's ranking configuration with its calibrated abstention threshold.

    Args:
        index: the index a change computed, in memory (``IndexParts.index``, before it is
            written; its manifest records everything but the ranking).
        encoder: the encoder that built it.
        batch_size: texts per encoder call.
    """
    config = fusion.config_for([p.doc_id for p in index.passages])
    if config.long_share >= 1.0:  # the long-document threshold is measured: nothing to calibrate
        return replace(config, calibration=f"long-document threshold {fusion.DEFAULT_MIN_SCORE}")
    index = replace(index, manifest=replace(index.manifest, ranking=config.to_json()))
    searcher = Searcher(index, encoder)
    held = _held_out(searcher)
    if len(held) < MIN_QUESTIONS:
        return replace(config, calibration=f"default threshold ({len(held)} pseudo-questions, fewer than {MIN_QUESTIONS})")
    docs = index.documents
    rows = sorted(held)
    shortened = {}
    for i in rows:
        p = index.passages[i]
        a, b = (int(x) for x in index.sentences.spans[held[i]])
        text = docs[p.doc_id].text
        shortened[i] = replace(p, text=text[p.start : a] + text[b : p.end])
    questions = [" ".join(_sentence_text(index, held[i]).split()) for i in rows]
    new_vectors = encoder.encode([embedding_text(shortened[i], docs[shortened[i].doc_id]) for i in rows], batch_size=batch_size)
    pseudo = _without_sentences(index, held, shortened, rows, new_vectors)
    pseudo_searcher = Searcher(pseudo, encoder)
    best = [
        r.hits[0].score
        for e in pseudo_searcher.encode(questions, batch_size=batch_size)
        if (r := pseudo_searcher.search(e.text, k=1, mode="hybrid", encoded=e)).hits
    ]
    own = fusion.calibrated_threshold(np.array(best), quantile=config.calibration_quantile)
    share = config.long_share
    return replace(
        config, min_score=round(share * fusion.DEFAULT_MIN_SCORE + (1 - share) * own, 4),
        calibration=(
            f"{share:.2f} x {fusion.DEFAULT_MIN_SCORE} (long-document threshold) + {1 - share:.2f} x {own} "
            f"({config.calibration_quantile:.0%} quantile of the best scores of {len(best)} pseudo-questions)"
        ),
    )


def _held_out(searcher: Searcher) -> dict[int, int]:
    """Passage row -> the sentence row held out of it, for passages with two or more
    scoring sentences (the rest of the passage must still say something), one of
    which reads like a question's words (``question_like``)."""
    first, ok = searcher.index.sentences.first, searcher.index.sentences.scores
    index = searcher.index
    asks = np.array(
        [bool(ok[r]) and question_like(_sentence_text(index, r), searcher.stopwords) for r in range(len(ok))],
        dtype=bool,
    )
    candidates = [
        i for i in range(len(first) - 1)
        if int(ok[first[i] : first[i + 1]].sum()) >= 2 and asks[first[i] : first[i + 1]].any()
    ]
    # Chosen by hash, not by a seeded draw: a draw over the list of candidates picks
    # other passages whenever one is added or removed, and re-encodes them all.
    picked = sorted(candidates, key=lambda i: _stable_key(index.passages[i].passage_id, index.passages[i].text))[:LIMIT]
    out = {}
    for i in sorted(picked):
        rows = [r for r in range(first[i], first[i + 1]) if asks[r]]
        out[i] = min(rows, key=lambda r: _stable_key(_sentence_text(index, r)))
    return out


def _stable_key(*parts: str) -> bytes:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).digest()


def question_like(sentence: str, stopwords: frozenset[str]) -> bool:
    """Prose that names a topic, as a question does: nearly every word is a word of
    letters (not a table row, command line or code), and at least MIN_TOPIC_WORDS
    of them are not stop words ("Please read this in this context." names nothing)."""
    tokens = sentence.split()
    words = [w for w in (t.strip(".,;:!?()\"'“”‘’") for t in tokens) if w.isalpha()]
    if not tokens or len(words) < PROSE_SHARE * len(tokens):
        return False
    topics = {w.lower() for w in words if len(w) > 2 and w.lower() not in stopwords}
    return len(topics) >= MIN_TOPIC_WORDS


def _sentence_text(index: Index, row: int) -> str:
    p = index.passages[int(index.sentences.row[row])]
    a, b = index.sentences.spans[row]
    return index.documents[p.doc_id].text[int(a) : int(b)]


def _without_sentences(
    index: Index, held: dict[int, int], shortened: dict, rows: list[int], new_vectors: np.ndarray
) -> Index:
    """The index as if each held-out sentence had never been in its passage."""
    vectors = np.array(index.vectors, dtype=np.float32)  # a copy
    vectors[rows] = new_vectors
    dense = build_dense(vectors, kind="flat")
    held_rows = np.array(sorted(held.values()))
    sentence_vectors = np.array(index.sentences.vectors)  # a copy
    sentence_vectors[held_rows] = 0  # cosine 0: never a passage's best sentence
    tokens = _without_tokens(index.tokens, held_rows, sorted(held))
    passages = [shortened.get(i, p) for i, p in enumerate(index.passages)]
    leads = item_leads(list(index.passages), index.documents)
    keyword = build_keyword([keyword_text(p, index.documents[p.doc_id], lead) for p, lead in zip(passages, leads)])
    return replace(
        index, vectors=vectors, dense=dense, keyword=keyword, tokens=tokens,
        sentences=replace(index.sentences, vectors=sentence_vectors),
    )


def _without_tokens(tv: TokenVectors, held_rows: np.ndarray, passages: list[int]) -> TokenVectors:
    """The token vectors as if the tokens of the held-out sentences were not there:
    the same arrays (no copy of the vectors: gigabytes at 10^5 passages), those tokens
    marked ``dropped`` (they match nothing) and in no sentence, and the piece counts
    of ``passages`` (the passages that lost a sentence) counted again."""
    sentence = np.array(tv.sentence, dtype=np.int32)  # a copy: 4 bytes a token
    dropped = np.isin(sentence, held_rows)
    sentence[dropped] = NO_SENTENCE
    counts = np.array(tv.counts if tv.counts is not None else tv.piece_passages(), dtype=np.int64)
    for i in passages:
        a, b = int(tv.first[i]), int(tv.first[i + 1])
        pieces = np.asarray(tv.piece[a:b])
        gone = np.setdiff1d(pieces, pieces[~dropped[a:b]])  # pieces only the held sentence had
        counts[gone] -= 1
    return replace(tv, sentence=sentence, counts=counts, dropped=dropped)

