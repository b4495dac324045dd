"""The ONNX question encoder agrees with PyTorch, ranks the same, and answering
from the command line imports neither PyTorch nor sentence-transformers nor Gradio (nor
SciPy, whose import is a quarter of a cold ``ask``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.encoders.embed import DEFAULT_MODEL
from assistant.encoders.onnx import OnnxEncoder, default_onnx_dir, ensure_export, export_path, question_encoder

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [json.loads(line)["query"] for line in (ROOT / "eval" / "queries.jsonl").read_text().splitlines() if line.strip()]
ODD = ["a", "\u2603\u2603 \U0001F600", "word " * 400, "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u2014 \u201cquotes\u201d", "2014?"]


@pytest.fixture(scope="session")
def onnx_encoder() -> OnnxEncoder:
    """The packaged model's export (made by set-up; made here if missing)."""
    assert ensure_export(DEFAULT_MODEL, onnx_dir=default_onnx_dir()) is not None
    enc = question_encoder(DEFAULT_MODEL, onnx_dir=default_onnx_dir())
    assert isinstance(enc, OnnxEncoder)
    return enc


@pytest.mark.model
@pytest.mark.parametrize("batch_size", [1, 32])
def test_onnx_and_pytorch_give_the_same_vectors_and_tokens(onnx_encoder, real_encoder, batch_size):
    texts = QUESTIONS + ODD
    v_onnx, t_onnx = onnx_encoder.encode_tokens(texts, batch_size=batch_size)
    v_torch, t_torch = real_encoder.encode_tokens(texts, batch_size=batch_size)
    assert np.all(np.sum(v_onnx * v_torch, axis=1) >= 0.9999)
    assert np.allclose(onnx_encoder.encode(texts, batch_size=batch_size), v_onnx, atol=1e-6)
    for a, b in zip(t_onnx, t_torch):
        assert a.pieces == b.pieces
        assert a.spans == b.spans
        assert np.all(np.sum(a.vectors * b.vectors, axis=1) >= 0.9999)
    assert [onnx_encoder.count_tokens(t) for t in ODD] == [real_encoder.count_tokens(t) for t in ODD]
    assert (onnx_encoder.name, onnx_encoder.dimension, onnx_encoder.max_tokens) == (
        real_encoder.name, real_encoder.dimension, real_encoder.max_tokens)


@pytest.mark.model
def test_onnx_and_pytorch_rank_the_evaluation_questions_the_same(onnx_encoder, real_encoder, default_index):
    from assistant.index.folder import load_index
    from assistant.search.searcher import Searcher

    index = load_index(default_index)
    by_onnx, by_torch = Searcher(index, onnx_encoder), Searcher(index, real_encoder)
    encoded = list(zip(by_onnx.encode(QUESTIONS), by_torch.encode(QUESTIONS)))
    for mode in ("hybrid", "dense"):
        for a, b in encoded:
            got = by_onnx.search(a.text, k=10, mode=mode, encoded=a)
            want = by_torch.search(b.text, k=10, mode=mode, encoded=b)
            assert [h.passage.passage_id for h in got.hits] == [h.passage.passage_id for h in want.hits], a.text
            assert np.allclose([h.score for h in got.hits], [h.score for h in want.hits], atol=1e-4)


@pytest.mark.model
def test_asking_from_the_shell_needs_no_pytorch(onnx_encoder, default_index):
    probe = (
        "import sys\n"
        "from assistant.cli.main import main\n"
        f"code = main(['ask', 'What happens to people returned from China?', '--index', {str(default_index)!r}, '--json'])\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'gradio', 'transformers', 'scipy', 'scipy.sparse') if m in sys.modules)\n"
        "print(repr((code, heavy)), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("ASSISTANT_ONNX", "ASSISTANT_ONNX_DIR")}
    env["PYTHONPATH"] = str(ROOT)
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert run.stderr.strip().splitlines()[-1] == "(0, [])", run.stderr
    assert json.loads(run.stdout)["hits"]


def test_a_model_that_cannot_be_exported_has_no_export(tmp_path):
    folder = tmp_path / "odd-model"
    folder.mkdir()
    (folder / "modules.json").write_text(json.dumps([{"path": "", "type": "sentence_transformers.models.Transformer"}]))
    onnx_dir = tmp_path / "onnx"
    assert ensure_export(str(folder), onnx_dir=onnx_dir) is None
    assert not onnx_dir.exists()


def test_an_export_is_keyed_by_the_model_files(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    first, _ = export_path(str(folder), onnx_dir=tmp_path / "onnx")
    (folder / "config.json").write_text('{"changed": true}')
    second, _ = export_path(str(folder), onnx_dir=tmp_path / "onnx")
    assert first != second


@pytest.mark.model
def test_the_encoder_opened_while_the_index_loads_answers_as_one_opened_after(onnx_encoder, default_index):
    from assistant.pipeline.service import Assistant

    ahead = Assistant.open(default_index, onnx_dir=default_onnx_dir())  # encoder opened in a thread
    after = Assistant.open(default_index, encoder=onnx_encoder)
    assert isinstance(ahead.encoder, OnnxEncoder)
    for q in QUESTIONS[:5]:
        got, want = ahead.retrieve(q, k=5), after.retrieve(q, k=5)
        assert [h.passage.passage_id for h in got.hits] == [h.passage.passage_id for h in want.hits]
        assert np.allclose([h.score for h in got.hits], [h.score for h in want.hits], atol=1e-6)


def test_an_index_that_does_not_load_says_why_though_its_encoder_was_opening(tmp_path):
    from assistant.errors import IndexLoadError
    from assistant.pipeline.service import Assistant

    folder = tmp_path / "index"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"format": 1, "model": DEFAULT_MODEL}))
    with pytest.raises(IndexLoadError, match="format 1, written by an older version"):
        Assistant.open(folder, onnx_dir=default_onnx_dir())
    (folder / "manifest.json").write_text(json.dumps({"format": 1, "model": 5}))  # not a name: nothing opened ahead
    with pytest.raises(IndexLoadError, match="format 1"):
        Assistant.open(folder, onnx_dir=default_onnx_dir())


@pytest.mark.model
def test_counting_with_the_plain_tokenizer_gives_what_transformers_gives(real_encoder):
    texts = QUESTIONS[:20] + ODD + ["", "   ", (ROOT / "corpus" / "aiuk-media-briefing-north-korea.txt").read_text()]
    tok = real_encoder._tokenizer
    assert real_encoder._counter is not None  # the packaged model has a fast tokenizer
    assert [real_encoder.count_tokens(t) for t in texts] == [
        len(tok(t, add_special_tokens=True, truncation=False)["input_ids"]) for t in texts
    ]
