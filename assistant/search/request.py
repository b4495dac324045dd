"""What a request asks for: the question, how many quotes (k), the mode, the filter.

Owns checking them, once, for every way in: the CLI (``ask``, ``ask --batch``,
``eval``), the web chat, the ``/search`` API and the Python API. The limits and
the messages are the same everywhere. Checks that need the index (is this a
known document id or organisation?) live with the index, in
:meth:`assistant.search.searcher.Searcher.check`.

Light on purpose (no numpy, no model): the CLI refuses a bad request before it
loads anything heavy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from assistant.errors import QueryError
from assistant.index.filters import DATE_FORMS, Filter, check_date, check_text, make_filter, shown as _shown  # noqa: F401 (re-exported)

from assistant.search.modes import DEFAULT_MODE, NAMES as MODES  # noqa: F401 (re-exported; the registry is there)

DEFAULT_K = 5
MAX_K = 100
MAX_QUERY_CHARS = 2000

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_WHOLE = re.compile(r"\s*[+-]?[0-9]{1,9}\s*")


@dataclass(frozen=True)
class Query:
    """A cleaned question and what was done to it."""

    text: str
    original_length: int
    truncated: bool


def clean_query(text: object, *, max_chars: int = MAX_QUERY_CHARS) -> Query:
    """Strip control characters and whitespace; cut very long questions.

    Raises:
        QueryError: the question is not text, or nothing is left to search for.
    """
    if not isinstance(text, str):
        raise QueryError("the question must be text")
    check_text(text)
    original = len(text)
    cleaned = " ".join(_CONTROL.sub(" ", text).split())
    if not cleaned:
        raise QueryError("the question is empty: type a question, e.g. \"What happens in prison camps?\"")
    truncated = len(cleaned) > max_chars
    if truncated:
        cut = cleaned[:max_chars]
        cleaned = cut.rsplit(" ", 1)[0] if " " in cut[-50:] else cut
    return Query(cleaned, original, truncated)


def check_mode(mode: object) -> str:
    """``mode`` when it is one of :data:`MODES`.

    Raises:
        QueryError: naming the modes there are.
    """
    if isinstance(mode, str) and mode in MODES:
        return mode
    raise QueryError(f"unknown mode {_shown(mode)}; choose one of {', '.join(MODES)}")


def check_k(k: object) -> int:
    """The number of quotes as an int from 1 to :data:`MAX_K`.

    Accepts an int, a float with no fraction (a slider sends 5.0) and a string of
    digits (a command-line argument).

    Raises:
        QueryError: anything else, or a number out of range.
    """
    n: int | None = None
    if isinstance(k, bool):
        n = None
    elif isinstance(k, int):
        n = k
    elif isinstance(k, float) and k.is_integer():
        n = int(k)
    elif isinstance(k, str) and _WHOLE.fullmatch(k):
        n = int(k)
    if n is None:
        raise QueryError(f"the number of quotes (k) must be a whole number from 1 to {MAX_K}, not {_shown(k)}")
    if not 1 <= n <= MAX_K:
        raise QueryError(f"the number of quotes (k) must be a whole number from 1 to {MAX_K}, not {_shown(n)}")
    return n


@dataclass(frozen=True)
class Request:
    """How to answer: ``k`` quotes, in ``mode``, from the passages ``where`` allows.

    Checked when made (see :func:`check_k`, :func:`check_mode`, :class:`Filter`).
    """

    k: int = DEFAULT_K
    mode: str = DEFAULT_MODE
    where: Filter = Filter()

    def __post_init__(self) -> None:
        if check_k(self.k) != self.k or type(self.k) is not int:  # "5" or 5.0: use make_request
            raise QueryError(f"the number of quotes (k) must be a whole number from 1 to {MAX_K}, not {_shown(self.k)}")
        check_mode(self.mode)
        if not isinstance(self.where, Filter):
            raise QueryError("the filter must be a Filter")


def make_request(
    *,
    k: object = None,
    mode: object = None,
    doc_ids: Iterable[str] | None = (),
    organizations: Iterable[str] | None = (),
    date_from: str | None = "",
    date_to: str | None = "",
) -> Request:
    """A :class:`Request` from raw values (command-line strings, a slider's float,
    a JSON API's values); ``None`` or an empty mode means the default.

    Raises:
        QueryError: the first thing that is wrong, in the words every interface uses.
    """
    return Request(
        k=DEFAULT_K if k is None else check_k(k),
        mode=DEFAULT_MODE if mode is None or mode == "" else check_mode(mode),
        where=make_filter(doc_ids=doc_ids, organizations=organizations, date_from=date_from, date_to=date_to),
    )
