"""Optional JSON-lines log of every LLM request and response, with secrets redacted."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from scraper.redaction import redact, redact_text
from scraper.safe_json import valid_text
from scraper.writes import WriteFailed


class AuditLog:
    """Appends one redacted JSON object per event to ``path``.

    A write the disk refuses does not raise: it is kept in ``failed`` (the caller stops the
    crawl) and later events are not written.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.failed: WriteFailed | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise WriteFailed(self.path, exc) from None

    def write(self, event: str, **fields: Any) -> None:
        record = {"time": time.time(), "event": event, **redact(fields)}
        # Values JSON cannot hold are written as str(): redacted once more as text.
        line = redact_text(json.dumps(valid_text(record), ensure_ascii=False, default=str))
        if self.failed is not None:
            return
        try:
            self._file.write(line + "\n")
            self._file.flush()
        except OSError as exc:
            self.failed = WriteFailed(self.path, exc)

    def close(self) -> None:
        try:
            self._file.close()
        except OSError as exc:  # the last buffered line
            self.failed = self.failed or WriteFailed(self.path, exc)
