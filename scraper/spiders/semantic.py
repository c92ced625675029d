"""The ``semantic`` spider: crawl a site and yield one PageRecord per page request.

The spider only fetches and routes: it decodes the body, decides whether a page
needs a browser, follows links, and turns every failure into a record. The
stages (cleaning, chunking, extraction, graph) run as item pipelines.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
import scrapy
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import Headers, HtmlResponse, Request, Response, TextResponse
from scrapy.linkextractors import IGNORED_EXTENSIONS, LinkExtractor
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip, gzip_magic_number
from scrapy.utils.sitemap import Sitemap
from scrapy.utils.url import url_has_any_extension
from scrapy_playwright.page import PageMethod
from twisted.python.failure import Failure as TwistedFailure
from w3lib.url import canonicalize_url

from scraper.clean.hidden import BROWSER_SCRIPT
from scraper.clean.page import PageContent
from scraper.clean.pool import CleanFailed
from scraper.config import frontier_limits
from scraper.extensions import FleetWorker, clean_workers
from scraper.facts import Stage
from scraper.fetch.decoding import NOT_TEXT_SHARE, decode_html, not_text_share
from scraper.fetch.frontier import Frontier, FrontierLimits
from scraper.fetch.journal import CrawlJournal
from scraper.fetch.rendering import RenderReason, clean_unless_rendered
from scraper.items import PageRecord
from scraper.middlewares import RefusedAddress
from scraper.pipelines.cleaning import record_worker_failure
from scraper.robotstxt import RobotsUnreachable
from scraper.signals import previous_pages_loaded, state_write_failed
from scraper.spiders.arguments import CrawlArguments, parse_arguments
from scraper.urls import with_valid_percent_encoding
from scraper.writes import WRITE_FAILED, WriteFailed

_REVALIDATION_HEADERS = (b"cache-control", b"if-none-match", b"if-modified-since")
_HTML_TYPES = re.compile(r"^\s*(text/html|application/xhtml\+xml)", re.I)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_NON_HTML_EXTENSIONS = {f".{ext}" for ext in IGNORED_EXTENSIONS}


def utc_now() -> str:
    """The current time as an ISO 8601 UTC timestamp."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def fetch_failure_reason(exc: BaseException) -> str:
    """A short stable code for why a request produced no usable response."""
    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}"
    if isinstance(exc, RefusedAddress):
        return "private_address"
    if isinstance(exc, RobotsUnreachable):
        return "robots_unreachable"
    if isinstance(exc, DownloadCancelledError):
        return "too_large"
    if isinstance(exc, PlaywrightTimeoutError):
        return "render_timeout"
    if isinstance(exc, PlaywrightError):
        return "render_crashed" if "crashed" in str(exc).lower() else "render_error"
    if isinstance(exc, DownloadTimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, CannotResolveHostError):
        return "dns_error"
    if isinstance(exc, DownloadConnectionRefusedError):
        return "connection_refused"
    if isinstance(exc, IgnoreRequest):
        message = str(exc).lower()
        if "robots.txt" in message:
            return "robots_disallowed"
        if "redirection" in message:
            return "redirect_loop"
        return "ignored"
    return "fetch_error"


class SemanticSpider(scrapy.Spider):
    """Crawl within the start URLs' domains and yield a PageRecord per page.

    Arguments (``-a name=value``): ``url`` (comma-separated start URLs),
    ``urls_file`` (a file of URLs), ``sitemap`` (a sitemap or sitemap index URL),
    ``depth``, ``max_pages``, ``allow`` / ``deny`` (regular expressions on URLs),
    ``follow`` (``false`` to fetch only the given URLs), ``render``
    (never|always|auto) and ``schema`` (``package.module:Model`` for extraction).
    """

    name = "semantic"
    fleet_worker = True  # with REDIS_URL, a worker of a fleet (scraper.extensions.FleetWorker)

    def __init__(self, arguments: CrawlArguments, **kwargs: Any):
        super().__init__(**kwargs)
        self.start_urls = arguments.start_urls
        self.sitemap_urls = arguments.sitemap_urls
        self.depth = arguments.depth
        self.max_pages = arguments.max_pages
        self.follow = arguments.follow
        self.render = arguments.render
        self.schema = arguments.schema
        self.allowed_domains = sorted(
            {host for u in self.start_urls + self.sitemap_urls if (host := urlsplit(u).hostname)}
        )
        self.link_extractor = LinkExtractor(
            allow=arguments.allow or (), deny=arguments.deny or (), deny_extensions=[]
        )
        self.seen: set[str] = set()
        self.fleet: FleetWorker | None = None  # with REDIS_URL: the fleet's frontier dedupes
        self.frontier = Frontier(FrontierLimits())  # from the settings in from_crawler
        self.journal: CrawlJournal | None = None
        self.previous_pages: dict[str, Any] = {}  # url -> PageState from the graph store

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SemanticSpider:
        settings = crawler.settings
        arguments = parse_arguments(kwargs, settings.get("RENDER_MODE"))
        # Names starting with "_" (scrapyd's _job) stay spider attributes, as Scrapy sets them.
        private = {name: value for name, value in kwargs.items() if name.startswith("_")}
        spider = super().from_crawler(crawler, arguments, **private)
        # Settings may still change here (Scrapy >= 2.11): spider arguments win.
        settings.set("RENDER_MODE", spider.render, priority="spider")
        if spider.depth is not None:
            settings.set("DEPTH_LIMIT", spider.depth, priority="spider")
        spider.frontier = Frontier(frontier_limits(settings, spider.max_pages))
        crawler.signals.connect(spider._report_cut_off, signal=signals.spider_closed)
        crawler.signals.connect(spider._previous_pages_loaded, signal=previous_pages_loaded)
        if settings.get("JOBDIR"):
            # The journal replaces Scrapy's JOBDIR queues, which are lost on kill -9.
            spider.journal = CrawlJournal(Path(settings["JOBDIR"]) / "pages.journal")
            # At JOBDIR's own priority (the command line's for -s JOBDIR=…): a lower one
            # would leave Scrapy's queue on, and a resumed crawl would fetch pages twice.
            settings.set("JOBDIR", None, priority=settings.getpriority("JOBDIR") or "spider")
            crawler.signals.connect(spider._page_finished, signal=signals.item_scraped)
            crawler.signals.connect(spider._close_journal, signal=signals.spider_closed)
        if not settings.get("FEED_EXPORT_FIELDS"):
            fields = [
                f.name for f in dataclasses.fields(PageRecord) if not f.metadata.get("internal")
            ]
            if not settings.getbool("EXPORT_HTML"):
                fields.remove("html")
            settings.set("FEED_EXPORT_FIELDS", fields, priority="spider")
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        # Every worker of a fleet seeds the crawl; its frontier queues each page once.
        self.fleet = self.crawler.get_extension(FleetWorker)
        if self.journal and self.journal.scheduled:
            pending = self.journal.pending()
            self.logger.info(
                "Resuming from %s: %d pages finished, %d pending",
                self.journal.path,
                len(self.journal.done),
                len(pending),
            )
            self.seen.update(canonicalize_url(url) for url in self.journal.scheduled)
            for url in self.journal.scheduled:
                self.frontier.count(url)
            for url, depth in pending:
                yield self._page_request(url, depth)
        for request in self._sitemap_requests(self.sitemap_urls):
            yield request
        for request in self._page_requests(self.start_urls):
            yield request
        if self.follow and self.settings.getbool("RECRAWL_KNOWN_PAGES"):
            # A site crawl re-checks the pages the store holds even when no changed
            # page links to them: an unchanged page (304) is not parsed for links.
            known = [u for u in self.previous_pages if self._in_scope(u) and self._on_start_port(u)]
            for request in self._page_requests(known):
                yield request

    def _previous_pages_loaded(self, pages: dict[str, Any]) -> None:
        self.previous_pages = pages

    # --- requests ---------------------------------------------------------

    def _page_requests(
        self, urls: Iterable[str], depth: int = 0, found_on: str | None = None
    ) -> Iterator[scrapy.Request]:
        """Requests for the pages not seen yet (by this crawl: all its workers) that the
        frontier admits (depth, page budgets, crawl traps); a link cut off is counted
        (``pages/cut_off/<reason>``), not marked seen: found again on another page, it may be
        admitted there. A URL with a stray ``%`` is asked for validly encoded (``/100%`` as
        ``/100%25``), as the store names it."""
        for url in map(with_valid_percent_encoding, urls):
            key = canonicalize_url(url)
            if key in self.seen:
                continue
            reason = self.frontier.admit(url, depth, found_on)
            if reason is None and self.fleet is not None and self.max_pages is not None:
                # The frontier counts this worker's pages; max_pages bounds the whole fleet's.
                reason = "max_pages" if self._pages_seen() >= self.max_pages else None
            if reason:
                self.crawler.stats.inc_value(f"pages/cut_off/{reason}")
                continue
            self.seen.add(key)
            if self.journal:
                self._journal_write(self.journal.schedule, url, depth)
            yield self._page_request(url, depth)

    def _sitemap_requests(self, urls: Iterable[str]) -> Iterator[scrapy.Request]:
        for url in urls:
            # A fleet's frontier tells it from the page at the same URL by its entry key.
            yield scrapy.Request(
                url,
                callback=self.parse_sitemap,
                errback=self.on_sitemap_error,
                meta={"frontier_entry": f"sitemap {canonicalize_url(url)}"},
            )

    def _pages_seen(self) -> int:
        """Pages requested so far: by the whole crawl when it is a fleet's."""
        if self.fleet is None:
            return len(self.seen)
        try:
            return self.fleet.fleet.seen()
        except redis.RedisError:
            return len(self.seen)  # the next look at the frontier stops the worker

    def _page_request(self, url: str, depth: int) -> scrapy.Request:
        # The frontier's key of the page (a fleet's shared queue): redirects and rendering
        # keep it, and the page's record finishes it.
        meta: dict[str, Any] = {"depth": depth, "frontier_entry": canonicalize_url(url)}
        headers = {}
        if self.render == "always":
            meta.update(self._render_meta("always"))
        elif self.settings.getbool("HTTPCACHE_ENABLED"):
            # The HTTP cache revalidates its stored response (If-None-Match and
            # If-Modified-Since from that response) and answers a 304 with the stored body.
            headers["Cache-Control"] = "max-age=0"
        elif previous := self.previous_pages.get(url):
            # Ask the server whether the page changed since the stored fetch.
            if previous.etag:
                headers["If-None-Match"] = previous.etag
            if previous.last_modified:
                headers["If-Modified-Since"] = previous.last_modified
            if headers:
                meta["handle_httpstatus_list"] = [304]
        # dont_filter: the spider dedupes itself, so a redirect back to a page
        # already requested ends as a redirect_loop record, never silently.
        return scrapy.Request(
            url,
            headers=headers,
            callback=self.parse,
            errback=self.on_error,
            meta=meta,
            dont_filter=True,
        )

    def _report_cut_off(self) -> None:
        """The URL patterns cut off as crawl traps, for the end-of-crawl report."""
        for pattern, links in self.frontier.cut_patterns.most_common():
            self.crawler.stats.set_value(f"traps/patterns/{pattern}", links)

    def _page_finished(self, item: PageRecord) -> None:
        """Journal a page as done once its record is in the feeds (the feed exporter's
        handler of this signal runs after this one), unless its facts could not be stored or
        its results written: a resumed crawl fetches it again."""
        if any(f.stage == Stage.STORE or f.reason == WRITE_FAILED for f in item.failures):
            self.crawler.stats.inc_value("journal/left_pending")
            return
        asyncio.get_running_loop().call_soon(self._journal_finish, item.url)

    def _journal_finish(self, url: str) -> None:
        assert self.journal is not None, "connected only with a journal"
        if self.crawler.stats.get_value("crawl/write_failed") or self.journal.closed:
            self.crawler.stats.inc_value("journal/left_pending")  # its record may be lost
            return
        self._journal_write(self.journal.finish, url)

    def _journal_write(self, write: Callable[..., None], *args: Any) -> None:
        try:
            write(*args)
        except WriteFailed as failure:
            self.crawler.signals.send_catch_log(state_write_failed, failure=failure)

    def _close_journal(self) -> None:
        assert self.journal is not None, "connected only with a journal"
        self.journal.close()

    def _render_meta(self, reason: str) -> dict[str, Any]:
        """Request meta that has scrapy-playwright render the page."""
        self.crawler.stats.inc_value("pages/rendered")
        return {
            "dont_cache": True,  # a browser's page is not the server's response
            "playwright": True,
            "playwright_page_goto_kwargs": {"wait_until": "networkidle"},
            # The page's HTML with what the browser does not show marked (scraper/clean/hidden).
            "playwright_page_methods": [PageMethod("evaluate", BROWSER_SCRIPT)],
            "render_reason": reason,
        }

    def _render_request(self, response: Response, reason: str) -> scrapy.Request:
        """The same page again, rendered in the browser.

        Only the page's own meta is carried over (its depth, the URL first asked for): the
        keys Scrapy's components set while downloading (``download_latency``,
        ``redirect_urls``, …) belong to the static fetch, and Scrapy warns when they are
        copied into a new request.
        """
        request = request_of(response)
        meta = {
            "depth": request.meta.get("depth", 0),
            "page_url": page_url(request),
            "frontier_entry": request.meta.get("frontier_entry"),
            # a fleet's frontier hands the page's entry back for it (scraper.frontier.TAKEN)
            "frontier_taken": request.meta.get("frontier_taken", False),
        }
        meta.update(self._render_meta(reason))
        # Not the HTTP cache's revalidation headers: the browser would get a 304, no page.
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in _REVALIDATION_HEADERS
        }
        return request.replace(url=response.url, meta=meta, headers=headers, dont_filter=True)

    # --- callbacks --------------------------------------------------------

    async def parse(self, response: Response) -> AsyncIterator[PageRecord | scrapy.Request]:
        record = self._record(response)
        if "cached" in response.flags:  # the HTTP cache's stored body, revalidated (304)
            self.crawler.stats.inc_value("pages/not_modified")
        if response.status == 304:
            # Unchanged since the stored fetch: the graph keeps its facts.
            self.crawler.stats.inc_value("pages/not_modified")
            record.change = "unchanged"
            previous = self.previous_pages[record.url]
            record.content_hash = previous.content_hash
            record.etag = record.etag or previous.etag
            record.last_modified = record.last_modified or previous.last_modified
            yield record
            return
        if urlsplit(response.url).scheme not in ("http", "https"):
            # The browser left the page for a URL it could not load: an address the policy
            # refuses, an unreachable one, or a local (file:) one. Its error page is not content.
            record.fail(
                Stage.FETCH,
                "navigation_blocked",
                f"the rendered page navigated to a URL that did not load ({response.url})",
            )
            yield record
            return
        content_type = record.content_type or ""
        if not (
            _HTML_TYPES.match(content_type)
            or (not content_type and isinstance(response, HtmlResponse))
        ):
            self.crawler.stats.inc_value("pages/skipped/non_html")
            record.fail(Stage.FETCH, "non_html", f"content type {content_type!r}")
            yield record
            return
        charset = _CHARSET.search(content_type)
        html, record.charset, charset_was_wrong = decode_html(
            response.body, charset.group(1) if charset else None
        )
        html = _marked_html(response) or html
        if charset_was_wrong:
            self.crawler.stats.inc_value("pages/charset_corrected")
        if (share := not_text_share(html)) > NOT_TEXT_SHARE:
            # Binary data served as HTML: no page text to clean, chunk or pay an LLM for.
            self.crawler.stats.inc_value("pages/skipped/not_text")
            record.fail(
                Stage.FETCH,
                "not_text",
                f"{share:.0%} of the body decodes to control or undecodable characters: "
                f"binary data served as {content_type or 'HTML'!r}",
            )
            yield record
            return
        if self.render == "auto" and not record.rendered:
            decided = await self._clean_unless_rendered(record, html)
            if isinstance(decided, RenderReason):
                self.crawler.stats.inc_value(f"render/auto/{decided.code}")
                self.logger.debug("Rendering %s: %s", response.url, decided.detail)
                yield self._render_request(response, decided.code)
                return
            record.cleaned = decided
        if not record.failures:
            record.html = html
        # Links first: a fleet's frontier has them before the page's record finishes its
        # entry, so a worker killed in between loses none.
        if self.follow:
            for request in self._follow_links(response):
                yield request
        yield record

    async def _clean_unless_rendered(
        self, record: PageRecord, html: str
    ) -> RenderReason | PageContent | None:
        """Why the page needs a browser, else its cleaned content (the decision needs the
        cleaner's view of the page: a worker makes both at once); None when the worker
        failed, which ``record`` then says."""
        try:
            return await clean_workers(self.crawler).run(
                clean_unless_rendered,
                html,
                record.final_url or record.url,
                self.settings.getint("STRUCTURED_DATA_MAX_BYTES"),
            )
        except CleanFailed as failure:
            record_worker_failure(record, Stage.CLEAN, failure, self.crawler.stats)
            return None

    def _follow_links(self, response: Response) -> Iterator[scrapy.Request]:
        if not isinstance(response, TextResponse):
            return  # only HTML pages are followed, and those are text
        urls = []
        for link in self.link_extractor.extract_links(response):
            if not self._in_domains(link.url):
                continue
            if url_has_any_extension(link.url, _NON_HTML_EXTENSIONS):
                self.crawler.stats.inc_value("links/skipped/non_html")
                continue
            urls.append(link.url)
        yield from self._page_requests(urls, response.meta.get("depth", 0) + 1, response.url)

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        try:
            body = response.body
            if gzip_magic_number(response):
                body = gunzip(body, max_size=self.settings.getint("DOWNLOAD_MAXSIZE"))
            sitemap = Sitemap(body)
        except Exception as exc:  # lxml raises several types on garbage
            self._sitemap_failed(response.url, f"unparseable sitemap: {exc}")
            self._sitemap_done(request_of(response))
            return
        urls = [entry["loc"] for entry in sitemap if entry.get("loc")]
        if sitemap.type == "sitemapindex":
            yield from self._sitemap_requests(urls)
        else:
            self.crawler.stats.inc_value("sitemap/urls", len(urls))
            yield from self._page_requests([u for u in urls if self._in_scope(u)])
        self._sitemap_done(request_of(response))

    def _in_scope(self, url: str) -> bool:
        """True when ``url`` is in the start domains and passes allow/deny."""
        return self._in_domains(url) and self.link_extractor.matches(url)

    def _on_start_port(self, url: str) -> bool:
        """True when ``url``'s explicit port (or its absence) is a start URL's: the pages a
        store holds from a server on another port (an earlier `scrapy demo`) are another
        site's, not pages to re-check."""
        ports = {urlsplit(u).port for u in self.start_urls + self.sitemap_urls}
        return urlsplit(url).port in ports

    def _in_domains(self, url: str) -> bool:
        """True when ``url``'s host is a start domain or one of its subdomains."""
        host = (urlsplit(url).hostname or "").lower()
        return any(host == d or host.endswith(f".{d}") for d in self.allowed_domains)

    def on_sitemap_error(self, failure: TwistedFailure) -> None:
        request = failed_request(failure)
        self._sitemap_failed(request.url, fetch_failure_reason(failure.value))
        self._sitemap_done(request)

    def _sitemap_done(self, request: Request) -> None:
        """A sitemap's URLs are all requested: its entry in a fleet's frontier is finished
        (pages finish theirs with their record)."""
        if self.fleet is None:
            return
        try:
            self.fleet.ack(request.meta["frontier_entry"])
        except redis.RedisError as exc:
            self.fleet.lost(exc)

    def _sitemap_failed(self, url: str, reason: str) -> None:
        self.crawler.stats.inc_value("sitemap/failed")
        self.logger.error("Sitemap %s failed: %s", url, reason)

    def on_error(self, failure: TwistedFailure) -> Iterator[PageRecord]:
        request = failed_request(failure)
        exc = failure.value
        response = exc.response if isinstance(exc, HttpError) else None
        record = (
            self._record(response)
            if response is not None
            else PageRecord(
                url=page_url(request),
                fetched_at=utc_now(),
                rendered=bool(request.meta.get("playwright")),
                render_reason=request.meta.get("render_reason"),
            )
        )
        reason = fetch_failure_reason(exc)
        self.crawler.stats.inc_value(f"pages/fetch_failed/{reason}")
        # Playwright's errors carry a multi-line call log; the record keeps the first line.
        record.fail(Stage.FETCH, reason, (str(exc).strip().splitlines() or [""])[0][:500])
        yield record

    def _record(self, response: Response) -> PageRecord:
        request = request_of(response)
        headers = response.headers
        content_type = headers.get(b"Content-Type")
        return PageRecord(
            url=page_url(request),
            final_url=response.url,
            status=response.status,
            fetched_at=utc_now(),
            rendered=bool(request.meta.get("playwright")),
            render_reason=request.meta.get("render_reason"),
            content_type=content_type.decode("latin-1") if content_type else None,
            etag=_header(headers, b"ETag"),
            last_modified=_header(headers, b"Last-Modified"),
        )


def _marked_html(response: Response) -> str | None:
    """A rendered page's HTML with the elements the browser did not show marked, as the
    browser script returned it (None for a static page, or when the script did not run)."""
    methods = response.meta.get("playwright_page_methods") or ()
    for method in methods:
        if isinstance(method, PageMethod) and method.args[:1] == (BROWSER_SCRIPT,):
            result = getattr(method, "result", None)
            return result if isinstance(result, str) and result.strip() else None
    return None


def _header(headers: Headers, name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value else None


def page_url(request: Request) -> str:
    """The URL first asked for of the page ``request`` fetches (before redirects, and
    before a rendered re-request)."""
    return request.meta.get("page_url") or request.meta.get("redirect_urls", [request.url])[0]


def request_of(response: Response) -> Request:
    """The request a downloaded response answers (Scrapy always sets it for callbacks)."""
    assert response.request is not None, "a callback's response has its request"
    return response.request


def failed_request(failure: TwistedFailure) -> Request:
    """The request an errback's failure is about (Scrapy sets ``failure.request``)."""
    request: Request = failure.request  # type: ignore[attr-defined]
    return request
