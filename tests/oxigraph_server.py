"""Run a real ``oxigraph serve`` (SPARQL 1.1 query + update) on 127.0.0.1 for tests."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.processes import free_port, server_process


@dataclass
class OxigraphServer:
    url: str  # server root: GRAPH_STORE takes it as is
    pid: int


@contextmanager
def oxigraph_server(
    location: Path | None = None, port: int | None = None
) -> Iterator[OxigraphServer]:
    """Start ``oxigraph serve`` (in memory, or persisted at ``location``), stop it by PID."""
    # The package installs the binary next to the interpreter, which need not be on PATH.
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    binary = shutil.which("oxigraph", path=search)
    if binary is None:
        raise RuntimeError("the `oxigraph` server binary is missing: pip install oxigraph")
    port = port or free_port()
    command = [binary, "serve", "--bind", f"127.0.0.1:{port}"]
    if location is not None:
        command += ["--location", str(location)]
    with server_process(command, b"Listening for requests") as proc:
        yield OxigraphServer(f"http://127.0.0.1:{port}", proc.pid)
