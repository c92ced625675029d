"""Scrapy extensions of semantic-scraper."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from scraper.paths import project_path
from scraper.redaction import install_log_redaction
from scraper.report import crawl_report, format_report

logger = logging.getLogger(__name__)


class RedactLogs:
    """Keys and credentials never reach the log: every record is redacted (scraper.redaction)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedactLogs:
        install_log_redaction()
        return cls()


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
        else:
            self.crawler.stats.set_value("report/file", str(path))
        logger.info("%s\n  report:     %s", format_report(report), path)
