"""Semantic search over a document collection that answers with verbatim, cited quotes."""

__version__ = "0.1.0"
