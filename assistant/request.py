"""What a request asks for: the question, how many quotes (k), the mode, the filter.

Owns checking them, once, for every way in: the CLI (``ask``, ``ask --batch``,
``eval``), the web chat, the ``/search`` API and the Python API. The limits and
the messages are the same everywhere. Checks that need the index (is this a
known document id or organisation?) live with the index, in
:meth:`assistant.search.Searcher.check`.

Light on purpose (no numpy, no model): the CLI refuses a bad request before it
loads anything heavy.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from assistant.errors import QueryError

MODES = ("hybrid", "tokens", "rrf", "dense", "keyword")
DEFAULT_MODE = "hybrid"
DEFAULT_K = 5
MAX_K = 100
MAX_QUERY_CHARS = 2000
DATE_FORMS = "YYYY, YYYY-MM or YYYY-MM-DD (e.g. 2014, 2014-03 or 2014-03-01)"

_ISO_PREFIX = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_WHOLE = re.compile(r"\s*[+-]?[0-9]{1,9}\s*")


@dataclass(frozen=True)
class Query:
    """A cleaned question and what was done to it."""

    text: str
    original_length: int
    truncated: bool


def check_text(text: str, *, what: str = "the question") -> str:
    """``text`` itself, when it is valid Unicode text.

    Python hands over bytes that are not UTF-8 (in a command-line argument, a file
    name) as lone surrogates ("\\udcff" for the byte 0xff); JSON can spell one
    ("\\ud800"). Neither can be encoded, searched or printed.

    Raises:
        QueryError: naming the first bad character's position.
    """
    bad = _SURROGATE.search(text)
    if bad is None:
        return text
    ch = ord(bad.group())
    if 0xDC80 <= ch <= 0xDCFF:  # how Python spells an undecodable byte
        found = f"the byte 0x{ch - 0xDC00:02X}, which is not UTF-8; give it as UTF-8 text"
    else:
        found = f"a lone surrogate (\\u{ch:04x}), which is not a character"
    raise QueryError(f"{what} is not valid text: character {bad.start() + 1} is {found}")


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


def check_date(value: str, *, name: str) -> str:
    """``value`` when it is YYYY, YYYY-MM or YYYY-MM-DD and a real date.

    Args:
        value: the date, already stripped.
        name: what it is called in the message ("start date", "end date").

    Raises:
        QueryError: saying which forms are accepted.
    """
    m = _ISO_PREFIX.match(value) if isinstance(value, str) else None
    ok = m is not None
    if ok and m.group(2):
        try:
            _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))
        except ValueError:
            ok = False
    if not ok:
        raise QueryError(f"the {name} {_shown(value)} is not a date: use {DATE_FORMS}")
    return value


@dataclass(frozen=True)
class Filter:
    """Which passages may be returned; empty fields allow everything.

    Checked when made: dates are ISO prefixes ("2014", "2014-03", "2014-03-01"),
    inclusive, and the range is not empty. Whether the document ids and
    organisations exist is checked against the index (``Searcher.check``).

    Raises:
        QueryError: a date is not a date, or the range is empty.
    """

    doc_ids: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()
    date_from: str = ""  # ISO prefix, inclusive: "2014" or "2014-03-01"
    date_to: str = ""

    def __post_init__(self) -> None:
        for name, values in (("document id", self.doc_ids), ("organisation", self.organizations)):
            if not isinstance(values, tuple) or not all(isinstance(v, str) for v in values):
                raise QueryError(f"each {name} must be text")
            for v in values:
                check_text(v, what=f"the {name} {_shown(v)}")
        if self.date_from:
            check_date(self.date_from, name="start date")
        if self.date_to:
            check_date(self.date_to, name="end date")
        lo, hi = self.date_from, self.date_to
        if lo and hi and lo[: len(hi)] > hi:
            raise QueryError(f"the date range is empty: {lo} is after {hi}")

    @property
    def active(self) -> bool:
        return bool(self.doc_ids or self.organizations or self.date_from or self.date_to)


def make_filter(
    *,
    doc_ids: Iterable[str] | None = (),
    organizations: Iterable[str] | None = (),
    date_from: str | None = "",
    date_to: str | None = "",
) -> Filter:
    """A :class:`Filter` from what a person typed or picked: blanks are dropped,
    whitespace around a date is ignored; ``None`` means not given.

    Raises:
        QueryError: as :class:`Filter`.
    """
    def strings(values: Iterable[str] | None, name: str) -> tuple[str, ...]:
        if isinstance(values, str):
            values = [values]
        out = []
        for v in values or ():
            if not isinstance(v, str):
                raise QueryError(f"each {name} must be text")
            if v.strip():
                out.append(v.strip())
        return tuple(out)

    def date(value: str | None, name: str) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise QueryError(f"the {name} must be text: {DATE_FORMS}")
        return value.strip()

    return Filter(
        doc_ids=strings(doc_ids, "document id"),
        organizations=strings(organizations, "organisation"),
        date_from=date(date_from, "start date"),
        date_to=date(date_to, "end date"),
    )


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


def _shown(value: object) -> str:
    """A value as a message shows it: quoted, short, printable (no lone surrogates)."""
    text = repr(value)
    return text if len(text) <= 42 else text[:40] + "…"
