"""The failures file: pages whose extraction failed, as JSON lines, for a later retry."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from scraper.facts import Chunk, PageFacts, Stage
from scraper.items import Failure, PageRecord

STAGE = Stage.EXTRACT
logger = logging.getLogger(__name__)


@dataclass
class FailedPage:
    record: PageRecord  # as it was before extraction
    reason: str
    detail: str
    schema: str  # the schema the extraction used


class FailuresFile:
    """Appends failed pages to ``path``; each line holds the page as it was before extraction.

    With ``sink``, lines go there instead (a fleet gathers every worker's failures in Redis;
    its last worker appends them all here).
    """

    def __init__(self, path: str | Path, sink: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.sink = sink
        self.unreadable: list[str] = []  # lines the last read() skipped, as written

    @property
    def unreadable_path(self) -> Path:
        """Where ``scrapy retry_failed`` keeps the lines it could not read."""
        return self.path.with_name(self.path.name + ".unreadable")

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
        text = json.dumps(line, ensure_ascii=False)
        if self.sink is not None:
            self.sink(text)
        else:
            self.append([text])

    def append(self, lines: list[str]) -> None:
        """Add failure lines (as :meth:`record` writes them) to the file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.writelines(line + "\n" for line in lines)

    def read(self) -> list[FailedPage]:
        """The recorded pages, the latest line per URL; an absent file has none.

        A line that is not a failure record (cut short by a killed process, edited by hand)
        is skipped with a warning naming it, and kept in ``unreadable``: the others still count.
        """
        self.unreadable = []
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
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    logger.warning(
                        "%s:%d: not a failure record, skipped: %s", self.path, number, exc
                    )
                    self.unreadable.append(line)
        return list(latest.values())
