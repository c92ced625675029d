"""Item pipeline adapter for the graph store: each page's facts into its named graph."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings
from scrapy.utils.conf import closest_scrapy_cfg
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from scraper.graph import (
    GraphStore,
    GraphStoreError,
    InvalidPage,
    PageProvenance,
    StoreLocked,
    StoreUnavailable,
    open_store,
)
from scraper.items import PageRecord

logger = logging.getLogger(__name__)
T = TypeVar("T")
STORED_STATUSES = ("ok", "structured_data_only")


def project_dir() -> Path:
    """The folder of the project's scrapy.cfg (where relative GRAPH_STORE folders live)."""
    cfg = closest_scrapy_cfg()
    return Path(cfg).parent if cfg else Path.cwd()


def open_store_from_settings(settings: BaseSettings, *, write: bool) -> GraphStore:
    """The store GRAPH_STORE names, opened with the GRAPH_* settings."""
    return open_store(
        settings.get("GRAPH_STORE"),
        write=write,
        base_dir=project_dir(),
        update_url=settings.get("GRAPH_STORE_UPDATE_URL") or None,
        timeout=settings.getfloat("GRAPH_STORE_TIMEOUT"),
        lock_timeout=settings.getfloat("GRAPH_STORE_LOCK_TIMEOUT"),
        snapshot_interval=settings.getfloat("GRAPH_SNAPSHOT_INTERVAL"),
    )


def page_provenance(record: PageRecord) -> PageProvenance:
    """Provenance of a record's facts; the graph is named after the URL after redirects."""
    extraction = record.extraction or {}
    return PageProvenance(
        url=record.final_url or record.url,
        fetched_at=record.fetched_at,
        content_hash=record.content_hash,
        model=extraction.get("model"),
        prompt_version=extraction.get("prompt_version"),
        etag=getattr(record, "etag", None),
        last_modified=getattr(record, "last_modified", None),
        requested_url=record.url,
        canonical_url=record.canonical_url,
        extraction_status=extraction.get("status"),
    )


def attempt_failures(record: PageRecord) -> list[tuple[str, str, str]]:
    """Why a record brought no facts to store, as (stage, reason, detail) triples."""
    failures = [(f.stage, f.reason, f.detail) for f in record.failures]
    extraction = record.extraction or {}
    if extraction.get("status") == "failed" and not any(f[0] == "extract" for f in failures):
        failures.append(("extract", extraction.get("failure_reason") or "extraction_failed", ""))
    return failures


class GraphPipeline:
    """Store each page: facts replaced atomically, or the failed attempt remembered.

    Pages whose fetch or extraction failed keep the facts they had (a failed fetch must
    not wipe a page); the store marks them for retry. Store calls run one at a time in a
    worker thread, so resolution sees every earlier page and the reactor never blocks.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.settings = crawler.settings
        self.stats = crawler.stats
        self.retry_times = crawler.settings.getint("GRAPH_STORE_RETRY_TIMES")
        self.store: GraphStore | None = None
        self.unusable: str | None = None  # why no page can be stored in this crawl
        self._closing: asyncio.Future | None = None
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
            self.unusable = str(exc)
            self.stats.set_value("graph/unusable", type(exc).__name__)
            logger.error("Graph store unusable, stopping the crawl: %s", exc)
            reason = "graph_store_locked" if isinstance(exc, StoreLocked) else "graph_store_error"
            asyncio.get_running_loop().call_soon(self._close_crawl, reason)
            return
        logger.info("Graph store: %s", self.store.location)

    def _close_crawl(self, reason: str) -> None:
        if self.crawler.engine is not None:
            self._closing = asyncio.ensure_future(
                self.crawler.engine.close_spider_async(reason=reason)
            )

    async def process_item(self, item: PageRecord) -> PageRecord:
        if self.store is None:
            item.fail("store", "store_unusable", self.unusable or "graph store not open")
            self.stats.inc_value("graph/failed/store_unusable")
            return item
        store = self.store
        provenance = page_provenance(item)
        status = (item.extraction or {}).get("status")
        try:
            if status in STORED_STATUSES:
                result = await self._with_retries(store.replace_page, provenance, item.extraction)
                self.stats.inc_value("graph/pages_stored")
                self.stats.inc_value("graph/facts_added", result.facts_added)
                self.stats.inc_value("graph/facts_removed", result.facts_removed)
                self.stats.inc_value("graph/entities", result.entities)
                self.stats.inc_value("graph/relations", result.relations)
                self.stats.inc_value("graph/merged_mentions", result.merged_mentions)
                self.stats.inc_value("graph/relations_dropped", result.dropped_relations)
            else:
                failures = attempt_failures(item)
                await self._with_retries(store.record_attempt, provenance, failures)
                self.stats.inc_value(
                    "graph/attempts_failed" if failures else "graph/attempts_without_facts"
                )
        except InvalidPage as exc:
            self._fail(item, "invalid_page", exc)
        except StoreUnavailable as exc:
            self._fail(item, "store_unavailable", exc)
        except GraphStoreError as exc:
            self._fail(item, "store_error", exc)
        return item

    async def _with_retries(self, function: Callable[..., T], *args: Any) -> T:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(StoreUnavailable),
            stop=stop_after_attempt(self.retry_times + 1),
            wait=wait_exponential(multiplier=0.5, max=5),
            reraise=True,
        )
        return await retrying(self._run, function, *args)

    def _fail(self, item: PageRecord, reason: str, exc: Exception) -> None:
        logger.warning("Graph store failed for %s: %s", item.url, exc)
        item.fail("store", reason, str(exc))
        self.stats.inc_value(f"graph/failed/{reason}")

    async def close_spider(self) -> None:
        if self.store is not None:
            await self._run(self.store.close)
            self.store = None
        self._executor.shutdown(wait=True)
