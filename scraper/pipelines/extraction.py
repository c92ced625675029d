"""Item pipeline adapter for the extraction stage (LLM + structured data)."""

from __future__ import annotations

import asyncio
import logging
import os

from scrapy.crawler import Crawler

from prompts import load_prompt
from schemas import load_schema, schema_name
from scraper.config import extraction_config
from scraper.extensions import FleetWorker
from scraper.extract import Extractor
from scraper.extract.failures import STAGE, FailedPage, FailuresFile
from scraper.extract.llm import (
    AnswerCache,
    AuditLog,
    BudgetExceeded,
    CostMeter,
    IOThread,
    LLMCache,
    LLMError,
    LLMUnavailable,
    StructuredLLM,
    llm_configured,
    make_openai_client,
)
from scraper.fleet import RedisLLMCache
from scraper.items import PageRecord
from scraper.signals import state_write_failed
from scraper.urls import with_valid_percent_encoding
from scraper.writes import WRITE_FAILED, WriteFailed

logger = logging.getLogger(__name__)
# The HTTP client logs every LLM request at INFO; the llm/* stats and the audit log say more.
logging.getLogger("httpx2").setLevel(logging.WARNING)

NO_LLM_WARNING = (
    "No LLM configured: extracting schema.org structured data (JSON-LD, microdata) only. "
    "To extract entities and relations from page text with an LLM, set OPENAI_API_KEY "
    "(OpenAI), or OPENAI_BASE_URL for an OpenAI-compatible server (vLLM, Ollama, llama.cpp, "
    "LM Studio, LiteLLM; e.g. OPENAI_BASE_URL=http://localhost:11434/v1), and choose the "
    "model with -s LLM_MODEL=<name>."
)


class ExtractionPipeline:
    """Fill ``PageRecord.extraction``; record failed pages in FAILURES_FILE for a retry.

    Pages that already failed in an earlier stage pass through untouched. The
    LLM_* settings configure the calls. Once LLM_BUDGET_USD is spent, or the server
    will not answer (bad key, unknown model, down), no more calls are made: the crawl
    goes on with structured data only and records each page the LLM missed.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        config = extraction_config(crawler.settings)
        self.llm_settings = config.llm
        self.prompt = load_prompt(config.prompt_version)
        self.default_schema = config.schema
        self.max_chunks = config.max_chunks
        # A fleet's workers share one budget, one LLM cache and one list of failures.
        fleet = crawler.get_extension(FleetWorker)
        self.meter = CostMeter(config.budget_usd, shared=fleet)
        self.failures = FailuresFile(
            config.failures_file, sink=fleet.add_failure if fleet else None
        )
        self.cache: AnswerCache | None = None
        self.audit = None
        self.llm = None
        self.io: IOThread | None = None
        self._startup_failure: WriteFailed | None = None  # said once the crawl runs
        self._stopped_by: WriteFailed | None = None  # a write failed: the crawl is stopping
        if llm_configured(os.environ):
            self.io = IOThread()
            try:
                if config.cache_dir is not None and fleet is not None:
                    # Claimed while paid for: as long as a call may take, retries included.
                    claim = config.llm.timeout * (config.llm.max_retries + 1)
                    self.cache = RedisLLMCache(
                        fleet.fleet, claim_seconds=claim, on_error=fleet.lost
                    )
                elif config.cache_dir is not None:
                    self.cache = LLMCache(config.cache_dir)
                if config.audit_log is not None:
                    self.audit = AuditLog(config.audit_log)
            except WriteFailed as failure:
                self._startup_failure = failure
            self.llm = StructuredLLM(
                make_openai_client(config.llm.timeout),
                config.llm,
                prices=config.prices,
                meter=self.meter,
                on_stat=self._stat_from_io_thread,
                audit=self.audit,
            )
        self.extractor: Extractor | None = None
        self._crawl_loop: asyncio.AbstractEventLoop | None = None
        self._llm_stopped = False  # said once: the LLM is off for the rest of the crawl

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractionPipeline:
        pipeline = cls(crawler)
        crawler.signals.connect(pipeline._crawl_stopping, signal=state_write_failed)
        return pipeline

    def _crawl_stopping(self, failure: WriteFailed) -> None:
        self._stopped_by = self._stopped_by or failure

    async def open_spider(self) -> None:
        name = getattr(self.crawler.spider, "schema", None) or self.default_schema
        schema = load_schema(name)
        self._crawl_loop = asyncio.get_running_loop()
        self.extractor = Extractor(
            schema=schema,
            prompt=self.prompt,
            llm=self.llm,
            cache=self.cache,
            on_stat=self._stat_from_io_thread if self.io else self._stat,
            max_chunks=self.max_chunks,
        )
        if self._startup_failure is not None:
            self._write_failed(self._startup_failure)
        if self.llm is None:
            logger.warning(NO_LLM_WARNING)
        else:
            self.stats.set_value("llm/model", self.llm_settings.model)
            logger.info(
                "Extracting with %s (prompt %s, schema %s, %d calls in flight at most)",
                self.llm_settings.model,
                self.prompt.version,
                name,
                self.llm_settings.concurrency,
            )

    async def process_item(self, item: PageRecord) -> PageRecord:
        if item.failures or item.change == "unchanged":
            return item  # failed earlier, or a 304: nothing new to extract
        if self._stopped_by is not None:  # its results could not be kept: no call is paid
            item.fail(STAGE, WRITE_FAILED, f"not extracted, the crawl stopped: {self._stopped_by}")
            return item
        assert self.extractor is not None, "open_spider() was not called"
        extraction = self.extractor.extract_page(
            url=item.final_url or item.url,
            markdown=item.markdown or "",
            chunks=item.chunks,
            structured_data=item.structured_data or {},
            cached_only=self._unchanged(item),
        )
        outcome = await (self.io.run(extraction) if self.io else extraction)
        item.extraction = outcome.result
        self.stats.inc_value(f"extract/status/{outcome.result.status}")
        if outcome.failure is not None:
            reason, detail = outcome.failure.reason, outcome.failure.detail
            item.fail(STAGE, reason, detail)
            self.stats.inc_value(f"extract/failed/{reason}")
            schema = outcome.result.schema or self.default_schema
            try:
                self.failures.record(FailedPage(item, reason, detail, schema))
            except WriteFailed as failure:
                item.fail(STAGE, WRITE_FAILED, str(failure))
                self._write_failed(failure)
            self._say_llm_stopped(outcome.failure)
        for writer in (self.cache, self.audit):
            if writer is not None and writer.failed is not None:
                self._write_failed(writer.failed)
        return item

    def _write_failed(self, failure: WriteFailed) -> None:
        self.crawler.signals.send_catch_log(state_write_failed, failure=failure)

    def _unchanged(self, item: PageRecord) -> bool:
        """Whether the store's facts of the page came from this very content, extracted with
        these settings: its extraction is then read from the LLM cache, never paid again
        (an unchanged site costs no call, even where the last extraction failed; those
        pages wait for `scrapy retry_failed`)."""
        if self.cache is None or self.extractor is None:
            return False
        pages = getattr(self.crawler.spider, "previous_pages", {})
        previous = pages.get(with_valid_percent_encoding(item.final_url or item.url))
        return (
            previous is not None
            and previous.content_hash == item.content_hash
            and previous.model == self.extractor.model
            and previous.prompt_version == self.prompt.version
            and previous.schema == schema_name(self.extractor.schema)
        )

    def _say_llm_stopped(self, failure: LLMError) -> None:
        """One log line when the LLM calls stop for the rest of the crawl, and why."""
        if self._llm_stopped or not isinstance(failure, LLMUnavailable | BudgetExceeded):
            return
        self._llm_stopped = True
        self.stats.set_value("llm/stopped", failure.reason)
        after = (
            "The crawl goes on with structured data only; the pages left without LLM "
            f"extraction are recorded in {self.failures.path} for `scrapy retry_failed`."
        )
        if isinstance(failure, LLMUnavailable):
            logger.error("LLM calls stopped: %s. %s", failure.outage.message, after)
        else:
            self.stats.set_value("llm/budget_exceeded", True)
            logger.warning(
                "LLM budget of $%.4f reached ($%.4f spent): no more LLM calls. %s",
                self.meter.budget_usd,
                self.meter.spent_usd or 0,
                after,
            )

    async def close_spider(self) -> None:
        if self.llm is not None:
            self.stats.set_value("llm/response_format", self.llm.mode.value)
        if self.llm is not None and self.io is not None:
            await self.io.run(self.llm.client.close())
            self.io.stop()
        if self.cache is not None:
            self.cache.close()
        if self.audit is not None:
            self.audit.close()

    def _stat(self, key: str, value: float) -> None:
        # Scrapy annotates counts as int; costs in dollars add up as floats all the same.
        self.stats.inc_value(key, value)  # type: ignore[arg-type]

    def _stat_from_io_thread(self, key: str, value: float) -> None:
        # Stats are not thread-safe: count on the crawl's loop, in the order they happen.
        assert self._crawl_loop is not None, "open_spider() was not called"
        self._crawl_loop.call_soon_threadsafe(self._stat, key, value)
