"""The request guard in front of the web server: sizes, unused routes, upload types.

A small Starlette app (what Gradio's FastAPI app is built on) behind
:class:`assistant.web.guard.RequestGuard`, driven with Starlette's test client.
"""

from __future__ import annotations

import pytest

from assistant.web.guard import Limits, RequestGuard

starlette = pytest.importorskip("starlette")


def _app(limits: Limits):
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    async def echo(request):
        body = await request.body()
        return PlainTextResponse(f"read {len(body)}")

    routes = [Route(p, echo, methods=["POST"]) for p in
              ("/gradio_api/upload", "/gradio_api/queue/join", "/gradio_api/process_recording")]
    return TestClient(RequestGuard(Starlette(routes=routes), limits=limits))


def _multipart(*names: str) -> tuple[bytes, dict]:
    b = "XyZ"
    parts = b"".join(f'--{b}\r\nContent-Disposition: form-data; name="files"; filename="{n}"\r\n\r\n'.encode()
                     + b"data " * 50 + b"\r\n" for n in names)
    return parts + f"--{b}--\r\n".encode(), {"content-type": f"multipart/form-data; boundary={b}"}


def test_small_requests_pass_and_large_ones_are_refused():
    client = _app(Limits(max_body=1_000))
    assert client.post("/gradio_api/queue/join", content=b"x" * 1_000).text == "read 1000"
    assert client.post("/gradio_api/queue/join", content=b"x" * 1_001).status_code == 413
    # a streamed body (no Content-Length) is counted as it arrives
    chunks = (b"x" * 300 for _ in range(5))
    assert client.post("/gradio_api/queue/join", content=chunks).status_code == 413


def test_uploads_are_refused_unless_allowed_and_unused_routes_are_gone():
    body, headers = _multipart("notes.txt")
    off = _app(Limits())
    assert off.post("/gradio_api/upload", content=body, headers=headers).status_code == 403
    assert off.post("/gradio_api/process_recording", content=b"{}").status_code == 404
    on = _app(Limits(uploads=True, max_upload=10_000, upload_suffixes=(".txt", ".pdf")))
    assert on.post("/gradio_api/upload", content=body, headers=headers).status_code == 200


@pytest.mark.parametrize("names, ok", [(("a.txt", "b.PDF"), True), (("a.txt", "run.sh"), False),
                                       (("../../x.exe",), False), (("page.txt.html",), False)])
def test_upload_file_types_are_checked_as_the_body_streams(names, ok):
    body, headers = _multipart(*names)
    client = _app(Limits(uploads=True, max_upload=100_000, upload_suffixes=(".txt", ".pdf")))
    for size in (len(body), 7, 64):  # whole, and cut into small chunks that split the part headers
        chunks = (body[i:i + size] for i in range(0, len(body), size))
        r = client.post("/gradio_api/upload", content=chunks, headers=headers)
        assert (r.status_code == 200) is ok, (size, r.status_code, r.text)
        if not ok:
            assert r.status_code == 415 and "not a type this server accepts" in r.text
