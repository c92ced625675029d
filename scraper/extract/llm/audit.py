"""Optional JSON-lines log of every LLM request and response, with secrets redacted."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

_SECRET_KEYS = re.compile(
    r"^(authorization|api[-_]?key|x-api-key|openai[-_]api[-_]key|cookie)$", re.I
)
_SECRET_VALUES = re.compile(r"\b(sk-[A-Za-z0-9_-]{6,}|Bearer\s+\S+)")
REDACTED = "[REDACTED]"


def redact(value: Any) -> Any:
    """``value`` with secret-named keys and key-looking strings replaced by ``[REDACTED]``."""
    if isinstance(value, dict):
        return {
            key: REDACTED if _SECRET_KEYS.match(str(key)) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return _SECRET_VALUES.sub(REDACTED, value)
    return value


class AuditLog:
    """Appends one redacted JSON object per event to ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")

    def write(self, event: str, **fields: Any) -> None:
        record = {"time": time.time(), "event": event, **redact(fields)}
        self._file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
