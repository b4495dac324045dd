"""What the web chat says about the collection it serves: title, description, example questions.

Owns describing an index to a newcomer, from that index alone (or a query set
given for it), so that a chat served on any folder talks about that folder and
never about the default corpus. Plain functions over :class:`~assistant.index.folder.Index`
data; no Gradio.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.ingest.corpus import Document, Passage
from assistant.errors import QueryError

MAX_EXAMPLES = 6
MAX_EXAMPLE_CHARS = 60  # the examples list cuts longer ones
NAMED_ORGANIZATIONS = 3  # the description names this many, then "and N others"
_ISO_YEAR = re.compile(r"^(\d{4})")


@dataclass(frozen=True)
class CollectionInfo:
    title: str
    description: str  # "5 documents from A, B and C, dated 1997–2018"
    examples: tuple[str, ...]


def describe_collection(
    documents: Mapping[str, Document],
    passages: Sequence[Passage],
    *,
    corpus_dir: str = "",
    title: str | None = None,
    queries: str | Path | None = None,
) -> CollectionInfo:
    """Title, description and example questions for the chat over these documents.

    Args:
        documents: the served index's documents (doc id -> Document).
        passages: its passages (their headings give example questions).
        corpus_dir: the folder the index was built from (its name is the default title).
        title: a title chosen by whoever serves it.
        queries: a query set for this collection (JSON lines with "query", or one
            question a line); its answerable questions become the examples.

    Raises:
        QueryError: the query set cannot be read or holds no question.
    """
    examples = examples_from_queries(queries) if queries else examples_from_headings(documents, passages)
    return CollectionInfo(
        title=(title or "").strip() or default_title(corpus_dir),
        description=describe_documents(documents),
        examples=tuple(examples),
    )


def default_title(corpus_dir: str) -> str:
    name = Path(corpus_dir).name if corpus_dir else ""
    return f"Ask the documents in {name}/" if name else "Ask the collection"


def describe_documents(documents: Mapping[str, Document]) -> str:
    """"N documents from A, B and C, dated 1997–2018" (organisations by number of documents)."""
    n = len(documents)
    out = f"{n:,} document" + ("" if n == 1 else "s")
    counts = Counter(d.organization for d in documents.values() if d.organization)
    orgs = [o for o, _ in sorted(counts.items(), key=lambda x: (-x[1], x[0].lower()))]
    if orgs:
        named = orgs[:NAMED_ORGANIZATIONS]
        if len(orgs) > NAMED_ORGANIZATIONS:
            rest = len(orgs) - NAMED_ORGANIZATIONS
            named.append(f"{rest} other organisation" + ("" if rest == 1 else "s"))
        out += " from " + (named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1])
    years = sorted(m.group(1) for d in documents.values() if (m := _ISO_YEAR.match(d.date or "")))
    if years:
        out += f", dated {years[0]}" if years[0] == years[-1] else f", dated {years[0]}–{years[-1]}"
    return out


def examples_from_queries(path: str | Path) -> list[str]:
    """Up to MAX_EXAMPLES questions of a query set, spread over it, skipping unanswerable ones.

    A line is a JSON object with "query" (``"relevant": []`` marks it unanswerable)
    or, when it is not JSON, the question itself.

    Raises:
        QueryError: the file cannot be read or holds no usable question.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise QueryError(f"cannot read the query set {path}: {e}") from None
    questions = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            item = line
        if isinstance(item, dict):
            if item.get("relevant") == [] or not isinstance(item.get("query"), str):
                continue
            item = item["query"]
        if isinstance(item, str) and 0 < len(item.strip()) <= MAX_EXAMPLE_CHARS:
            questions.append(" ".join(item.split()))
    questions = list(dict.fromkeys(questions))
    if not questions:
        raise QueryError(f"the query set {path} holds no question of up to {MAX_EXAMPLE_CHARS} characters")
    return _spread(questions, MAX_EXAMPLES)


def examples_from_headings(documents: Mapping[str, Document], passages: Iterable[Passage]) -> list[str]:
    """Questions about the collection's own headings (the most used first), then its titles."""
    titles = {d.title for d in documents.values()}
    counts = Counter(p.section for p in passages if p.section and p.section not in titles)
    named = [_PAGE_NUMBER.sub("", _SECTION_NUMBER.sub("", h)) for h, _ in sorted(counts.items(), key=lambda x: (-x[1], x[0]))]
    headings = list(dict.fromkeys(h for h in named if _usable(h)))
    out = [_as_question(h) for h in headings[:MAX_EXAMPLES]]
    for t in sorted(t for t in titles if _usable(t)):
        if len(out) >= MAX_EXAMPLES:
            break
        out.append(f"What does “{t}” say?")
    return out


# A heading's number: "3.1 ", "7. ", "12 ", "Chapter 7: ", "Appendix B " (not a year: "2018 in review")
_SECTION_NUMBER = re.compile(r"^(?:[Cc]hapter\s+\d+|[Aa]ppendix\s+[A-Z]|\d+(?:\.\d+)+|\d{1,2})[.:]?\s+(?=\S)")

# A running head's page number after the heading: "Chapter 2: Spreadsheet-like data  9"
_PAGE_NUMBER = re.compile(r"\s+\d{1,3}$")  # not a year: "Annual report 2018"

# Headings of a page's furniture, not of a subject: no question about them is worth suggesting.
_FURNITURE = frozenset({
    "more information", "further information", "signatories", "contact", "contacts", "notes", "references",
    "footnotes", "see also", "read more", "related", "share", "links", "sources", "acknowledgements",
})


def _usable(heading: str) -> bool:
    """A heading that names a subject: not a fragment cut short ("…"), not one that begins
    in the middle of a phrase, not a byline, not page furniture."""
    text = heading.strip()
    if not (3 <= len(text) <= 60 and re.search(r"[^\W\d_]{3}", text)):
        return False
    if text.endswith(("...", "…")) or text[:1].islower() or re.match(r"by\s", text, re.IGNORECASE):
        return False  # cut short, begun mid-phrase, or a byline ("By Salil Shetty, Special to CNN")
    return text.rstrip(":.").casefold() not in _FURNITURE


_QUESTION_WORDS = frozenset("how what why when where which who whom whose can could is are does do did should".split())


def _as_question(heading: str) -> str:
    """A heading that is a question (an FAQ's, with or without its question mark) is asked
    as it stands; another is asked about."""
    if heading.endswith("?") or heading.split(" ", 1)[0].casefold() in _QUESTION_WORDS:
        return heading.rstrip(" .:") + ("" if heading.endswith("?") else "?")
    return f"What do the documents say about {_lower_first(heading)}?"


def _lower_first(text: str) -> str:
    # "Prison camps" -> "prison camps"; an acronym or a name-like second capital stays as it is
    first = text.split(" ", 1)[0]
    return text[0].lower() + text[1:] if first[:1].isupper() and first[1:].islower() else text


def _spread(items: list[str], n: int) -> list[str]:
    if len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]
