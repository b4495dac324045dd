"""The file formats the corpus reads: one module each, listed once in :data:`FORMATS`.

Owns the step ``bytes on disk -> Extracted``: :func:`read_file` tells what a file is
from its first bytes (not only its name) and hands it to its format's reader. What
the rest of the package knows about formats comes from the registry: the suffixes a
build reads (:data:`SUFFIXES`), what an upload may be, what ``--help`` names. A new
format is a new module that declares a :class:`Format` plus one line in ``FORMATS``.

A file that cannot be read raises :class:`SkipFile` with a one-line reason that says
what to do. Each reader works within a :class:`~assistant.ingest.budgets.Budget`. The
extracted text is what the index quotes from: every passage is a slice of it.
"""

from __future__ import annotations

from pathlib import Path

from assistant.errors import SkipFile
from assistant.ingest.budgets import Budget
from assistant.ingest.formats import docx, html, pdf, text
from assistant.ingest.formats.common import Extracted, Format, decode_text

__all__ = ["FORMATS", "SUFFIXES", "TEXT_SUFFIXES", "Extracted", "Format", "format_for", "read_file", "sniff"]

# Text formats are tried in this order after decoding (one with a test on its text
# first; plain text, which has none, reads what is left), binary ones by their magic.
FORMATS: tuple[Format, ...] = (
    text.FORMAT,
    html.FORMAT,
    pdf.FORMAT,
    docx.FORMAT,
)

# Files the corpus does not read, told by their first bytes, and why each is refused.
NOT_DOCUMENTS: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive, not a document: unpack it into the corpus folder"),
    (b"\x89PNG", "binary file, not a document: it is a PNG image"),
    (b"\xff\xd8\xff", "binary file, not a document: it is a JPEG image"),
    (b"GIF8", "binary file, not a document: it is a GIF image"),
    (b"\xd0\xcf\x11\xe0", "binary file, not a document: it is an old Word/Office file (.doc); save it as .docx or PDF"),
    (b"\x1f\x8b", "binary file, not a document: it is a gzip archive"),
    (b"{\\rtf", "binary file, not a document: it is an RTF file; save it as .docx or PDF"),
)


def suffixes_of(formats: tuple[Format, ...]) -> tuple[str, ...]:
    """Every suffix the formats read, in registry order."""
    return tuple(s for f in formats for s in f.suffixes)


SUFFIXES = suffixes_of(FORMATS)  # what a build reads (and an upload may be)
TEXT_SUFFIXES = text.FORMAT.suffixes


def format_for(path: str | Path, *, formats: tuple[Format, ...] = FORMATS) -> Format | None:
    """The format a file's name says it is (its suffix, any case); None when no format reads it."""
    suffix = Path(path).suffix.lower()
    return next((f for f in formats if suffix in f.suffixes), None)


def sniff(raw: bytes, suffix: str = "", *, formats: tuple[Format, ...] = FORMATS) -> Format | str | None:
    """What a file's first bytes show: a binary format, the reason a file that is no
    document is refused, or None (text, or no magic known).

    ``suffix`` (lower case) lets a container format claim a file named for it."""
    for f in formats:
        if f.magic and raw.startswith(f.magic) and (f.claims is None or f.claims(suffix, raw)):
            return f
    for magic, reason in NOT_DOCUMENTS:
        if raw.startswith(magic):
            return reason
    for f in formats:
        if f.magic_within and any(m in raw[: f.magic_within] for m in f.magic) and (
            f.claims is None or f.claims(suffix, raw)
        ):
            return f
    return None


def read_file(path: Path, raw: bytes, *, budget: Budget = Budget(), formats: tuple[Format, ...] = FORMATS) -> Extracted:
    """Read ``raw`` (the bytes of ``path``) by what it is: its first bytes, then its name.

    Raises:
        SkipFile: the file is of no supported format, damaged, encrypted, empty, over
            the memory budget, ...
    """
    suffix = path.suffix.lower()
    found = sniff(raw, suffix, formats=formats)
    if isinstance(found, Format):
        return found.read(raw, budget=budget)
    if found:
        raise SkipFile(found)
    named = format_for(path, formats=formats)
    if named is not None and named.binary:
        raise SkipFile(named.damaged)
    decoded = decode_text(raw)
    texts = [f for f in formats if not f.binary]
    for f in texts:
        if f.looks_like is not None and (suffix in f.suffixes or f.looks_like(decoded)):
            return f.read(decoded, budget=budget)
    plain = [f for f in texts if f.looks_like is None]  # formats that read any text
    if not plain:
        raise SkipFile(f"not a supported format ({suffix or 'no suffix'})")
    return (named if named in plain else plain[0]).read(decoded, budget=budget)
