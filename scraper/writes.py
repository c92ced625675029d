"""Writes of a crawl's output and state (feed, failures file, LLM cache, audit log, journal,
graph store) that fail, on a full disk or a read-only folder, stop the crawl loudly.

A crawl that goes on without them throws away what it paid for (LLM calls whose answers
cannot be cached or recorded) and reports a success it did not have.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

WRITE_FAILED = "write_failed"  # the failure reason (and the crawl's finish reason) it leaves
_OUT_OF_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_SQLITE_FULL = 13  # SQLITE_FULL: "database or disk is full"
_SQLITE_IOERR = 10  # SQLITE_IOERR and its extended codes (code & 0xff)


class WriteFailed(Exception):
    """Writing ``path`` failed with ``error``; the message says what to do (one line)."""

    def __init__(self, path: str | Path, error: BaseException) -> None:
        self.path = str(path)
        self.error = error
        super().__init__(
            f"cannot write {self.path}: {describe(error)}. Free space there (or point the "
            "setting at another folder) and run the crawl again: pages it did not finish are "
            "fetched again (with JOBDIR the crawl resumes where it stopped)"
        )


def describe(error: BaseException) -> str:
    """The cause of a failed write in a few words ("No space left on device")."""
    if isinstance(error, OSError) and error.errno is not None:
        return os.strerror(error.errno)
    return str(error) or type(error).__name__


def out_of_space(error: BaseException) -> bool:
    """True when ``error`` says the disk (or the file size limit, or the quota) is full."""
    if isinstance(error, OSError):
        return error.errno in _OUT_OF_SPACE or "No space left" in str(error)
    return False


def sqlite_write_failed(error: sqlite3.Error) -> bool:
    """True when a SQLite error is the disk's (full, or failing to write), not the data's."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in (_SQLITE_FULL, _SQLITE_IOERR)
