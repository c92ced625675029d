"""Run a real ``oxigraph serve`` (SPARQL 1.1 query + update) on 127.0.0.1 for tests."""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STARTUP_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class OxigraphServer:
    url: str  # server root: GRAPH_STORE takes it as is
    pid: int


@contextmanager
def oxigraph_server(
    location: Path | None = None, port: int | None = None
) -> Iterator[OxigraphServer]:
    """Start ``oxigraph serve`` (in memory, or persisted at ``location``), stop it by PID."""
    binary = shutil.which("oxigraph")
    if binary is None:
        raise RuntimeError("the `oxigraph` server binary is missing: pip install oxigraph")
    port = port or free_port()
    command = [binary, "serve", "--bind", f"127.0.0.1:{port}"]
    if location is not None:
        command += ["--location", str(location)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_until_listening(proc)
        # Keep reading its output so a chatty server never blocks on a full pipe.
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # type: ignore[union-attr]
        yield OxigraphServer(f"http://127.0.0.1:{port}", proc.pid)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def _wait_until_listening(proc: subprocess.Popen) -> None:
    """Block until the server announces it listens (its first output line)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + STARTUP_TIMEOUT
    output = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:  # the process exited
            break
        output += line
        if b"Listening for requests" in line:
            return
    raise RuntimeError(f"oxigraph serve did not start: {output.decode(errors='replace')}")
