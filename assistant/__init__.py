"""Semantic search over a document collection that answers with verbatim, cited quotes."""

from assistant.version import __version__

__all__ = ["__version__"]
