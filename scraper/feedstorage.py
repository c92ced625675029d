"""Local feed files written through to the operating system record by record.

Scrapy's file storage writes through a buffer, so a crawl killed with -9 loses the records
it had finished but not flushed, while its JOBDIR journal marks those pages done: the
resumed crawl skips them and they are in no feed. Unbuffered, every record the crawl
finished is in the file (the operating system keeps what a killed process wrote).

A record the disk refuses (full, read-only) stops the crawl (scraper.signals.state_write_failed)
instead of being logged and dropped while the crawl reports success.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.extensions.feedexport import FileFeedStorage

from scraper.signals import state_write_failed
from scraper.writes import WriteFailed


class _FeedFile(io.FileIO):
    """An unbuffered file whose failed writes are reported to ``on_failure``, not raised
    into Scrapy's exporter (which would log each and go on)."""

    on_failure: Callable[[WriteFailed], None]

    def write(self, data: Any) -> int:
        try:
            return super().write(data)
        except OSError as exc:
            self.on_failure(WriteFailed(self.name, exc))
            return 0


class UnbufferedFileFeedStorage(FileFeedStorage):
    """``file://`` and plain-path feeds (``-o``, ``-O``), each record written at once."""

    def __init__(
        self, uri: str, *, feed_options: dict[str, Any] | None = None, crawler: Crawler
    ) -> None:
        super().__init__(uri, feed_options=feed_options)
        self.crawler = crawler

    @classmethod
    def from_crawler(
        cls, crawler: Crawler, uri: str, *, feed_options: dict[str, Any] | None = None
    ) -> UnbufferedFileFeedStorage:
        return cls(uri, feed_options=feed_options, crawler=crawler)

    def open(self, spider: Spider) -> IO[bytes]:
        path = Path(self.path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            file = _FeedFile(path, self.write_mode.replace("b", ""))
        except OSError as exc:
            self._failed(WriteFailed(path, exc))
            file = _FeedFile(os.devnull, "w")  # the crawl is stopping: nothing to keep
        file.on_failure = self._failed
        return file

    def _failed(self, failure: WriteFailed) -> None:
        self.crawler.signals.send_catch_log(state_write_failed, failure=failure)
