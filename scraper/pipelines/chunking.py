"""Item pipeline adapter for the chunk stage."""

from __future__ import annotations

from scrapy.crawler import Crawler

from scraper.chunk.chunker import chunk_markdown
from scraper.items import PageRecord


class ChunkingPipeline:
    """Split a cleaned page's Markdown into token-bounded chunks (CHUNK_* settings)."""

    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        self.stats = crawler.stats
        self.size = settings.getint("CHUNK_SIZE_TOKENS")
        self.overlap = settings.getint("CHUNK_OVERLAP_TOKENS")
        self.encoding = settings.get("CHUNK_ENCODING")
        # Fail at start-up, not on the first page, when the sizes make no sense.
        chunk_markdown("check", self.size, self.overlap, self.encoding)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ChunkingPipeline:
        return cls(crawler)

    def process_item(self, item: PageRecord) -> PageRecord:
        if item.failures or not item.markdown:
            return item
        chunks = chunk_markdown(item.markdown, self.size, self.overlap, self.encoding)
        item.chunks = chunks
        self.stats.inc_value("chunks/count", len(chunks))
        self.stats.inc_value("chunks/tokens", sum(c.tokens for c in chunks))
        return item
