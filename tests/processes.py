"""Run a real server program on 127.0.0.1 for tests: start it, wait until it listens, stop it."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server_process(
    command: list[str], ready: bytes, *, timeout: float = 20.0, cwd: Path | None = None
) -> Iterator[subprocess.Popen]:
    """Run ``command`` (in ``cwd``) until the block ends; it is ready once it prints a line
    holding ``ready``.

    The process is stopped by its PID (SIGTERM, then SIGKILL).
    """
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd)
    try:
        _wait_for_line(proc, ready, timeout, command[0])
        # Keep reading its output so a chatty server never blocks on a full pipe.
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # type: ignore[union-attr]
        yield proc
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def _wait_for_line(proc: subprocess.Popen, ready: bytes, timeout: float, name: str) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    output = b""
    # Raw reads: a buffered readline could keep a second line (the ready one) in its buffer
    # while select() waits on the empty pipe.
    while time.monotonic() < deadline:
        readable, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
        if not readable:
            break
        # Raw reads: a buffered readline() would keep the ready line in Python's buffer when
        # it arrives with the line before it, and select() would then wait for nothing.
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:  # the process exited
            break
        output += chunk
        if ready in output:
            return
    raise RuntimeError(f"{name} did not start: {output.decode(errors='replace')[-2000:]}")
