"""A stand-in for a Qdrant server: its REST API for the reads an index makes (collection
exists, its info, count, query batch, retrieve), answered by a local-mode client, on a
port of 127.0.0.1. The tests stop it mid-way to see what a reader that loses the server says."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeQdrant:
    def __init__(self, client: Any, port: int = 0) -> None:
        self.client = client
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[tuple[str, str, Any]] = []  # what each request carried (a collection's creation, say)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def do_PUT(self) -> None:
                self._answer("PUT")

            def _answer(self, verb: str) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size) or b"null")
                owner.requests.append((verb, self.path))
                owner.bodies.append((verb, self.path, body))
                try:
                    code, out = 200, {"result": owner.route(verb, self.path.split("?")[0], body), "status": "ok",
                                      "time": 0.0}
                except KeyError:
                    code, out = 404, {"status": {"error": f"not served here: {verb} {self.path}"}, "time": 0.0}
                data = json.dumps(out).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def route(self, verb: str, path: str, body: Any) -> Any:
        from qdrant_client import models as m

        c = self.client
        found = re.fullmatch(r"/collections/([^/]+)(/.*)?", path)
        if not found:
            raise KeyError(path)
        name, rest = found.group(1), found.group(2) or ""
        if (verb, rest) == ("PUT", ""):  # a new collection: made in the local-mode client as asked
            asked = m.CreateCollection.model_validate(body)
            return c.create_collection(name, vectors_config=asked.vectors, sparse_vectors_config=asked.sparse_vectors)
        if (verb, rest) == ("GET", "/exists"):
            return {"exists": c.collection_exists(name)}
        if (verb, rest) == ("GET", ""):
            return c.get_collection(name).model_dump(mode="json", exclude_none=True)
        if (verb, rest) == ("POST", "/points/count"):
            return {"count": c.count(name, exact=True).count}
        if (verb, rest) == ("POST", "/points/query/batch"):
            asked = [m.QueryRequest.model_validate(r) for r in body["searches"]]
            return [r.model_dump(mode="json", exclude_none=True) for r in c.query_batch_points(name, requests=asked)]
        if (verb, rest) == ("POST", "/points/query"):
            asked = m.QueryRequest.model_validate(body)
            got = c.query_points(name, query=asked.query, using=asked.using, limit=asked.limit,
                                 query_filter=asked.filter, with_payload=asked.with_payload)
            return got.model_dump(mode="json", exclude_none=True)
        if (verb, rest) == ("POST", "/points/scroll"):
            where = m.Filter.model_validate(body["filter"]) if body.get("filter") else None
            got, offset = c.scroll(name, scroll_filter=where, limit=body.get("limit", 10), offset=body.get("offset"),
                                   with_payload=body.get("with_payload", True), with_vectors=body.get("with_vector", False))
            return {"points": [p.model_dump(mode="json", exclude_none=True) for p in got], "next_page_offset": offset}
        if (verb, rest) == ("POST", "/points"):
            got = c.retrieve(name, ids=body["ids"], with_payload=body.get("with_payload", True),
                             with_vectors=body.get("with_vector", False))
            return [p.model_dump(mode="json", exclude_none=True) for p in got]
        raise KeyError(path)
