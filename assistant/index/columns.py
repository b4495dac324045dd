"""Per-passage filter and year columns, computed at build time and stored with the index.

Owns the arrow ``passages -> columns``: for every passage the code of its
document, organisation and date, and for every year the passages that speak of
it or are dated in it. A question then costs work per distinct document,
organisation, date or year, never a Python loop over the passages (and loading
an index of a million passages reads three small arrays instead of every passage).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.ingest.corpus import Document, Passage
from assistant.index.filters import Filter

FILES = ("columns.json", "columns.npz")
_ISO_PREFIX = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
YEAR = re.compile(r"\b(1[6-9]\d\d|20\d\d)\b")


@dataclass(frozen=True)
class Columns:
    doc_code: np.ndarray  # passage -> index into doc_ids
    doc_ids: tuple[str, ...]
    org_code: np.ndarray  # passage -> index into orgs
    orgs: tuple[str, ...]
    date_code: np.ndarray  # passage -> index into dates
    dates: tuple[str, ...]
    year_rows: dict[str, np.ndarray]  # year -> passages that speak of it or are dated in it (ascending)
    n: int

    @classmethod
    def of(cls, documents: Mapping[str, Document], passages: Sequence[Passage]) -> Columns:
        doc_ids = tuple(documents)
        org_of = {d: (documents[d].organization or "") for d in doc_ids}
        orgs = tuple(sorted(set(org_of.values())))
        dates = tuple(sorted({p.date or "" for p in passages}))
        where_doc = {d: i for i, d in enumerate(doc_ids)}
        where_org = {o: i for i, o in enumerate(orgs)}
        where_date = {d: i for i, d in enumerate(dates)}
        years: dict[str, list[int]] = {}
        for row, p in enumerate(passages):
            for y in passage_years(p):
                years.setdefault(y, []).append(row)
        return cls(
            np.array([where_doc[p.doc_id] for p in passages], dtype=np.int32), doc_ids,
            np.array([where_org[org_of[p.doc_id]] for p in passages], dtype=np.int32), orgs,
            np.array([where_date[p.date or ""] for p in passages], dtype=np.int32), dates,
            {y: np.array(rows, dtype=np.int64) for y, rows in years.items()},
            len(passages),
        )

    def save(self, folder: Path) -> None:
        years = sorted(self.year_rows)
        (folder / "columns.json").write_text(json.dumps(
            {"doc_ids": self.doc_ids, "orgs": self.orgs, "dates": self.dates, "years": years, "n": self.n},
            ensure_ascii=False,
        ))
        start = np.zeros(len(years) + 1, dtype=np.int64)
        start[1:] = np.cumsum([len(self.year_rows[y]) for y in years])
        rows = np.concatenate([self.year_rows[y] for y in years]) if years else np.zeros(0, np.int64)
        with (folder / "columns.npz").open("wb") as f:
            np.savez(f, doc=self.doc_code, org=self.org_code, date=self.date_code, year_rows=rows, year_start=start)

    @classmethod
    def load(cls, folder: Path) -> Columns:
        raw = json.loads((folder / "columns.json").read_text(encoding="utf-8"))
        with np.load(folder / "columns.npz", allow_pickle=False) as z:
            doc, org, date, rows, start = (z[k] for k in ("doc", "org", "date", "year_rows", "year_start"))
        years = raw["years"]
        if len(start) != len(years) + 1 or not (len(doc) == len(org) == len(date) == raw["n"]):
            raise ValueError("columns.npz and columns.json disagree")
        return cls(doc, tuple(raw["doc_ids"]), org, tuple(raw["orgs"]), date, tuple(raw["dates"]),
                   {y: rows[start[i]:start[i + 1]] for i, y in enumerate(years)}, int(raw["n"]))

    def mask(self, where: Filter) -> np.ndarray:
        mask = np.ones(self.n, dtype=bool)
        if where.doc_ids:
            wanted = set(where.doc_ids)
            mask &= np.array([d in wanted for d in self.doc_ids], dtype=bool)[self.doc_code]
        if where.organizations:
            wanted_orgs = {o.casefold() for o in where.organizations}
            ok = np.array([any(w in o.casefold() for w in wanted_orgs) for o in self.orgs], dtype=bool)
            mask &= ok[self.org_code]
        if where.date_from or where.date_to:
            ok = np.array([date_in(d, where.date_from, where.date_to) for d in self.dates], dtype=bool)
            mask &= ok[self.date_code]
        return mask

    def match(self, where: Filter) -> dict[str, tuple[str, ...]]:
        """The passages ``mask(where)`` keeps, named by their fields: the documents
        (``doc_id``) and dates (``date``) allowed, only for what the filter restricts.
        An engine that filters on stored fields (Qdrant's payload indexes) takes these."""
        found: dict[str, tuple[str, ...]] = {}
        if where.doc_ids or where.organizations:
            ok = np.ones(len(self.doc_ids), dtype=bool)
            if where.doc_ids:
                wanted = set(where.doc_ids)
                ok &= np.array([d in wanted for d in self.doc_ids], dtype=bool)
            if where.organizations:
                wanted_orgs = {o.casefold() for o in where.organizations}
                org_ok = np.array([any(w in o.casefold() for w in wanted_orgs) for o in self.orgs], dtype=bool)
                of_doc = np.zeros(len(self.doc_ids), dtype=bool)  # a document without passages allows none
                of_doc[self.doc_code] = org_ok[self.org_code]
                ok &= of_doc
            found["doc_id"] = tuple(d for d, keep in zip(self.doc_ids, ok) if keep)
        if where.date_from or where.date_to:
            found["date"] = tuple(d for d in self.dates if date_in(d, where.date_from, where.date_to))
        return found

    def year_signal(self, asked: set[str], rows: np.ndarray) -> np.ndarray:
        """For each of ``rows`` (ascending): 1.0 if the passage is of a year the question names, else 0.0."""
        year = np.zeros(len(rows), dtype=np.float32)
        for y in asked:
            of_year = self.year_rows.get(y)
            if of_year is not None:
                year[np.isin(rows, of_year, assume_unique=True)] = 1.0
        return year


def passage_years(p: Passage) -> frozenset[str]:
    """Years a passage speaks of or is dated in (a dated range counts every year in it).

    Dates come from metadata.json and may be free text ("Spring 2014", "n.d."):
    only the years found in them count.
    """
    years = set(YEAR.findall(p.text))
    ends = [int(y) for y in YEAR.findall(p.date or "")]
    if ends:
        lo, hi = min(ends), max(ends)
        years.update(str(y) for y in range(lo, min(hi, lo + 100) + 1))
    return frozenset(years)


def date_in(date: str, lo: str, hi: str) -> bool:
    if not date:
        return False  # an undated passage cannot be said to fall in a range
    first, _, last = date.partition("/")
    last = last or first
    if not (_ISO_PREFIX.match(first) and _ISO_PREFIX.match(last)):
        return False  # a free-text date ("Spring 2014") cannot be placed in a range: undated
    if lo and last[: len(lo)] < lo:
        return False
    if hi and first[: len(hi)] > hi:
        return False
    return True
