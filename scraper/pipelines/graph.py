"""Item pipeline adapter for the graph store: each page's facts into its named graph."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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


class GraphPipeline:
    """Store each page: facts replaced atomically, or the failed attempt remembered.

    Pages whose fetch failed keep the facts they had (a failed fetch must not wipe a
    page); a page whose LLM extraction failed stores its structured data unless its
    content is unchanged. The store marks failed pages for retry. Store calls run one at a time in a
    worker thread, so resolution sees every earlier page and the reactor never blocks.
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
        store = self.store
        provenance = page_provenance(item)
        status = item.extraction.status if item.extraction else None
        try:
            moved = await self._follow_redirect(item.url, provenance.url)
            previous = self.previous.get(provenance.url)
            # Only a page the store held content of can be removed: one that was never
            # fetched (404 in every crawl) stays a failed attempt, marked for retry.
            if previous is not None and previous.content_hash and self._removed(item):
                removed = await self._with_retries(store.drop_page, provenance.url)
                self.stats.inc_value("graph/facts_removed", removed)
                del self.previous[provenance.url]
                item.change = "removed"
            elif brings_new_facts(status, previous, provenance):
                result = await self._with_retries(store.replace_page, provenance, item.extraction)
                self._count_stored(result)
                item.change = "moved" if moved else ("changed" if previous else "new")
                failures = attempt_failures(item)
                if failures:  # the LLM failed: the structured data is stored, the page retried
                    await self._with_retries(store.record_attempt, provenance, failures)
                    self.stats.inc_value("graph/attempts_failed")
            else:
                # No new facts: the page is unchanged (304, same content and extraction
                # settings) and only its fetch time moves, or it failed and is marked
                # for retry while keeping the facts it had.
                failures = attempt_failures(item)
                await self._with_retries(store.record_attempt, provenance, failures)
                self.stats.inc_value(
                    "graph/attempts_failed" if failures else "graph/attempts_without_facts"
                )
                if not failures and previous is not None:
                    item.change = "moved" if moved else "unchanged"
            if item.change:
                self.stats.inc_value(f"recrawl/{item.change}")
        except InvalidPage as exc:
            self._fail(item, "invalid_page", exc)
        except StoreUnavailable as exc:
            if self.fleet is not None:  # the page stays in the frontier for a restart
                self.fleet.stop(
                    "graph_store_unavailable",
                    f"{exc}; start the workers again "
                    "once the store is back: the crawl resumes where it stopped",
                )
            self._fail(item, "store_unavailable", exc)
            if exc.__cause__ is not None and out_of_space(exc.__cause__):
                failure = WriteFailed(self.config.location, exc.__cause__)
                self.crawler.signals.send_catch_log(state_write_failed, failure=failure)
        except GraphStoreError as exc:
            self._fail(item, "store_error", exc)
        except redis.RedisError as exc:  # the fleet's lock: the worker stops, the page waits
            assert self.fleet is not None, "only a fleet's writes take a Redis lock"
            self.fleet.lost(exc)
        return item

    def _removed(self, item: PageRecord) -> bool:
        """The server says the page is gone (404, 410) and removed pages lose their facts."""
        gone = any(
            f.stage == Stage.FETCH and f.reason in ("http_404", "http_410") for f in item.failures
        )
        return gone and not self.config.keep_removed

    async def _follow_redirect(self, requested_url: str, url: str) -> bool:
        """Move the facts of a page that now redirects to its new URL; True if it moved."""
        old, store = self.previous.get(requested_url), self.store
        if requested_url == url or old is None:
            return False
        assert store is not None, "called once the store is open"
        if url in self.previous:  # the new URL has facts of its own: the old ones go
            removed = await self._with_retries(store.drop_page, requested_url)
            self.stats.inc_value("graph/facts_removed", removed)
        else:
            await self._with_retries(store.move_page, requested_url, url)
            self.previous[url] = old
        del self.previous[requested_url]
        return True

    def _count_stored(self, result: ReplaceResult) -> None:
        self.stats.inc_value("graph/pages_stored")
        self.stats.inc_value("graph/facts_added", result.facts_added)
        self.stats.inc_value("graph/facts_removed", result.facts_removed)
        self.stats.inc_value("graph/entities", result.entities)
        self.stats.inc_value("graph/relations", result.relations)
        self.stats.inc_value("graph/merged_mentions", result.merged_mentions)
        self.stats.inc_value("graph/relations_dropped", result.dropped_relations)

    async def _with_retries(self, function: Callable[..., T], *args: Any) -> T:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(StoreUnavailable),
            stop=stop_after_attempt(self.config.retry_times + 1),
            wait=wait_exponential(multiplier=0.5, max=5),
            reraise=True,
        )
        return await retrying(self._run, self._serialised(function), *args)

    def _serialised(self, function: Callable[..., T]) -> Callable[..., T]:
        """``function`` run under the fleet's graph lock (as it is without a fleet)."""
        if self.fleet is None:
            return function
        fleet = self.fleet.fleet

        def locked(*args: Any) -> T:
            with fleet.graph_lock(self._write_timeout):
                return function(*args)

        return locked

    def _fail(self, item: PageRecord, reason: str, exc: Exception) -> None:
        logger.warning("Graph store failed for %s: %s", item.url, exc)
        item.fail(Stage.STORE, reason, str(exc))
        self.stats.inc_value(f"graph/failed/{reason}")

    async def close_spider(self) -> None:
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
