"""Reading an ``ask --batch`` file: bytes in, one numbered question (or problem) per line.

Owns the batch file format: JSON lines ``{"id": ..., "query": "..."}``, UTF-8
(a byte order mark is allowed), blank lines ignored. The file is read as bytes
and each line decoded on its own, so one bad line (a byte that is not UTF-8,
JSON that does not parse or nests too deeply, a lone surrogate, a missing
"query") is named by its line number and skipped, and every other line is still
answered.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import QueryError
from assistant.request import check_text

EXAMPLE = '{"id": "q1", "query": "..."}'


@dataclass(frozen=True)
class BatchLine:
    """One non-blank line: its question and id, or why it cannot be asked."""

    number: int  # 1-based, counting every line of the file
    query: str = ""
    qid: str | int | None = None
    problem: str | None = None  # set when the line is skipped


def read_batch(path: str) -> list[BatchLine]:
    """The non-blank lines of a batch file (``"-"``: standard input), in order.

    Raises:
        QueryError: the file cannot be read, or holds no line at all.
    """
    try:
        if path == "-":
            data = _stdin_bytes()
        else:
            data = Path(path).read_bytes()
    except FileNotFoundError:
        raise QueryError(f"batch file not found: {path}") from None
    except OSError as e:
        raise QueryError(f"cannot read batch file {path}: {e.strerror or e}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = [parse_line(number, raw) for number, raw in enumerate(data.splitlines(), start=1) if raw.strip()]
    if not lines:
        raise QueryError(f"batch file {path} holds no questions; write one per line, like {EXAMPLE}")
    return lines


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


def _stdin_bytes() -> bytes:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is not None:
        return stream.read()
    text = sys.stdin.read()  # a text stream without bytes underneath (an embedding program's)
    try:
        return text.encode("utf-8", "surrogateescape")  # undecodable bytes back as they were
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")  # other lone surrogates: found bad per line
