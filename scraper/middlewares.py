"""Downloader middlewares of the crawl stage."""

from __future__ import annotations

import asyncio
import socket

import redis
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.httpobj import urlparse_cached

from scraper.extensions import FleetWorker
from scraper.fetch.addresses import non_public_addresses


class RefusedAddress(IgnoreRequest):
    """The request's host resolves to a private, loopback or link-local address."""


class PrivateAddressMiddleware:
    """Refuse requests whose host resolves to a non-public address.

    Protects crawls of public sites from links (or redirects) into the
    crawler's own network. ``ALLOW_PRIVATE_ADDRESSES = True`` turns it off,
    which is what crawling a local or intranet site needs.
    """

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateAddressMiddleware:
        if crawler.settings.getbool("ALLOW_PRIVATE_ADDRESSES"):
            raise NotConfigured
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        host = urlparse_cached(request).hostname
        if not host:
            return
        try:
            refused = await non_public_addresses(host)
        except socket.gaierror:
            return  # the download itself reports the DNS failure
        if refused:
            self.stats.inc_value("pages/refused/private_address")
            raise RefusedAddress(
                f"{host} resolves to non-public address {', '.join(refused)}; "
                "set ALLOW_PRIVATE_ADDRESSES=True to crawl private networks"
            )


class FleetPolitenessMiddleware:
    """Space the requests of a whole fleet to one host ``FLEET_DOMAIN_DELAY`` seconds apart.

    Each worker's own DOWNLOAD_DELAY and AutoThrottle see only its requests; this slot, kept
    in the fleet's Redis, sees every worker's. On with REDIS_URL and a delay above 0.
    """

    def __init__(self, crawler: Crawler, delay: float):
        self.crawler = crawler
        self.delay = delay

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FleetPolitenessMiddleware:
        delay = crawler.settings.getfloat("FLEET_DOMAIN_DELAY")
        if not crawler.settings.get("REDIS_URL") or delay <= 0:
            raise NotConfigured
        return cls(crawler, delay)

    async def process_request(self, request: Request) -> None:
        worker = self.crawler.get_extension(FleetWorker)
        host = urlparse_cached(request).hostname
        if worker is None or not host or worker.stopping:
            return
        try:
            wait = worker.fleet.politeness_wait(host, self.delay)
        except redis.RedisError as exc:
            worker.lost(exc)
            return
        if wait > 0:
            self.crawler.stats.inc_value("fleet/politeness_waits")
            await asyncio.sleep(wait)
