"""Run a real ``redis-server`` on 127.0.0.1 for tests (the Debian package's binary)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.processes import free_port, server_process


@dataclass
class RedisServer:
    url: str  # REDIS_URL takes it as is
    pid: int
    port: int


@contextmanager
def redis_server(
    folder: Path, port: int | None = None, *, persistent: bool = False
) -> Iterator[RedisServer]:
    """Start ``redis-server`` in ``folder``; stop it by PID. ``persistent``: with an
    append-only log fsynced on every write, so a restart on the same folder finds its data."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is missing: apt-get install redis-server")
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder)]
    command += ["--save", ""]
    if persistent:
        command += ["--appendonly", "yes", "--appendfsync", "always"]
    with server_process(command, b"Ready to accept connections", timeout=60) as proc:
        yield RedisServer(f"redis://127.0.0.1:{port}/0", proc.pid, port)
