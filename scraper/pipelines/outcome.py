"""The last pipeline: count how every page ended."""

from __future__ import annotations

from scrapy.crawler import Crawler

from scraper.items import PageRecord

# The stats of a record's outcome (their names begin so): a fleet adds them to the crawl's
# with the record's ack, not before (a worker killed in between has no record of that page).
OUTCOME_STATS = ("pages/records", "pages/ok", "pages/failed")


def outcome_stats(item: PageRecord) -> dict[str, int]:
    """``pages/records``, then ``pages/ok`` or ``pages/failed`` and one per failure
    (``pages/failed/<stage>/<reason>``)."""
    counts = {"pages/records": 1, "pages/ok" if item.ok else "pages/failed": 1}
    for failure in item.failures:
        name = f"pages/failed/{failure.stage}/{failure.reason}"
        counts[name] = counts.get(name, 0) + 1
    return counts


class OutcomePipeline:
    """Count each record once: ``pages/ok`` or ``pages/failed/<stage>/<reason>``."""

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OutcomePipeline:
        return cls(crawler)

    def process_item(self, item: PageRecord) -> PageRecord:
        for name, count in outcome_stats(item).items():
            self.stats.inc_value(name, count)
        return item
