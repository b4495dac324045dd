"""Which passages a search may return: the filter on document, organisation and date.

Owns :class:`Filter` and the checks of what a person typed into one. It lives with
the index because every part of the index answers "top k within this filter"
(``Columns.mask``, the dense and keyword backends); the request
(:mod:`assistant.search.request`) carries one.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from assistant.errors import QueryError

DATE_FORMS = "YYYY, YYYY-MM or YYYY-MM-DD (e.g. 2014, 2014-03 or 2014-03-01)"

_ISO_PREFIX = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


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
        raise QueryError(f"the {name} {shown(value)} is not a date: use {DATE_FORMS}")
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
                check_text(v, what=f"the {name} {shown(v)}")
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


def shown(value: object) -> str:
    """A value as a message shows it: quoted, short, printable (no lone surrogates)."""
    text = repr(value)
    return text if len(text) <= 42 else text[:40] + "…"
