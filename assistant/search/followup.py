"""Follow-up questions: what to search for when a message leans on the conversation.

Owns one documented rule, :func:`follow_up_query`, and reading the user's
earlier messages out of a chat history. Plain functions over strings, so the
rule can be read, quoted (the README does) and tested on its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_WORDS = re.compile(r"[\w’'-]+")
_CONTINUATION = re.compile(
    r"^\W*(?:and what about|and how about|and what|what about|how about|what of|same for|and|also|or|but)\b[\s,:;-]*",
    re.IGNORECASE,
)
# Words that point back at something said before. Not "there": "Is there ...?" asks afresh.
PRONOUNS = frozenset("it its they them their theirs those these that this he him his she her".split())
STOP_WORDS = PRONOUNS | frozenset(
    """a an the of in on at to for from by with about into over under as and or but also not no nor
    so then than too very more most much many any some all each other such same own just only
    is are was were be been being am do does did done doing has have had having can could would
    should will shall may might must what which who whom whose when where why how whether if
    i me my we us our you your please tell show give find say said says know explain describe
    anything something everything one ones there here again else""".split()
)
MAX_CONTEXT_WORDS = 30


def _base(word: str) -> str:
    # "it's" -> "it", "Korea's" -> "korea": the word a stop list knows
    return re.split(r"[’']", word.lower().strip("’'-"))[0]


def content_words(text: str) -> list[str]:
    """The words of ``text`` that carry its topic (not stop words, pronouns or question words)."""
    return [w for w in _WORDS.findall(text) if _base(w) and _base(w) not in STOP_WORDS]


def is_follow_up(message: str) -> bool:
    """Whether a message leans on an earlier question; see :func:`follow_up_query` for the rule."""
    words = [_base(w) for w in _WORDS.findall(message)]
    own = content_words(message)
    if _CONTINUATION.match(message):
        return True
    if any(w in PRONOUNS for w in words) and len(own) <= 2:
        return True
    return not own


def follow_up_query(message: str, earlier: Sequence[str]) -> str | None:
    """What to search for when a message is a follow-up; None when it stands alone.

    The rule: a message is a follow-up when the conversation already has a
    question and the message

    1. starts with a continuation: "and", "also", "or", "but", "what about",
       "how about", "what of", "same for" (e.g. "And what about children?"); or
    2. refers back with a pronoun (it, its, they, them, their, those, these,
       that, this, he, him, his, she, her) and names at most two words of its
       own (e.g. "Who signed it?", "What happened to them in 2011?"); or
    3. names no word of its own (e.g. "Why?", "How many?"). A keyword ("hunger",
       "Children?") is a new search: researchers type keywords as questions.

    "Words of its own" are content words: not stop words, pronouns or question
    words. A follow-up is searched as the content words of the topic question,
    which is the latest earlier question that was not itself a follow-up,
    followed by the message without its leading continuation: "And what about
    children?" after "How has the food crisis affected North Korea?" searches
    "food crisis affected North Korea children?". The chat shows the searched
    text ("Searched for: …").

    Args:
        message: the new message.
        earlier: the conversation's earlier user messages, oldest first.
    """
    topic = topic_question(earlier)
    if topic is None or not is_follow_up(message):
        return None
    context = _dedupe(content_words(topic))[:MAX_CONTEXT_WORDS]
    if not context:
        return None
    rest = " ".join(_CONTINUATION.sub("", message, count=1).split())
    return " ".join(context + ([rest] if re.search(r"\w", rest) else []))


def topic_question(earlier: Sequence[str]) -> str | None:
    """The latest message in ``earlier`` that was not a follow-up (the first always counts)."""
    topic: str | None = None
    for text in earlier:
        if not text.strip():
            continue
        if topic is None or not is_follow_up(text):
            topic = text
    return topic


def _dedupe(words: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for w in words:
        if w.lower() not in seen:
            seen.add(w.lower())
            out.append(w)
    return out


def user_messages(history: Sequence[Mapping] | None) -> list[str]:
    """The text of the user's messages in a Gradio chat history, oldest first.

    Accepts both shapes Gradio uses: ``content`` as a string, or as a list of
    ``{"type": "text", "text": ...}`` parts.
    """
    out = []
    for message in history or ():
        if not isinstance(message, Mapping) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, Mapping) and isinstance(content.get("text"), str):
            out.append(content["text"])
        elif isinstance(content, (list, tuple)):
            parts = [p.get("text", "") if isinstance(p, Mapping) else p for p in content]
            out.append(" ".join(p for p in parts if isinstance(p, str)))
    return out
