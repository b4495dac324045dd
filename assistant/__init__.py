"""Semantic search over a document collection that answers with verbatim, cited quotes.

The Python API (docs/api.md)::

    from assistant import Assistant, build

    build("corpus", index="index")
    answer = Assistant.open("index").ask("What happens in prison camps?", k=5)

``Assistant``, ``build`` and the rest are imported when first used (PEP 562), so
that ``import assistant`` (and ``assistant --help``) stays instant: they bring in
numpy, FAISS and the encoder.
"""

from __future__ import annotations

import importlib

from assistant.errors import AssistantError, CorpusError, IndexBusyError, IndexLoadError, ModelError, QueryError
from assistant.version import __version__

TYPE_CHECKING = False  # (not typing's: importing typing costs more than the rest of this module)
if TYPE_CHECKING:
    from assistant.answer.model import Answer, Citation, Quote
    from assistant.index.filters import Filter
    from assistant.pipeline.api import add, build, remove
    from assistant.pipeline.service import Assistant, Question

__all__ = [
    "Answer",
    "Assistant",
    "AssistantError",
    "Citation",
    "CorpusError",
    "Filter",
    "IndexBusyError",
    "IndexLoadError",
    "ModelError",
    "Question",
    "QueryError",
    "Quote",
    "__version__",
    "add",
    "build",
    "remove",
]

# name -> the module that defines it, imported on first use
_LAZY = {
    "Assistant": "assistant.pipeline.service",
    "Question": "assistant.pipeline.service",
    "Answer": "assistant.answer.model",
    "Citation": "assistant.answer.model",
    "Quote": "assistant.answer.model",
    "Filter": "assistant.index.filters",
    "build": "assistant.pipeline.api",
    "add": "assistant.pipeline.api",
    "remove": "assistant.pipeline.api",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'assistant' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
