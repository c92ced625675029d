"""Serve the explorer on 127.0.0.1 with uvicorn until Ctrl-C, then say what it served."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from scraper.explorer.app import create_app
from scraper.graph.live import LiveGraph

HOST = "127.0.0.1"  # local only: the explorer has no authentication


class Counted:
    """An ASGI app counting the HTTP requests it passes to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.requests += 1  # on the event loop: no lock needed
        await self.app(scope, receive, send)


def listening_socket(port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:``port`` (0: any free port); OSError when taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def serve(graph: LiveGraph, reports_dir: Path, *, port: int, allow_service: bool = False) -> int:
    """Answer requests until interrupted; returns how many were answered.

    Raises OSError when the port cannot be used.
    """
    try:
        sock = listening_socket(port)
    except OSError:
        graph.close()
        raise
    try:
        started = time.monotonic()
        entities = len(graph.names())  # store errors (unreachable endpoint) show here
        print(
            f"Indexed the names of {entities:,} entities in {time.monotonic() - started:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        app = Counted(create_app(graph, reports_dir, allow_service=allow_service))
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        url = f"http://{HOST}:{sock.getsockname()[1]}/"
        print(f"Explorer of {graph.location} on {url} (read-only; Ctrl-C stops)", flush=True)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        graph.close()
    print(f"Explorer stopped: {app.requests} requests answered", file=sys.stderr, flush=True)
    return app.requests
