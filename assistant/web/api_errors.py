"""Malformed requests to the web app's API routes (``/search``, ``/chat``, the upload
routes): one clear error for the caller, one line in the server's log, no traceback.

Gradio checks and converts a request's values before our functions see them, and
an exception there (too few values, a file where text goes, a value its component
cannot read) reaches the caller as ``{"error": null}`` with a traceback in the
server's console. Owns :func:`blocks_class`: ``gr.Blocks`` whose conversion of a
request's values turns every such failure into a ``gr.Error`` that names the
route, the value and what it must be.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

log = logging.getLogger(__name__)


@cache
def blocks_class() -> type:
    """``gr.Blocks``, with the values of each request checked before Gradio converts them."""
    import gradio as gr

    class Blocks(gr.Blocks):
        async def preprocess_data(self, block_fn, inputs, state, explicit_call=False):  # noqa: ANN001 - Gradio's
            route = f"/{block_fn.api_name}" if getattr(block_fn, "api_name", None) else "this event"
            names = _names(block_fn)
            problem = request_problem(route, names, list(inputs), files=[_takes_files(b) for b in block_fn.inputs])
            if problem is None:
                try:
                    return await super().preprocess_data(block_fn, inputs, state, explicit_call)
                except Exception as e:  # noqa: BLE001 - anything Gradio raises here is the request's fault
                    first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
                    problem = f"{route} cannot read the request's values ({first})"
            log.warning("refused a malformed request: %s", problem)
            raise gr.Error(problem, print_exception=False)

    return Blocks


def request_problem(route: str, names: list[str], values: list[Any], *, files: list[bool]) -> str | None:
    """What is wrong with the values a request sent to ``route`` (whose parameters are
    ``names``; ``files[i]``: parameter i takes files), or None."""
    if len(values) < len(names):
        return (f"{route} takes {len(names)} values ({', '.join(names)}); the request sent {len(values)}"
                + ("" if not values else f" ({', '.join(names[:len(values)])})"))
    for name, value, takes_files in zip(names, values, files):
        if not takes_files and _is_file(value):
            return f"{route}: {name} must be text or a number, not a file"
    return None


def _is_file(value: Any) -> bool:
    """A file reference as Gradio's clients send one ({"path": ..., "meta": ...}), or a list of them."""
    if isinstance(value, dict):
        return "path" in value or "url" in value or "meta" in value
    if isinstance(value, list):
        return any(_is_file(v) for v in value)
    return False


def _takes_files(block: Any) -> bool:
    import gradio as gr

    return isinstance(block, (gr.File, gr.UploadButton, gr.Image, gr.Audio, gr.Video, gr.Gallery, gr.Chatbot,
                              gr.MultimodalTextbox))


def _names(block_fn: Any) -> list[str]:
    """The names of an event's values: its function's parameters (an API route's), else its components' labels."""
    import inspect

    n = len(block_fn.inputs)
    try:
        params = [p.name for p in inspect.signature(block_fn.fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "request"]
    except (TypeError, ValueError):
        params = []
    if len(params) == n:
        return params
    return [str(getattr(b, "label", None) or f"value {i + 1}") for i, b in enumerate(block_fn.inputs)]
