"""``scrapy crawl`` that checks its arguments and refuses to share a graph store.

Both happen before anything is written. A bad argument prints one line and exits with
status 1; a refused crawl exits with status 2 (for cron, systemd and scrapyd), and opens
no feed: ``-O out.jsonl`` of the crawl still running is left alone. A crawl stopped because
its output or state could not be written (a full disk) exits with status 3.
"""

from __future__ import annotations

import argparse
import logging
import sys

from scrapy import Spider
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.crawler import Crawler
from scrapy.exceptions import UsageError

from scraper.config import check_crawl_settings, frontier_limits, store_write_refusal
from scraper.fleet import FleetUnavailable, connect
from scraper.spiders.arguments import parse_arguments
from scraper.spiders.semantic import SemanticSpider

logger = logging.getLogger(__name__)
REFUSED_EXIT_CODE = 2
WRITE_FAILED_EXIT_CODE = 3  # output or state could not be written (a full disk)
# Finish reasons of crawls that could not do their job at all.
REFUSED = ("graph_store_locked", "graph_store_error")
# Finish reasons of a fleet worker that stopped because Redis or the store went away.
STOPPED = ("redis_unavailable", "graph_store_unavailable", "fleet_worker_presumed_dead")
USAGE_EXIT_CODE = 1
STOPPED_EXIT_CODE = 3  # start the worker again once Redis or the store is back


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
            check_crawl_settings(self.settings)
        except ValueError as exc:  # a setting that cannot be read
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(USAGE_EXIT_CODE)
        except UsageError as exc:
            if not str(exc):
                raise
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(USAGE_EXIT_CODE)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        settings = self.settings
        assert settings is not None, "Scrapy sets the settings before run()"
        holder: str | None = None
        if settings.get("REDIS_URL") and args and args[0] == SemanticSpider.name:
            try:
                fleet = connect(settings["REDIS_URL"], settings["FLEET_NAME"], worker_timeout=0)
            except FleetUnavailable as exc:
                logger.error("Crawl refused: %s", exc)
                self.exitcode = REFUSED_EXIT_CODE
                return
            holder = fleet.lease_holder(fleet.crawl_id())  # the crawl's workers share its lease
            fleet.redis.close()
        graph_pipeline = "scraper.pipelines.graph.GraphPipeline"
        if settings.getwithbase("ITEM_PIPELINES").get(graph_pipeline) is not None:
            refusal = store_write_refusal(settings, holder)
            if refusal:
                logger.error("Crawl refused: %s", refusal)
                self.exitcode = REFUSED_EXIT_CODE
                return
        super().run(args, opts)
        # A crawler that failed to start (exit status 1) has no stats to read.
        reason = self.crawler.stats.get_value("finish_reason") if self.exitcode == 0 else None
        if reason in REFUSED:
            self.exitcode = REFUSED_EXIT_CODE
        elif reason in STOPPED:
            self.exitcode = STOPPED_EXIT_CODE
        if self.exitcode == 0 and self.crawler.stats.get_value("crawl/write_failed"):
            self.exitcode = WRITE_FAILED_EXIT_CODE
