"""What the web chat says: answers as safe Markdown, the sources view, the settings.

Owns the arrow ``Answer -> web chat`` without depending on Gradio, so that every
piece is a plain function (or the small :class:`Chat` object holding an
:class:`~assistant.pipeline.service.Assistant`) that tests call directly. The Gradio
layout lives in :mod:`assistant.web.app`, the follow-up rule in :mod:`assistant.search.followup`.

Document text is always shown as text. In the chat (Markdown) every character
that could start markup is backslash-escaped and ``< > &`` become entities, so
``<script>``, ``<b>`` or ``[link](http://x)`` in a document are displayed
literally; in the sources view (HTML) the text is HTML-escaped.
"""

from __future__ import annotations

import html
import logging
import re
from functools import lru_cache
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from assistant.answer.model import Answer, Quote, one_line, page_label, paragraph_mark
from assistant.answer.terminal import source_lines
from assistant.answer.json_format import to_json
from assistant.ingest.corpus import Document, Passage
from assistant.errors import AssistantError
from assistant.pipeline.service import Assistant, Version
from assistant.search.followup import follow_up_query, user_messages
from assistant.search.request import make_request
from assistant.web.pdf_view import page_figures
from assistant.answer.view import OFF, ON, QuoteView, Run, answer_view, display_lines, quote_lines, shown_highlights

log = logging.getLogger(__name__)

MAX_QUOTES = 10
CONTEXT_PARAGRAPHS = 2  # shown before and after a cited paragraph in the sources view

# ---------------------------------------------------------------- escaping

_MD_SPECIAL = re.compile(r"([\\`*_\[\]~|$#])")
_LINE_START = re.compile(r"^(\s*)(?:(-+|\++|=+)|(\d+)([.)]))(?=\s|$)")
_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(://)|(?<=\bwww)(\.)|(@)")


def escape_markdown(text: str) -> str:
    """``text`` as Markdown that displays exactly these characters.

    Backslash-escapes emphasis, code, link, table, strike-through, heading and
    LaTeX characters, breaks the patterns that auto-link (``http://``,
    ``www.``, ``@``), escapes list and heading markers at a line start, and
    turns ``& < >`` into entities so no HTML tag survives. Works per line.
    """
    out = []
    for line in text.split("\n"):
        line = _MD_SPECIAL.sub(r"\\\1", line)
        line = _AUTOLINK.sub(lambda m: "\\" + m.group(0), line)
        line = _LINE_START.sub(_escape_marker, line)
        out.append(line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    return "\n".join(out)


def _escape_marker(m: re.Match) -> str:
    # "- x" -> "\- x", "1. x" -> "1\. x": not a list item, and no stray backslash shown
    if m.group(2):
        return m.group(1) + "\\" + m.group(2)
    return m.group(1) + m.group(3) + "\\" + m.group(4)


def escape_html(text: str) -> str:
    """``text`` as HTML that displays exactly these characters."""
    return html.escape(text, quote=True)


# ---------------------------------------------------------------- answers


def quote_markdown(quote: Quote | QuoteView, *, emphasise: bool = True) -> str:
    """A quote as a Markdown block quote, its marked sentences in bold, all its text escaped."""
    lines = quote.lines if isinstance(quote, QuoteView) else quote_lines(quote, marked=emphasise)
    return "\n".join("> " + "".join(_run_markdown(r) for r in line) for line in lines)


def _run_markdown(run: Run) -> str:
    return f"**{escape_markdown(run.text)}**" if run.marked else escape_markdown(run.text)


def passage_html(text: str, spans: Iterable[Sequence[int]] = (), *, keep_lines: bool = False) -> str:
    """Text as escaped HTML, the spans (offsets into ``text``) in ``<mark>``, lines joined by ``<br>``."""
    lines = display_lines(text, spans, keep_lines=keep_lines)
    return "<br>".join(escape_html(line).replace(ON, "<mark>").replace(OFF, "</mark>") for line in lines)


def source_line(quote: Quote | QuoteView) -> str:
    """The short attribution above a quote: [n] title · organisation · date · section · ¶."""
    c = quote.citation
    bits = [f"*{escape_markdown(one_line(c.title))}*" if c.title else escape_markdown(one_line(c.source))]
    bits += [escape_markdown(one_line(x)) for x in (c.organization, c.date) if x]
    if c.section and c.section != c.title:
        bits.append(f"section “{escape_markdown(one_line(c.section))}”")
    bits.append(c.paragraph_mark)
    if c.page_label:
        bits.append(c.page_label)
    line = (f"**[{quote.rank}]** " if quote.rank else "") + " · ".join(bits)
    if quote.strength:
        line += f" · *{quote.strength}*"
    if quote.also_in:
        line += " · also published in " + "; ".join(
            f"*{escape_markdown(one_line(a.title))}* {a.paragraph_mark}" for a in quote.also_in
        )
    line += "".join(f"  \n*{label}:* {escape_markdown(one_line(x))}" for label, x in c.context)  # [pdf-tables]
    return line


def citation_block(quotes: Sequence[Quote]) -> str:
    """The plain-text citation list, fenced so it shows literally and has a copy button."""
    body = "\n".join(source_lines(list(quotes)))
    fence = "`" * max(3, _longest_run(body, "`") + 1)
    return f"{fence}text\n{body}\n{fence}"


def _longest_run(text: str, ch: str) -> int:
    runs = re.findall(f"{re.escape(ch)}+", text)
    return max((len(r) for r in runs), default=0)


def render_answer(answer: Answer, *, documents: Mapping[str, Document] | None = None) -> str:
    """The chat message for an answer: its :class:`AnswerView` as Markdown, all document text escaped.

    Args:
        answer: what :meth:`Assistant.ask` returned.
        documents: doc id -> Document, to name filtered documents by title.
    """
    view = answer_view(answer, documents=documents)
    out: list[str] = []
    if view.searched:
        out.append(f"*Searched for:* “{escape_markdown(view.searched)}”")
    if view.filtered:
        out.append(f"*Filtered:* {escape_markdown(view.filtered)}")
    if view.headline:
        advice = " Change or clear the filter under *Settings*." if view.filtered_out else ""
        out.append(f"**{escape_markdown(view.headline)}**{advice}")
    out.extend(f"*Note:* {escape_markdown(note)}" for note in view.notes)
    if view.lead:
        out.append(escape_markdown(view.lead))
    for q in view.quotes:
        out.append(source_line(q) + "\n" + quote_markdown(q))
    if view.quotes:
        out.append(f"**{view.sources_heading}** (plain text, to copy):\n" + citation_block(answer.quotes))
    if view.related:  # collapsed under the answer: context, never numbered as a citation
        items = "\n\n".join(source_line(q) + "\n" + quote_markdown(q) for q in view.related)
        summary = escape_html(f"{view.related_heading}: {len(view.related)}")
        out.append(f"<details><summary>{summary}</summary>\n\n{items}\n\n</details>")
    return "\n\n".join(out)




# ---------------------------------------------------------------- the chat


def _short_title(title: str) -> str:
    """A title short enough for the sources list."""
    return title if len(title) <= 50 else title[:48] + "…"


@dataclass(frozen=True)
class Source:
    """A cited passage the sources view can open."""

    label: str
    passage_id: str
    highlights: tuple[tuple[int, int], ...]
    marker: str = "cited"  # "possibly related" when the answer was declined


@dataclass(frozen=True)
class Reply:
    text: str  # the chat message (Markdown)
    sources: tuple[Source, ...]
    answer: Answer | None  # None when the question could not be asked


class _Served:
    """One version of the served index and what the chat derives from it. A document's
    passages are read when one of them is opened (and the last few kept), never all at
    start: a collection of a million passages serves as quickly as a small one."""

    def __init__(self, assistant: Assistant, version: Version) -> None:
        self.assistant = assistant
        self.version = version
        self.documents = version.index.documents
        self.siblings = lru_cache(maxsize=64)(version.passages_of)  # doc id -> its passages in document order

    def passage(self, passage_id: str) -> tuple[Passage, tuple[Passage, ...], int] | None:
        """The passage with this id, its document's passages and its place among them."""
        siblings = self.siblings(self.assistant.document_of(passage_id))
        for i, p in enumerate(siblings):
            if p.passage_id == passage_id:
                return p, siblings, i
        return None


class Chat:
    """The web chat's behaviour over one :class:`~assistant.pipeline.service.Assistant`."""

    def __init__(self, assistant: Assistant) -> None:
        self.use(assistant)

    def use(self, assistant: Assistant) -> None:
        """Answer from ``assistant`` from now on (the served index was changed and reloaded).

        Everything derived from the index is swapped in one assignment, so a
        question answered meanwhile sees the old index or the new one, never a mix.
        The assistant also changes versions by itself (a writer changed its index
        folder); what the chat derives follows it (:meth:`_served`).
        """
        self._state = _Served(assistant, assistant.version)

    def _served(self) -> _Served:
        """What the chat derives from the assistant's current version (made again when it changed)."""
        state = self._state
        version = state.assistant.version
        if version is not state.version:
            state = self._state = _Served(state.assistant, version)
        return state

    @property
    def assistant(self) -> Assistant:
        return self._state.assistant

    @property
    def documents(self) -> dict[str, Document]:
        return self._served().documents

    @property
    def document_choices(self) -> list[tuple[str, str]]:
        """(title, doc id) pairs for the document filter, by title."""
        return sorted(((d.title or d.source, d.doc_id) for d in self.documents.values()), key=lambda x: x[0].lower())

    @property
    def organizations(self) -> list[str]:
        return sorted({d.organization for d in self.documents.values() if d.organization}, key=str.lower)

    def reply(
        self,
        message: str,
        history: Sequence[Mapping] | None = None,
        k: int | float | None = 5,
        mode: str | None = "hybrid",
        doc_ids: Iterable[str] | None = (),
        organizations: Iterable[str] | None = (),
        date_from: str | None = "",
        date_to: str | None = "",
    ) -> Reply:
        """Answer one chat message in the context of its conversation.

        Never raises: a question the assistant cannot take (empty, a bad date,
        a bad mode) becomes a message saying why, and any other failure a
        polite apology, its traceback going to the log.
        """
        try:
            request = make_request(k=k, mode=mode, doc_ids=doc_ids, organizations=organizations,
                                   date_from=date_from, date_to=date_to)
            where = request.where
            message = message if isinstance(message, str) else ""
            searched = follow_up_query(message, user_messages(history))
            answer = self.assistant.ask(message, k=request.k, mode=request.mode, where=where, searched=searched)
            text = render_answer(answer, documents=self.documents)
            return Reply(text, self.sources_of(answer), answer)
        except AssistantError as e:
            return Reply(friendly(str(e)), (), None)
        except Exception:
            log.exception("answering %r failed", str(message)[:200])
            return Reply(SORRY, (), None)

    def search(self, question: str, k: int = 5, mode: str = "hybrid") -> dict:
        """The JSON of ``assistant ask --json`` for one question.

        Raises:
            QueryError: empty question, k out of range or unknown mode.
        """
        request = make_request(k=k, mode=mode)
        return to_json(self.assistant.ask(question, k=request.k, mode=request.mode))

    def sources_of(self, answer: Answer) -> tuple[Source, ...]:
        out = []
        for q in answer.quotes:
            c = q.citation
            title = _short_title(c.title)
            if answer.abstained:  # nothing answers: no sentence is marked as if it did
                out.append(Source(f"[{q.rank}] {c.paragraph_mark} · {title}", c.passage_id, (), "possibly related"))
            else:
                out.append(Source(f"[{q.rank}] {c.paragraph_mark} · {title}", c.passage_id, shown_highlights(q)))
        for q in answer.related:  # openable too, but marked as what they are
            c = q.citation
            out.append(Source(f"related · {c.paragraph_mark} · {_short_title(c.title)}", c.passage_id, (), "related"))
        return tuple(out)

    def context(self, passage_id: str, around: int = CONTEXT_PARAGRAPHS) -> list[Passage]:
        """The cited passage with up to ``around`` passages of its document before and after it."""
        return self._context(self._served(), passage_id, around)

    @staticmethod
    def _context(state: _Served, passage_id: str, around: int) -> list[Passage]:
        found = state.passage(passage_id)
        if found is None:
            raise KeyError(passage_id)
        _, siblings, i = found
        return list(siblings[max(0, i - around) : i + around + 1])

    def source_html(
        self, passage_id: str | None, highlights: Sequence[Sequence[int]] = (), around: int = CONTEXT_PARAGRAPHS,
        marker: str = "cited",
    ) -> str:
        """The sources view: the cited paragraph among its neighbours, as HTML with all text escaped.

        Args:
            passage_id: the cited passage; None or an unknown id gives the placeholder.
            highlights: offsets into the document of the sentences to mark in it.
            around: how many passages of the same document to show before and after it.
            marker: what the opened passage is called ("cited", or "possibly related"
                for a declined answer's passages).
        """
        state = self._served()
        found = state.passage(passage_id) if passage_id else None
        if found is None:
            return EMPTY_SOURCE
        cited = found[0]
        doc = state.documents[cited.doc_id]
        about = " · ".join(escape_html(x) for x in (doc.organization, cited.date or doc.date, doc.kind) if x)
        head = (
            f'<div class="src-head"><div class="src-title">{escape_html(doc.title or doc.source)}</div>'
            f'<div class="src-meta">{about}</div>'
            f'<div class="src-file">{escape_html(doc.source)}</div></div>'
        )
        paras = []
        for p in self._context(state, passage_id, around):
            is_cited = p.passage_id == passage_id
            spans = [(a - p.start, b - p.start) for a, b in highlights] if is_cited else []
            body = passage_html(p.text, spans, keep_lines=p.kind == "list")
            where = paragraph_mark(p.paragraph, p.part)
            if p.page:
                where += f" · {page_label(p.page, p.last_page, ocr=p.ocr)}"
            if p.section and p.section != doc.title:
                where += f" · {escape_html(p.section)}"
            label = where + (f" · {escape_html(marker)}" if is_cited else "")
            cls = "src-para cited" if is_cited else "src-para"
            paras.append(f'<div class="{cls}"><div class="src-where">{label}</div><p>{body}</p></div>')
        figures = page_figures(doc, cited)  # a PDF quote on its page (assistant.web.pdf_view)
        return f'<div class="src-view">{head}{"".join(paras)}{figures}</div>'


EMPTY_SOURCE = (
    '<div class="src-view src-empty">Ask a question: the passages it cites open here, in their document.</div>'
)
NO_SOURCES = '<div class="src-view src-empty">The last answer cites no passage.</div>'


def friendly(problem: str) -> str:
    """A user-caused problem as a chat message."""
    text = problem[:1].upper() + problem[1:] if problem else "That question could not be asked."
    return f"**I could not search for that.** {escape_markdown(text)}"


SORRY = (
    "**Sorry, something went wrong while answering.** The problem was logged on the server. "
    "Try again, or rephrase the question."
)
