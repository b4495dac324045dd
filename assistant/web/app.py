"""The Gradio web chat: the events, the API routes, the queue, and ``assistant serve``.

Owns the arrow ``Answer -> web chat`` on the Gradio side: the page's components
(:mod:`assistant.web.page`) connected to the :class:`~assistant.web.chat.Chat`
that answers, a JSON endpoint (API ``/search``, the output of ``assistant ask
--json``) beside the chat's (API ``/chat``), and serving it all. The page's style
and scripts are files in ``assistant/web/static/``, read when an app is built.
gradio is imported inside the functions.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.pipeline.service import Assistant
from assistant.web.api_errors import blocks_class
from assistant.web.chat import EMPTY_SOURCE, NO_SOURCES, SORRY, Chat
from assistant.web.collection import CollectionInfo, describe_documents
from assistant.web.conversations import Conversations, show_question, user_markdown
from assistant.web.download import answer_record, download_link
from assistant.web.guard import MAX_BODY, Limits, RequestGuard
from assistant.web.page import (  # noqa: F401 - SETTINGS, settings_label_text: the page's, named here too
    SETTINGS, Page, _gradio, _with_request, chat_collection, header_markdown, layout, settings_label_text,
)
from assistant.web.uploads import LiveCollection, UploadSettings, clear_staging

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"  # chat.css and the page's scripts (package data)


# Two CPU cores answer two questions at once at full speed; more would only
# share the cores. The queue holds what waits, and refuses beyond QUEUE_SIZE
# so that an overload is said at once rather than waited out.
CONCURRENCY = 2
QUEUE_SIZE = 200
UPLOAD_CACHE = (3600, 3600)  # seconds: how often Gradio's received files are swept, and their age then


class ServeError(AssistantError):
    """The web server cannot start (e.g. the port is taken)."""


@dataclass(frozen=True)
class Static:
    """The page's style and scripts, read from ``assistant/web/static/`` when an app is built."""

    css: str
    take_box: str  # run as a question is sent: empties the box in the page
    send_box: str  # sends what is in the box (after an example was put there)
    scroll_to_last: str  # brings the last question's top into view

    @classmethod
    def load(cls) -> Static:
        return cls(css=_static("chat.css"), take_box=_script("take-box.js"), send_box=_script("send-box.js"),
                   scroll_to_last=_script("scroll-to-last.js"))


def _static(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _script(name: str) -> str:
    """A JavaScript function from its file, without the comment lines that open it."""
    lines = _static(name).splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("//")):
        lines.pop(0)
    return "\n" + "\n".join(lines) + "\n"


def build_app(
    chat: Chat, *, info: CollectionInfo | None = None, live: LiveCollection | None = None, static: Static | None = None,
) -> Any:
    """The Blocks app for one :class:`Chat`; call ``.queue()`` and ``.launch()`` on it.

    Args:
        chat: what answers.
        info: the served collection's title, description and example questions
            (default: described from the chat's own index).
        live: when given, the page can add documents to the served index and
            remove them (``serve --allow-uploads``); otherwise it cannot change it.
        static: the page's style and scripts (default: read from ``assistant/web/static/``).
    """
    _gradio()  # first, so that blocks_class() finds it imported without its stub writer
    info = info or chat_collection(chat)
    static = static or Static.load()
    # Blocks whose API routes answer a malformed request with a clear error (assistant.web.api_errors).
    # Files received but never added (a page closed after choosing them) are deleted within
    # two hours, and all of them when the server restarts.
    with blocks_class()(title=info.title, fill_height=True, delete_cache=UPLOAD_CACHE if live is not None else None) as demo:
        page = layout(chat, info=info, live=live)
        connect_settings_label(chat, page)
        connect_chat(chat, page, static, demo)
        connect_sources(chat, page)
        connect_download(page)
        if live is not None:
            connect_refresh(chat, page, demo, info=info)
        add_api(chat)
    return demo


def connect_settings_label(chat: Chat, page: Page) -> None:
    """The Settings panel's label names the active filter, so it shows when the panel is closed."""
    gr = _gradio()

    def settings_label(doc_ids, orgs, date_from, date_to):
        return gr.Accordion(label=settings_label_text(chat, doc_ids, orgs, date_from, date_to))

    filters = page.settings.filters
    for component in filters:
        component.change(settings_label, filters, [page.settings_panel], queue=False, api_visibility="private")


def connect_chat(chat: Chat, page: Page, static: Static, demo: Any) -> None:
    """Asking: the box and the examples send a question; its answer and sources come back.
    Clearing the chat, or leaving the page, forgets its conversation."""
    gr = _gradio()

    conversations = Conversations()

    @_with_request
    def ask(message, k, mode, doc_ids, orgs, date_from, date_to, request: gr.Request):
        """Show the question at once (as text; the page has emptied the box), then its answer.

        The conversation is kept on the server (``Conversations``), so a question sent
        while another is being answered is answered too, each answer under its own
        question; an empty one is ignored.
        """
        if show_question(message, []) is None:  # an empty or blank message adds nothing
            yield gr.skip(), gr.skip(), gr.skip()
            return
        conversation = conversations.of(request.session_hash)
        question, earlier, shown = conversation.ask(user_markdown(message))
        yield shown, gr.skip(), gr.skip()
        past = [{"role": "user", "content": m} for m in earlier]
        try:
            reply = chat.reply(message, past, k, mode, doc_ids, orgs, date_from, date_to)
            text, cited, record = reply.text, reply.sources, answer_record(reply.answer)
        except Exception:  # a bug or a broken index: the person gets a message, the log the trace
            log.exception("answering %r failed", str(message)[:200])
            text, cited, record = SORRY, (), None
        items = [[s.label, s.passage_id, [list(h) for h in s.highlights], s.marker] for s in cited]
        yield conversation.answer(question, message, text), items, record

    @_with_request
    def leave(request: gr.Request):
        conversations.forget(request.session_hash)

    @_with_request
    def forget(request: gr.Request):
        leave(request)
        return [], gr.Dropdown(choices=[], value=None), EMPTY_SOURCE, None, ""  # and no answer left to download

    # The box is emptied in the page as the question is taken (take-box.js), not by the server's
    # reply, which could arrive after the next question was typed and erase it.
    page.box.submit(ask, [page.box, *page.settings.all], [page.chatbot, page.sources, page.download.kept],
                    js=static.take_box, trigger_mode="multiple", show_progress_on=[page.chatbot], api_visibility="private")
    # An example is put in the box and sent from there, as if typed.
    page.examples.click(lambda sample: sample[0], [page.examples], [page.box], queue=False,
                        api_visibility="private").then(None, None, None, js=static.send_box)
    # After a question, and again after its answer: the new question's top in view.
    page.chatbot.change(None, None, None, js=static.scroll_to_last, queue=False, api_visibility="private")
    # Clearing forgets the answer kept for download too, and takes its link away.
    page.chatbot.clear(forget, None, [page.sources, page.pick, page.view, page.download.kept, page.download.link],
                       queue=False, api_visibility="private")
    demo.unload(leave)


def connect_sources(chat: Chat, page: Page) -> None:
    """The sources view: an answer's first source opens with it; the dropdown opens the others."""
    gr = _gradio()

    def show_sources(items):
        choices = [(label, pid) for label, pid, *_ in items or []]
        first = items[0] if items else None
        html = chat.source_html(first[1], first[2], marker=first[3]) if first else NO_SOURCES
        return gr.Dropdown(choices=choices, value=choices[0][1] if choices else None), html

    def show_source(passage_id, items):
        try:
            marks, marker = next(((h, m) for _, pid, h, m in items or [] if pid == passage_id), ([], "cited"))
            return chat.source_html(passage_id, marks, marker=marker)
        except Exception:
            log.exception("showing source %r failed", passage_id)
            return EMPTY_SOURCE

    page.sources.change(show_sources, [page.sources], [page.pick, page.view], api_visibility="private", queue=False)
    page.pick.input(show_source, [page.pick, page.sources], [page.view], api_visibility="private", queue=False)


def connect_download(page: Page) -> None:
    """A new answer, or another format, makes the link that downloads it ("" without an answer)."""
    d = page.download
    for trigger in (d.kept.change, d.fmt.change):
        trigger(download_link, [d.kept, d.fmt], [d.link], api_visibility="private", queue=False)


def connect_refresh(chat: Chat, page: Page, demo: Any, *, info: CollectionInfo) -> None:
    """A page opened after the collection changed shows it as it is now."""
    gr = _gradio()

    def current():
        described = dataclasses.replace(info, description=describe_documents(chat.documents))
        return (header_markdown(described), gr.Dropdown(choices=chat.document_choices),
                gr.Dropdown(choices=chat.organizations), gr.Dropdown(choices=chat.document_choices))

    demo.load(current, None, [page.about, page.settings.doc_ids, page.settings.orgs, page.remove_pick], queue=False,
              api_visibility="private")


def add_api(chat: Chat) -> None:
    """The API routes ``/chat`` (the answer as Markdown) and ``/search`` (the JSON of ``ask --json``)."""
    gr = _gradio()

    def answer(
        message: str, k: float = 5, mode: str = "hybrid", doc_ids: list[str] | None = None,
        organizations: list[str] | None = None, date_from: str = "", date_to: str = "",
    ) -> str:
        """Ask a question; returns the answer as Markdown: quotes and numbered citations."""
        return chat.reply(message, [], k, mode, doc_ids or [], organizations or [], date_from, date_to).text

    def search(question: str, k: int = 5, mode: str = "hybrid") -> dict:
        """The answer as the JSON of `assistant ask --json`: quotes, citations, highlights, notes."""
        try:
            return chat.search(question, k, mode)
        except AssistantError as e:
            raise gr.Error(str(e), print_exception=False) from None  # the user's mistake: no traceback
        except Exception:
            log.exception("search %r failed", str(question)[:200])
            raise gr.Error("something went wrong while searching; the problem was logged on the server",
                           print_exception=False) from None

    gr.api(answer, api_name="chat")
    gr.api(search, api_name="search")


def _theme() -> Any:
    gr = _gradio()

    # System fonts: nothing to fetch, and the same letters in bold as in regular
    # (the bundled web font's semibold renders wrongly in some Chromium builds).
    return gr.themes.Default(
        font=["-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "Liberation Sans", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace"],
    )


def serve(
    assistant: Assistant,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    concurrency: int = CONCURRENCY,
    queue_size: int = QUEUE_SIZE,
    title: str | None = None,
    queries: str | None = None,
    max_request: int = MAX_BODY,
    uploads: UploadSettings | None = None,
    document_encoder: Any = None,
) -> None:
    """Start the web chat on an open :class:`~assistant.pipeline.service.Assistant` and block.

    The model and index are already loaded; one warm-up question runs before
    the server opens, so the first person does not wait for lazy initialisation.

    Args:
        assistant: the open index and encoder.
        host, port: where to listen.
        concurrency, queue_size: questions answered at once, and waiting at most.
        title: the chat's title (default: from the corpus folder's name).
        queries: a query set for this collection; its questions become the examples
            (default: questions about the collection's own headings).
        max_request: bytes a request body may have (larger ones are refused with 413).
        uploads: when given, the page can add files to the collection (and remove
            documents); otherwise the upload route is refused.
        document_encoder: makes the encoder for added documents (called on the first upload).

    Raises:
        ServeError: the server cannot listen on ``host:port``.
        QueryError: the query set cannot be read.
    """
    from starlette.middleware import Middleware

    chat = Chat(assistant)
    info = chat_collection(chat, title=title, queries=queries)  # a bad query set fails before the warm-up
    assistant.ask("warm up", k=1)
    live = None
    if uploads is not None:
        clear_staging(uploads)  # what a stopped server was reading when it stopped
        live = LiveCollection(assistant.index.path, uploads, document_encoder or (lambda: assistant.encoder),
                              chat.assistant.refresh)
    static = Static.load()
    demo = build_app(chat, info=info, live=live, static=static)
    demo.queue(default_concurrency_limit=concurrency, max_size=queue_size)
    limits = Limits(max_body=max_request, uploads=uploads is not None,
                    max_upload=uploads.max_bytes if uploads is not None else 0,
                    upload_suffixes=uploads.suffixes if uploads is not None else ())
    try:
        demo.launch(
            server_name=host,
            server_port=port,
            prevent_thread_lock=True,
            quiet=True,
            show_error=False,
            ssr_mode=False,
            mcp_server=False,
            pwa=False,
            enable_monitoring=False,
            css=static.css,
            theme=_theme(),
            app_kwargs={"middleware": [Middleware(RequestGuard, limits=limits)]},
            max_file_size=uploads.max_bytes if uploads is not None else None,
        )
    except OSError as e:
        raise ServeError(f"cannot start the web chat on {host}:{port} ({e}); pass another --port") from None
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    n_passages = len(chat.assistant.index.passages)
    print(f"The web chat is ready: {len(chat.documents)} documents, {n_passages} passages.", flush=True)
    if uploads is not None:
        print(f"Uploads are ON: visitors can add files (stored in {uploads.folder}) and remove documents.", flush=True)
    print(f"Open http://{shown}:{port}/ in a browser. Ctrl+C stops it.", flush=True)
    demo.block_thread()
