"""Reading an ``ask --batch`` file: bytes in, one numbered question (or problem) per line.

Owns the batch file format: JSON lines ``{"id": ..., "query": "..."}``, UTF-8
(a byte order mark is allowed), blank lines ignored. The file is read as bytes
and each line decoded on its own, so one bad line (a byte that is not UTF-8,
JSON that does not parse or nests too deeply, a lone surrogate, a missing
"query", a line longer than MAX_LINE_BYTES) is named by its line number and
skipped, and every other line is still answered.

The file is read a line at a time and never more than MAX_LINE_BYTES of a line
is held, so memory stays bounded whatever the input (``/dev/zero``, an endless
pipe); a line that runs on past MAX_RUN_BYTES without ending stops the batch.
"""

from __future__ import annotations

import io
import itertools
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from assistant.errors import QueryError
from assistant.search.request import MAX_QUERY_CHARS, check_text

EXAMPLE = '{"id": "q1", "query": "..."}'
MAX_LINE_BYTES = 2**20  # a line longer than this is skipped (and never held whole)
MAX_RUN_BYTES = 64 * 2**20  # a line longer than this is not a batch file's: the batch stops


@dataclass(frozen=True)
class BatchLine:
    """One non-blank line: its question and id, or why it cannot be asked."""

    number: int  # 1-based, counting every line of the file
    query: str = ""
    qid: str | int | None = None
    problem: str | None = None  # set when the line is skipped


def read_batch(path: str) -> Iterator[BatchLine]:
    """The non-blank lines of a batch file (``"-"``: standard input), in order, read
    as they are asked for. The file is opened, and its first line read, at once.

    Raises:
        QueryError: the file cannot be read, holds no line at all, or (while the lines
            are read) a line runs past MAX_RUN_BYTES without a line end.
    """
    try:
        stream, owned = _stdin_stream() if path == "-" else (open(path, "rb"), True)  # noqa: SIM115 - _lines closes it
    except FileNotFoundError:
        raise QueryError(f"batch file not found: {path}") from None
    except OSError as e:
        raise QueryError(f"cannot read batch file {path}: {e.strerror or e}") from None
    lines = _lines(stream, path, close=owned)
    try:
        first = next(lines)
    except StopIteration:
        raise QueryError(f"batch file {path} holds no questions; write one per line, like {EXAMPLE}") from None
    return itertools.chain([first], lines)


def _lines(stream: BinaryIO, path: str, *, close: bool) -> Iterator[BatchLine]:
    number = 0
    try:
        start = True
        while True:
            chunk = _read(stream, path, MAX_LINE_BYTES + 1)
            if not chunk:
                return
            if start and chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:]
            start = False
            if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
                number += 1
                _skip_rest(stream, path, number, read=len(chunk))
                yield BatchLine(number, problem=f"longer than {MAX_LINE_BYTES:,} bytes; a line holds one question "
                                                f"of at most {MAX_QUERY_CHARS:,} characters")
                continue
            for raw in chunk.splitlines():  # a lone "\r" ends a line too
                number += 1
                if raw.strip():
                    yield parse_line(number, raw)
    finally:
        if close:
            stream.close()


def _read(stream: BinaryIO, path: str, limit: int) -> bytes:
    try:
        return stream.readline(limit)
    except OSError as e:
        raise QueryError(f"cannot read batch file {path}: {e.strerror or e}") from None


def _skip_rest(stream: BinaryIO, path: str, number: int, *, read: int) -> None:
    """Read past the rest of an over-long line, a bounded piece at a time."""
    while True:
        piece = _read(stream, path, MAX_LINE_BYTES)
        read += len(piece)
        if not piece or piece.endswith(b"\n"):
            return
        if read > MAX_RUN_BYTES:
            raise QueryError(
                f"{path}: line {number} runs on for more than {MAX_RUN_BYTES // 2**20} MB without a line end; "
                f"a batch file holds one question a line, like {EXAMPLE}"
            )


def parse_line(number: int, raw: bytes) -> BatchLine:
    """One line of a batch file; never raises (a bad line comes back with its ``problem``)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return BatchLine(number, problem=f"not UTF-8 (byte 0x{raw[e.start]:02X} at byte {e.start + 1} of the line); "
                                         "save the file as UTF-8")
    try:
        item = json.loads(text)
    except json.JSONDecodeError as e:
        return BatchLine(number, problem=f"not valid JSON ({e.msg.removesuffix(' at')} at column {e.colno})")
    except RecursionError:
        return BatchLine(number, problem="JSON nested too deeply to read")
    except ValueError as e:  # e.g. an integer of more than 4,300 digits
        return BatchLine(number, problem=f"not valid JSON ({str(e).split(';')[0]})")
    if not isinstance(item, dict) or not isinstance(item.get("query"), str):
        return BatchLine(number, problem=f'expected an object with a "query" string, like {EXAMPLE}')
    qid = item.get("id")
    if isinstance(qid, bool) or not isinstance(qid, (str, int, type(None))):
        return BatchLine(number, problem='"id" must be a string or a whole number')
    try:
        if isinstance(qid, str):
            check_text(qid, what='"id"')
        check_text(item["query"], what='"query"')
    except QueryError as e:
        return BatchLine(number, problem=str(e))
    return BatchLine(number, query=item["query"], qid=qid)


def _stdin_stream() -> tuple[BinaryIO, bool]:
    """Standard input as bytes, and whether the stream is ours to close."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is not None:
        return stream, False
    text = sys.stdin.read()  # a text stream without bytes underneath (an embedding program's): in memory already
    try:
        data = text.encode("utf-8", "surrogateescape")  # undecodable bytes back as they were
    except UnicodeEncodeError:
        data = text.encode("utf-8", "surrogatepass")  # other lone surrogates: found bad per line
    return io.BytesIO(data), True
