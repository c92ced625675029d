"""Scrapy extensions of semantic-scraper."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured, UsageError
from scrapy.extensions.feedexport import FeedExporter as ScrapyFeedExporter
from w3lib.url import canonicalize_url

from scraper.clean.pool import CleanPool
from scraper.config import clean_pool, open_store_from_settings
from scraper.extract.failures import FailuresFile
from scraper.extract.llm.cost import PAID_STATS, Usage
from scraper.fleet import Fleet, connect
from scraper.fleet.fleet import unavailable
from scraper.frontier import FleetQueue
from scraper.graph import GraphStoreError, is_endpoint
from scraper.graph.leases import release_lease
from scraper.items import PageRecord
from scraper.paths import project_path
from scraper.pipelines.outcome import OUTCOME_STATS, outcome_stats
from scraper.redaction import install_log_redaction
from scraper.report import crawl_report, format_report
from scraper.signals import state_write_failed
from scraper.writes import WRITE_FAILED, WriteFailed

logger = logging.getLogger(__name__)
# How often an idle fleet worker looks for queued pages: a busy worker takes them as soon as
# it has room, so an idle one that looked less often would rarely find one left.
IDLE_LOOK_SECONDS = 0.1


class RedactLogs:
    """Keys and credentials never reach the log: every record is redacted (scraper.redaction)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedactLogs:
        install_log_redaction()
        return cls()


class StopOnWriteFailure:
    """The first output or state write that fails (scraper.signals.state_write_failed) stops
    the crawl: one error line saying what to do, finish reason ``write_failed``, stat
    ``crawl/write_failed`` (the path), and ``scrapy crawl`` exits with status 3."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.failure: WriteFailed | None = None
        self._opened = False  # a failure while the pipelines open closes the crawl once open
        self._closing: asyncio.Future | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StopOnWriteFailure:
        extension = cls(crawler)
        crawler.signals.connect(extension.stop, signal=state_write_failed)
        crawler.signals.connect(extension._spider_opened, signal=signals.spider_opened)
        return extension

    def stop(self, failure: WriteFailed) -> None:
        if self.failure is not None:
            return
        self.failure = failure
        assert self.crawler.stats is not None, "signals are sent once the crawl runs"
        self.crawler.stats.set_value("crawl/write_failed", failure.path)
        logger.error("Crawl stopped: %s", failure)
        if self._opened:
            self._close()

    def _spider_opened(self) -> None:
        self._opened = True
        if self.failure is not None:
            self._close()

    def _close(self) -> None:
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            self._closing = asyncio.ensure_future(engine.close_spider_async(reason=WRITE_FAILED))


class CrawlReport:
    """At the end of a crawl, log a readable summary and write it as JSON to REPORT_DIR."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.folder = project_path(crawler.settings.get("REPORT_DIR"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlReport:
        extension = cls(crawler)
        # After the stats are final: the core stats extension fills finish_time on
        # spider_closed too, so this runs on the engine's last signal.
        crawler.signals.connect(extension.write, signal=signals.spider_closed)
        return extension

    def write(self, spider: Spider, reason: str) -> None:
        stats = {"finish_reason": reason, **self.crawler.stats.get_stats()}
        report = crawl_report(stats, stats.get("llm/model"))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        # The workers of a fleet often end in the same second: each report is named after
        # its worker too, so none overwrites another.
        worker = self.crawler.get_extension(FleetWorker)
        name = (
            f"{spider.name}-{stamp}" if worker is None else f"{spider.name}-{stamp}-{worker.name}"
        )
        path = self.folder / f"{name}.json"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, indent=2, default=str) + "\n")
        except OSError as exc:
            logger.error("Could not write the crawl report to %s: %s", path, exc)
            self.crawler.stats.set_value("crawl/write_failed", str(path))
        else:
            self.crawler.stats.set_value("report/file", str(path))
        logger.info("%s\n  report:     %s", format_report(report), path)


# Stats that are no sums: a fleet's report leaves them out of its totals (or works them out);
# a record's outcome is added with its ack (FleetWorker.ack), and what the LLM's calls cost
# as each one is paid (Fleet.add_usage), not with the next ack.
_NOT_SUMMED = (
    *OUTCOME_STATS,
    *PAID_STATS,
    "elapsed_time_seconds",
    "memusage/",
    "graph/entities_added",
    "graph/entities_removed",
    "graph/relations_added",
    "graph/relations_removed",
    "report/",
    "fleet/",
)


class CleanWorkers:
    """The crawl's pool of worker processes for the CPU-bound stages (the render decision,
    cleaning, chunking; CLEAN_* settings), shared by the spider and the pipelines, which find
    it with :func:`clean_workers`. The workers start with the engine, warming up while the
    first pages download, and stop when the spider closes."""

    def __init__(self, pool: CleanPool):
        self.pool = pool

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleanWorkers:
        extension = cls(clean_pool(crawler.settings))
        crawler.signals.connect(extension.pool.start, signal=signals.engine_started)
        crawler.signals.connect(extension.pool.close, signal=signals.spider_closed)
        crawler.signals.connect(extension.pool.close, signal=signals.engine_stopped)
        return extension


def clean_workers(crawler: Crawler) -> CleanPool:
    """The crawl's :class:`CleanWorkers` pool."""
    extension = crawler.get_extension(CleanWorkers)
    if extension is None:
        raise UsageError(
            "the render decision, cleaning and chunking need the extension "
            "scraper.extensions.CleanWorkers: keep it in EXTENSIONS (CLEAN_WORKERS=0 runs "
            "them inline)"
        )
    return extension.pool


class FleetWorker:
    """Make this crawl one worker of a fleet when ``REDIS_URL`` is set (else off).

    It switches the scheduler to the fleet's shared frontier (``scraper.scheduler``), joins
    the crawl (heartbeats from a thread, so a worker killed with -9 is found out and its pages
    go back to the queue), keeps an idle worker waiting while others still crawl (or always,
    with ``FLEET_CLOSE_WHEN_EMPTY = False``), and stops the worker cleanly, in one log line,
    when Redis or the graph store goes away. The crawl's last worker writes one report for
    the whole crawl, gathers every worker's failures in its FAILURES_FILE, gives the store's
    writer lease up and clears the crawl's state in Redis. Other components find it with
    ``crawler.get_extension(FleetWorker)``.
    """

    def __init__(self, crawler: Crawler, fleet: Fleet, spider: Spider):
        self.crawler = crawler
        self.fleet = fleet
        self.settings = crawler.settings
        self.stopping: str | None = None  # why this worker stops early (Redis, store gone)
        self.crawl = fleet.join()
        self._pushed: dict[str, float] = {}
        self._beating = threading.Event()
        self._beats = threading.Thread(target=self._beat, name="fleet-heartbeat", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.last = False  # set on close: this worker ended the crawl
        self._watching: asyncio.Future | None = None
        self.queue = FleetQueue(fleet, spider)  # the frontier (the scheduler's too)
        self.held: set[str] = set()  # entries this worker took and has not finished
        # Beating from the join on: opening the crawl (pipelines, store, browser) can take
        # longer than FLEET_WORKER_TIMEOUT on a loaded machine, and a worker presumed dead
        # before it opened stopped at once. What the thread finds before the crawl's loop
        # runs waits for it.
        self._early: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self._beats.start()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FleetWorker:
        settings = crawler.settings
        # Only spiders that make their page requests for a fleet (the semantic spider; not
        # retry_failed's, whose pages come from a file) run as fleet workers.
        spider = crawler.spider
        if not settings.get("REDIS_URL") or not getattr(spider, "fleet_worker", False):
            raise NotConfigured
        assert spider is not None, "fleet_worker is a spider's attribute"
        fleet = connect(
            settings.get("REDIS_URL"),
            settings.get("FLEET_NAME"),
            worker_timeout=settings.getfloat("FLEET_WORKER_TIMEOUT"),
        )
        settings.set("SCHEDULER", "scraper.scheduler.FleetScheduler", priority="spider")
        extension = cls(crawler, fleet, spider)
        # Feed URIs may name the worker: -O pages-%(worker)s.jsonl
        vars(spider)["worker"] = fleet.worker
        crawler.signals.connect(extension.opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.idle, signal=signals.spider_idle)
        crawler.signals.connect(extension.closed, signal=signals.spider_closed)
        return extension

    @property
    def name(self) -> str:
        """This worker's name in the fleet (``host-pid-random``), unique over its machines."""
        return self.fleet.worker

    @property
    def lease_holder(self) -> str:
        """The graph store's writer lease is the crawl's: every worker of it holds it."""
        return self.fleet.lease_holder(self.crawl)

    def record(
        self, item: PageRecord, write: Callable[[], None], take_back: Callable[[], None]
    ) -> None:
        """Write the record of a page (``write``, the feed exporter's) if this worker still
        holds its entry, then finish the entry with the stats of the work, at once: a worker
        killed before the write leaves the page in the frontier (another worker crawls it),
        and only one killed between the write and the ack's send records a page twice. When
        Redis goes away before the ack, the record is taken back out of the feeds
        (``take_back``): the page stays in the frontier and a restart records it once."""
        if self.stopping:
            return  # its page stays in the frontier (the pipelines dropped it already)
        entry = canonicalize_url(item.url)
        try:
            verdict = self.fleet.may_record(entry)
        except redis.RedisError as exc:
            self.lost(exc)
            return
        if verdict != 1:
            # presumed dead and the page given to another worker, or recorded by one that was
            self.held.discard(entry)
            self.crawler.stats.inc_value("fleet/records_taken_over")
            logger.warning("Fleet: %s was taken over by another worker", item.url)
            return
        stats = {**self.delta(), **outcome_stats(item)}  # ready: the ack follows the write
        write()
        self.held.discard(entry)
        try:
            held = self.fleet.ack(entry, stats)
        except redis.RedisError as exc:
            take_back()
            self.lost(exc)
            self.crawler.stats.inc_value("fleet/acks_in_doubt")
            # Most likely the ack never ran; if Redis ran it and went away before answering,
            # the page is finished without its record.
            logger.warning(
                "Fleet: Redis went away while %s was finishing: its record is taken back "
                "from the feed; if it finished, re-crawl it (follow=false)",
                item.url,
            )
            return
        if not held:
            # Presumed dead while it wrote: the page is finished all the same, and the worker
            # crawling it now drops its record.
            self.crawler.stats.inc_value("fleet/late_records")

    def ack(self, entry: str) -> bool:
        """Finish ``entry``, one with no record (a sitemap), with the stats of the work since
        the last ack; False when another worker had taken it over. Redis errors are raised."""
        self.held.discard(entry)
        return self.fleet.ack(entry, self.delta())

    def remember_graph_before(self, entities: int, relations: int) -> None:
        """What the store held when the crawl began (its first worker's count is kept)."""
        stats = self.fleet.key("stats")
        self.fleet.redis.hsetnx(stats, "fleet/entities_before", entities)
        self.fleet.redis.hsetnx(stats, "fleet/relations_before", relations)

    def opened(self) -> None:
        self._loop = asyncio.get_running_loop()
        logger.info(
            "Fleet worker %s of crawl %s (%s): %d workers, %d requests queued",
            self.fleet.worker,
            self.crawl,
            self.fleet.name,
            self.fleet.workers(),
            self.fleet.queued(),
        )
        self.fleet.redis.hsetnx(self.fleet.key("stats"), "fleet/started", time.time())
        self.fleet.redis.hincrby(self.fleet.key("stats"), "fleet/worker_starts", 1)
        for function, args in self._early:
            self._loop.call_soon(function, *args)

    def _beat(self) -> None:
        interval = self.fleet.worker_timeout / 4
        while not self._beating.wait(interval):
            try:
                alive = self.fleet.beat()
            except redis.RedisError as exc:
                self._from_thread(self.lost, exc)
                return
            if not alive:
                self._from_thread(
                    self.stop,
                    "fleet_worker_presumed_dead",
                    f"this worker sent no heartbeat for {self.fleet.worker_timeout:g} s "
                    "(FLEET_WORKER_TIMEOUT): other workers took its pages back; stopping it",
                )
                return

    def _from_thread(self, function: Callable[..., None], *args: Any) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(function, *args)
        else:
            self._early.append((function, args))

    def lost(self, exc: Exception) -> None:
        """Redis went away: one error line, and the worker stops (from any thread)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not self._loop:
            self._from_thread(self.lost, exc)
            return
        self.stop("redis_unavailable", str(unavailable(self.fleet.url, exc)))

    # The crawl's LLM spend and failures (the extraction stage's SharedSpend and sink); once
    # Redis is gone, the worker stops and these no longer count.
    def add_usage(self, attempt: Usage) -> None:
        try:
            self.fleet.add_usage(attempt)
        except redis.RedisError as exc:
            self.lost(exc)

    def spent(self) -> float:
        try:
            return self.fleet.spent()
        except redis.RedisError as exc:
            self.lost(exc)
            return 0.0

    def add_failure(self, line: str) -> None:
        try:
            self.fleet.add_failure(line)
        except redis.RedisError as exc:
            self.lost(exc)

    def stop(self, reason: str, message: str) -> None:
        """Stop this worker (once): the pages it holds stay in the fleet's frontier."""
        if self.stopping is not None:
            return
        self.stopping = reason
        logger.error("Fleet worker stopping: %s", message)
        self.crawler.stats.set_value("fleet/stopped", reason)
        if self.crawler.engine is not None:
            self._closing = asyncio.ensure_future(
                self.crawler.engine.close_spider_async(reason=reason)
            )

    def delta(self) -> dict[str, float]:
        """The numeric stats that changed since the last call (what to add to the fleet's)."""
        changed = {}
        for name, value in self.crawler.stats.get_stats().items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if name.startswith(_NOT_SUMMED):
                continue
            step = value - self._pushed.get(name, 0)
            if step:
                changed[name] = step
        self._pushed.update({name: self._pushed.get(name, 0) + v for name, v in changed.items()})
        return changed

    def idle(self) -> None:
        """Keep an idle worker while the crawl goes on: other workers may still add pages."""
        if self.stopping is not None:
            return
        try:
            busy = self._busy()
        except redis.RedisError as exc:
            self.lost(exc)
            return
        if self._watching is not None:
            raise DontCloseSpider  # the watch closes the worker (once) when the crawl is done
        if busy or not self.settings.getbool("FLEET_CLOSE_WHEN_EMPTY"):
            if busy:
                self._watching = asyncio.ensure_future(self._watch())
            raise DontCloseSpider

    def _busy(self) -> bool:
        """Whether the fleet still has requests queued or taken (after the pages of dead
        workers went back to the queue), or live workers that may still queue some: the
        last workers leave together, and the very last one ends the crawl."""
        returned = self.fleet.reclaim()
        if returned:
            logger.warning("%d pages of stopped workers went back to the queue", returned)
            self.crawler.stats.inc_value("fleet/reclaimed", returned)
        if self.fleet.queued() or self.fleet.taken():
            return True
        return self.fleet.done() > 0

    async def _watch(self) -> None:
        """While idle, look at the frontier every :data:`IDLE_LOOK_SECONDS` (Scrapy looks
        every 5 s): crawl the first request other workers queue (as scrapy-redis's spiders
        do, through ``engine.crawl``, which hands it back to the queue and wakes the engine),
        and close as soon as the whole crawl is done."""
        try:
            while self.stopping is None and self.crawler.engine is not None:
                await asyncio.sleep(IDLE_LOOK_SECONDS)
                if self.fleet.queued():
                    self.fleet.crawling()
                    request = self.queue.pop()
                    if request is not None:
                        self.crawler.engine.crawl(request)
                    return
                if not self._busy() and self.settings.getbool("FLEET_CLOSE_WHEN_EMPTY"):
                    await self.crawler.engine.close_spider_async(reason="finished")
                    return
        except redis.RedisError as exc:
            self.lost(exc)
        finally:
            self._watching = None

    def closed(self, spider: Spider, reason: str) -> None:
        self._beating.set()
        # A worker stopped early (presumed dead, store gone) adds its stats too: its LLM calls
        # were paid. Only a Redis gone away cannot have them.
        if self.stopping != "redis_unavailable":
            try:
                over = self.fleet.leave(self.delta())
                self.last = over and reason == "finished"
            except redis.RedisError as exc:
                logger.error("%s", unavailable(self.fleet.url, exc))
        if self.last:
            self._end_crawl(spider)
        self.fleet.redis.close()

    def _end_crawl(self, spider: Spider) -> None:
        """The crawl's last worker: one report for the whole crawl, every failure in its
        failures file, the store's lease given up, the crawl's Redis state cleared."""
        stats: dict[str, Any] = dict(self.fleet.stats())
        failures = self.fleet.failures()
        if failures:
            path = project_path(self.settings.get("FAILURES_FILE"))
            FailuresFile(path).append([line + "\n" for line in failures])
            logger.info("%d failed pages of the crawl recorded in %s", len(failures), path)
        stats.update(self._graph_totals(stats))
        started = stats.pop("fleet/started", time.time())
        stats.update(
            finish_reason="finished",
            start_time=datetime.fromtimestamp(started, UTC),
            finish_time=datetime.now(UTC),
            elapsed_time_seconds=time.time() - started,
        )
        report = crawl_report(stats, self.crawler.stats.get_value("llm/model"))
        report["workers"] = int(stats.get("fleet/worker_starts", 0))
        folder = project_path(self.settings.get("REPORT_DIR"))
        # The crawl's id: two fleets (two FLEET_NAMEs) may end in the same second.
        path = folder / f"{spider.name}-fleet-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{self.crawl}.json"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, indent=2, default=str) + "\n")
        except OSError as exc:
            logger.error("Could not write the fleet's crawl report to %s: %s", path, exc)
        self.fleet.finish()
        logger.info(
            "Fleet %s done, the crawl's last worker reports\n%s\n  workers:    %d started"
            "\n  report:     %s",
            self.fleet.name,
            format_report(report),
            report["workers"],
            path,
        )

    def _graph_totals(self, stats: dict[str, Any]) -> dict[str, float]:
        """Entities and relations the crawl added or removed (net), and the lease given up."""
        try:
            store = open_store_from_settings(self.settings, write=False)
        except GraphStoreError as exc:
            logger.error("Could not open the graph store to end the crawl: %s", exc)
            return {}
        try:
            if is_endpoint(self.settings.get("GRAPH_STORE")):
                release_lease(store, self.lease_holder)
            entities, relations = store.entity_and_relation_keys()
        except GraphStoreError as exc:
            logger.error("Could not end the crawl in the graph store: %s", exc)
            return {}
        finally:
            store.close()
        net_entities = len(entities) - stats.pop("fleet/entities_before", len(entities))
        net_relations = len(relations) - stats.pop("fleet/relations_before", len(relations))
        return {
            "graph/entities_added": max(net_entities, 0),
            "graph/entities_removed": max(-net_entities, 0),
            "graph/relations_added": max(net_relations, 0),
            "graph/relations_removed": max(-net_relations, 0),
        }


class FeedExporter(ScrapyFeedExporter):
    """Scrapy's feed exporter. In a fleet worker (``REDIS_URL``), each record goes through
    ``FleetWorker.record``: written only while the worker holds the page's entry, and the
    entry finished right after the write, in the same step (no other record or callback in
    between), so a worker killed with -9 has either written the record or left the page in
    the frontier."""

    def item_scraped(self, item: Any, spider: Spider) -> None:
        worker = self.crawler.get_extension(FleetWorker)
        if worker is None:
            super().item_scraped(item, spider)
            return
        # Where each open feed file ends before the record: taking it back cuts it there (a
        # feed's header, written with its first record, is never cut).
        ends = [(slot.file, slot.file.tell()) for slot in self.slots if slot.file is not None]

        def take_back() -> None:
            for file, end in ends:
                file.seek(end)
                file.truncate(end)

        worker.record(item, lambda: super(FeedExporter, self).item_scraped(item, spider), take_back)
