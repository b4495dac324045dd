"""Cutting a scraped page's text into paragraphs, by rules that generalise.

Owns the rules for what is a passage and what is not: navigation and donation
boilerplate, table-of-contents and index entries (dot leaders), lines in another
script (photo captions), headings (which become the section of the text under them), date lines (which date the items of a news
listing), lists (grouped with their lead-in line), hard-wrapped lines (re-joined)
and paragraphs too long for the encoder (cut at sentence ends).

Everything here works on character offsets into the untouched source text:
a span's text is always ``source[start:end]``.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.ingest.tables import TableSpan, table_at, table_pieces

MONTHS = (
    "january february march april may june july august september october november december"
).split()
_MONTH = r"(January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
_DATE_PATTERNS = (
    re.compile(rf"^{_MONTH}\s+(\d{{1,2}}),?\s+(\d{{4}})$", re.I),  # June 08, 2018
    re.compile(rf"^(\d{{1,2}})\s+{_MONTH},?\s+(\d{{4}})$", re.I),  # 8 June 2018
    re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),  # 2018-06-08
)
_DATE_PREFIX = re.compile(r"^(date|published|posted|posted on|updated)\s*:?\s*", re.I)
_DATE_ANYWHERE = re.compile(rf"\b({_MONTH}\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+{_MONTH}\s+\d{{4}})\b", re.I)

# Whole-line patterns of site chrome. Matched against the stripped line, case-insensitively.
_BOILERPLATE = [
    r"skip to (the )?(main )?content",
    r"(main |site )?(menu|navigation)",
    r"(log|sign) ?(in|out|up)",
    r"search|select this search icon.*|search (this site|the site)",
    r"((facebook|twitter|x|linkedin|whatsapp|email|e-mail|print|reddit|pinterest)\s*(share|this)?\s*)+",
    r"share( this( page| article| story)?)?( on \w+)?",
    r"subscribe( to .*)?|sign up for .*newsletter.*|newsletter",
    r"region\s*/\s*country|topics?|tags?(\s*:.*)?|related( content| articles| news| stories)?",
    r"view (all|latest|more)( .*)?|read more|see more|load more|more stories|back to top",
    r"(donate|give)( now| today)?|make a donation.*",
    r".*\btax[- ]deductible\b.*|(your|a|every) (gift|donation)s? (can|will|could) help\b.*",
    r"(©|\(c\)|copyright).*|all rights reserved\.?",
    r".*\bcookies?\b.*(accept|consent|policy).*|accept( all)? cookies",
    r"[^>\n]{1,40}(\s>\s[^>\n]{1,40})+",  # breadcrumbs: Home > Information > Releases
    r"print( this)?( page)?|download( pdf)?|previous|next|close",
]
_BOILERPLATE_RE = re.compile(r"^(?:" + "|".join(_BOILERPLATE) + r")$", re.I)
# A dot leader: six or more dots, spaced or not (an ellipsis has three), running to a page
# number (arabic or roman), to the next entry or the index's next letter ("awk . . . . B",
# "dBase . . . . Dbase . . ."), or to the end of the line, as a contents or index entry's does.
_DOT_LEADER = re.compile(r"(?:\. ?){6,}\s*(?:\d{1,4}\b|[ivxlc]{1,7}\b|[A-Z]|$)")
# A line of page numbers only, as a table of contents' or an index's right column reads
# once its entries are gone: "21", "9, 23, 45". Dropped only among contents or index lines.
_PAGE_NUMBERS = re.compile(r"^\d{1,4}(?:\s*,\s*\d{1,4}|\s+\d{1,4})*,?$")
# A numbered section heading: "2.1  What is R?", "7.14 What are valid names?": section
# numbers of one or two digits a part (not "2.5 GB", "192.168.1.1", "12.03.2019" or "1.500"),
# a capital after them, and no full stop at the end ("1.2.3 Fixed a crash." is a sentence).
_NUMBERED_HEADING = re.compile(r"^(?:\d{1,2}\.)+\d{1,2}\.?\s+[A-Z(“\"'‘][^\n]*?(?:\?|[^.!;:,…\s])$")

_CLOSING = re.compile(
    r"^(yours (sincerely|faithfully|truly)|sincerely( yours)?|respectfully( yours)?|kind regards|signed|signatories)\b",
    re.I,
)
_BULLET = re.compile(r"^\s*([•·▪◦‣\-–*]|\d{1,2}[.)])\s+")
_TERMINAL_RE = re.compile(r"[.!?;…][\"”’')\]]*$")
_LEAD_IN = (":", ",")
_HEADING_MAX_WORDS = 10
_SHORT_MAX_WORDS = 14
_NUMBERED_HEADING_MAX_WORDS = 20
_WRAPPED_MAX_LINE = 130


@dataclass(frozen=True)
class Span:
    """A passage's place in the source, before it is given an id."""

    start: int
    end: int
    paragraph: int
    part: int
    section: str
    date: str
    kind: str


@dataclass(frozen=True)
class _Line:
    start: int  # first non-space character
    end: int  # after the last non-space character
    text: str  # stripped content


@dataclass
class _Unit:
    """One or more lines that read as a single paragraph, heading or list item."""

    lines: list[_Line]
    date: str
    after_blank: bool
    item_start: bool = False  # a date line of a listing: a new dated item begins after it

    @property
    def start(self) -> int:
        return self.lines[0].start

    @property
    def end(self) -> int:
        return self.lines[-1].end

    @property
    def text(self) -> str:
        return " ".join(line.text for line in self.lines)

    @property
    def words(self) -> int:
        return len(self.text.split())

    @property
    def is_bullet(self) -> bool:
        return bool(_BULLET.match(self.lines[0].text))

    @property
    def is_short(self) -> bool:
        t = self.text
        return self.words <= _SHORT_MAX_WORDS and not (_TERMINAL_RE.search(t) or t.endswith(_LEAD_IN))

    @property
    def is_numbered_heading(self) -> bool:
        """A line or two numbered as a section ("2.1  What is R?"), ending with a question
        mark or no punctuation; an FAQ's numbered questions run longer than other headings."""
        return len(self.lines) <= 2 and self.words <= _NUMBERED_HEADING_MAX_WORDS and bool(_NUMBERED_HEADING.match(self.text))

    @property
    def is_lead_in(self) -> bool:
        return self.text.endswith(_LEAD_IN)


def parse_date(line: str) -> str:
    """ISO date of a line that is nothing but a date (``"June 08, 2018"``), else ``""``."""
    s = _DATE_PREFIX.sub("", line.strip())
    for i, pat in enumerate(_DATE_PATTERNS):
        m = pat.match(s)
        if not m:
            continue
        if i == 2:
            y, mo, d = int(m[1]), int(m[2]), int(m[3])
        else:
            month, day, year = (m[1], m[2], m[3]) if i == 0 else (m[2], m[1], m[3])
            mo = _month_number(month)
            y, d = int(year), int(day)
        try:
            return datetime.date(y, mo, d).isoformat()
        except ValueError:  # "February 30": not a date
            return ""
    return ""


def is_boilerplate(line: str) -> bool:
    """True for a line of site chrome (navigation, share buttons, donation appeals) or of a
    table of contents or back-of-book index: an entry with a dot leader to its page
    ("2.5 How can R be installed? . . . . . . 4"). Those repeat a manual's headings word
    for word, so they outrank the text they point to, and they state nothing. (A line of
    page numbers only is dropped too, but only among such lines: ``_units``.)"""
    s = line.strip()
    return bool(_BOILERPLATE_RE.match(s) or _is_contents(s))


def _is_contents(line: str) -> bool:
    """A line of a table of contents or an index: an entry's dot leader (``_DOT_LEADER``)."""
    return bool(_DOT_LEADER.search(line))


def first_heading(text: str) -> str:
    """The first short line of content, used as a title when metadata gives none."""
    for line in _lines(text):
        if line.text and not is_boilerplate(line.text) and not parse_date(line.text):
            if len(line.text.split()) <= _SHORT_MAX_WORDS:
                return line.text.lstrip("#").strip()
            return ""
    return ""


def split_text(
    text: str,
    *,
    max_tokens: int = 200,
    count_tokens: Callable[[str], int] | None = None,
    tables: Sequence[TableSpan] = (),
) -> list[Span]:
    """Cut ``text`` into passage spans.

    Args:
        text: the source text, untouched.
        max_tokens: longest passage, in the encoder's tokens; longer paragraphs
            are cut at sentence ends, longer lists between items.
        count_tokens: the encoder's token counter; a word-based estimate if None.
        tables: the tables in ``text`` (a reader found them): each is cut between rows
            only (:func:`assistant.ingest.tables.table_pieces`), into "list" passages.

    Returns:
        Spans in document order; ``text[span.start:span.end]`` is the passage.
    """
    count = count_tokens or estimate_tokens
    units = _units(text)
    spans: list[Span] = []
    section = ""
    paragraph = 0
    i = 0
    while i < len(units):
        u = units[i]
        table = table_at(tables, u.start) if tables else None
        if table is not None:  # a table: whole rows, its header with each piece (assistant.ingest.tables)
            paragraph += 1
            pieces = table_pieces(text, table, max_tokens=max_tokens, count=count)
            for part, (start, end) in enumerate(pieces, start=1 if len(pieces) > 1 else 0):
                spans.append(Span(start, end, paragraph, part, section, u.date, "list"))
            while i < len(units) and units[i].start < table.end:
                i += 1
            continue
        if u.item_start:  # a date line: a new item of a listing begins
            section = ""
            i += 1
            continue
        # A run of short lines or bullets is a list; a lead-in line joins what follows it.
        group = [u]
        j = i + 1
        if u.is_lead_in or u.is_bullet or (u.is_short and _run_length(units, i) >= 3):
            while j < len(units) and not units[j].item_start and (
                units[j].is_bullet
                or (units[j].is_short and not units[j].after_blank and (group[-1].is_short or group[-1].is_bullet))
                or (units[j].is_short and group[-1].is_lead_in)
                or (group[-1].is_lead_in and not units[j].is_short and len(group) == 1)
            ):
                group.append(units[j])
                j += 1
        numbered = len(group) == 1 and u.is_numbered_heading
        if len(group) == 1 and ((u.is_short and not u.is_bullet) or numbered):
            if (u.words <= _HEADING_MAX_WORDS or numbered) and not _DATE_ANYWHERE.search(u.text):
                section = " ".join(u.text.lstrip("#").split())  # a Markdown heading's "#" is not its name; a PDF's spacing is not either
            # longer short lines without a full stop are captions or bylines: not passages
            i += 1
            continue
        paragraph += 1
        kind = "list" if len(group) > 2 or any(g.is_bullet for g in group) else "paragraph"
        # A list under a letter's closing ("Yours sincerely,") names who signed it.
        group_section = "Signatories" if kind == "list" and _CLOSING.match(u.text) else section
        pieces = _fit(text, group, max_tokens, count)
        for part, (start, end) in enumerate(pieces, start=1 if len(pieces) > 1 else 0):
            spans.append(Span(start, end, paragraph, part, group_section, u.date, kind))
        i = j
    return spans


def estimate_tokens(text: str) -> int:
    """A word-piece count estimate: words and punctuation, long words counted twice."""
    pieces = re.findall(r"\w+|[^\w\s]", text)
    return sum(1 + len(p) // 8 for p in pieces)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentences of ``text[start:end]`` as (start, end) offsets into ``text``, stripped."""
    end = len(text) if end is None else end
    out: list[tuple[int, int]] = []
    pos = start
    for m in _SENTENCE_END.finditer(text, start, end):
        out.append((pos, m.start() + len(m.group(1))))
        pos = m.end()
    out.append((pos, end))
    return [_strip(text, a, b) for a, b in out if text[a:b].strip()]


# A sentence ends at . ! ? (and closing quotes) followed by space and an upper-case
# letter, a quote or a digit; short abbreviations ("U.S.", "Mr.") are not ends.
_SENTENCE_END = re.compile(
    r"(?<!\b[A-Z])(?<!\bMr)(?<!\bMrs)(?<!\bDr)(?<!\bNo)(?<!\bSt)"
    r"([.!?…]+[\"”’')\]]*)\s+(?=[\"“‘'(]?[A-Z0-9\u2022])"
)


def _strip(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and (text[a].isspace() or text[a] == "\ufeff"):  # a byte-order mark is not text
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _month_number(name: str) -> int:
    key = name.lower().rstrip(".")[:3]
    return next(i for i, m in enumerate(MONTHS, start=1) if m.startswith(key))


def _lines(text: str) -> list[_Line]:
    out = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        a, b = _strip(text, pos, pos + len(raw))
        out.append(_Line(a, b, text[a:b]))
        pos += len(raw)
    return out


def _latin_share(s: str) -> float:
    letters = [c for c in s if c.isalpha()]
    if not letters:
        return 1.0
    return sum(c < "\u0250" for c in letters) / len(letters)


def _units(text: str) -> list[_Unit]:
    """Classify lines and join the ones that belong together."""
    lines = _lines(text)
    doc_latin = _latin_share(text) > 0.8
    wrap_gap = _wrap_gap(lines)
    units: list[_Unit] = []
    date = ""
    gap = 1  # blank lines since the last line of text
    joinable = False  # may the next line continue the previous unit?
    contents = False  # among contents or index lines: a line of page numbers is theirs
    for line in lines:
        t = line.text
        if not t:
            gap += 1
            continue
        if _is_contents(t) or (contents and _PAGE_NUMBERS.match(t)):
            gap, joinable, contents = 99, False, True
            continue
        contents = False
        if is_boilerplate(t) or (doc_latin and _latin_share(t) < 0.5):
            gap, joinable = 99, False
            continue
        d = parse_date(t)
        if d:
            date = d
            units.append(_Unit([line], date, True, item_start=True))
            gap, joinable = 99, False
            continue
        prev = units[-1] if units and not units[-1].item_start else None
        if prev is not None and joinable and _continues(prev, line, gap, wrap_gap):
            prev.lines.append(line)
        else:
            units.append(_Unit([line], date, gap > 0))
        gap, joinable = 0, True
    return units


def _continues(prev: _Unit, line: _Line, gap: int, wrap_gap: int | None) -> bool:
    last = prev.lines[-1].text
    starts_lower = line.text[:1].islower() or line.text[:1] in "(["
    if _BULLET.match(line.text) or _BULLET.match(prev.lines[0].text):
        return False
    if wrap_gap is not None and gap <= wrap_gap:
        return True
    if gap > 0:
        # A wrapped heading can be cut by a blank line: "... human rights" / "reforms".
        return starts_lower and not (_TERMINAL_RE.search(last) or last.endswith(_LEAD_IN))
    return starts_lower and not _TERMINAL_RE.search(last)


def _wrap_gap(lines: list[_Line]) -> int | None:
    """For a page hard-wrapped at a fixed width, the number of blank lines between
    the wrapped lines of one paragraph (0, or 1 for double-spaced text); else None.

    Paragraphs of such a page are told apart by a wider gap than that.
    """
    texts = [ln.text for ln in lines if ln.text]
    if len(texts) < 4 or max(len(t) for t in texts) > _WRAPPED_MAX_LINE:
        return None
    # Wrapped lines are "full": most reach most of the page's width, and many break
    # mid-sentence. Short headings and one-line paragraphs are neither.
    longest = max(len(t) for t in texts)
    full = sum(len(t) >= 0.6 * longest for t in texts)
    broken = sum(len(t) >= 0.6 * longest and not _TERMINAL_RE.search(t) for t in texts)
    if longest < 50 or full * 2 < len(texts) or broken * 3 < len(texts):
        return None
    gaps: list[int] = []
    run = -1
    for ln in lines:
        if ln.text:
            if run >= 0:
                gaps.append(run)
            run = 0
        elif run >= 0:
            run += 1
    if not gaps:
        return None
    smallest = min(gaps)
    if gaps.count(smallest) * 2 < len(gaps) or smallest > 1:
        return None
    return smallest


def _run_length(units: list[_Unit], i: int) -> int:
    n = 0
    while i + n < len(units) and not units[i + n].item_start and (
        units[i + n].is_short or units[i + n].is_bullet
    ) and (n == 0 or not units[i + n].after_blank):
        n += 1
    return n


def _fit(text: str, group: list[_Unit], max_tokens: int, count: Callable[[str], int]) -> list[tuple[int, int]]:
    """Spans for a group, cut so that none exceeds ``max_tokens``."""
    start, end = group[0].start, group[-1].end
    if count(text[start:end]) <= max_tokens:
        return [(start, end)]
    # Cut between list items or lines first, then between sentences.
    pieces: list[tuple[int, int]] = []
    for unit in group:
        for a, b in ((ln.start, ln.end) for ln in unit.lines) if len(group) > 1 else [(unit.start, unit.end)]:
            for s, e in sentence_spans(text, a, b):
                pieces.append((s, e))
    out: list[tuple[int, int]] = []
    cur_a, cur_b = pieces[0]
    for a, b in pieces[1:]:
        if count(text[cur_a:b]) <= max_tokens:
            cur_b = b
        else:
            out.append((cur_a, cur_b))
            cur_a, cur_b = a, b
    out.append((cur_a, cur_b))
    return out
