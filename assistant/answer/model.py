"""From ranked passages to an answer: quotes, citations, highlights, abstaining.

Owns the arrow ``Hit -> Answer``. A quote is always the source text at its
offsets; highlights are offsets of the sentences that best answer the question;
near-identical passages are shown once with every citation; when nothing in the
collection answers, the answer says so and the hits become "possibly related".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from assistant.ingest.corpus import Document, Passage
from assistant.ingest.pdf_boxes import Rect
from assistant.answer.tables import cell_highlights, table_context
from assistant.search.searcher import Filter, Hit, Retrieval, Signals

NOTHING_ANSWERS = "No passage in the collection answers this."
STRONG = "strong match"  # a numbered quote: evidence (assistant.search.evidence); a match, not a judgment that it answers
RELATED = "related"  # offered apart, never numbered as a citation
POSSIBLY_RELATED = "possibly related"  # the closest passages of a refused answer
DUPLICATE_JACCARD = 0.8


@dataclass(frozen=True)
class Citation:
    """Where a quote comes from: enough to find it again by hand."""

    passage_id: str
    doc_id: str
    title: str
    organization: str
    date: str
    section: str
    paragraph: int
    source: str
    start: int
    end: int
    part: int = 0  # 1.. when a long paragraph was cut into parts
    path: str = ""  # absolute path of the source file at build time
    page: int = 0  # first page (paged documents: PDF), 0 when unpaged
    last_page: int = 0
    ocr: bool = False  # the text was read from a page image by OCR
    sha256: str = ""  # of the source file's bytes as indexed ("" from an index built before it was recorded)
    size: int = -1  # the source file's size in bytes as indexed
    extractor: str = ""  # what read the file's text, and its version (assistant.ingest.extractor)
    rects: tuple[Rect, ...] = ()  # PDF: where the quote is on its page(s), in PDF user space (provenance.stamp)
    table_header: str = ""  # a piece of a table that does not open with its header row: that row
    table_caption: str = ""  # a table's caption ("Table 3: ..."), when it has one

    @property
    def context(self) -> tuple[tuple[str, str], ...]:
        """The labelled context shown with a quote from a table: (label, text) pairs."""
        return tuple((label, x) for label, x in (("table header", self.table_header),
                                                  ("table caption", self.table_caption)) if x)

    @property
    def page_label(self) -> str:
        return page_label(self.page, self.last_page, ocr=self.ocr)

    @property
    def paragraph_label(self) -> str:
        return f"paragraph {self.paragraph}" + (f" (part {self.part})" if self.part else "")

    @property
    def paragraph_mark(self) -> str:
        return paragraph_mark(self.paragraph, self.part)

    def text(self) -> str:
        """One line, easy to copy: Title. Organisation, date. Section, ¶ n. file, chars a-b.

        Line breaks and other control characters in any part (a file name may hold
        them) are written as escapes (``\\n``), so the citation stays one line."""
        bits = [f"“{one_line(self.title)}”"]
        who = ", ".join(one_line(x) for x in (self.organization, self.date) if x)
        if who:
            bits.append(who)
        section = self.section if self.section and self.section != self.title else ""
        where = ", ".join(x for x in (section and f"section “{one_line(section)}”", self.paragraph_label,
                                      self.page_label) if x)
        bits.append(where)
        bits.append(f"{one_line(self.source)}, characters {self.start}–{self.end}")
        return ". ".join(bits) + "."


@dataclass(frozen=True)
class Quote:
    rank: int
    score: float
    similarity: float
    text: str  # exactly source[start:end]
    highlights: tuple[tuple[int, int], ...]  # offsets into the source
    citation: Citation
    also_in: tuple[Citation, ...]  # the same statement published elsewhere
    signals: Signals = field(default_factory=Signals)  # what the score is made of, for engineers
    kind: str = "paragraph"  # the passage's kind: a "list" keeps its line breaks when shown
    strength: str = STRONG  # STRONG, RELATED or POSSIBLY_RELATED, in words for the reader


@dataclass(frozen=True)
class Answer:
    query: str  # what the user asked (cleaned)
    searched: str  # what was searched (differs for follow-ups)
    mode: str
    abstained: bool
    quotes: tuple[Quote, ...]
    notes: tuple[str, ...]
    id: str | None = None
    where: Filter = Filter()  # the filter the question was asked with
    related: tuple[Quote, ...] = ()  # context that is not evidence: rank 0, never cited
    # passage ids of the hits neither evidence nor strong enough to be offered as related (under
    # the refusal floor): never shown, not in the JSON; an evaluation counts what the cut removed
    below_floor: tuple[str, ...] = ()
    provenance: Stamp | None = None  # which index answered, and when (assistant.answer.provenance.stamp)


@dataclass(frozen=True)
class Stamp:
    """Which index answered a question, and when: the answer's part of every quote's provenance."""

    index_id: str  # the SHA-256 of the index's manifest (assistant.index.folder.MANIFEST_HASH)
    index_path: str
    model: str
    dense_index: str
    built_at: str
    answered_at: str  # ISO 8601, UTC
    tool: str  # "assistant 0.1.0"


_BREAKS = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """``text`` with line breaks and control characters as escapes (``\\n``, ``\\x1b``, ``\\u2028``)."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else _BREAKS.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")
        for ch in text
    )


def page_label(page: int, last_page: int = 0, *, ocr: bool = False) -> str:
    """"p. 12", "pp. 12–13", with ", OCR text" when OCR read it; "" when unpaged."""
    pages = "" if not page else (f"pp. {page}–{last_page}" if last_page > page else f"p. {page}")
    return ", ".join(x for x in (pages, "OCR text" if ocr else "") if x)


def paragraph_mark(paragraph: int, part: int = 0) -> str:
    """The short paragraph label the chat shows: "¶ 12", "¶ 13, part 2"."""
    return f"¶ {paragraph}" + (f", part {part}" if part else "")


def cite(passage: Passage, doc: Document) -> Citation:
    table = table_context(doc.text, doc.tables, passage.start)
    return Citation(
        passage_id=passage.passage_id,
        doc_id=doc.doc_id,
        title=doc.title,
        organization=doc.organization,
        date=passage.date,
        section=passage.section,
        paragraph=passage.paragraph,
        source=doc.source,
        start=passage.start,
        end=passage.end,
        part=passage.part,
        path=doc.path,
        page=passage.page,
        last_page=passage.last_page,
        ocr=passage.ocr,
        sha256=doc.sha256,
        size=doc.size,
        extractor=doc.extractor,
        table_header=table.header,
        table_caption=table.caption,
    )


def make_answer(
    retrieval: Retrieval,
    documents: dict[str, Document],
    *,
    abstained: bool = False,
    asked: str | None = None,
    qid: str | None = None,
    extra_notes: tuple[str, ...] = (),
    where: Filter = Filter(),
    evidence: tuple[bool, ...] | None = None,
    offered: tuple[bool, ...] | None = None,
) -> Answer:
    """Quotes with citations and highlights for the hits of a retrieval.

    ``evidence`` says which hits are evidence (``assistant.search.evidence``); the others
    become the answer's ``related`` passages when ``offered`` says so (None: all of
    them), else its ``below_floor`` ones. ``evidence`` None: every hit is a quote (and a
    refused answer's hits are all "possibly related")."""
    notes = list(extra_notes)
    q = retrieval.query
    if q.truncated:
        notes.append(
            f"The question was {q.original_length:,} characters long; only its first {len(q.text):,} characters "
            "(up to a word boundary within the 2,000-character limit) were searched."
        )
    if retrieval.candidates == 0:
        notes.append("No passage matches the filter; nothing was searched.")
    quotes: list[Quote] = []
    related: list[Quote] = []
    below_floor: list[str] = []
    kept: list[tuple[Quote, set[str], bool]] = []  # (quote, its shingles, is evidence)
    for i, hit in enumerate(retrieval.hits):
        shingles = _shingles(hit.passage.text)
        twin = next((j for j, (_, s, _) in enumerate(kept) if _jaccard(s, shingles) >= DUPLICATE_JACCARD), None)
        doc = documents[hit.passage.doc_id]
        if twin is not None:
            prev, s, ev = kept[twin]
            kept[twin] = (replace(prev, also_in=prev.also_in + (cite(hit.passage, doc),)), s, ev)
            continue
        is_ev = abstained or evidence is None or evidence[i]
        if not is_ev and offered is not None and not offered[i]:
            below_floor.append(hit.passage.passage_id)
            continue
        strength = POSSIBLY_RELATED if abstained else (STRONG if is_ev else RELATED)
        quote = Quote(
            rank=0,
            score=round(hit.score, 4),
            similarity=round(hit.dense, 4),
            text=doc.text[hit.passage.start : hit.passage.end],
            highlights=cell_highlights(doc.text, doc.tables, _highlights(retrieval, hit), q.text)
            if doc.tables else _highlights(retrieval, hit),
            citation=cite(hit.passage, doc),
            also_in=(),
            signals=hit.signals,
            kind=hit.passage.kind,
            strength=strength,
        )
        kept.append((quote, shingles, is_ev))
    for quote, _, is_ev in kept:
        if is_ev:
            quotes.append(replace(quote, rank=len(quotes) + 1))
        else:
            related.append(quote)
    return Answer(
        query=asked if asked is not None else q.text,
        searched=q.text,
        mode=retrieval.mode,
        abstained=abstained,
        quotes=tuple(quotes),
        notes=tuple(notes),
        id=qid,
        where=where,
        related=tuple(related),
        below_floor=tuple(below_floor),
    )


def _highlights(retrieval: Retrieval, hit: Hit) -> tuple[tuple[int, int], ...]:
    """The best-answering sentence, and any other nearly as good (within
    ``RankingConfig.highlight_margin`` of its cosine)."""
    sentences = retrieval.best_sentences.get(hit.passage.passage_id, [])
    if not sentences:
        return ()
    top = max(s for _, _, s in sentences)
    chosen = [(a, b) for a, b, s in sentences if s >= top - retrieval.config.highlight_margin]
    if len(chosen) == len(sentences) and len(sentences) > 2:
        chosen = [(a, b) for a, b, s in sentences if s == top]
    return tuple(sorted(chosen))


_WORD = re.compile(r"\w+")


def _shingles(text: str) -> set[str]:
    words = _WORD.findall(text.lower())
    return {" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
