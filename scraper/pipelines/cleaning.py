"""Item pipeline adapter for the clean stage (HTML -> Markdown, metadata, structured data)."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from scrapy.crawler import Crawler

from scraper.cleaning import clean_html
from scraper.items import PageRecord
from scraper.structured_data import extract_structured_data


def content_hash(markdown: str, structured_data: dict) -> str:
    """sha256 of what later stages consume: the Markdown and the structured data."""
    digest = hashlib.sha256(markdown.encode("utf-8"))
    digest.update(json.dumps(structured_data, sort_keys=True, default=str).encode("utf-8"))
    return digest.hexdigest()


class CleaningPipeline:
    """Fill a fetched page's Markdown, metadata, structured data and content hash."""

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats
        self.export_html = crawler.settings.getbool("EXPORT_HTML")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleaningPipeline:
        return cls(crawler)

    def process_item(self, item: PageRecord) -> PageRecord:
        if item.html is None or item.failures:
            return item
        url = item.final_url or item.url
        try:
            cleaned = clean_html(item.html, url)
            item.structured_data = extract_structured_data(item.html, url)
        except Exception as exc:  # a cleaning bug must cost one page, not the crawl
            self.stats.inc_value("pages/clean_failed")
            item.fail("clean", "clean_error", f"{type(exc).__name__}: {exc}")
            return item
        finally:
            if not self.export_html:
                item.html = None
        for name, value in dataclasses.asdict(cleaned).items():
            setattr(item, name, value)  # markdown and the metadata fields of the record
        item.content_hash = content_hash(cleaned.markdown, item.structured_data)
        if not cleaned.markdown.strip():
            self.stats.inc_value("pages/empty")
            item.fail("clean", "empty_content", "no main content found in the page")
        return item
