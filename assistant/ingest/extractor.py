"""Which program read a file's text, and which version of it: part of a quote's provenance.

Owns the one line recorded per document at build time (``Document.extractor``), e.g.
``pypdf 7.1.1``, ``pypdf 7.1.1; tesseract 5.3.0 (OCR: p. 3)``, ``trafilatura 2.3.1``,
``python-docx 1.2.0``, ``assistant 0.1.0 text reader (charset-normalizer 3.5.2)``.
It is told from the file's first bytes and name the way the readers dispatch on them
(:func:`assistant.ingest.corpus.read_document`), so that this module does not depend on
where each format's reader lives. Also the bytes' SHA-256, so that a citation names
exactly the bytes that were read.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from assistant.version import __version__

PDF, DOCX, HTML, TEXT = "pdf", "docx", "html", "text"
_HTML_SUFFIXES = (".html", ".htm")
_HTML_START = re.compile(rb"\s*(<!doctype html|<html[\s>])", re.I)


def kind_of(path: str | Path, raw: bytes) -> str:
    """PDF, DOCX, HTML or TEXT: which reader reads these bytes (the readers' own dispatch rule)."""
    if raw.startswith(b"%PDF-") or b"%PDF-" in raw[:1024]:
        return PDF
    if raw.startswith(b"PK\x03\x04"):
        return DOCX
    if Path(path).suffix.lower() in _HTML_SUFFIXES or _HTML_START.match(raw[:1000].lstrip(b"\xef\xbb\xbf")):
        return HTML
    return TEXT


def extractor_of(path: str | Path, raw: bytes, *, ocr_pages: tuple[int, ...] = ()) -> str:
    """The reader (and its version) that turns ``raw`` into the document's text.

    Args:
        path: the file's name (its suffix decides between HTML and plain text, as the readers do).
        raw: the file's bytes.
        ocr_pages: pages whose text Tesseract read (their numbers are named).
    """
    kind = kind_of(path, raw)
    if kind == PDF:
        out = f"pypdf {package_version('pypdf')}"
        if ocr_pages:
            listed = ", ".join(map(str, ocr_pages[:10])) + (", ..." if len(ocr_pages) > 10 else "")
            out += f"; tesseract {tesseract_version()} (OCR: p. {listed})"
        return out
    if kind == DOCX:
        return f"python-docx {package_version('python-docx')}"
    if kind == HTML:
        return f"trafilatura {package_version('trafilatura')}"
    return f"assistant {__version__} text reader (charset-normalizer {package_version('charset-normalizer')})"


def sha256_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@lru_cache(maxsize=None)
def package_version(name: str) -> str:
    """An installed distribution's version, or "?" when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


@lru_cache(maxsize=1)
def tesseract_version() -> str:
    try:
        import pytesseract

        return str(pytesseract.get_tesseract_version())
    except Exception:  # not installed, or it does not answer: the version is unknown, the text is not
        return "?"
