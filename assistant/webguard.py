"""Limits on what the web server accepts: request size, and the routes this app does not use.

Owns one ASGI middleware put in front of Gradio's app. Gradio serves routes for
features this chat never uses (file uploads, screen recordings, code editing,
proxies, monitoring); anyone could POST a file of any size to them. The guard
answers those with 404, and every request whose body is larger than the app
needs with 413, whether the size is declared (Content-Length) or streamed.
Uploads are refused unless the server was started with uploads allowed, and
then bounded by the upload size limit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

API_PREFIX = "/gradio_api"
MAX_BODY = 1_000_000  # bytes: a question is cut at 2,000 characters; the JSON around it is small
MULTIPART_SLACK = 64 * 1024  # room for the form's headers around an uploaded file
UPLOAD_ROUTES = ("/upload", "/upload_progress")
# Gradio routes this app never uses (compared after the /gradio_api prefix).
UNUSED_ROUTES = (
    "/process_recording", "/vibe-code", "/vibe-edit", "/vibe-starter-queries", "/undo-vibe-edit", "/proxy=",
    "/monitoring", "/profiling", "/run-history", "/runs", "/dev/reload", "/mcp", "/stream/",
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
        path = scope.get("path", "")
        route = path[len(API_PREFIX):] if path.startswith(API_PREFIX + "/") else path
        if any(route == r or route.startswith(r + "/") or route.startswith(r + "?") for r in UPLOAD_ROUTES):
            if not self.limits.uploads:
                return await _refuse(send, 403, "uploads are off on this server (start it with --allow-uploads)")
            cap = self.limits.max_upload_body
            check = _FileTypes(self.limits.upload_suffixes) if self.limits.upload_suffixes else None
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

    async def _bounded(self, scope, receive, send, cap: int, check: _FileTypes | None):
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


class _FileTypes:
    """Scans a multipart body as it streams in for file names of a type not allowed.

    A name is judged once its closing quote or line end has arrived; the last
    bytes of each chunk are kept, so a part header cut between chunks is still
    seen whole (judging a name twice gives the same answer).
    """

    _NAME = re.compile(rb'filename\*?="?([^"\r\n]*)["\r\n]', re.I)
    _KEEP = 4096

    def __init__(self, suffixes: tuple[str, ...]) -> None:
        self.suffixes = tuple(s.lower() for s in suffixes)
        self.tail = b""

    def feed(self, chunk: bytes) -> str:
        data = self.tail + chunk
        for m in self._NAME.finditer(data):
            name = m.group(1).decode("utf-8", "replace")
            if not name.lower().endswith(self.suffixes):
                return f"{name[-80:]!r} is not a type this server accepts ({', '.join(self.suffixes)})"
        self.tail = data[-self._KEEP:]
        return ""


async def _refuse(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
