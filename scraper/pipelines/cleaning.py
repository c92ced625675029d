"""Item pipeline adapter for the clean stage (HTML -> Markdown, metadata, structured data)."""

from __future__ import annotations

import dataclasses
import logging

from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector

from scraper.clean import clean_page
from scraper.clean.pool import CleanFailed
from scraper.extensions import clean_workers
from scraper.facts import Stage
from scraper.items import PageRecord

logger = logging.getLogger(__name__)


def record_worker_failure(
    item: PageRecord, stage: Stage, failure: CleanFailed, stats: StatsCollector | None
) -> None:
    """Record a worker call that ended without a result (``<stage>/failed/<reason>``)."""
    if stats is not None:
        stats.inc_value(f"{stage}/failed/{failure.reason}")
    logger.warning("%s: %s failed: %s", item.final_url or item.url, stage, failure)
    item.fail(stage, failure.reason, failure.detail)


class CleaningPipeline:
    """Fill a fetched page's Markdown, metadata, structured data and content hash, cleaned in
    a worker process (or taken from the spider, which cleaned it with the render decision)."""

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats
        self.export_html = crawler.settings.getbool("EXPORT_HTML")
        self.max_structured_bytes = crawler.settings.getint("STRUCTURED_DATA_MAX_BYTES")
        self.workers = clean_workers(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleaningPipeline:
        return cls(crawler)

    async def process_item(self, item: PageRecord) -> PageRecord:
        cleaned, item.cleaned = item.cleaned, None
        if item.html is None or item.failures:
            return item
        url = item.final_url or item.url
        try:
            if cleaned is None:
                cleaned = await self.workers.run(
                    clean_page, item.html, url, self.max_structured_bytes
                )
        except CleanFailed as failure:
            record_worker_failure(item, Stage.CLEAN, failure, self.stats)
            return item
        finally:
            if not self.export_html:
                item.html = None
        for note in cleaned.skipped:
            self.stats.inc_value(f"clean/skipped/{note.split(':', 1)[0]}")
            logger.warning("%s: %s", url, note)
        record_fields = {field.name for field in dataclasses.fields(item)}
        for name, value in dataclasses.asdict(cleaned).items():
            if name in record_fields:  # markdown, metadata, structured data, content hash
                setattr(item, name, value)
        for skipped in cleaned.structured_data_skipped:
            self.stats.inc_value(f"structured_data/skipped/{skipped.syntax}", skipped.items)
            logger.warning(
                "Skipped %d %s item(s) of %s (%d bytes): past STRUCTURED_DATA_MAX_BYTES=%d "
                "per page; raise it to keep them",
                skipped.items,
                skipped.syntax,
                url,
                skipped.bytes,
                self.max_structured_bytes,
            )
        if not cleaned.markdown.strip():
            self.stats.inc_value("pages/empty")
            item.fail(Stage.CLEAN, "empty_content", "no main content found in the page")
        return item
