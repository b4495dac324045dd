"""An optional cross-encoder that re-orders the top candidates of a search.

No cross-encoder ships in any package here, so none is used by default; a user
who has one (a sentence-transformers CrossEncoder name in the local cache, or a
folder) passes ``--reranker NAME``. Loading is offline, like the encoder's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.errors import ModelError

CANDIDATES = 20  # how many of the first-stage hits the cross-encoder re-scores


class CrossEncoderReranker:
    """Scores (question, passage) pairs with a sentence-transformers CrossEncoder."""

    def __init__(self, model: str) -> None:
        from sentence_transformers import CrossEncoder

        location = str(Path(model).expanduser().resolve()) if Path(model).expanduser().exists() else model
        try:
            self._model = CrossEncoder(location, device="cpu", local_files_only=True)
        except Exception as e:  # many failure types; all mean "cannot load"
            raise ModelError(
                f"cannot load the reranker {model!r} ({type(e).__name__}: {str(e)[:200]}); "
                "pass a local CrossEncoder folder (nothing is downloaded at run time)"
            ) from e
        self.name = model

    def scores(self, question: str, texts: list[str]) -> np.ndarray:
        """One relevance score per text; higher is better."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        pairs = [(question, " ".join(t.split())) for t in texts]
        return np.asarray(self._model.predict(pairs, show_progress_bar=False), dtype=np.float32).reshape(-1)
