"""The scheduler of a fleet worker: the crawl's one frontier, in Redis, shared by every worker.

scrapy-redis's queues serialize the requests (its ``picklecompat``, ``Request.to_dict``);
unlike its queues, a request taken from this one stays owned by its worker until its page
record is done (``scraper.pipelines.fleet``), and goes back to the queue when that worker
stops beating, so a worker killed with -9 loses no page. Requests are deduped as they are
queued, in the same Redis step (every worker seeds the crawl; each page is queued once). A
worker holds at most CONCURRENT_REQUESTS pages at once (downloading or in its pipelines), and
takes none while as many of its downloads as it has clean workers wait for one of them, so
pages wait in the shared queue for the worker that is free first.
"""

from __future__ import annotations

import logging

import redis
from scrapy import Request, Spider
from scrapy.core.scheduler import BaseScheduler
from scrapy.crawler import Crawler

from scraper.extensions import FleetWorker, clean_workers
from scraper.frontier import HANDED_BACK, FleetQueue, frontier_entry

logger = logging.getLogger(__name__)


class FleetScheduler(BaseScheduler):
    """Requests go to the fleet's Redis queue and come from it; Redis errors stop the worker
    (one log line, via the ``FleetWorker`` extension), and the requests stay in Redis."""

    def __init__(self, crawler: Crawler, worker: FleetWorker):
        self.crawler = crawler
        self.worker = worker
        self.queue: FleetQueue | None = None  # the worker's, once open
        # Pages a worker holds at once, downloading or in its pipelines: Scrapy fetches as
        # long as the downloader has room, and a worker would take pages its LLM calls
        # cannot serve yet, while other workers wait.
        self.max_held = crawler.settings.getint("CONCURRENT_REQUESTS")
        # Downloads wait for a free clean worker before they start (CleanBacklogMiddleware):
        # pages taken beyond one waiting per clean worker would sit here, not in the shared
        # queue where an idle worker takes them.
        self.clean = clean_workers(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FleetScheduler:
        worker = crawler.get_extension(FleetWorker)
        assert worker is not None, "the FleetWorker extension sets this scheduler"
        return cls(crawler, worker)

    def open(self, spider: Spider) -> None:
        self.queue = self.worker.queue
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
            queued = self.queue.push(request)
        except redis.RedisError as exc:
            self.worker.lost(exc)
            return False
        if queued == HANDED_BACK:
            self.worker.held.discard(frontier_entry(request))
        stat = "scheduler/enqueued/redis" if queued else "dupefilter/filtered"
        self.crawler.stats.inc_value(stat)
        return bool(queued)

    def next_request(self) -> Request | None:
        assert self.queue is not None, "open() was called"
        if (
            self.worker.stopping
            or len(self.worker.held) >= self.max_held
            or self.clean.waiting >= max(1, self.clean.workers)
        ):
            return None  # Scrapy asks again when one of its requests is done
        try:
            request = self.queue.pop()
        except redis.RedisError as exc:
            self.worker.lost(exc)
            return None
        if request is not None:
            self.worker.held.add(frontier_entry(request))
            self.crawler.stats.inc_value("scheduler/dequeued/redis")
        return request
