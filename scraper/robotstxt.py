"""Scrapy's RobotsTxtMiddleware, judging robots.txt answers as RFC 9309 does.

Scrapy parses whatever body a robots.txt request returns (a 503 error page has no rules:
everything allowed), allows everything when the request fails (a timeout, a reset), and
parses the whole file. The policy of :mod:`scraper.fetch.robots` replaces that: 5xx, 429 and
no answer mean nothing of the site is crawled for ``ROBOTSTXT_RETRY_SECONDS``, 4xx means no
rules, and only the first 500 KiB are parsed. Refused pages end as ``robots_unreachable``
records, apart from the ``robots_disallowed`` pages the rules forbid.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxt
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred

from scraper.fetch.robots import Unreachable, allow_all_status, parsed_part, unreachable_status

logger = logging.getLogger(__name__)


class RobotsUnreachable(IgnoreRequest):
    """The request's site has no readable robots.txt (server error or no answer)."""


class RobotsTxtMiddleware(ScrapyRobotsTxt):
    """Scrapy's middleware with RFC 9309's answers to unreachable, missing and huge files."""

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.retry_seconds = crawler.settings.getfloat("ROBOTSTXT_RETRY_SECONDS")
        # Per host: parsed rules, None (no rules), Unreachable, or a Deferred while fetching.
        self._rules: dict[str, Any] = {}

    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        if isinstance(rp, Unreachable):
            self._stats.inc_value("robotstxt/unreachable_refused")
            raise RobotsUnreachable(rp.message)
        super().process_request_2(rp, request)

    async def robot_parser(self, request: Request) -> RobotParser | None:
        url = urlparse_cached(request)
        netloc = url.netloc
        known = self._rules.get(netloc)
        if isinstance(known, Unreachable) and time.monotonic() >= known.until:
            del self._rules[netloc]  # ask again: the site may be back
        if netloc not in self._rules:
            self._rules[netloc] = Deferred()
            robots = Request(
                f"{url.scheme}://{netloc}/robots.txt",
                priority=self.DOWNLOAD_PRIORITY,
                meta={"dont_obey_robotstxt": True},
                callback=NO_CALLBACK,
            )
            self._stats.inc_value("robotstxt/request_count")
            try:
                response = await self.crawler.engine.download_async(robots)
            except IgnoreRequest:
                # Refused by the crawl itself (a private address, a redirect loop): the RFC's
                # "unavailable" (allow all); the pages meet the same refusal on their own.
                self._settle(netloc, None)
            except Exception as exc:  # any download failure: no answer from the site
                self._stats.inc_value(f"robotstxt/exception_count/{type(exc).__name__}")
                self._settle(netloc, self._unreachable(netloc, _describe(exc)))
            else:
                self._settle(netloc, await self._rules_of(response, netloc, request))
        rules = self._rules[netloc]
        if isinstance(rules, Deferred):
            result: RobotParser | None = await maybe_deferred_to_future(rules)
            return result
        known_rules: RobotParser | None = rules
        return known_rules

    async def _rules_of(
        self, response: Response, netloc: str, request: Request
    ) -> RobotParser | Unreachable | None:
        """What the robots.txt ``response`` of ``netloc`` says (RFC 9309)."""
        self._stats.inc_value("robotstxt/response_count")
        self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        if unreachable_status(response.status):
            return self._unreachable(netloc, f"answered HTTP {response.status}")
        if allow_all_status(response.status):
            return None
        body = parsed_part(response.body)
        if len(body) < len(response.body):
            self._stats.inc_value("robotstxt/truncated")
            logger.warning(
                "robots.txt of %s is %d bytes: only its first %d are read (RFC 9309)",
                netloc,
                len(response.body),
                len(body),
            )
        rules: RobotParser = build_from_crawler(self._parserimpl, self.crawler, body)
        await self.crawler.signals.send_catch_log_async(
            signal=signals.robots_parsed, robotparser=rules, request=request
        )
        return rules

    def _unreachable(self, netloc: str, why: str) -> Unreachable:
        self._stats.inc_value("robotstxt/unreachable")
        rules = Unreachable(netloc, why, time.monotonic() + self.retry_seconds)
        logger.warning("%s; retried in %.0f s", rules.message, self.retry_seconds)
        return rules

    def _settle(self, netloc: str, rules: RobotParser | Unreachable | None) -> None:
        waiting = self._rules[netloc]
        self._rules[netloc] = rules
        if isinstance(waiting, Deferred):
            waiting.callback(rules)


def _describe(exc: Exception) -> str:
    """``timed out`` / ``could not be fetched (ConnectionRefusedError: …)``."""
    name = type(exc).__name__
    if "Timeout" in name:
        return "timed out"
    return f"could not be fetched ({name}: {str(exc)[:200]})"
