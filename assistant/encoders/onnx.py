"""The question encoder without PyTorch: onnxruntime and ``tokenizers``.

Owns exporting a sentence-transformers model (a transformer, mean pooling,
normalisation) to ONNX once, at set-up or build time, into a cache folder of
the environment, and encoding with that export exactly as
``SentenceTransformerEncoder`` does: the same word pieces, the same mean-pooled
sentence vector and the same contextual token vectors (agreement is tested).
Answering imports onnxruntime, tokenizers and numpy only, which takes about
0.3 s against about 7 s for torch and sentence-transformers.

An export is keyed by the model's folder and the size and modification time
of its files; a model that cannot be exported (another pooling, no fast
tokenizer) simply has no export, and the caller falls back to PyTorch.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

import numpy as np

from assistant.encoders.embed import DEFAULT_MODEL, Tokens, resolve_model

_PACKAGED_NAMES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
EXPORT_FORMAT = 1  # bump when the export's inputs or outputs change


def default_onnx_dir() -> Path:
    """Where exports live when the CLI names no other folder: inside the environment."""
    return Path(sys.prefix) / "share" / "assistant" / "onnx"


def _fingerprint(folder: Path) -> str:
    """What identifies a model folder's contents cheaply (no hashing of the weights)."""
    parts = [EXPORT_FORMAT, str(folder)]
    for f in sorted(folder.rglob("*")):
        if f.is_file() and not f.name.startswith("."):
            st = f.stat()
            parts.append(f"{f.relative_to(folder)}:{st.st_size}:{int(st.st_mtime)}")
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:20]


def export_path(model: str, *, onnx_dir: Path) -> tuple[Path, Path] | None:
    """The export's file for ``model`` and the model folder, or None when the model
    is not a local folder (nothing to key an export by)."""
    folder = Path(resolve_model(model))
    if not folder.is_dir():
        return None
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_")[-60:] or "model"
    return onnx_dir / f"{slug}-{_fingerprint(folder)}.onnx", folder


def _exportable(folder: Path) -> bool:
    """A transformer, mean pooling, then normalisation; and a fast tokenizer file."""
    try:
        modules = json.loads((folder / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text())
    except (OSError, ValueError, KeyError, IndexError):
        return False
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"
    )
    return kinds == ["Transformer", "Pooling", "Normalize"] and bool(mean_only) and (folder / "tokenizer.json").is_file()


def ensure_export(model: str, *, onnx_dir: Path) -> Path | None:
    """Export ``model`` to ONNX unless an export of this exact model exists.

    Uses PyTorch (call it where PyTorch is loaded anyway: set-up, build).
    Returns the export's path, or None when the model cannot be exported.
    """
    where = export_path(model, onnx_dir=onnx_dir)
    if where is None:
        return None
    path, folder = where
    if path.is_file():
        return path
    if not _exportable(folder):
        return None
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()

    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    net = AutoModel.from_pretrained(str(folder), local_files_only=True, attn_implementation="eager").eval()
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]

    class _Hidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, inputs))).last_hidden_state

    sample = tokenizer(["an example", "a longer example sentence for tracing"], padding=True, return_tensors="pt")
    onnx_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    axes = {n: {0: "batch", 1: "tokens"} for n in names}
    axes["token_embeddings"] = {0: "batch", 1: "tokens"}
    try:
        import warnings

        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on shapes; agreement is tested
            torch.onnx.export(
                _Hidden(net), tuple(sample[n] for n in names), str(tmp), input_names=names,
                output_names=["token_embeddings"], dynamic_axes=axes, opset_version=17, dynamo=False,
            )
        os.replace(tmp, path)  # another process exporting the same model writes the same file
    finally:
        tmp.unlink(missing_ok=True)
    return path


class OnnxEncoder:
    """Encodes like ``SentenceTransformerEncoder`` from an ONNX export, without PyTorch."""

    def __init__(self, model: str, *, export: Path, folder: Path, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(export), options, providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]
        config = json.loads((folder / "sentence_bert_config.json").read_text())
        self.max_tokens = int(config.get("max_seq_length") or 256)
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.max_tokens)
        self._counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._counter.no_padding()
        self._counter.no_truncation()
        self._special = {
            self._tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]", "<s>", "</s>", "<pad>")
        } - {None}
        self.name = DEFAULT_MODEL if model in _PACKAGED_NAMES else model
        self.dimension = int(self._session.get_outputs()[0].shape[-1])

    def _run(self, texts: list[str]) -> tuple[list, np.ndarray, np.ndarray]:
        """Encodings, token vectors (batch, tokens, d) and the attention mask."""
        encs = self._tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encs)
        feed = {n: np.zeros((len(encs), width), dtype=np.int64) for n in self._inputs}
        for row, e in enumerate(encs):
            n = len(e.ids)
            for name, values in (("input_ids", e.ids), ("attention_mask", e.attention_mask), ("token_type_ids", e.type_ids)):
                if name in feed:
                    feed[name][row, :n] = values
        hidden = self._session.run(None, feed)[0]
        mask = (feed["attention_mask"] if "attention_mask" in feed else np.ones((len(encs), width), np.int64)).astype(np.float32)
        return encs, hidden, mask

    def _batches(self, texts: list[str], batch_size: int):
        # sorted by length, as sentence-transformers does, so a batch pads little
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for first in range(0, len(order), batch_size):
            rows = order[first : first + batch_size]
            yield rows, self._run([texts[i] for i in rows])

    def encode(self, texts: list[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for rows, (_, hidden, mask) in self._batches(texts, batch_size):
            out[rows] = _mean_unit(hidden, mask)
        return out

    def encode_tokens(
        self, texts: list[str], *, batch_size: int = 32, progress: bool = False
    ) -> tuple[np.ndarray, list[Tokens]]:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        tokens: list[Tokens | None] = [None] * len(texts)
        for rows, (encs, hidden, mask) in self._batches(texts, batch_size):
            vectors[rows] = _mean_unit(hidden, mask)
            for j, (row, e) in enumerate(zip(rows, encs)):
                keep = [i for i, t in enumerate(e.ids) if t not in self._special]
                tv = hidden[j, keep].astype(np.float32)
                tv /= np.maximum(np.linalg.norm(tv, axis=1, keepdims=True), 1e-12)
                tokens[row] = Tokens(
                    tuple(e.tokens[i] for i in keep), np.ascontiguousarray(tv),
                    tuple((int(e.offsets[i][0]), int(e.offsets[i][1])) for i in keep),
                )
        return vectors, tokens  # type: ignore[return-value]

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text).ids)


def _mean_unit(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    summed = (hidden * mask[:, :, None]).sum(axis=1)
    mean = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
    return (mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def question_encoder(model: str, *, threads: int | None = None, onnx_dir: Path | None = None):
    """The fastest encoder for answering: the ONNX export of ``model`` when one
    exists in ``onnx_dir``, else the PyTorch one (loaded the slow way)."""
    if onnx_dir is not None:
        try:
            where = export_path(model, onnx_dir=onnx_dir)
        except Exception:  # an unresolvable name: let the PyTorch loader explain
            where = None
        if where is not None and where[0].is_file():
            try:
                return OnnxEncoder(model, export=where[0], folder=where[1], threads=threads)
            except ImportError:
                pass  # onnxruntime missing: PyTorch still answers
    from assistant.encoders.embed import SentenceTransformerEncoder

    return SentenceTransformerEncoder(model, threads=threads)


if __name__ == "__main__":  # set-up: python -m assistant.encoders.onnx [MODEL]
    made = ensure_export(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL, onnx_dir=default_onnx_dir())
    print(made or "this model cannot be exported to ONNX; answering will use PyTorch")
