"""``scrapy crawl`` that checks its arguments and refuses to share a graph store.

Both happen before anything is written. A bad argument prints one line and exits with
status 1; a refused crawl exits with status 2 (for cron, systemd and scrapyd), and opens
no feed: ``-O out.jsonl`` of the crawl still running is left alone.
"""

from __future__ import annotations

import argparse
import logging
import sys

from scrapy import Spider
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.crawler import Crawler
from scrapy.exceptions import UsageError

from scraper.config import frontier_limits, store_write_refusal
from scraper.spiders.arguments import parse_arguments
from scraper.spiders.semantic import SemanticSpider

logger = logging.getLogger(__name__)
REFUSED_EXIT_CODE = 2
# Finish reasons of crawls that could not do their job at all.
REFUSED = ("graph_store_locked", "graph_store_error")
USAGE_EXIT_CODE = 1


class Command(ScrapyCrawlCommand):
    def _create_crawler(self, spname: type[Spider] | str) -> Crawler:
        self.crawler = super()._create_crawler(spname)
        return self.crawler

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None, "Scrapy sets the settings before process_options()"
        # Checked here, before the crawler process starts and logs: an error raised while the
        # crawler starts reaches the user inside an asyncio traceback, and a UsageError left
        # to Scrapy prints the whole usage text and exits 2.
        try:
            super().process_options(args, opts)  # -a, -s, and -o/-O (a feed format refused)
            if args and args[0] == SemanticSpider.name:
                arguments = parse_arguments(opts.spargs, self.settings.get("RENDER_MODE"))
                frontier_limits(self.settings, arguments.max_pages)
        except UsageError as exc:
            if not str(exc):
                raise
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(USAGE_EXIT_CODE)

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
        # A crawler that failed to start (exit status 1) has no stats to read.
        if self.exitcode == 0 and self.crawler.stats.get_value("finish_reason") in REFUSED:
            self.exitcode = REFUSED_EXIT_CODE
