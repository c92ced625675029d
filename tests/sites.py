"""Local HTTP sites for tests and benchmarks, served on 127.0.0.1 from a thread.

A site is a dict of path -> ``Page`` (or plain HTML string); the server answers
exactly what the dict says, so each test writes the site it needs.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Page:
    body: bytes | str = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)  # with an ETag, answers 304s
    gzip: bool = False  # send gzip Content-Encoding


Site = dict[str, "Page | str | Callable[[BaseHTTPRequestHandler], Page]"]


class _Handler(BaseHTTPRequestHandler):
    site: Site
    hits: list[str]

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.hits.append(self.path)
        page = self.site.get(path)
        if callable(page):
            page = page(self)
        if page is None:
            page = Page("<html><body><h1>Not found</h1></body></html>", status=404)
        elif isinstance(page, str):
            page = Page(page)
        body = page.body.encode("utf-8") if isinstance(page.body, str) else page.body
        etag = page.headers.get("ETag")
        if etag and self.headers.get("If-None-Match") == etag:
            page = Page(b"", status=304, content_type="", headers={"ETag": etag})
            body = b""
        if page.gzip:
            body = gzip.compress(body)
        self.send_response(page.status)
        if page.content_type:
            self.send_header("Content-Type", page.content_type)
        if page.gzip:
            self.send_header("Content-Encoding", "gzip")
        for name, value in page.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up early (cancelled oversized downloads) are expected.
        pass


@dataclass
class RunningSite:
    url: str  # base URL, ending with "/"
    hits: list[str]  # request paths in arrival order
    site: Site  # change it between crawls to change the site


@contextmanager
def serve(site: Site) -> Iterator[RunningSite]:
    """Serve ``site`` on a free port of 127.0.0.1 until the block ends."""
    hits: list[str] = []
    handler = type("Handler", (_Handler,), {"site": site, "hits": hits})
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RunningSite(f"http://127.0.0.1:{server.server_address[1]}/", hits, site)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
