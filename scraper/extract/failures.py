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
from scraper.redaction import redact_text
from scraper.writes import WriteFailed

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
            "detail": redact_text(failed.detail),
            "schema": failed.schema,
            "record": page,
        }
        text = json.dumps(line, ensure_ascii=False)
        if self.sink is not None:
            self.sink(text)
        else:
            self.append([text + "\n"])

    def append(self, lines: list[str]) -> None:
        """Add ``lines`` (each ending in a newline) at the end of the file, after a newline if
        its last line was torn (a killed process): the torn line stays unreadable alone.

        Raises :class:`~scraper.writes.WriteFailed` when the disk refuses them.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as file:
                if file.tell() and not _ends_with_newline(self.path):
                    file.write(b"\n")
                file.write("".join(lines).encode("utf-8"))
        except OSError as exc:
            raise WriteFailed(self.path, exc) from None

    @property
    def retrying_path(self) -> Path:
        """Where ``scrapy retry_failed`` moves the file while it retries its pages."""
        return self.path.with_name(self.path.name + ".retrying")

    def put_back_retrying(self) -> bool:
        """Put the lines of a retry run that did not finish (killed) back in the file, before
        the lines recorded since (the latest line per URL counts); True if there were any."""
        pending = self.retrying_path
        if not pending.exists():
            return False
        merged = pending.with_name(pending.name + ".merging")
        data = pending.read_bytes()
        if data and not data.endswith(b"\n"):
            data += b"\n"
        if self.path.exists():
            data += self.path.read_bytes()
        try:
            merged.write_bytes(data)
            merged.replace(self.path)
        except OSError as exc:
            raise WriteFailed(self.path, exc) from None
        pending.unlink()
        return True

    def read(self) -> list[FailedPage]:
        """The recorded pages, the latest line per URL; an absent file has none.

        A line that is not a failure record (cut short by a killed process, edited by hand)
        is skipped with a warning naming it, and kept in ``unreadable``: the others still count.
        """
        self.unreadable = []
        if not self.path.exists():
            return []
        latest: dict[str, FailedPage] = {}
        with self.path.open("rb") as file:
            for number, raw in enumerate(file, 1):
                line = raw.decode("utf-8", "replace")
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
                except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
                    logger.warning(
                        "%s:%d: not a failure record, skipped: %s", self.path, number, exc
                    )
                    self.unreadable.append(line)
        return list(latest.values())


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as file:
        file.seek(-1, 2)
        return file.read(1) == b"\n"
