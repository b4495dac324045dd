"""Deciding that nothing in the collection answers a question.

Owns the abstention rule. Until it is calibrated on the query set, it never
abstains (every answer lists its hits).
"""

from __future__ import annotations

from assistant.search import Retrieval


def should_abstain(retrieval: Retrieval) -> bool:
    """True when the best hits are too weak to be presented as an answer."""
    return not retrieval.hits
