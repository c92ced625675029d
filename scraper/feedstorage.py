"""Local feed files written through to the operating system record by record.

Scrapy's file storage writes through a buffer, so a crawl killed with -9 loses the records
it had finished but not flushed, while its JOBDIR journal marks those pages done: the
resumed crawl skips them and they are in no feed. Unbuffered, every record the crawl
finished is in the file (the operating system keeps what a killed process wrote).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from scrapy import Spider
from scrapy.extensions.feedexport import FileFeedStorage


class UnbufferedFileFeedStorage(FileFeedStorage):
    """``file://`` and plain-path feeds (``-o``, ``-O``), each record written at once."""

    def open(self, spider: Spider) -> IO[bytes]:
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open(self.write_mode, buffering=0)
