"""Scrapy extensions of semantic-scraper."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from scraper.paths import project_path
from scraper.redaction import install_log_redaction
from scraper.report import crawl_report, format_report
from scraper.signals import state_write_failed
from scraper.writes import WRITE_FAILED, WriteFailed

logger = logging.getLogger(__name__)


class RedactLogs:
    """Keys and credentials never reach the log: every record is redacted (scraper.redaction)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedactLogs:
        install_log_redaction()
        return cls()


class StopOnWriteFailure:
    """The first output or state write that fails (scraper.signals.state_write_failed) stops
    the crawl: one error line saying what to do, finish reason ``write_failed``, stat
    ``crawl/write_failed`` (the path), and ``scrapy crawl`` exits with status 3."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.failure: WriteFailed | None = None
        self._opened = False  # a failure while the pipelines open closes the crawl once open
        self._closing: asyncio.Future | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StopOnWriteFailure:
        extension = cls(crawler)
        crawler.signals.connect(extension.stop, signal=state_write_failed)
        crawler.signals.connect(extension._spider_opened, signal=signals.spider_opened)
        return extension

    def stop(self, failure: WriteFailed) -> None:
        if self.failure is not None:
            return
        self.failure = failure
        assert self.crawler.stats is not None, "signals are sent once the crawl runs"
        self.crawler.stats.set_value("crawl/write_failed", failure.path)
        logger.error("Crawl stopped: %s", failure)
        if self._opened:
            self._close()

    def _spider_opened(self) -> None:
        self._opened = True
        if self.failure is not None:
            self._close()

    def _close(self) -> None:
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            self._closing = asyncio.ensure_future(engine.close_spider_async(reason=WRITE_FAILED))


class CrawlReport:
    """At the end of a crawl, log a readable summary and write it as JSON to REPORT_DIR."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.folder = project_path(crawler.settings.get("REPORT_DIR"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlReport:
        extension = cls(crawler)
        # After the stats are final: the core stats extension fills finish_time on
        # spider_closed too, so this runs on the engine's last signal.
        crawler.signals.connect(extension.write, signal=signals.spider_closed)
        return extension

    def write(self, spider: Spider, reason: str) -> None:
        stats = {"finish_reason": reason, **self.crawler.stats.get_stats()}
        report = crawl_report(stats, stats.get("llm/model"))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = self.folder / f"{spider.name}-{stamp}.json"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, indent=2, default=str) + "\n")
        except OSError as exc:
            logger.error("Could not write the crawl report to %s: %s", path, exc)
            self.crawler.stats.set_value("crawl/write_failed", str(path))
        else:
            self.crawler.stats.set_value("report/file", str(path))
        logger.info("%s\n  report:     %s", format_report(report), path)
