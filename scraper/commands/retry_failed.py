"""``scrapy retry_failed``: extract again the pages recorded in FAILURES_FILE.

The recorded pages are not fetched again: a small spider hands them to the
item pipelines from the chunking pipeline on (extraction, graph store, feeds: chunked again
with the CHUNK_* settings of the run, so a too_many_chunks page is extracted whole once
CHUNK_MAX_PER_PAGE allows it; the same settings make the same chunks, cached answers), so
``-O retried.jsonl`` and the graph get the new results. Pages that fail again
are recorded again; pages the run did not reach (e.g. the budget ran out)
are put back in the file. Lines of the file that are not failure records are skipped
with a warning each and kept in ``FAILURES_FILE.unreadable``. A run killed before its
end leaves ``FAILURES_FILE.retrying``: the next run puts its pages back first.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy import signals
from scrapy.commands import BaseRunSpiderCommand
from scrapy.exceptions import UsageError

from scraper.config import check_crawl_settings
from scraper.extract.failures import FailedPage, FailuresFile
from scraper.items import PageRecord
from scraper.paths import project_path
from scraper.writes import WriteFailed

EXTRACTION_PIPELINE = "scraper.pipelines.extraction.ExtractionPipeline"
CHUNKING_PIPELINE = "scraper.pipelines.chunking.ChunkingPipeline"


class RetryFailedSpider(scrapy.Spider):
    """Yields recorded pages as items; fetches nothing."""

    name = "retry_failed"

    def __init__(self, records: list[PageRecord], schema: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.records = records
        self.schema = schema

    async def start(self) -> AsyncIterator[PageRecord]:
        for record in self.records:
            yield record


class Command(BaseRunSpiderCommand):
    requires_project = True

    def syntax(self) -> str:
        return "[-a schema=package.module:Model] [-O retried.jsonl]"

    def short_desc(self) -> str:
        return "Extract again the pages whose extraction failed (FAILURES_FILE)"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None and self.crawler_process is not None
        try:
            check_crawl_settings(self.settings)  # a bad one: one line, before any file moves
        except (ValueError, UsageError) as exc:
            self._stop(f"error: {exc}")
            return
        failures = FailuresFile(project_path(self.settings.get("FAILURES_FILE")))
        try:
            if failures.put_back_retrying():
                print(
                    f"Put back the pages of a retry_failed run that did not finish "
                    f"({failures.retrying_path})."
                )
        except WriteFailed as exc:
            self._stop(f"error: {exc}")
            return
        failed = failures.read()
        unreadable = failures.unreadable
        if not failed:
            print(f"No failed extractions recorded in {failures.path}.")
            return
        schema = opts.spargs.get("schema") or _recorded_schema(failed)
        pipelines = self.settings.getdict("ITEM_PIPELINES")
        if EXTRACTION_PIPELINE not in pipelines:
            raise UsageError(f"{EXTRACTION_PIPELINE} is not in ITEM_PIPELINES")
        starts = [pipelines[EXTRACTION_PIPELINE], pipelines.get(CHUNKING_PIPELINE)]
        start = min(order for order in starts if order is not None)
        self.settings.set(
            "ITEM_PIPELINES",
            {name: order for name, order in pipelines.items() if order >= start},
            priority="cmdline",
        )
        # New failures are appended to a fresh file while this run reads the old one; a run
        # killed before its end leaves it, and the next run puts it back first.
        pending = failures.retrying_path
        failures.path.replace(pending)
        reached: set[str] = set()
        crawler = self._create_crawler(RetryFailedSpider)

        def reach(item: PageRecord, **_: Any) -> None:
            reached.add(item.url)

        crawler.signals.connect(reach, signal=signals.item_scraped)
        self.crawler_process.crawl(crawler, records=[f.record for f in failed], schema=schema)
        self.crawler_process.start()
        try:
            for page in failed:
                if page.record.url not in reached:
                    failures.record(page)
            if unreadable:
                FailuresFile(failures.unreadable_path).append(unreadable)
        except WriteFailed as exc:  # the pages stay in FAILURES_FILE.retrying for next time
            self._stop(f"error: {exc}")
            return
        pending.unlink()
        if unreadable:
            print(f"Kept {len(unreadable)} unreadable line(s) in {failures.unreadable_path}.")
        print(
            f"Retried {len(reached)} of {len(failed)} recorded page(s); "
            f"{len(failures.read())} failed extraction(s) now recorded in {failures.path}."
        )
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1

    def _stop(self, message: str) -> None:
        print(message, file=sys.stderr)
        self.exitcode = 1


def _recorded_schema(failed: list[FailedPage]) -> str:
    schemas = {page.schema for page in failed}
    if len(schemas) > 1:
        raise UsageError(
            f"recorded failures used several schemas ({', '.join(sorted(schemas))}): "
            "choose one with -a schema=package.module:Model"
        )
    return schemas.pop()
