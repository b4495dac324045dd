"""Plain text (.txt, .md, .text): the decoded file as it is, once it is known to be
text that can be cut into passages."""

from __future__ import annotations

import re

from assistant.errors import SkipFile
from assistant.ingest.budgets import Budget
from assistant.ingest.formats.common import Extracted, Format

# A stretch this long with no line break and no sentence end cannot be cut into passages
# (no word is this long): a file holding one is refused rather than indexed as nothing.
MAX_RUN = 100_000


def read_text(text: str, *, budget: Budget = Budget()) -> Extracted:
    """The text itself (no metadata: the title comes from its first heading later)."""
    check_runs(text)
    return Extracted(text)


def check_runs(text: str) -> None:
    """Refuse text with a stretch of MAX_RUN characters without a line break or sentence end.

    Raises:
        SkipFile: such a stretch was found.
    """
    start = 0
    for m in re.finditer(r"[\n.!?。！？।؟]", text):
        if m.start() - start > MAX_RUN:
            break
        start = m.end()
    else:
        if len(text) - start <= MAX_RUN:
            return
    raise SkipFile(f"a run of over {MAX_RUN:,} characters with no line break or sentence end (at character "
                   f"{start:,}): not text that can be cut into passages")


FORMAT = Format(name="text", suffixes=(".txt", ".md", ".text"), read=read_text)
