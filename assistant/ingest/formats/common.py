"""What every format shares: :class:`Format` (what a format module declares),
the :class:`Extracted` record its reader returns, and the decoding of bytes into text
(UTF-8, then UTF-16 and other encodings by detection) that plain text and web pages
both go through before they are told apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from assistant.errors import SkipFile
from assistant.ingest.tables import TableSpan

MOSTLY_UTF8 = 3  # valid non-ASCII UTF-8 characters for each bad byte sequence, at least
SHORT_TEXT = 4096  # bytes: below this, encoding detection cannot tell Western single-byte encodings apart


@dataclass(frozen=True)
class Extracted:
    """A file's text as the index will quote it, and the metadata the file carries."""

    text: str
    title: str = ""
    organization: str = ""
    date: str = ""
    pages: tuple[int, ...] = ()  # offset in ``text`` where each page starts (page n at index n-1)
    ocr_pages: tuple[int, ...] = ()  # page numbers whose text came from OCR
    tables: tuple[TableSpan, ...] = ()  # the tables in ``text``, kept whole by the splitter


@dataclass(frozen=True)
class Format:
    """One file format the corpus reads: its suffixes, how a file is recognised, its reader.

    A binary format is recognised by its first bytes (``magic``) and its reader gets the
    file's bytes. A text format has no magic: the file is decoded first
    (:func:`decode_text`), recognised by its suffix or by ``looks_like``, and its reader
    gets the text. A text format with neither test reads any text (plain text).
    Each reader is called as ``read(data, budget=...)`` and raises :class:`SkipFile`
    with a reason that says what to do.
    """

    name: str
    suffixes: tuple[str, ...]  # lower case, with the dot
    read: Callable[..., Extracted]  # read(bytes or text, *, budget: Budget) -> Extracted
    magic: tuple[bytes, ...] = ()  # the first bytes of a file in this format; () for a text format
    magic_within: int = 0  # also recognised when the magic starts this far into the file (after junk)
    # (suffix, raw) -> whether a file with the magic is this format (a ZIP may be a .docx or not)
    claims: Callable[[str, bytes], bool] | None = None
    damaged: str = ""  # the reason when a file named like this format lacks its magic
    looks_like: Callable[[str], bool] | None = None  # a text format recognised by its text, whatever its name

    @property
    def binary(self) -> bool:
        return bool(self.magic)


def decode_text(raw: bytes) -> str:
    """UTF-8; else UTF-16 (by its byte-order mark or its zero bytes); else the encoding
    charset-normalizer is confident of.

    Raises:
        SkipFile: binary, or an encoding that cannot be told with confidence.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise SkipFile("damaged UTF-16 text (it has a byte-order mark but does not decode)") from None
    head = raw[:8192]
    if b"\0" in head:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if max(even, odd) > len(head) // 4 and min(even, odd) < len(head) // 50:  # text in UTF-16 without a mark
            try:
                return raw.decode("utf-16-le" if odd > even else "utf-16-be")
            except UnicodeDecodeError:
                pass
        raise SkipFile("binary file, not text (it contains NUL bytes)")
    try:
        return raw.decode("utf-8")  # a byte-order mark stays: offsets are into the decoded text
    except UnicodeDecodeError as e:
        bad = e.start
    mostly = _mostly_utf8(raw)
    if mostly is not None:
        return mostly
    from charset_normalizer import from_bytes

    results = from_bytes(raw)
    best = results.best()
    if best is not None and best.chaos <= 0.1 and best.encoding not in ("utf_8", "ascii"):
        text = str(best)
        if _looks_like_text(text):
            tied = any(m.encoding in _WESTERN and m.chaos <= best.chaos for m in results)
            if best.encoding not in _WESTERN and (tied or len(raw) <= SHORT_TEXT) and _latin(text):
                western = _western(raw)
                if western is not None:
                    return western
            return text
    raise SkipFile(
        f"not UTF-8 (bad byte at offset {bad}) and its encoding cannot be told with confidence; "
        f"convert it to UTF-8, e.g. iconv -f WINDOWS-1252 -t UTF-8 FILE > FILE.utf8.txt"
    )


def _mostly_utf8(raw: bytes) -> str | None:
    """The text as UTF-8 with its few bad bytes shown as U+FFFD, when it is mostly UTF-8:
    at least MOSTLY_UTF8 valid non-ASCII characters for each bad sequence. None otherwise."""
    text = raw.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - raw.count("\ufffd".encode())
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore")) - bad
    return text if bad > 0 and non_ascii >= MOSTLY_UTF8 * bad else None


_WESTERN = ("cp1252", "latin_1", "iso8859_15")
# What Windows-1252 text in a Western European language holds beyond ASCII.
_WESTERN_CHARS = set("ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿŒœŠšŽžŸßÐðÞþ"
                     "«»‘’‚“”„–—…€°·©®™§•£½¼¾¢¥µªº\u00a0")


def _western(raw: bytes) -> str | None:
    """``raw`` as Windows-1252 when that reads as a Western European language: only letters
    and punctuation those use (``¿``/``¡`` only where a word starts)."""
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        return None
    for i, ch in enumerate(text):
        if ch.isascii() or ch in _WESTERN_CHARS:
            continue
        if ch in "¿¡" and (i == 0 or not text[i - 1].isalnum()):
            continue
        return None
    return text


def _latin(text: str) -> bool:
    import unicodedata

    return all(unicodedata.name(ch, "").startswith("LATIN") for ch in set(text) if ch.isalpha() and not ch.isascii())


def _looks_like_text(text: str) -> bool:
    if not text:
        return False
    ok = sum(ch.isprintable() or ch in "\n\r\t" for ch in text)
    letters = sum(ch.isalpha() for ch in text)
    return ok / len(text) > 0.98 and letters / len(text) > 0.4
