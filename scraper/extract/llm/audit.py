"""Optional JSON-lines log of every LLM request and response, with secrets redacted."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from scraper.redaction import redact, redact_text
from scraper.safe_json import valid_text


class AuditLog:
    """Appends one redacted JSON object per event to ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")

    def write(self, event: str, **fields: Any) -> None:
        record = {"time": time.time(), "event": event, **redact(fields)}
        # Values JSON cannot hold are written as str(): redacted once more as text.
        line = redact_text(json.dumps(valid_text(record), ensure_ascii=False, default=str))
        self._file.write(line + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
