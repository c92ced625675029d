"""``scrapy crawl`` that refuses, before anything is written, to share a graph store.

A refused crawl exits with status 2 (for cron, systemd and scrapyd), and opens no
feed: ``-O out.jsonl`` of the crawl still running is left alone.
"""

from __future__ import annotations

import argparse
import logging

from scrapy import Spider
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.crawler import Crawler

from scraper.config import store_write_refusal

logger = logging.getLogger(__name__)
REFUSED_EXIT_CODE = 2
# Finish reasons of crawls that could not do their job at all.
REFUSED = ("graph_store_locked", "graph_store_error")


class Command(ScrapyCrawlCommand):
    def _create_crawler(self, spname: type[Spider] | str) -> Crawler:
        self.crawler = super()._create_crawler(spname)
        return self.crawler

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        settings = self.settings
        assert settings is not None, "Scrapy sets the settings before run()"
        graph_pipeline = "scraper.pipelines.graph.GraphPipeline"
        if settings.getwithbase("ITEM_PIPELINES").get(graph_pipeline) is not None:
            refusal = store_write_refusal(settings)
            if refusal:
                logger.error("Crawl refused: %s", refusal)
                self.exitcode = REFUSED_EXIT_CODE
                return
        super().run(args, opts)
        if self.crawler.stats.get_value("finish_reason") in REFUSED:
            self.exitcode = REFUSED_EXIT_CODE
