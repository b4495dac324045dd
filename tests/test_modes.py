"""The registry of modes and the one ranking configuration: every place reads them, and an
index recorded before a number was added to the configuration loads with its default."""

from __future__ import annotations

from dataclasses import fields

from assistant.search import fusion
from assistant.search.modes import DEFAULT_MODE, MODES, NAMES
from assistant.search.request import DEFAULT_MODE as REQUEST_DEFAULT, MODES as REQUEST_MODES
from assistant.search.signals import Signals


def test_the_request_offers_the_registered_modes():
    assert REQUEST_MODES == NAMES == ("hybrid", "tokens", "rrf", "dense", "keyword")
    assert REQUEST_DEFAULT == DEFAULT_MODE == "hybrid"


def test_each_mode_says_what_it_uses():
    every = {f.name for f in fields(Signals)}
    assert MODES["hybrid"].signals == every
    assert all(m.signals <= every and m.summary for m in MODES.values())
    # only hybrid scores are on the scale the abstention threshold is calibrated on
    assert [m.name for m in MODES.values() if m.calibrated] == ["hybrid"]


def test_a_ranking_recorded_before_the_other_numbers_loads_with_their_defaults():
    recorded = {  # an index manifest's "ranking" as builds before this change wrote it
        "doc_passages": 4.0, "long_share": 0.0,
        "weights": {"sentence_token": 0.0, "paragraph_cosine": 1.0, "best_cosine": 0.0, "keyword": 0.0, "year": 0.05},
        "min_score": 0.7464, "calibration": "0.00 x 0.95 + 1.00 x 0.7464", "evidence_ratio": 0.8,
    }
    config = fusion.RankingConfig.from_json(recorded)
    assert config.min_score == 0.7464 and config.weights == fusion.SHORT
    assert (config.tokens_sentence_weight, config.token_margin, config.tokens_pool) == (0.5, 20, 40)
    assert (config.exhaustive_up_to, config.candidates, config.rrf_k) == (5_000, 400, 60)
    assert (config.min_cosine, config.highlight_margin, config.calibration_quantile) == (0.28, 0.05, 0.04)
    assert fusion.RankingConfig.from_json(config.to_json()) == config  # and what is recorded now loads back
