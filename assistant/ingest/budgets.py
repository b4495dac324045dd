"""How much memory reading one file may take, and the checks that keep it within that.

Owns :class:`Budget` (limits derived from the per-file size limit, ``--max-file-mb``)
and the checks made *before* bytes are inflated or parsed: the members of a ZIP
package (a .docx) by their declared sizes and then by reading each through a
bounded stream (a header that lies about a size is caught), the size of a web
page before it is parsed, and the settings that bound what pypdf decodes. A file
over a limit raises :class:`SkipFile` with the reason, so the build names it and
goes on.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.errors import SkipFile

if TYPE_CHECKING:
    import zipfile

MB = 1024 * 1024
DEFAULT_FILE_BYTES = 50 * MB
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Budget:
    """Limits on what reading one file may inflate or parse, in bytes (or counts)."""

    file_bytes: int = DEFAULT_FILE_BYTES  # the file on disk (``--max-file-mb``)
    inflated_bytes: int = 2 * DEFAULT_FILE_BYTES  # all members of a ZIP package, uncompressed
    xml_bytes: int = DEFAULT_FILE_BYTES // 5  # its XML members, uncompressed (parsed into a tree)
    zip_members: int = 10_000
    html_bytes: int = DEFAULT_FILE_BYTES // 10  # a web page's text, before it is parsed
    pdf_stream_bytes: int = DEFAULT_FILE_BYTES // 5  # one decoded PDF stream
    pdf_content_bytes: int = 2 * DEFAULT_FILE_BYTES  # all pages' content streams, decoded
    pdf_pages: int = 10_000
    text_chars: int = DEFAULT_FILE_BYTES  # text extracted from one PDF or Word file

    @classmethod
    def for_file_limit(cls, file_bytes: int) -> Budget:
        """The limits that go with a per-file size limit (each scales with it)."""
        file_bytes = max(int(file_bytes), MB)
        return cls(
            file_bytes=file_bytes, inflated_bytes=2 * file_bytes, xml_bytes=file_bytes // 5,
            html_bytes=file_bytes // 10, pdf_stream_bytes=file_bytes // 5, pdf_content_bytes=2 * file_bytes,
            pdf_pages=max(1_000, file_bytes // 5_000), text_chars=file_bytes,
        )


def _mb(n: int) -> str:
    return f"{n / MB:.0f} MB" if n >= 10 * MB else f"{n / MB:.1f} MB"


RAISE_IT = "raise the limit with --max-file-mb if the file is genuine"


def check_zip(raw: bytes, *, budget: Budget) -> None:
    """Refuse a ZIP package (a .docx) that would inflate past the budget.

    The central directory's sizes are checked first (nothing is inflated); then
    every member is read through a bounded stream, so a member whose header
    understates its size stops being read at the budget.

    Raises:
        SkipFile: over a limit, or a damaged package.
    """
    import io
    import zipfile  # here, not at the top: the CLI imports this module for its --help

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            members = zf.infolist()
            if len(members) > budget.zip_members:
                raise SkipFile(f"a package of {len(members):,} parts (the limit is {budget.zip_members:,})")
            total = sum(m.file_size for m in members)
            xml = sum(m.file_size for m in members if _is_xml(m.filename))
            _check_sizes(total, xml, budget=budget, declared=True)
            total = xml = 0
            for m in members:
                read = _bounded_size(zf, m, limit=budget.inflated_bytes - total + 1)
                total += read
                xml += read if _is_xml(m.filename) else 0
                _check_sizes(total, xml, budget=budget, declared=False)
                if read != m.file_size:
                    raise SkipFile(f"damaged package: part {m.filename[:60]!r} inflates to more than its "
                                   f"header says ({m.file_size:,} bytes)")
    except SkipFile:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, ValueError) as e:
        raise SkipFile(f"damaged package ({type(e).__name__}: {str(e)[:120]})") from None
    except Exception as e:  # zlib.error and other decompressor errors: damaged
        raise SkipFile(f"damaged package ({type(e).__name__}: {str(e)[:120]})") from None


def _is_xml(name: str) -> bool:
    return name.lower().endswith((".xml", ".rels"))


def _check_sizes(total: int, xml: int, *, budget: Budget, declared: bool) -> None:
    how = "says it inflates" if declared else "inflates"
    if total > budget.inflated_bytes:
        raise SkipFile(f"compressed too far: it {how} to over {_mb(budget.inflated_bytes)} "
                       f"(the limit for a file; {RAISE_IT})")
    if xml > budget.xml_bytes:
        raise SkipFile(f"compressed too far: its text parts {how} to over {_mb(budget.xml_bytes)} "
                       f"(the limit for a file; {RAISE_IT})")


def _bounded_size(zf: zipfile.ZipFile, member: zipfile.ZipInfo, *, limit: int) -> int:
    """The bytes ``member`` really inflates to, reading at most ``limit`` of them."""
    n = 0
    with zf.open(member) as f:
        # By chunks: zipfile's read() of a whole member asks zlib for up to 2 GB in one call
        # and only then cuts it to the declared size (a lying header cost 2.7 GB). zipfile
        # still stops at the declared size and raises on a bad CRC, as a lie shows.
        while n < limit:
            chunk = f.read(min(_CHUNK, limit - n))
            if not chunk:
                break
            n += len(chunk)
    return n


def check_html(text: str, *, budget: Budget) -> None:
    """Refuse a web page too large to parse within the budget.

    Raises:
        SkipFile: the page is larger than ``budget.html_bytes``.
    """
    if len(text) > budget.html_bytes:
        raise SkipFile(f"web page too large to parse ({_mb(len(text))} of HTML; the limit is "
                       f"{_mb(budget.html_bytes)}; {RAISE_IT})")


def check_text(chars: int, *, budget: Budget, what: str) -> None:
    """Refuse text extracted past the budget (a PDF's or Word file's text).

    Raises:
        SkipFile: more than ``budget.text_chars`` characters.
    """
    if chars > budget.text_chars:
        raise SkipFile(f"{what} holds over {budget.text_chars:,} characters of text (the limit for a file; "
                       f"{RAISE_IT})")


@contextmanager
def pdf_limits(budget: Budget):
    """pypdf's own limits on decoding, set from the budget for the block's duration."""
    import pypdf

    n = budget.pdf_stream_bytes
    with pypdf.apply_configuration(
        maximum_declared_stream_length=n, array_based_stream_maximum_output_length=n,
        jbig2_maximum_output_length=n, lzw_maximum_output_length=n, run_length_maximum_output_length=n,
        zlib_maximum_output_length=n, brotli_maximum_output_length=n, image_maximum_buffer_size=n,
        stream_decoding_work_maximum_length=4 * n, page_tree_maximum_entries=budget.pdf_pages,
    ):
        yield
