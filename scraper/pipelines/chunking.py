"""Item pipeline adapter for the chunk stage."""

from __future__ import annotations

from scrapy.crawler import Crawler

from scraper.chunk import Chunk, chunk_markdown
from scraper.config import chunk_config
from scraper.items import PageRecord


class ChunkingPipeline:
    """Split a cleaned page's Markdown into token-bounded chunks (CHUNK_* settings)."""

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats
        self.config = chunk_config(crawler.settings)
        # Fail at start-up, not on the first page, when the sizes make no sense.
        self._chunk("check")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ChunkingPipeline:
        return cls(crawler)

    def _chunk(self, markdown: str) -> list[Chunk]:
        # One chunk past the cap says "too many" to the extraction stage, which then makes no
        # LLM call for the page; the rest of an endless page is not chunked at all.
        config = self.config
        return chunk_markdown(
            markdown, config.size, config.overlap, config.encoding, config.max_per_page + 1
        )

    def process_item(self, item: PageRecord) -> PageRecord:
        if item.failures or not item.markdown:
            return item
        chunks = self._chunk(item.markdown)
        item.chunks = chunks
        self.stats.inc_value("chunks/count", len(chunks))
        self.stats.inc_value("chunks/tokens", sum(c.tokens for c in chunks))
        return item
