"""The fleet's last pipeline: a page record leaves the shared frontier once it is written."""

from __future__ import annotations

import logging

import redis
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from w3lib.url import canonicalize_url

from scraper.extensions import FleetWorker
from scraper.items import PageRecord
from scraper.pipelines.outcome import outcome_stats

logger = logging.getLogger(__name__)


class FleetPipeline:
    """Write a page's record only while this worker holds its frontier entry, and finish the
    entry (with the stats of the work) once the record is in the feeds.

    A record whose entry this worker no longer holds (it was presumed dead and another
    worker took the page), whose page a worker presumed dead recorded after all, or that
    finishes while this worker stops (Redis or the store gone), is not exported: the page
    ends as one record, elsewhere. The entry is finished only after the feed exporter wrote
    the record (feed files are written through, ``scraper.feedstorage``): a worker killed with
    -9 before that leaves the page in the frontier, and another worker crawls it again.
    """

    def __init__(self, crawler: Crawler, worker: FleetWorker):
        self.stats = crawler.stats
        self.worker = worker

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FleetPipeline:
        worker = crawler.get_extension(FleetWorker)
        if worker is None:
            raise NotConfigured
        pipeline = cls(crawler, worker)
        # Scrapy's FeedExporter, an extension, connected its own handler when the extensions
        # were built, before any pipeline: this one runs after the record is written.
        crawler.signals.connect(pipeline.record_written, signal=signals.item_scraped)
        return pipeline

    def process_item(self, item: PageRecord) -> PageRecord:
        if self.worker.stopping:
            raise DropItem(f"{item.url} stays in the fleet's frontier", log_level="DEBUG")
        try:
            mine = self.worker.may_record(canonicalize_url(item.url))
        except redis.RedisError as exc:
            self.worker.lost(exc)
            raise DropItem(f"{item.url} stays in the fleet's frontier", log_level="DEBUG") from exc
        if not mine:
            self.stats.inc_value("fleet/records_taken_over")
            raise DropItem(f"{item.url} was taken over by another worker", log_level="WARNING")
        return item

    def record_written(self, item: PageRecord) -> None:
        try:
            held = self.worker.ack(canonicalize_url(item.url), outcome_stats(item))
        except redis.RedisError as exc:
            # Redis went away after the record was written: if the ack did not run, the page
            # is still in the frontier and a restart crawls it again.
            self.worker.lost(exc)
            self.stats.inc_value("fleet/acks_in_doubt")
            logger.warning(
                "Fleet: Redis went away while %s was finishing: its record is written; "
                "a restart may record it again",
                item.url,
            )
            return
        if not held:
            # This worker was presumed dead while it wrote the record: the page is finished
            # all the same, and the worker crawling it now drops its own record.
            self.stats.inc_value("fleet/late_records")
