"""On-disk cache of validated LLM results, keyed by what determines them, never by URL."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from scraper.writes import WriteFailed, sqlite_write_failed


class AnswerCache(Protocol):
    """Where validated answers are kept: :class:`LLMCache` (a file) or a fleet's Redis cache.

    ``claim`` before paying for a key: False while another worker pays for it (wait for its
    answer with ``get``); ``put`` ends the claim, ``release`` gives it up after a failure.
    """

    def get(self, key: str) -> str | None: ...
    def put(self, key: str, value: str) -> None: ...
    def claim(self, key: str) -> bool: ...
    def release(self, key: str) -> None: ...
    def close(self) -> None: ...

    # A write the disk refused (the crawl stops on it); None while every write succeeded.
    failed: WriteFailed | None


logger = logging.getLogger(__name__)


def cache_key(model: str, prompt_version: str, schema_json: str, chunk_text: str) -> str:
    """sha256 of (model, prompt version, schema JSON, chunk text)."""
    payload = json.dumps([model, prompt_version, schema_json, chunk_text], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class LLMCache:
    """A sqlite3 key-value table of JSON results in ``directory/llm-cache.sqlite3``.

    Calls are short local writes, so they run on the event loop thread; WAL mode
    lets several crawls share the file.

    A cache file that is not a readable database (corrupted, truncated) is moved aside as
    ``llm-cache.sqlite3.corrupt-<UTC time>`` with one warning, and an empty cache starts:
    its answers are paid again, the crawl runs. A read that fails later is a miss. A write
    the disk refuses does not raise: it is kept in ``failed`` (the caller stops the crawl),
    and the answer is still returned to its page.
    """

    def __init__(self, directory: str | Path) -> None:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self.path = path / "llm-cache.sqlite3"
        self.failed: WriteFailed | None = None
        self._warned = False
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            if sqlite_write_failed(exc):
                raise WriteFailed(self.path, exc) from None
            aside = self.path.with_name(
                f"{self.path.name}.corrupt-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
            )
            for suffix in ("", "-wal", "-shm"):
                source = self.path.with_name(self.path.name + suffix)
                if source.exists():
                    source.replace(aside.with_name(aside.name + suffix))
            logger.warning(
                "The LLM cache %s is unreadable (%s): moved to %s; starting an empty cache "
                "(answers cached there are asked again).",
                self.path,
                exc,
                aside,
            )
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS results "
                "(key TEXT PRIMARY KEY, value TEXT, created REAL)"
            )
            db.execute("SELECT key, value FROM results LIMIT 1").fetchall()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def get(self, key: str) -> str | None:
        """The cached value of ``key``; None when there is none or it cannot be read."""
        try:
            row = self._db.execute("SELECT value FROM results WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as exc:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "The LLM cache %s cannot be read (%s): asking again.", self.path, exc
                )
            return None
        return row[0] if row else None

    def put(self, key: str, value: str) -> None:
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO results (key, value, created) VALUES (?, ?, ?)",
                (key, value, time.time()),
            )
        except sqlite3.DatabaseError as exc:
            if sqlite_write_failed(exc):
                self.failed = self.failed or WriteFailed(self.path, exc)
            elif not self._warned:
                self._warned = True
                logger.warning("The LLM cache %s cannot be written (%s).", self.path, exc)

    def claim(self, key: str) -> bool:
        """Always True: one process pays for its own chunks (a fleet's Redis cache claims
        a chunk, so workers meeting the same text pay for it once)."""
        return True

    def release(self, key: str) -> None:
        """Nothing to give up (see :meth:`claim`)."""

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def close(self) -> None:
        self._db.close()
