"""The scheduler of a fleet worker: the crawl's one frontier, in Redis, shared by every worker.

scrapy-redis's queues serialize the requests (its ``picklecompat``, ``Request.to_dict``);
unlike its queues, a request taken from this one stays owned by its worker until its page
record is done (``scraper.pipelines.fleet``), and goes back to the queue when that worker
stops beating, so a worker killed with -9 loses no page. The spider dedupes URLs with
scrapy-redis's ``RFPDupeFilter`` on the fleet's ``dupefilter`` key before it makes a request,
so every request reaching this scheduler is queued.
"""

from __future__ import annotations

import logging

import redis
from scrapy import Request, Spider
from scrapy.core.scheduler import BaseScheduler
from scrapy.crawler import Crawler
from scrapy_redis.queue import Base
from w3lib.url import canonicalize_url

from scraper.extensions import FleetWorker
from scraper.fleet import Fleet

logger = logging.getLogger(__name__)


def frontier_entry(request: Request) -> str:
    """The frontier's key of the work ``request`` belongs to: the page (the spider names it
    in ``meta["frontier_entry"]``, redirects and rendering keep it), else its URL."""
    return request.meta.get("frontier_entry") or canonicalize_url(request.url)


class FleetQueue(Base):
    """scrapy-redis's queue interface on the fleet's reliable frontier."""

    def __init__(self, fleet: Fleet, spider: Spider):
        super().__init__(fleet.redis, spider, fleet.key("queue"))
        self.fleet = fleet

    def __len__(self) -> int:
        return self.fleet.queued()

    def push(self, request: Request) -> None:
        self.fleet.push(frontier_entry(request), self._encode_request(request), request.priority)

    def pop(self, timeout: int = 0) -> Request | None:
        taken = self.fleet.pop()
        if taken is None:
            return None
        entry, payload = taken
        request = self._decode_request(payload)
        request.meta["frontier_entry"] = entry
        return request


class FleetScheduler(BaseScheduler):
    """Requests go to the fleet's Redis queue and come from it; Redis errors stop the worker
    (one log line, via the ``FleetWorker`` extension), and the requests stay in Redis."""

    def __init__(self, crawler: Crawler, worker: FleetWorker):
        self.crawler = crawler
        self.worker = worker
        self.queue: FleetQueue | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FleetScheduler:
        worker = crawler.get_extension(FleetWorker)
        assert worker is not None, "the FleetWorker extension sets this scheduler"
        return cls(crawler, worker)

    def open(self, spider: Spider) -> None:
        self.queue = FleetQueue(self.worker.fleet, spider)
        queued = len(self.queue)
        if queued:
            logger.info("Fleet frontier: %d requests queued", queued)

    def has_pending_requests(self) -> bool:
        if self.queue is None or self.worker.stopping:
            return False
        try:
            return len(self.queue) > 0
        except redis.RedisError as exc:
            self.worker.lost(exc)
            return False

    def enqueue_request(self, request: Request) -> bool:
        assert self.queue is not None, "open() was called"
        if self.worker.stopping:
            return False  # its page stays with this worker's entry in Redis, taken back later
        try:
            self.queue.push(request)
        except redis.RedisError as exc:
            self.worker.lost(exc)
            return False
        self.crawler.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        assert self.queue is not None, "open() was called"
        if self.worker.stopping:
            return None
        try:
            request = self.queue.pop()
        except redis.RedisError as exc:
            self.worker.lost(exc)
            return None
        if request is not None:
            self.crawler.stats.inc_value("scheduler/dequeued/redis")
        return request
