"""Downloader middlewares of the crawl stage."""

from __future__ import annotations

import asyncio

import redis
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.error import DNSLookupError

from scraper.clean.pool import CleanPool
from scraper.config import address_policy
from scraper.extensions import FleetWorker, clean_workers
from scraper.fetch.addresses import AddressPolicy, ip_literal
from scraper.resolver import RefusedLookup

_DEFAULT_PORTS = {"http": 80, "https": 443}


class RefusedAddress(IgnoreRequest):
    """The request's host resolves to an address the address policy refuses."""


class PrivateAddressMiddleware:
    """Refuse requests the address policy does not allow, with the reason in the failure.

    The crawl's resolver (``AddressPolicyResolver``) enforces the policy on each connection's
    own lookup. This middleware looks the host up through that same caching resolver first, so
    a refused request fails with its reason before any connection, and it checks what a
    resolver cannot see: IP literals (never looked up) and the port of a host trusted only on
    some ports. ``ALLOW_PRIVATE_ADDRESSES = True`` turns it off.
    """

    def __init__(self, crawler: Crawler, policy: AddressPolicy):
        self.stats = crawler.stats
        self.policy = policy

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateAddressMiddleware:
        policy = address_policy(crawler.settings)
        if policy.allow_private:
            raise NotConfigured
        return cls(crawler, policy)

    async def process_request(self, request: Request) -> None:
        parts = urlparse_cached(request)
        host = parts.hostname
        if not host:
            return
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        if self.policy.trusts(host, port):
            return
        literal = ip_literal(host)
        if literal is not None:
            reason = self.policy.refusal(host, port, [literal])
        elif self.policy.trusts(host, None):
            reason = (
                f"{host} is in ALLOWED_PRIVATE_HOSTS for other ports only; add {host}:{port} "
                "to crawl this one"
            )
        else:
            reason = await self._lookup_refusal(host, port)
        if reason is not None:
            self.stats.inc_value("pages/refused/private_address")
            raise RefusedAddress(reason)

    async def _lookup_refusal(self, host: str, port: int | None) -> str | None:
        from twisted.internet import reactor

        try:
            address = await maybe_deferred_to_future(reactor.resolver.getHostByName(host))
        except RefusedLookup as exc:
            return str(exc)
        except DNSLookupError:
            return None  # the download reports the failed lookup (and the resolver refuses)
        return self.policy.refusal(host, port, [str(address)])


class CleanBacklogMiddleware:
    """Hold each download until the clean workers have room (``CleanPool.room``): pages are
    fetched no faster than they are cleaned, however fast the site answers."""

    def __init__(self, pool: CleanPool):
        self.pool = pool

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleanBacklogMiddleware:
        return cls(clean_workers(crawler))

    async def process_request(self, request: Request) -> None:
        await self.pool.room()


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
