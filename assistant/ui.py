"""The Gradio web chat: layout, events, the queue, and ``assistant serve``.

Owns the arrow ``Answer -> web chat`` on the Gradio side: a ``gr.ChatInterface``
(API ``/chat``) with its settings in a collapsed accordion, a sources view
beside it, and a JSON endpoint (API ``/search``, the output of
``assistant ask --json``). What the chat *says* is built in :mod:`assistant.chat`;
this module only wires it to components. gradio is imported inside the functions.
"""

from __future__ import annotations

import logging
from typing import Any

from assistant.chat import EMPTY_SOURCE, EXAMPLES, MAX_QUOTES, NO_SOURCES, SORRY, Chat
from assistant.errors import AssistantError
from assistant.search import MODES

log = logging.getLogger(__name__)

# Two CPU cores answer two questions at once at full speed; more would only
# share the cores. The queue holds what waits, and refuses beyond QUEUE_SIZE
# so that an overload is said at once rather than waited out.
CONCURRENCY = 2
QUEUE_SIZE = 200

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
"""


class ServeError(AssistantError):
    """The web server cannot start (e.g. the port is taken)."""


def build_app(chat: Chat) -> Any:
    """The Blocks app for one :class:`Chat`; call ``.queue()`` and ``.launch()`` on it."""
    import gradio as gr

    n_docs = len(chat.documents)
    with gr.Blocks(title="Ask the collection", fill_height=True) as demo:
        gr.Markdown(
            f"## Ask the collection\n"
            f"Answers are passages quoted word for word from the {n_docs} documents, each with its citation; "
            f"nothing is generated. Open a cited passage on the right to read it in its document."
        )
        sources = gr.State([])
        settings = [
            gr.Slider(1, MAX_QUOTES, value=5, step=1, label="Number of quotes", render=False),
            gr.Radio(list(MODES), value="hybrid", label="Search mode", render=False,
                     info=" · ".join(f"{m}: {MODE_HELP[m]}" if m in MODE_HELP else m for m in MODES)),
            gr.Dropdown(chat.document_choices, value=[], multiselect=True, label="Only these documents",
                        render=False),
            gr.Dropdown(chat.organizations, value=[], multiselect=True, label="Only these organisations",
                        render=False),
            gr.Textbox("", label="Dated from", placeholder="YYYY or YYYY-MM-DD, e.g. 2014", render=False),
            gr.Textbox("", label="Dated to", placeholder="YYYY or YYYY-MM-DD, e.g. 2018-06", render=False),
        ]

        def respond(message, history, k, mode, doc_ids, organizations, date_from, date_to):
            try:
                reply = chat.reply(message, history, k, mode, doc_ids, organizations, date_from, date_to)
            except Exception:  # a bug or a broken index: the person gets a message, the log the trace
                log.exception("answering %r failed", str(message)[:200])
                return SORRY, []
            return reply.text, [[s.label, s.passage_id, [list(h) for h in s.highlights], s.marker] for s in reply.sources]

        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                gr.ChatInterface(
                    respond,
                    api_name="chat",
                    api_description="Ask a question; returns the answer as Markdown: quotes and numbered citations.",
                    chatbot=gr.Chatbot(
                        elem_id="chat",
                        label="Answers",
                        height=620,
                        latex_delimiters=[],  # a $ in a document is a dollar, not maths
                        allow_tags=False,
                        sanitize_html=True,
                        feedback_options=None,
                        buttons=["copy", "copy_all"],
                        placeholder="Ask about the documents, or start with an example below.",
                    ),
                    textbox=gr.Textbox(placeholder="Ask a question about the documents…", show_label=False,
                                       elem_id="question",
                                       submit_btn=True, autofocus=True, max_lines=6),
                    additional_inputs=settings,
                    additional_inputs_accordion=gr.Accordion("Settings: quotes, search mode, filters", open=False,
                                                             render=False),
                    additional_outputs=[sources],
                    examples=[[q] for q in EXAMPLES],
                    fill_height=False,
                )
            with gr.Column(scale=2, min_width=300):
                gr.Markdown("### Sources")
                pick = gr.Dropdown([], value=None, label="Open a cited passage", interactive=True,
                                   elem_id="source-pick")
                view = gr.HTML(EMPTY_SOURCE, elem_id="source-view")

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

        sources.change(show_sources, [sources], [pick, view], api_visibility="private", queue=False)
        pick.input(show_source, [pick, sources], [view], api_visibility="private", queue=False)

        def search(question: str, k: int = 5, mode: str = "hybrid") -> dict:
            """The answer as the JSON of `assistant ask --json`: quotes, citations, highlights, notes."""
            try:
                return chat.search(question, k, mode)
            except AssistantError as e:
                raise gr.Error(str(e)) from None
            except Exception:
                log.exception("search %r failed", str(question)[:200])
                raise gr.Error("something went wrong while searching; the problem was logged on the server") from None

        gr.api(search, api_name="search")
    return demo


def _theme() -> Any:
    import gradio as gr

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
) -> None:
    """Start the web chat on an open :class:`~assistant.service.Assistant` and block.

    The model and index are already loaded; one warm-up question runs before
    the server opens, so the first person does not wait for lazy initialisation.

    Raises:
        ServeError: the server cannot listen on ``host:port``.
    """
    assistant.ask("warm up", k=1)
    chat = Chat(assistant)
    demo = build_app(chat)
    demo.queue(default_concurrency_limit=concurrency, max_size=queue_size)
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
        )
    except OSError as e:
        raise ServeError(f"cannot start the web chat on {host}:{port} ({e}); pass another --port") from None
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    n_passages = len(chat.assistant.index.passages)
    print(f"The web chat is ready: {len(chat.documents)} documents, {n_passages} passages.", flush=True)
    print(f"Open http://{shown}:{port}/ in a browser. Ctrl+C stops it.", flush=True)
    demo.block_thread()
