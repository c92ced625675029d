"""The DNS resolver of the crawl: the address policy applied to the lookup a connection uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scrapy.crawler import Crawler
from scrapy.resolver import CachingThreadedResolver
from twisted.internet.base import ReactorBase
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError

from scraper.config import address_policy
from scraper.fetch.addresses import AddressPolicy


class RefusedLookup(DNSLookupError):
    """A host's address is refused by the address policy (a DNSLookupError, so Twisted's
    endpoints end the connection attempt quietly instead of logging a traceback)."""


class AddressPolicyResolver(CachingThreadedResolver):
    """Scrapy's caching threaded resolver, checking each answer against the address policy.

    Twisted connects to the address this returns, so the check is made on the connection's own
    lookup and a name cannot rebind between a check and a connect. A cached answer is checked
    again (the check is cheap); a failed lookup fails the request, as it always has.
    """

    def __init__(
        self, reactor: ReactorBase, cache_size: int, timeout: float, policy: AddressPolicy
    ):
        super().__init__(reactor, cache_size, timeout)
        self.policy = policy

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> AddressPolicyResolver:
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        return cls(reactor, cache_size, settings.getfloat("DNS_TIMEOUT"), address_policy(settings))

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        return super().getHostByName(name, timeout).addCallback(self._checked, name)

    def _checked(self, address: Any, name: str) -> str:
        reason = self.policy.refusal(name, None, [str(address)])
        if reason is not None:
            raise RefusedLookup(reason)
        return str(address)
