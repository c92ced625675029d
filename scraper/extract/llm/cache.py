"""On-disk cache of validated LLM results, keyed by what determines them, never by URL."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Protocol


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


def cache_key(model: str, prompt_version: str, schema_json: str, chunk_text: str) -> str:
    """sha256 of (model, prompt version, schema JSON, chunk text)."""
    payload = json.dumps([model, prompt_version, schema_json, chunk_text], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class LLMCache:
    """A sqlite3 key-value table of JSON results in ``directory/llm-cache.sqlite3``.

    Calls are short local writes, so they run on the event loop thread; WAL mode
    lets several crawls share the file.
    """

    def __init__(self, directory: str | Path) -> None:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self.path = path / "llm-cache.sqlite3"
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT, created REAL)"
        )

    def get(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM results WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO results (key, value, created) VALUES (?, ?, ?)",
            (key, value, time.time()),
        )

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
