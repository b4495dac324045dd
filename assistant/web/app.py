"""The Gradio web chat: layout, events, the queue, and ``assistant serve``.

Owns the arrow ``Answer -> web chat`` on the Gradio side: a ``gr.ChatInterface``
(API ``/chat``) with its settings in a collapsed accordion, a sources view
beside it, and a JSON endpoint (API ``/search``, the output of
``assistant ask --json``). What the chat *says* is built in :mod:`assistant.web.chat`;
this module only wires it to components. gradio is imported inside the functions.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path
from typing import Any

from assistant.web.download import DEFAULT_FORMAT, FORMATS as DOWNLOAD_FORMATS, answer_record, download_link
from assistant.web.chat import EMPTY_SOURCE, MAX_QUOTES, NO_SOURCES, SORRY, Chat, escape_markdown
from assistant.web.collection import CollectionInfo, describe_collection, describe_documents
from assistant.web.uploads import LiveCollection, UploadSettings, clear_staging
from assistant.errors import AssistantError
from assistant.search.searcher import MODES
from assistant.web.api_errors import blocks_class
from assistant.web.guard import MAX_BODY, Limits, RequestGuard

log = logging.getLogger(__name__)


def _gradio():
    """Import Gradio without its stub writer. Gradio 6 re-creates the ``.pyi`` stub
    file of every component class in site-packages each time it is imported (for
    editors' type hints; nothing at run time reads them): 2.5 of the 4.6 s its import
    takes here, and most of ``serve``'s start. The writer is replaced by a no-op as its
    module loads; a Gradio without it is imported unchanged."""
    import importlib
    import importlib.abc
    import importlib.machinery
    import sys

    class _NoStubs(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != "gradio.component_meta":
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None or spec.loader is None:
                return spec
            run = spec.loader.exec_module

            def exec_module(module) -> None:
                run(module)
                if hasattr(module, "create_or_modify_pyi"):
                    module.create_or_modify_pyi = lambda *args, **kwargs: None

            spec.loader.exec_module = exec_module
            return spec

    if "gradio" in sys.modules:
        return sys.modules["gradio"]
    finder = _NoStubs()
    sys.meta_path.insert(0, finder)
    try:
        return importlib.import_module("gradio")
    finally:
        sys.meta_path.remove(finder)


# Two CPU cores answer two questions at once at full speed; more would only
# share the cores. The queue holds what waits, and refuses beyond QUEUE_SIZE
# so that an overload is said at once rather than waited out.
CONCURRENCY = 2
QUEUE_SIZE = 200
UPLOAD_CACHE = (3600, 3600)  # seconds: how often Gradio's received files are swept, and their age then

MODE_HELP = {
    "hybrid": "meaning, word by word and keywords",
    "tokens": "meaning, word by word",
    "rrf": "meaning and keywords, fused by rank",
    "dense": "meaning only",
    "keyword": "the exact words (BM25)",
}

CSS = """
.src-view { font-size: 0.95rem; line-height: 1.5; }
.src-empty { color: var(--body-text-color-subdued); padding: 0.5rem 0; }
.src-head { margin-bottom: 0.75rem; }
.src-title { font-weight: 600; font-size: 1.05rem; }
.src-meta, .src-file, .src-where { color: var(--body-text-color-subdued); font-size: 0.85rem; }
.src-file { font-family: var(--font-mono); }
.src-para { padding: 0.4rem 0.75rem; margin: 0.4rem 0; border-left: 3px solid var(--border-color-primary); }
.src-para p { margin: 0.2rem 0 0 0; }
.src-para.cited { border-left-color: var(--color-accent); background: var(--color-accent-soft); }
.src-para mark { background: var(--color-accent-soft); color: inherit; padding: 0 1px; }
.src-para.cited mark { background: transparent; text-decoration: underline 2px var(--color-accent);
  text-underline-offset: 3px; }
#chat blockquote { margin: 0.25rem 0 0.9rem 0; }
#chat pre, #chat pre code { white-space: pre-wrap !important; overflow-wrap: anywhere; }
#chat strong { font-weight: 600; }
#chat .bubble-wrap { padding-top: 2.5rem; }  /* the first message starts below the copy/clear buttons */
"""


class ServeError(AssistantError):
    """The web server cannot start (e.g. the port is taken)."""


def build_app(chat: Chat, *, info: CollectionInfo | None = None, live: LiveCollection | None = None) -> Any:
    """The Blocks app for one :class:`Chat`; call ``.queue()`` and ``.launch()`` on it.

    Args:
        chat: what answers.
        info: the served collection's title, description and example questions
            (default: described from the chat's own index).
        live: when given, the page can add documents to the served index and
            remove them (``serve --allow-uploads``); otherwise it cannot change it.
    """
    gr = _gradio()

    info = info or chat_collection(chat)
    # Blocks whose API routes answer a malformed request with a clear error (assistant.web.api_errors).
    # Files received but never added (a page closed after choosing them) are deleted within
    # two hours, and all of them when the server restarts.
    with blocks_class()(title=info.title, fill_height=True, delete_cache=UPLOAD_CACHE if live is not None else None) as demo:
        about = gr.Markdown(header_markdown(info), elem_id="about")
        sources = gr.State([])
        k = gr.Slider(1, MAX_QUOTES, value=5, step=1, label="Number of quotes", render=False)
        mode = gr.Radio(list(MODES), value="hybrid", label="Search mode", render=False,
                        info=" · ".join(f"{m}: {MODE_HELP[m]}" if m in MODE_HELP else m for m in MODES))
        doc_ids = gr.Dropdown(chat.document_choices, value=[], multiselect=True, label="Only these documents",
                              render=False)
        orgs = gr.Dropdown(chat.organizations, value=[], multiselect=True, label="Only these organisations",
                           render=False)
        date_from = gr.Textbox("", label="Dated from", placeholder="YYYY or YYYY-MM-DD, e.g. 2014", render=False)
        date_to = gr.Textbox("", label="Dated to", placeholder="YYYY or YYYY-MM-DD, e.g. 2018-06", render=False)
        settings = [k, mode, doc_ids, orgs, date_from, date_to]

        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                chatbot = gr.Chatbot(
                    elem_id="chat",
                    label="Answers",
                    show_label=False,  # a floating label would cover the first line of the chat
                    height=620,
                    autoscroll=False,  # scrolled by SCROLL_TO_LAST to the new answer's top instead
                    latex_delimiters=[],  # a $ in a document is a dollar, not maths
                    allow_tags=False,
                    sanitize_html=True,
                    feedback_options=None,
                    buttons=["copy_all"],  # no copy button per message: the citations have their own
                    placeholder="Ask about the documents, or start with an example below.",
                )
                box = gr.Textbox(placeholder="Ask a question about the documents…", show_label=False,
                                 elem_id="question", submit_btn=True, autofocus=True, max_lines=6)
                examples = gr.Dataset(components=[gr.Textbox(visible=False)], samples=[[q] for q in info.examples],
                                      label="Examples", elem_id="examples", type="values",
                                      visible=bool(info.examples))
                with gr.Accordion(SETTINGS, open=False, elem_id="settings") as settings_panel:
                    for component in settings:
                        component.render()
                remove_pick = None
                if live is not None:
                    remove_pick = manage_documents(chat, live, info=info, about=about, doc_filter=doc_ids,
                                                   org_filter=orgs)
            with gr.Column(scale=2, min_width=300):
                gr.Markdown("### Sources")
                pick = gr.Dropdown([], value=None, label="Open a cited passage", interactive=True,
                                   elem_id="source-pick")
                view = gr.HTML(EMPTY_SOURCE, elem_id="source-view")
                kept, fmt, download = download_controls(gr)  # "Download this answer" (assistant.web.download)

        conversations = Conversations()

        def settings_label(doc_ids, orgs, date_from, date_to):
            """The Settings panel's label names the active filter, so it shows when the panel is closed."""
            return gr.Accordion(label=settings_label_text(chat, doc_ids, orgs, date_from, date_to))

        filters = [doc_ids, orgs, date_from, date_to]
        for component in filters:
            component.change(settings_label, filters, [settings_panel], queue=False, api_visibility="private")

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

        # The box is emptied in the page as the question is taken (TAKE_BOX), not by the server's
        # reply, which could arrive after the next question was typed and erase it.
        box.submit(ask, [box, *settings], [chatbot, sources, kept], js=TAKE_BOX, trigger_mode="multiple",
                   show_progress_on=[chatbot], api_visibility="private")
        # An example is put in the box and sent from there, as if typed.
        examples.click(lambda sample: sample[0], [examples], [box], queue=False,
                       api_visibility="private").then(None, None, None, js=SEND_BOX)
        # After a question, and again after its answer: the new question's top in view.
        chatbot.change(None, None, None, js=SCROLL_TO_LAST, queue=False, api_visibility="private")

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

        @_with_request
        def leave(request: gr.Request):
            conversations.forget(request.session_hash)

        @_with_request
        def forget(request: gr.Request):
            leave(request)
            return [], gr.Dropdown(choices=[], value=None), EMPTY_SOURCE

        chatbot.clear(forget, None, [sources, pick, view], queue=False, api_visibility="private")
        demo.unload(leave)
        sources.change(show_sources, [sources], [pick, view], api_visibility="private", queue=False)
        pick.input(show_source, [pick, sources], [view], api_visibility="private", queue=False)
        connect_download(gr, kept, fmt, download)

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

        if live is not None:  # the collection may have changed since the server started: show it as it is now
            def current():
                described = dataclasses.replace(info, description=describe_documents(chat.documents))
                return (header_markdown(described), gr.Dropdown(choices=chat.document_choices),
                        gr.Dropdown(choices=chat.organizations), gr.Dropdown(choices=chat.document_choices))

            demo.load(current, None, [about, doc_ids, orgs, remove_pick], queue=False, api_visibility="private")

        gr.api(answer, api_name="chat")
        gr.api(search, api_name="search")
    return demo


def download_controls(gr) -> tuple[Any, Any, Any]:
    """The kept answer (its export record), the format to download it in, and the link."""
    kept = gr.State(None)
    with gr.Row(elem_id="download-row"):
        fmt = gr.Dropdown(list(DOWNLOAD_FORMATS), value=DEFAULT_FORMAT, label="Format", elem_id="download-format",
                          scale=2)
        download = gr.HTML("", elem_id="download-link", scale=1)
    return kept, fmt, download


def connect_download(gr, kept, fmt, download) -> None:
    """A new answer, or another format, makes the link that downloads it ("" without an answer)."""
    for trigger in (kept.change, fmt.change):
        trigger(download_link, [kept, fmt], [download], api_visibility="private", queue=False)


def header_markdown(info: CollectionInfo) -> str:
    return (
        f"## {escape_markdown(info.title)}\n"
        f"{escape_markdown(info.description)}. Answers are passages quoted word for word from these "
        f"documents, each with its citation; nothing is generated. Open a cited passage under "
        f"*Sources* to read it in its document."
    )


def manage_documents(chat: Chat, live: LiveCollection, *, info: CollectionInfo, about, doc_filter, org_filter) -> Any:
    """The "Add or remove documents" panel (inside a Blocks context): upload, index, reload; remove.

    Its two events are API endpoints too (``/add_documents``, ``/remove_documents``).
    Returns the dropdown of documents to remove.
    """
    gr = _gradio()

    settings = live.settings
    limit = f"{settings.max_bytes / 1e6:g} MB"
    with gr.Accordion("Add or remove documents", open=False, elem_id="manage"):
        gr.Markdown(
            f"Add files to this collection: {', '.join(settings.suffixes)}, up to {limit} a file. "
            "They are searchable as soon as indexing finishes.",
        )
        files = gr.File(file_count="multiple", file_types=list(settings.suffixes), type="filepath",
                        label="Files to add", elem_id="upload")
        add = gr.Button("Add to the collection", elem_id="add-docs")
        status = gr.Markdown("", elem_id="upload-status")
        remove_pick = gr.Dropdown(chat.document_choices, value=[], multiselect=True, label="Documents to remove",
                                  elem_id="remove-pick")
        remove = gr.Button("Remove from the collection", variant="stop", elem_id="remove-docs")

    def refreshed(message: str):
        described = dataclasses.replace(info, description=describe_documents(chat.documents))
        return (
            message,
            gr.Dropdown(choices=chat.document_choices, value=[]),
            gr.Dropdown(choices=chat.document_choices),
            gr.Dropdown(choices=chat.organizations),
            header_markdown(described),
        )

    outputs = [status, remove_pick, doc_filter, org_filter, about]

    def add_documents(paths: list[str] | None, progress=gr.Progress()):
        """Add uploaded files to the served collection; returns what was added and what was refused."""
        given = [(p, Path(p).name) for p in paths or [] if p]
        if not given:
            return ("Choose one or more files first.", *refreshed("")[1:])
        try:
            added, problems = live.add(given, progress=lambda f, d: progress(f, desc=d))
        except AssistantError as e:
            return refreshed(f"**Nothing was added.** {escape_markdown(str(e))}")
        except Exception:
            log.exception("adding %d uploaded files failed", len(given))
            return refreshed("**Nothing was added:** something went wrong; the problem was logged on the server.")
        finally:  # added files were copied into the collection; none is kept in Gradio's upload folder
            discard_received([p for p, _ in given])
        lines = [f"**Added {len(added)} document" + ("" if len(added) == 1 else "s") + ":** "
                 + escape_markdown(", ".join(added))]
        lines += [f"*Not added:* {escape_markdown(p)}" for p in problems]
        return refreshed("\n\n".join(lines))

    def remove_documents(doc_ids: list[str] | None):
        """Remove documents (by id) from the served collection."""
        ids = [d for d in doc_ids or [] if d]
        if not ids:
            return ("Choose the documents to remove first.", *refreshed("")[1:])
        paths = {d.doc_id: d.path for d in chat.documents.values()}
        try:
            removed = live.remove(ids, paths=paths)
        except AssistantError as e:
            return refreshed(f"**Nothing was removed.** {escape_markdown(str(e))}")
        except Exception:
            log.exception("removing %s failed", ids)
            return refreshed("**Nothing was removed:** something went wrong; the problem was logged on the server.")
        return refreshed(f"**Removed:** {escape_markdown(', '.join(removed))}")

    add.click(add_documents, [files], outputs, api_name="add_documents", concurrency_limit=1,
              concurrency_id="collection").then(lambda: None, None, [files], queue=False, api_visibility="private")
    remove.click(remove_documents, [remove_pick], outputs, api_name="remove_documents", concurrency_limit=1,
                 concurrency_id="collection")
    return remove_pick


def discard_received(paths: list[str]) -> None:
    """Delete files Gradio received (and their folders, once empty), when they are in its upload folder."""
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder()).resolve()
    for p in paths:
        path = Path(p)
        try:
            real = path.resolve()
            if folder not in real.parents:
                continue
            real.unlink(missing_ok=True)
            if real.parent != folder:
                real.parent.rmdir()
        except OSError:
            pass


def chat_collection(chat: Chat, *, title: str | None = None, queries: str | None = None) -> CollectionInfo:
    """The served collection described from the chat's index (and a query set for it, if given)."""
    index = chat.assistant.index
    return describe_collection(index.documents, index.passages, corpus_dir=index.manifest.corpus_dir,
                               title=title, queries=queries)


def _with_request(fn):
    """Let Gradio see ``fn``'s ``request`` parameter as a ``gr.Request`` (under
    ``from __future__ import annotations`` the annotation is a string it cannot resolve)."""
    gr = _gradio()

    fn.__annotations__["request"] = gr.Request
    return fn


SETTINGS = "Settings: quotes, search mode, filters"


def settings_label_text(chat: Chat, doc_ids, orgs, date_from, date_to) -> str:
    """The Settings label with the active filter in words ("... · active: dated from 2014"),
    or a word that the filter is not valid yet (the answer will say why)."""
    from assistant.search.request import make_request
    from assistant.answer.view import describe_filter

    try:
        where = make_request(doc_ids=doc_ids or (), organizations=orgs or (), date_from=date_from or "",
                             date_to=date_to or "").where
    except AssistantError:
        return f"{SETTINGS} · filter not valid yet"
    text = describe_filter(where, chat.documents)
    return f"{SETTINGS} · active: {text}" if text else SETTINGS


class Conversations:
    """Each page's conversation, kept on the server: its messages as shown and the
    questions as typed (the context of a follow-up question).

    Questions of one page may be answered at the same time (one sent while another is
    being answered); each answer goes right under its own question, and every update
    shows the whole conversation as it is, so neither answer overwrites the other.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_session: dict[str, Conversation] = {}

    def of(self, session: str) -> Conversation:
        with self._lock:
            return self._by_session.setdefault(session, Conversation(self._lock))

    def forget(self, session: str) -> None:
        with self._lock:
            self._by_session.pop(session, None)


class Conversation:
    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self.messages: list[dict] = []
        self.asked: list[str] = []  # questions answered, as typed

    def ask(self, shown: str) -> tuple[dict, list[str], list[dict]]:
        """Add a question (as shown); returns it, the questions answered before it, and the messages."""
        question = {"role": "user", "content": shown}
        with self._lock:
            self.messages.append(question)
            return question, list(self.asked), [dict(m) for m in self.messages]

    def answer(self, question: dict, typed: str, text: str) -> list[dict]:
        """Put an answer right under its question; returns the messages."""
        with self._lock:
            at = next((i for i, m in enumerate(self.messages) if m is question), len(self.messages) - 1)
            self.messages.insert(at + 1, {"role": "assistant", "content": text})
            self.asked.append(typed)
            return [dict(m) for m in self.messages]


def show_question(message: object, history: list | None) -> list | None:
    """The chat's messages with the user's question added as text; None for an empty question.

    An empty or blank message adds nothing (no empty bubble); any other is shown
    as typed, its HTML and Markdown escaped.
    """
    if not isinstance(message, str) or not message.strip():
        return None
    return list(history or []) + [{"role": "user", "content": user_markdown(message)}]


def user_markdown(message: str) -> str:
    """The user's own message as Markdown that shows it as typed: never HTML, never a link or image."""
    return escape_markdown(message.strip())


TAKE_BOX = """
(message, ...rest) => {
  const box = document.querySelector('#question textarea');
  if (box) { box.value = ''; box.dispatchEvent(new Event('input', {bubbles: true})); }
  return [message, ...rest];
}
"""

SEND_BOX = """
() => { document.querySelector('#question button.submit-button')?.click(); }
"""

# The chat does not follow new messages to the bottom (autoscroll=False). After a
# question, and again after its answer, it scrolls so that the last question is at
# the top, the answer's first line (the filter, the headline, quote [1]) under it;
# a question too long for that gives way to the answer's top.
SCROLL_TO_LAST = """
() => { requestAnimationFrame(() => setTimeout(() => {  // once the new rows are drawn
  const log = document.querySelector('#chat [role="log"]') || document.querySelector('#chat .bubble-wrap');
  const rows = [...document.querySelectorAll('#chat .message-row')];
  if (!log || !rows.length) return;
  const users = rows.filter(r => r.classList.contains('user-row'));
  const question = users[users.length - 1];
  const answer = rows[rows.length - 1].classList.contains('bot-row') ? rows[rows.length - 1] : null;
  const offset = el => el.getBoundingClientRect().top - log.getBoundingClientRect().top + log.scrollTop;
  let target = question ? offset(question) : 0;
  if (answer && offset(answer) - target > log.clientHeight / 3) target = offset(answer);
  log.scrollTo({top: Math.max(0, target - 40), behavior: 'instant'});  // clear of the copy/clear buttons
}, 0)); }
"""


def reopen(assistant: Any) -> Any:
    """The same assistant (encoder, reranker) over the current version of its index folder."""
    from assistant.index.folder import load_index
    from assistant.search.searcher import Searcher
    from assistant.pipeline.service import Assistant

    index = load_index(assistant.index.path)
    return Assistant(index, assistant.encoder, Searcher(index, assistant.encoder, reranker=assistant.searcher.reranker))


def _theme() -> Any:
    gr = _gradio()

    # System fonts: nothing to fetch, and the same letters in bold as in regular
    # (the bundled web font's semibold renders wrongly in some Chromium builds).
    return gr.themes.Default(
        font=["-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "Liberation Sans", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace"],
    )


def serve(
    assistant: Any,
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
                              lambda: chat.use(reopen(chat.assistant)))
    demo = build_app(chat, info=info, live=live)
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
            css=CSS,
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
