"""The fleet's last pipeline: no record is written while the worker stops."""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from scraper.extensions import FleetWorker
from scraper.items import PageRecord


class FleetPipeline:
    """Drop the records that finish while this worker stops (Redis or the store gone, or it
    was presumed dead): their pages stay in the fleet's frontier and end as one record,
    there. The others are written and their pages finished by ``FleetWorker.record``
    (through the feed exporter, ``scraper.feedexport``)."""

    def __init__(self, worker: FleetWorker):
        self.worker = worker

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FleetPipeline:
        worker = crawler.get_extension(FleetWorker)
        if worker is None:
            raise NotConfigured
        return cls(worker)

    def process_item(self, item: PageRecord) -> PageRecord:
        if self.worker.stopping:
            raise DropItem(f"{item.url} stays in the fleet's frontier", log_level="DEBUG")
        return item
