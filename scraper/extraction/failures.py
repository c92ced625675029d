"""The failures file: pages whose extraction failed, as JSON lines, for a later retry."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scraper.items import Failure, PageRecord

STAGE = "extract"


class FailuresFile:
    """Appends failed pages to ``path``; each line holds the page as it was before extraction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def record(self, record: PageRecord, reason: str, detail: str) -> None:
        page = dataclasses.asdict(record)
        page.update(html=None, extraction=None)
        page["failures"] = [f for f in page["failures"] if f["stage"] != STAGE]
        line = {
            "url": record.url,
            "failed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "reason": reason,
            "detail": detail,
            "record": page,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(line, ensure_ascii=False) + "\n")


def read_failures(path: str | Path) -> Iterator[PageRecord]:
    """The pages recorded in a failures file, latest record per URL, ready to extract again."""
    latest: dict[str, dict[str, Any]] = {}
    with Path(path).open(encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                latest[entry["url"]] = entry["record"]
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a failure record: {exc}") from exc
    for page in latest.values():
        failures = [Failure(**f) for f in page.pop("failures", [])]
        yield PageRecord(**page, failures=failures)
