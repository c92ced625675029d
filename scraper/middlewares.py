"""Downloader middlewares of the crawl stage."""

from __future__ import annotations

import socket

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.httpobj import urlparse_cached

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
