"""Limits on what the web server accepts: request size, and the routes this app does not use.

Owns one ASGI middleware put in front of Gradio's app. Gradio serves routes for
features this chat never uses (file uploads, screen recordings, code editing,
proxies, monitoring); anyone could POST a file of any size to them. The guard
answers those with 404, and every request whose body is larger than the app
needs with 413, whether the size is declared (Content-Length) or streamed.
Uploads are refused unless the server was started with uploads allowed, and
then bounded by the upload size limit; the file names in an upload's form are
read as a multipart parser reads them (python-multipart, which Gradio uses, and
the standard library's RFC 2231 decoding) and judged before Gradio stores a
byte of that file. Gradio's file route is refused: nothing this app serves is
fetched through it, and a file uploaded to it must never be downloadable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from assistant.web.uploads import UploadError, safe_name

API_PREFIX = "/gradio_api"
MAX_BODY = 1_000_000  # bytes: a question is cut at 2,000 characters; the JSON around it is small
MULTIPART_SLACK = 64 * 1024  # room for the form's headers around an uploaded file
UPLOAD_ROUTES = ("/upload", "/upload_progress")
# Gradio routes this app never uses (compared after the /gradio_api prefix).
UNUSED_ROUTES = (
    "/process_recording", "/vibe-code", "/vibe-edit", "/vibe-starter-queries", "/undo-vibe-edit", "/proxy=",
    "/monitoring", "/profiling", "/run-history", "/runs", "/dev/reload", "/mcp", "/stream/",
    "/file=", "/file/",  # downloads of files Gradio holds: uploads among them
)


@dataclass(frozen=True)
class Limits:
    """What the server accepts."""

    max_body: int = MAX_BODY  # any request that is not an upload
    uploads: bool = False  # POST /gradio_api/upload allowed
    max_upload: int = 0  # bytes per uploaded file (when uploads are allowed)
    upload_suffixes: tuple[str, ...] = ()  # file types an upload may have (empty: any)

    @property
    def max_upload_body(self) -> int:
        return self.max_upload + MULTIPART_SLACK


class RequestGuard:
    """ASGI middleware enforcing :class:`Limits` in front of ``app``."""

    def __init__(self, app, *, limits: Limits = Limits()) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = re.sub(r"/{2,}", "/", scope.get("path", ""))
        route = path[len(API_PREFIX):] if path.startswith(API_PREFIX + "/") else path
        if any(route == r or route.startswith(r + "/") or route.startswith(r + "?") for r in UPLOAD_ROUTES):
            if not self.limits.uploads:
                return await _refuse(send, 403, "uploads are off on this server (start it with --allow-uploads)")
            cap = self.limits.max_upload_body
            content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
            check = _FileNames(self.limits.upload_suffixes, content_type=content_type)
        elif any(route.startswith(r) for r in UNUSED_ROUTES):
            return await _refuse(send, 404, "not found")
        else:
            cap, check = self.limits.max_body, None
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > cap
            except ValueError:
                return await _refuse(send, 400, "bad Content-Length")
            if too_big:
                return await _refuse(send, 413, f"request too large (limit {cap:,} bytes)")
        return await self._bounded(scope, receive, send, cap, check)

    async def _bounded(self, scope, receive, send, cap: int, check: _FileNames | None):
        seen = 0
        exceeded = False
        refused = ""  # why the body's content is refused
        started = False

        async def counted_receive():
            nonlocal seen, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                seen += len(body)
                if seen > cap:
                    exceeded = True  # the app sees the client go away and stops reading
                    return {"type": "http.disconnect"}
                if check is not None and (problem := check.feed(body)):
                    nonlocal refused
                    exceeded, refused = True, problem
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message):
            nonlocal started
            if exceeded and not started:
                return  # the 413 below answers instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            if refused:
                await _refuse(send, 415, refused)
            else:
                await _refuse(send, 413, f"request too large (limit {cap:,} bytes)")


class _FileNames:
    """Parses a multipart body as it streams in and judges each file part's name.

    The part headers are read by python-multipart's parser (the one Gradio stores
    uploads with), so whitespace, quoting, header and parameter case are read as
    Gradio reads them; the name is also decoded as RFC 2231/5987 says
    (``filename*=UTF-8''...``), and every name found must pass: an allowed type
    (when types are limited), and a plain, visible file name (no folder part, not
    hidden), as :func:`assistant.web.uploads.safe_name` demands. A part that names its
    file twice (``filename`` and ``filename*``, or repeated) is refused.
    """

    def __init__(self, suffixes: tuple[str, ...], *, content_type: bytes) -> None:
        from python_multipart.multipart import MultipartParser, parse_options_header

        self.suffixes = tuple(s.lower() for s in suffixes)
        self.problem = ""
        self._field = b""
        self._value = b""
        self._dispositions: list[bytes] = []
        kind, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        self.parser = None
        if kind != b"multipart/form-data" or not boundary:
            self.problem = "an upload must be a multipart form (multipart/form-data with a boundary)"
            return
        self.parser = MultipartParser(boundary, {
            "on_part_begin": self._begin, "on_header_field": self._on_field, "on_header_value": self._on_value,
            "on_header_end": self._header_end, "on_headers_finished": self._judge,
        })

    def feed(self, chunk: bytes) -> str:
        """The reason to refuse the upload, once the body so far shows one ("" while none)."""
        from python_multipart.exceptions import MultipartParseError

        if self.problem or self.parser is None:
            return self.problem
        try:
            self.parser.write(chunk)
        except MultipartParseError as e:
            self.problem = self.problem or f"not a valid multipart form ({str(e)[:80]})"
        return self.problem

    def _begin(self) -> None:
        self._dispositions = []

    def _on_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._field.strip().lower() == b"content-disposition":
            self._dispositions.append(self._value)
        self._field = self._value = b""

    def _judge(self) -> None:
        for value in self._dispositions:
            problem = self._judge_disposition(value.decode("latin-1"))
            if problem:
                self.problem = self.problem or problem
                return

    def _judge_disposition(self, value: str) -> str:
        names = file_names(value)
        if names is None:
            return "a file part names its file more than once (filename and filename*, or repeated)"
        for name in names:
            if self.suffixes and _suffix(name) not in self.suffixes:
                return f"{name[-80:]!r} is not a type this server accepts ({', '.join(self.suffixes)})"
            try:
                safe_name(name, suffixes=(_suffix(name),))
            except UploadError as e:
                return f"{name[-80:]!r} is not a file name this server accepts ({str(e)})"
        return ""


def file_names(disposition: str) -> list[str] | None:
    """Every file name a Content-Disposition value gives, as each parser reads it.

    Returns [] for a part that is not a file, None when the name is given more than once.
    """
    from email.message import EmailMessage

    from python_multipart.multipart import parse_options_header

    try:  # its splitter (';' inside quotes kept), vendored from the standard library's email.message
        from python_multipart.multipart import _parseparam
    except ImportError:
        from email.message import _parseparam  # type: ignore[attr-defined,no-redef]

    keys = [seg.partition("=")[0].strip().lower() for seg in _parseparam(disposition)[1:]]
    given = [k for k in keys if k == "filename" or k.startswith("filename*")]
    if sum(k == "filename" or k in ("filename*", "filename*0", "filename*0*") for k in given) > 1:
        return None
    names: list[str] = []
    _, options = parse_options_header(disposition)
    if b"filename" in options:  # what Gradio stores the file under (before it takes the base name)
        raw = options[b"filename"]
        try:
            names.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            names.append(raw.decode("latin-1"))
    message = EmailMessage()
    try:
        message["Content-Disposition"] = disposition
        decoded = message.get_filename()
    except (ValueError, TypeError, IndexError):
        decoded = None
    if decoded is not None:
        names.append(str(decoded))
    elif given:
        names.append("")  # a name that cannot be decoded is refused as empty
    return names


def _suffix(name: str) -> str:
    stem, dot, suffix = name.rpartition(".")
    return "." + suffix.lower() if dot else ""


async def _refuse(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
