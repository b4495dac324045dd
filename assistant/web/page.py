"""The web chat's page: its components, the settings panel and the panel that adds and
removes documents; and importing Gradio.

Owns what the page shows and where (:func:`layout` returns the components as a
:class:`Page`); :mod:`assistant.web.app` connects their events and serves it. What
the chat *says* is built in :mod:`assistant.web.chat`. gradio is imported inside
the functions.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.search.searcher import MODES
from assistant.web.chat import EMPTY_SOURCE, MAX_QUOTES, Chat, escape_markdown
from assistant.web.collection import CollectionInfo, describe_collection, describe_documents
from assistant.web.download import DEFAULT_FORMAT, FORMATS as DOWNLOAD_FORMATS
from assistant.web.uploads import LiveCollection

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


MODE_HELP = {
    "hybrid": "meaning, word by word and keywords",
    "tokens": "meaning, word by word",
    "rrf": "meaning and keywords, fused by rank",
    "dense": "meaning only",
    "keyword": "the exact words (BM25)",
}


@dataclass(frozen=True)
class Settings:
    """The settings components (made unrendered; placed in the Settings panel)."""

    k: Any
    mode: Any
    doc_ids: Any
    orgs: Any
    date_from: Any
    date_to: Any

    @property
    def all(self) -> list:
        """In the order the chat's handlers take them."""
        return [self.k, self.mode, self.doc_ids, self.orgs, self.date_from, self.date_to]

    @property
    def filters(self) -> list:
        return [self.doc_ids, self.orgs, self.date_from, self.date_to]


@dataclass(frozen=True)
class Page:
    """The components the events connect."""

    about: Any  # the header
    sources: Any  # state: the last answer's sources, as [label, passage id, highlights, marker]
    settings: Settings
    settings_panel: Any
    chatbot: Any
    box: Any  # the question box
    examples: Any
    pick: Any  # the dropdown of the last answer's sources
    view: Any  # the opened source
    remove_pick: Any  # the documents to remove (None unless the collection can be changed)
    download: Download  # "Download this answer", under the sources


@dataclass(frozen=True)
class Download:
    """The "Download this answer" control (:mod:`assistant.web.download`)."""

    kept: Any  # state: the last answer's export record (None: nothing to download)
    fmt: Any  # the format to download it in (a suffix)
    link: Any  # the link that downloads it ("" without an answer)


def download_controls() -> Download:
    """The kept answer, the format menu and the link, in a row."""
    gr = _gradio()

    kept = gr.State(None)
    with gr.Row(elem_id="download-row"):
        fmt = gr.Dropdown(list(DOWNLOAD_FORMATS), value=DEFAULT_FORMAT, label="Format", elem_id="download-format",
                          scale=2)
        link = gr.HTML("", elem_id="download-link", scale=1)
    return Download(kept, fmt, link)


def settings_components(chat: Chat) -> Settings:
    """The number of quotes, the search mode and the filters, made unrendered."""
    gr = _gradio()

    return Settings(
        k=gr.Slider(1, MAX_QUOTES, value=5, step=1, label="Number of quotes", render=False),
        mode=gr.Radio(list(MODES), value="hybrid", label="Search mode", render=False,
                      info=" · ".join(f"{m}: {MODE_HELP[m]}" if m in MODE_HELP else m for m in MODES)),
        doc_ids=gr.Dropdown(chat.document_choices, value=[], multiselect=True, label="Only these documents",
                            render=False),
        orgs=gr.Dropdown(chat.organizations, value=[], multiselect=True, label="Only these organisations",
                         render=False),
        date_from=gr.Textbox("", label="Dated from", placeholder="YYYY or YYYY-MM-DD, e.g. 2014", render=False),
        date_to=gr.Textbox("", label="Dated to", placeholder="YYYY or YYYY-MM-DD, e.g. 2018-06", render=False),
    )


def layout(chat: Chat, *, info: CollectionInfo, live: LiveCollection | None) -> Page:
    """The page (inside a Blocks context): the header; the chat, its box, examples and
    settings on the left; the sources view on the right."""
    gr = _gradio()

    about = gr.Markdown(header_markdown(info), elem_id="about")
    sources = gr.State([])
    settings = settings_components(chat)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=360):
            chatbot = gr.Chatbot(
                elem_id="chat",
                label="Answers",
                show_label=False,  # a floating label would cover the first line of the chat
                height=620,
                autoscroll=False,  # scrolled by scroll-to-last.js to the new answer's top instead
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
                for component in settings.all:
                    component.render()
            remove_pick = None
            if live is not None:
                remove_pick = manage_documents(chat, live, info=info, about=about, doc_filter=settings.doc_ids,
                                               org_filter=settings.orgs)
        with gr.Column(scale=2, min_width=300):
            gr.Markdown("### Sources")
            pick = gr.Dropdown([], value=None, label="Open a cited passage", interactive=True,
                               elem_id="source-pick")
            view = gr.HTML(EMPTY_SOURCE, elem_id="source-view")
            download = download_controls()
    return Page(about, sources, settings, settings_panel, chatbot, box, examples, pick, view, remove_pick, download)


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
