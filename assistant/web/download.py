"""The chat's "Download this answer" control: the last answer as a file, in the format chosen.

Owns the arrow ``Answer -> a download link on the page``. The formats are the exports of
:mod:`assistant.answer.export` (the same bytes ``assistant ask --export`` writes). The
file travels inside the link (a ``data:`` URL), not through Gradio's file route, which
the server refuses (:mod:`assistant.web.guard`): nothing is written on the server.
"""

from __future__ import annotations

import base64
import html
import time

from assistant.answer.export import MEDIA_TYPES, export_bytes, export_record
from assistant.answer.model import Answer

FORMATS: tuple[tuple[str, str], ...] = (  # (label, suffix)
    ("Markdown (.md)", ".md"),
    ("Word (.docx)", ".docx"),
    ("CSV, one row a quote (.csv)", ".csv"),
    ("CSL-JSON for Zotero (.csl.json)", ".csl.json"),
    ("JSON record for assistant verify (.json)", ".json"),
)
DEFAULT_FORMAT = ".md"


def answer_record(answer: Answer | None) -> dict | None:
    """What the page keeps of an answer to download it later (None: nothing to download)."""
    return export_record(answer) if answer is not None else None


def download_link(record: dict | None, suffix: str | None) -> str:
    """The link that downloads the kept answer in the chosen format ("" without an answer)."""
    if not record:
        return ""
    suffix = suffix if suffix in {s for _, s in FORMATS} else DEFAULT_FORMAT
    name = f"answer-{time.strftime('%Y%m%d-%H%M%S')}{suffix}"
    data = base64.b64encode(export_bytes(record, suffix)).decode("ascii")
    media = MEDIA_TYPES[suffix].split(";")[0]
    return (f'<a id="download-answer" class="download-answer" download="{html.escape(name)}" '
            f'href="data:{media};base64,{data}">Download this answer ({html.escape(suffix)})</a>')
