"""The failures file: pages whose extraction failed, as JSON lines, for a later retry."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from scraper.facts import Chunk, PageFacts, Stage
from scraper.items import Failure, PageRecord

STAGE = Stage.EXTRACT


@dataclass
class FailedPage:
    record: PageRecord  # as it was before extraction
    reason: str
    detail: str
    schema: str  # the schema the extraction used


class FailuresFile:
    """Appends failed pages to ``path``; each line holds the page as it was before extraction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def record(self, failed: FailedPage) -> None:
        page = dataclasses.asdict(failed.record)
        page.update(html=None, extraction=None)
        page["failures"] = [f for f in page["failures"] if f["stage"] != STAGE]
        line = {
            "url": failed.record.url,
            "failed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "reason": failed.reason,
            "detail": failed.detail,
            "schema": failed.schema,
            "record": page,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(line, ensure_ascii=False) + "\n")

    def read(self) -> list[FailedPage]:
        """The recorded pages, the latest line per URL; an absent file has none."""
        if not self.path.exists():
            return []
        latest: dict[str, FailedPage] = {}
        with self.path.open(encoding="utf-8") as file:
            for number, line in enumerate(file, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                    page = entry["record"]
                    failures = [Failure(**f) for f in page.pop("failures", [])]
                    chunks = [Chunk(**c) for c in page.pop("chunks", [])]
                    extraction = page.pop("extraction", None)
                    record = PageRecord(
                        **page,
                        failures=failures,
                        chunks=chunks,
                        extraction=PageFacts.from_dict(extraction) if extraction else None,
                    )
                    latest[entry["url"]] = FailedPage(
                        record, entry["reason"], entry.get("detail", ""), entry["schema"]
                    )
                except (ValueError, KeyError, TypeError) as exc:
                    raise ValueError(f"{self.path}:{number}: not a failure record: {exc}") from exc
        return list(latest.values())
