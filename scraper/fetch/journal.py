"""An append-only journal of the pages a crawl scheduled and finished, for resuming it.

Each event is one JSON line written with a single ``write`` on a file opened
for appending, so a crawl killed at any moment leaves at worst a torn last
line, which loading skips (and the next event starts on a line of its own). A line
that is not an event (edited by hand, from another version) is skipped with one
warning. Scrapy's own JOBDIR queues only persist on a clean shutdown; this journal
survives ``kill -9`` too.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from scraper.writes import WriteFailed

logger = logging.getLogger(__name__)


class CrawlJournal:
    """Pages scheduled (with their link depth) and pages finished, in order."""

    def __init__(self, path: Path):
        self.path = path
        self.scheduled: dict[str, int] = {}  # url -> depth
        self.done: set[str] = set()
        self._fd: int | None = None
        # A journal that cannot be opened fails its first write (the crawl then stops).
        self._failed: WriteFailed | None = None
        torn = path.exists() and self._load()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            if torn:
                os.write(self._fd, b"\n")
        except OSError as exc:
            self._failed = WriteFailed(path, exc)

    def _load(self) -> bool:
        """Read the events; True when the last line was torn (no newline at its end)."""
        data = self.path.read_bytes()
        torn = bool(data) and not data.endswith(b"\n")
        lines = data.decode("utf-8", "replace").splitlines()
        bad = [n for n, line in enumerate(lines) if line.strip() and not self._event(line)]
        if torn and bad and bad[-1] == len(lines) - 1:
            bad.pop()  # the line a killed crawl was writing: expected, not worth a warning
        if bad:
            logger.warning(
                "%s: %d line(s) that are not journal events skipped, e.g. line %d (the pages "
                "they named are fetched again if the crawl reaches them)",
                self.path,
                len(bad),
                bad[0] + 1,
            )
        return torn

    def _event(self, line: str) -> bool:
        """Take in one journal line; False when it is not an event."""
        try:
            event = json.loads(line)
            kind, url = event["e"], event["url"]
            if kind == "scheduled":
                self.scheduled[str(url)] = int(event.get("depth", 0))
            elif kind == "done":
                self.done.add(str(url))
            else:
                return False
        except (ValueError, KeyError, TypeError):
            return False
        return True

    def _append(self, event: dict) -> None:
        """Write one event; raises :class:`~scraper.writes.WriteFailed` when it cannot."""
        if self._fd is None:
            raise self._failed or WriteFailed(self.path, OSError("the journal is closed"))
        try:
            os.write(self._fd, (json.dumps(event) + "\n").encode("utf-8"))
        except OSError as exc:
            raise WriteFailed(self.path, exc) from None

    def pending(self) -> list[tuple[str, int]]:
        """Scheduled pages not finished yet, with their depth, in scheduling order."""
        return [(url, d) for url, d in self.scheduled.items() if url not in self.done]

    def schedule(self, url: str, depth: int) -> None:
        if url not in self.scheduled:
            self.scheduled[url] = depth
            self._append({"e": "scheduled", "url": url, "depth": depth})

    def finish(self, url: str) -> None:
        if url not in self.done:
            self.done.add(url)
            self._append({"e": "done", "url": url})

    @property
    def closed(self) -> bool:
        return self._fd is None and self._failed is None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
