"""The last pipeline: count how every page ended."""

from __future__ import annotations

from scrapy.crawler import Crawler

from scraper.items import PageRecord


class OutcomePipeline:
    """Count each record once: ``pages/ok`` or ``pages/failed/<stage>/<reason>``."""

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OutcomePipeline:
        return cls(crawler)

    def process_item(self, item: PageRecord) -> PageRecord:
        self.stats.inc_value("pages/records")
        self.stats.inc_value("pages/ok" if item.ok else "pages/failed")
        for failure in item.failures:
            self.stats.inc_value(f"pages/failed/{failure.stage}/{failure.reason}")
        return item
