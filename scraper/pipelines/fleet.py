"""The fleet's last pipeline: a finished page record leaves the shared frontier."""

from __future__ import annotations

import logging

import redis
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from w3lib.url import canonicalize_url

from scraper.extensions import FleetWorker
from scraper.items import PageRecord

logger = logging.getLogger(__name__)


class FleetPipeline:
    """Finish the page's frontier entry (with the stats of its work) before the record is
    written to the feed.

    A record whose entry this worker no longer holds (it was presumed dead and another
    worker took the page), or that finishes while this worker stops (Redis or the store
    gone), is not exported: the page stays in the frontier and ends as one record, there.
    """

    def __init__(self, crawler: Crawler, worker: FleetWorker):
        self.stats = crawler.stats
        self.worker = worker

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FleetPipeline:
        worker = crawler.get_extension(FleetWorker)
        if worker is None:
            raise NotConfigured
        return cls(crawler, worker)

    def process_item(self, item: PageRecord) -> PageRecord:
        if self.worker.stopping:
            raise DropItem(f"{item.url} stays in the fleet's frontier", log_level="DEBUG")
        try:
            done = self.worker.ack(canonicalize_url(item.url))
        except redis.RedisError as exc:
            # Redis went away during the ack: it most likely never ran (the page stays in the
            # frontier and a restart crawls it), but a server killed after running it and
            # before answering finished the page without its record.
            self.worker.lost(exc)
            self.stats.inc_value("fleet/acks_in_doubt")
            logger.warning(
                "Fleet: Redis went away while %s was finishing: if it finished, "
                "re-crawl it (follow=false)",
                item.url,
            )
            raise DropItem(f"{item.url} stays in the fleet's frontier", log_level="DEBUG") from exc
        if not done:
            self.stats.inc_value("fleet/records_taken_over")
            raise DropItem(f"{item.url} was taken over by another worker", log_level="WARNING")
        return item
