"""An append-only journal of the pages a crawl scheduled and finished, for resuming it.

Each event is one JSON line written with a single ``write`` on a file opened
for appending, so a crawl killed at any moment leaves at worst a torn last
line, which loading skips. Scrapy's own JOBDIR queues only persist on a clean
shutdown; this journal survives ``kill -9`` too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class CrawlJournal:
    """Pages scheduled (with their link depth) and pages finished, in order."""

    def __init__(self, path: Path):
        self.path = path
        self.scheduled: dict[str, int] = {}  # url -> depth
        self.done: set[str] = set()
        if path.exists():
            self._load()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _load(self) -> None:
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a killed process
            if event.get("e") == "scheduled":
                self.scheduled[event["url"]] = event.get("depth", 0)
            elif event.get("e") == "done":
                self.done.add(event["url"])

    def _append(self, event: dict) -> None:
        os.write(self._fd, (json.dumps(event) + "\n").encode("utf-8"))

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

    def close(self) -> None:
        os.close(self._fd)
