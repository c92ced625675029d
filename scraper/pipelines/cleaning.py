"""Item pipeline adapter for the clean stage (HTML -> Markdown, metadata, structured data)."""

from __future__ import annotations

import dataclasses
import logging

from scrapy.crawler import Crawler

from scraper.clean import clean_page
from scraper.facts import Stage
from scraper.items import PageRecord

logger = logging.getLogger(__name__)


class CleaningPipeline:
    """Fill a fetched page's Markdown, metadata, structured data and content hash."""

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats
        self.export_html = crawler.settings.getbool("EXPORT_HTML")
        self.max_structured_bytes = crawler.settings.getint("STRUCTURED_DATA_MAX_BYTES")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleaningPipeline:
        return cls(crawler)

    def process_item(self, item: PageRecord) -> PageRecord:
        if item.html is None or item.failures:
            return item
        url = item.final_url or item.url
        try:
            cleaned = clean_page(item.html, url, self.max_structured_bytes)
        except Exception as exc:  # a cleaning bug must cost one page, not the crawl
            self.stats.inc_value("pages/clean_failed")
            item.fail(Stage.CLEAN, "clean_error", f"{type(exc).__name__}: {exc}")
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
