"""Item pipeline adapter for the chunk stage."""

from __future__ import annotations

from scrapy.crawler import Crawler

from scraper.chunk import chunk_markdown
from scraper.clean.pool import CleanFailed
from scraper.config import chunk_config
from scraper.extensions import clean_workers
from scraper.facts import Stage
from scraper.items import PageRecord
from scraper.pipelines.cleaning import record_worker_failure


class ChunkingPipeline:
    """Split a cleaned page's Markdown into token-bounded chunks (CHUNK_* settings), in a
    worker process."""

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats
        self.config = chunk_config(crawler.settings)
        self.workers = clean_workers(crawler)
        # Fail at start-up, not on the first page, when the sizes make no sense.
        chunk_markdown(*self._arguments("check"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ChunkingPipeline:
        return cls(crawler)

    def _arguments(self, markdown: str) -> tuple[str, int, int, str, int]:
        """chunk_markdown's arguments for ``markdown`` with the CHUNK_* settings."""
        # One chunk past the cap says "too many" to the extraction stage, which then makes no
        # LLM call for the page; the rest of an endless page is not chunked at all.
        config = self.config
        return markdown, config.size, config.overlap, config.encoding, config.max_per_page + 1

    async def process_item(self, item: PageRecord) -> PageRecord:
        if item.failures or not item.markdown:
            return item
        try:
            chunks = await self.workers.run(chunk_markdown, *self._arguments(item.markdown))
        except CleanFailed as failure:
            record_worker_failure(item, Stage.CHUNK, failure, self.stats)
            return item
        item.chunks = chunks
        self.stats.inc_value("chunks/count", len(chunks))
        self.stats.inc_value("chunks/tokens", sum(c.tokens for c in chunks))
        return item
