"""Item pipeline adapter for the graph store: each page's facts into its named graph."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis
from scrapy.crawler import Crawler
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from scraper.config import graph_write_config, open_store_from_settings
from scraper.extensions import FleetWorker
from scraper.facts import Stage
from scraper.graph import (
    GraphStore,
    GraphStoreError,
    InvalidPage,
    PageProvenance,
    PageState,
    ReplaceResult,
    StoreLocked,
    StoreUnavailable,
    is_endpoint,
)
from scraper.graph.leases import acquire_lease, release_lease, renew_lease
from scraper.graph.recrawl import attempt_failures, brings_new_facts, page_provenance
from scraper.items import PageRecord
from scraper.signals import previous_pages_loaded, state_write_failed
from scraper.writes import WriteFailed, out_of_space

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class _Queued:
    """A page waiting for its batch to be written."""

    item: PageRecord
    provenance: PageProvenance
    written: asyncio.Future


@dataclass
class _Outcome:
    """What storing one page did, applied to the crawl once its batch is in the store."""

    change: str | None = None
    stats: Counter[str] = field(default_factory=Counter)
    failure: tuple[str, str] | None = None  # (reason, message) of a page not stored
    previous: dict[str, PageState | None] = field(default_factory=dict)  # None: gone

    def state(self, previous: dict[str, PageState], url: str) -> PageState | None:
        """What earlier crawls stored of ``url``, as this page's writes left it."""
        return self.previous[url] if url in self.previous else previous.get(url)

    def count_stored(self, result: ReplaceResult) -> None:
        self.stats["graph/pages_stored"] += 1
        self.stats["graph/facts_added"] += result.facts_added
        self.stats["graph/facts_removed"] += result.facts_removed
        self.stats["graph/entities"] += result.entities
        self.stats["graph/relations"] += result.relations
        self.stats["graph/merged_mentions"] += result.merged_mentions
        self.stats["graph/relations_dropped"] += result.dropped_relations


class GraphPipeline:
    """Store each page: facts replaced atomically, or the failed attempt remembered.

    Pages whose fetch failed keep the facts they had (a failed fetch must not wipe a
    page); a page whose LLM extraction failed stores its structured data unless its
    content is unchanged. The store marks failed pages for retry. Pages are written in batches
    (``GRAPH_WRITE_BATCH`` pages, one store transaction each) in a worker thread, one batch
    at a time, so resolution sees every earlier page and the reactor never blocks; a page
    is acknowledged (its item passed on, its journal entry done) only once its batch is in
    the store.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.settings = crawler.settings
        self.stats = crawler.stats
        self.config = graph_write_config(crawler.settings)
        self.store: GraphStore | None = None
        self.previous: dict[str, PageState] = {}  # what earlier crawls stored, by page URL
        self.keys_before: tuple[set[str], set[tuple[str, str, str]]] = (set(), set())
        self.unusable: str | None = None  # why no page can be stored in this crawl
        self._closing: asyncio.Future | None = None
        self._renewing: asyncio.Future | None = None
        # A fleet's workers write as one crawl: they share its lease, and each page's
        # resolution and write happen under the fleet's lock, one page at a time.
        self.fleet = crawler.get_extension(FleetWorker)
        self.lease_holder = (
            self.fleet.lease_holder
            if self.fleet is not None
            else f"{socket.gethostname()} pid {os.getpid()} ({uuid.uuid4().hex[:8]})"
        )
        self._write_timeout = 4 * crawler.settings.getfloat("GRAPH_STORE_TIMEOUT") + 5
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph-store")
        # Pages wait here for their batch; one task writes the batches, one at a time.
        self._queue: list[_Queued] = []
        self._batch_full = asyncio.Event()
        self._draining: asyncio.Future | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> GraphPipeline:
        return cls(crawler)

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)

    async def open_spider(self) -> None:
        try:
            self.store = await self._run(
                lambda: open_store_from_settings(self.settings, write=True)
            )
        except GraphStoreError as exc:
            self._unusable(exc)
            return
        logger.info("Graph store: %s", self.store.location)
        if is_endpoint(self.config.location) and not await self._take_lease():
            return
        self.previous = await self._run(self.store.page_states)
        self.keys_before = await self._run(self.store.entity_and_relation_keys)
        if self.fleet is not None:
            entities, relations = self.keys_before
            try:
                self.fleet.remember_graph_before(len(entities), len(relations))
            except redis.RedisError as exc:
                self.fleet.lost(exc)
        logger.info("The graph store holds %d pages from earlier crawls", len(self.previous))
        self.crawler.signals.send_catch_log(signal=previous_pages_loaded, pages=self.previous)

    def _unusable(self, exc: GraphStoreError) -> None:
        """Remember why no page can be stored, and close the crawl."""
        self.unusable = str(exc)
        self.stats.set_value("graph/unusable", type(exc).__name__)
        logger.error("Graph store unusable, stopping the crawl: %s", exc)
        reason = "graph_store_locked" if isinstance(exc, StoreLocked) else "graph_store_error"
        asyncio.get_running_loop().call_soon(self._close_crawl, reason)

    async def _take_lease(self) -> bool:
        """Become the shared store's only crawl writer, renewing the lease while crawling."""
        seconds, store = self.config.lease_seconds, self.store
        assert store is not None, "called once the store is open"
        try:
            await self._run(acquire_lease, store, self.lease_holder, seconds)
        except GraphStoreError as exc:
            await self._run(store.close)
            self.store = None
            self._unusable(exc)
            return False
        self._renewing = asyncio.ensure_future(self._renew_lease(seconds))
        return True

    async def _renew_lease(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds / 3)
            try:
                await self._run(renew_lease, self.store, self.lease_holder, seconds)
            except GraphStoreError as exc:  # the next renewal may get through
                logger.warning("Could not renew the graph store lease: %s", exc)

    def _close_crawl(self, reason: str) -> None:
        if self.crawler.engine is not None:
            self._closing = asyncio.ensure_future(
                self.crawler.engine.close_spider_async(reason=reason)
            )

    async def process_item(self, item: PageRecord) -> PageRecord:
        if self.store is None:
            item.fail(Stage.STORE, "store_unusable", self.unusable or "graph store not open")
            self.stats.inc_value("graph/failed/store_unusable")
            return item
        written = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(item, page_provenance(item), written))
        if len(self._queue) >= self.config.batch_pages:
            self._batch_full.set()
        if self._draining is None or self._draining.done():
            self._draining = asyncio.ensure_future(self._drain())
        await written  # the page is acknowledged once its batch is in the store
        return item

    async def _drain(self) -> None:
        """Write the queued pages, one batch at a time, until none is left."""
        while self._queue:
            if len(self._queue) < self.config.batch_pages:
                self._batch_full.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._batch_full.wait(), self.config.batch_wait)
            batch = self._next_batch()
            try:
                outcomes = await self._store_batch(batch)
            except Exception as exc:  # a bug: the pages' process_item raise it
                for queued in batch:
                    queued.written.set_exception(exc)
                continue
            for queued, outcome in zip(batch, outcomes, strict=True):
                self._apply(queued.item, outcome)
                queued.written.set_result(None)

    def _next_batch(self) -> list[_Queued]:
        """The first queued pages, up to a batch, stopping before a page whose URLs one of
        them has (a page's writes read what the store holds of it)."""
        batch: list[_Queued] = []
        urls: set[str] = set()
        while self._queue and len(batch) < self.config.batch_pages:
            queued = self._queue[0]
            touched = {queued.item.url, queued.provenance.url}
            if batch and not urls.isdisjoint(touched):
                break
            urls |= touched
            batch.append(self._queue.pop(0))
        return batch

    async def _store_batch(self, batch: list[_Queued]) -> list[_Outcome]:
        """Store a batch of pages in one transaction; the whole batch again (backing off)
        while the store is unreachable; page by page when the store refuses the batch."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(StoreUnavailable),
            stop=stop_after_attempt(self.config.retry_times + 1),
            wait=wait_exponential(multiplier=0.5, max=5),
            reraise=True,
        )
        try:
            return await retrying(self._run, self._serialised(self._write_pages), batch)
        except StoreUnavailable as exc:
            return self._unavailable(exc, len(batch))
        except GraphStoreError as exc:
            if len(batch) == 1:
                return [_Outcome(failure=("store_error", str(exc)))]
            return [outcome for queued in batch for outcome in await self._store_batch([queued])]
        except redis.RedisError as exc:  # the fleet's lock: the worker stops, the pages wait
            assert self.fleet is not None, "only a fleet's writes take a Redis lock"
            self.fleet.lost(exc)
            return [_Outcome() for _ in batch]

    def _unavailable(self, exc: StoreUnavailable, pages: int) -> list[_Outcome]:
        if self.fleet is not None:  # the pages stay in the frontier for a restart
            self.fleet.stop(
                "graph_store_unavailable",
                f"{exc}; start the workers again "
                "once the store is back: the crawl resumes where it stopped",
            )
        if exc.__cause__ is not None and out_of_space(exc.__cause__):
            failure = WriteFailed(self.config.location, exc.__cause__)
            self.crawler.signals.send_catch_log(state_write_failed, failure=failure)
        return [_Outcome(failure=("store_unavailable", str(exc))) for _ in range(pages)]

    def _write_pages(self, batch: list[_Queued]) -> list[_Outcome]:
        """(In the store's thread.) Every page of the batch in one store transaction."""
        store = self.store
        assert store is not None, "called once the store is open"
        with store.write_batch():
            return [self._write_page(store, queued) for queued in batch]

    def _write_page(self, store: GraphStore, queued: _Queued) -> _Outcome:
        """Store a page: facts replaced, dropped (gone), or the attempt remembered."""
        item, provenance = queued.item, queued.provenance
        outcome = _Outcome()
        try:
            moved = self._follow_redirect(store, item.url, provenance.url, outcome)
            previous = outcome.state(self.previous, provenance.url)
            status = item.extraction.status if item.extraction else None
            # Only a page the store held content of can be removed: one that was never
            # fetched (404 in every crawl) stays a failed attempt, marked for retry.
            if previous is not None and previous.content_hash and self._removed(item):
                outcome.stats["graph/facts_removed"] += store.drop_page(provenance.url)
                outcome.previous[provenance.url] = None
                outcome.change = "removed"
            elif item.extraction is not None and brings_new_facts(status, previous, provenance):
                outcome.count_stored(store.replace_page(provenance, item.extraction))
                outcome.change = "moved" if moved else ("changed" if previous else "new")
                failures = attempt_failures(item)
                if failures:  # the LLM failed: the structured data is stored, the page retried
                    store.record_attempt(provenance, failures)
                    outcome.stats["graph/attempts_failed"] += 1
            else:
                # No new facts: the page is unchanged (304, same content and extraction
                # settings) and only its fetch time moves, or it failed and is marked
                # for retry while keeping the facts it had.
                failures = attempt_failures(item)
                store.record_attempt(provenance, failures)
                name = "graph/attempts_failed" if failures else "graph/attempts_without_facts"
                outcome.stats[name] += 1
                if not failures and previous is not None:
                    outcome.change = "moved" if moved else "unchanged"
            if outcome.change:
                outcome.stats[f"recrawl/{outcome.change}"] += 1
        except InvalidPage as exc:
            outcome.failure = ("invalid_page", str(exc))
        return outcome

    def _apply(self, item: PageRecord, outcome: _Outcome) -> None:
        """What storing the page did, now that its batch is in the store."""
        for url, state in outcome.previous.items():
            if state is None:
                self.previous.pop(url, None)
            else:
                self.previous[url] = state
        for name, count in outcome.stats.items():
            self.stats.inc_value(name, count)
        if outcome.change:
            item.change = outcome.change
        if outcome.failure:
            self._fail(item, *outcome.failure)

    def _removed(self, item: PageRecord) -> bool:
        """The server says the page is gone (404, 410) and removed pages lose their facts."""
        gone = any(
            f.stage == Stage.FETCH and f.reason in ("http_404", "http_410") for f in item.failures
        )
        return gone and not self.config.keep_removed

    def _follow_redirect(
        self, store: GraphStore, requested_url: str, url: str, outcome: _Outcome
    ) -> bool:
        """Move the facts of a page that now redirects to its new URL; True if it moved."""
        old = self.previous.get(requested_url)
        if requested_url == url or old is None:
            return False
        if url in self.previous:  # the new URL has facts of its own: the old ones go
            outcome.stats["graph/facts_removed"] += store.drop_page(requested_url)
        else:
            store.move_page(requested_url, url)
            outcome.previous[url] = old
        outcome.previous[requested_url] = None
        return True

    def _serialised(self, function: Callable[..., T]) -> Callable[..., T]:
        """``function`` run under the fleet's graph lock (as it is without a fleet)."""
        if self.fleet is None:
            return function
        fleet = self.fleet.fleet

        def locked(*args: Any) -> T:
            with fleet.graph_lock(self._write_timeout):
                return function(*args)

        return locked

    def _fail(self, item: PageRecord, reason: str, message: str) -> None:
        logger.warning("Graph store failed for %s: %s", item.url, message)
        item.fail(Stage.STORE, reason, message)
        self.stats.inc_value(f"graph/failed/{reason}")

    async def close_spider(self) -> None:
        if self._draining is not None:
            await self._draining
        if self.store is not None:
            if self._renewing is not None:
                self._renewing.cancel()
            try:
                await self._count_changes(self.store)
                if self._renewing is not None and self.fleet is None:
                    # A fleet's lease ends with its last worker.
                    await self._run(release_lease, self.store, self.lease_holder)
            except GraphStoreError as exc:  # e.g. the endpoint went down during the crawl
                logger.warning("Graph store unreachable at the end of the crawl: %s", exc)
            await self._run(self.store.close)
            self.store = None
        self._executor.shutdown(wait=True)

    async def _count_changes(self, store: GraphStore) -> None:
        """The entities and relations the crawl added and removed, in the stats."""
        entities, relations = await self._run(store.entity_and_relation_keys)
        entities_before, relations_before = self.keys_before
        self.stats.set_value("graph/entities_added", len(entities - entities_before))
        self.stats.set_value("graph/entities_removed", len(entities_before - entities))
        self.stats.set_value("graph/relations_added", len(relations - relations_before))
        self.stats.set_value("graph/relations_removed", len(relations_before - relations))
