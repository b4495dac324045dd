"""The hybrid formula's weights per collection, the calibrated abstention
threshold (pseudo-questions), and a small collection's refusals."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.search import fusion
from assistant.search.calibrate import MIN_QUESTIONS, _held_out, _without_sentences
from assistant.pipeline.build import build_index
from assistant.index.folder import load_index
from assistant.search.searcher import Searcher
from conftest import TinyEncoder, write_corpus

COUNCIL = Path(__file__).resolve().parent / "fixtures" / "council"


def test_weights_move_from_short_to_long_documents_on_a_log_scale():
    assert fusion.long_share(1) == 0.0 and fusion.long_share(fusion.SHORT_DOC_PASSAGES) == 0.0
    assert fusion.long_share(fusion.LONG_DOC_PASSAGES) == 1.0 and fusion.long_share(500) == 1.0
    middle = math.sqrt(fusion.SHORT_DOC_PASSAGES * fusion.LONG_DOC_PASSAGES)  # halfway on a log scale
    assert fusion.long_share(middle) == pytest.approx(0.5)
    shares = [fusion.long_share(n) for n in range(1, 60)]
    assert shares == sorted(shares)
    assert fusion.blend(0.0) == fusion.SHORT and fusion.blend(1.0) == fusion.LONG
    half = fusion.blend(0.5)
    assert half.paragraph_cosine == pytest.approx((fusion.SHORT.paragraph_cosine + fusion.LONG.paragraph_cosine) / 2)


def test_the_typical_document_size_is_the_median_over_passages():
    # one document of 9 passages and three of 1: most passages lie in the long one
    ids = ["a"] * 9 + ["b", "c", "d"]
    assert fusion.typical_doc_passages(ids) == 9.0
    assert fusion.typical_doc_passages(["a", "b", "c"]) == 1.0
    cfg = fusion.config_for(ids)
    assert cfg.doc_passages == 9.0 and cfg.weights == fusion.blend(fusion.long_share(9.0))


def test_the_config_survives_the_manifest_round_trip():
    cfg = fusion.config_for(["a", "a", "b"], min_score=0.8, calibration="test")
    raw = json.loads(json.dumps(cfg.to_json()))
    assert fusion.RankingConfig.from_json(raw) == cfg


def test_hybrid_is_the_weighted_sum_by_hand():
    w = fusion.Weights(sentence_token=0.5, paragraph_cosine=0.25, best_cosine=0.5, keyword=0.1, year=0.05)
    cheap = fusion.cheap_score(
        w, paragraph_cosine=np.array([0.4, 0.2]), best_cosine=np.array([0.6, 0.2]), keyword=np.array([1.0, 0.0]),
        year=np.array([0.0, 1.0]),
    )
    assert cheap.tolist() == pytest.approx([0.1 + 0.3 + 0.1, 0.05 + 0.1 + 0.05])
    score = fusion.hybrid(w, cheap=cheap, token=np.array([0.5, 0.7]), sentence_token=np.array([0.8, 0.2]))
    assert score.tolist() == pytest.approx([0.5 + 0.4 + 0.5, 0.7 + 0.1 + 0.2])


def _many_paragraphs(n: int, *, pages: int = 1) -> dict[str, str]:
    """``pages`` pages of n paragraphs in all, each of three sentences of made-up words."""
    rng = np.random.default_rng(1)
    vocab = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=6)) for _ in range(400)]
    paras = []
    for _ in range(n):
        sentences = [" ".join(rng.choice(vocab, size=7)).capitalize() + "." for _ in range(3)]
        paras.append(" ".join(sentences))
    per_page = -(-n // pages)
    return {
        f"page{p}.txt": f"Report {p}\n\n" + "\n\n".join(paras[p * per_page : (p + 1) * per_page]) + "\n"
        for p in range(pages)
    }


def test_build_calibrates_a_short_document_collection_on_held_out_sentences(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", _many_paragraphs(60, pages=30), None)
    build_index(corpus, encoder=TinyEncoder(), out_dir=tmp_path / "index")
    raw = json.loads((tmp_path / "index" / "manifest.json").read_text())["ranking"]
    cfg = fusion.RankingConfig.from_json(raw)
    assert cfg.doc_passages == 2.0 and cfg.weights == fusion.SHORT
    assert "pseudo-questions" in cfg.calibration and "default" not in cfg.calibration
    assert 0 < cfg.min_score < fusion.DEFAULT_MIN_SCORE * 2
    assert not cfg.name_rule
    searcher = Searcher(load_index(tmp_path / "index"), TinyEncoder())
    assert searcher.config == cfg
    assert searcher.search("what did the report say", k=1).min_score == cfg.min_score


def test_a_long_document_collection_keeps_the_long_threshold(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", _many_paragraphs(40), None)
    build_index(corpus, encoder=TinyEncoder(), out_dir=tmp_path / "index")
    cfg = Searcher(load_index(tmp_path / "index"), TinyEncoder()).config
    assert cfg.doc_passages == 40.0 and cfg.weights == fusion.LONG
    assert cfg.min_score == fusion.DEFAULT_MIN_SCORE and "pseudo-questions" not in cfg.calibration
    assert cfg.name_rule


def test_only_prose_that_names_topics_is_a_pseudo_question():
    from assistant.search.calibrate import question_like
    from assistant.index.keyword import stopwords

    stop = stopwords()
    assert question_like("Bus ridership fell because the route services were cut.", stop)
    assert not question_like("Please read this in this context.", stop)  # names nothing
    assert not question_like("|www (http) |80 |https |443 |", stop)  # a table row
    assert not question_like("$ sudo systemctl restart ssh.service --now", stop)


def test_a_held_out_sentence_is_gone_from_its_passage(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", _many_paragraphs(25), None)
    build_index(corpus, encoder=TinyEncoder(), out_dir=tmp_path / "index")
    index = load_index(tmp_path / "index")
    searcher = Searcher(index, TinyEncoder())
    held = _held_out(searcher)
    assert len(held) >= MIN_QUESTIONS
    assert all(searcher.index.sentences.first[i] <= r < searcher.index.sentences.first[i + 1] for i, r in held.items())
    rows = sorted(held)
    pseudo = _without_sentences(index, held, {}, rows, index.vectors[rows])
    held_rows = set(held.values())
    assert not any(int(s) in held_rows for s in pseudo.tokens.sentence)
    assert pseudo.tokens.passages == index.tokens.passages
    assert np.all(pseudo.sentences.vectors[sorted(held_rows)] == 0)


def test_a_collection_too_small_to_calibrate_keeps_the_default_threshold(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", _many_paragraphs(5), None)
    build_index(corpus, encoder=TinyEncoder(), out_dir=tmp_path / "index")
    cfg = Searcher(load_index(tmp_path / "index"), TinyEncoder()).config
    assert cfg.min_score == fusion.DEFAULT_MIN_SCORE and "default threshold" in cfg.calibration
    assert cfg.name_rule == (cfg.long_share >= 0.5)


@pytest.mark.model
def test_council_reports_answer_what_they_say_and_refuse_what_they_do_not(tmp_path, real_encoder):
    from assistant.pipeline.service import Assistant

    corpus = shutil.copytree(COUNCIL, tmp_path / "council")
    build_index(corpus, encoder=real_encoder, out_dir=tmp_path / "index")
    assistant = Assistant.open(tmp_path / "index", encoder=real_encoder)
    answered = {
        "Why did fewer people take the bus?": "Bus ridership fell",
        "How much will council tax go up?": "Council tax will rise",
        "When will the swimming pool reopen?": "The outdoor swimming pool",
        "How many trees were planted?": "Volunteers planted",
        "Is any library closing?": "Opening hours at the three public libraries",
        "housing waiting times": "Waiting times for social housing",
    }
    for question, start in answered.items():
        a = assistant.ask(question, k=3)
        assert not a.abstained, question
        assert assistant.retrieve(question, k=1).hits[0].passage.text.startswith(start), question
    for question in (
        "Who is the mayor of Millbrook?",  # the town is named on every page; its mayor never
        "Who is the chief executive of the council?",
        "When was the town hall built?",
        "Which football team won the cup?",
    ):
        assert assistant.ask(question, k=3).abstained, question
