"""The download handler of the crawl: scrapy-playwright's, with the browser behind the policy."""

from __future__ import annotations

import logging

from playwright.async_api import Page
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy_playwright.handler import BrowserContextWrapper, ScrapyPlaywrightDownloadHandler
from twisted.internet import reactor

from scraper.config import address_policy
from scraper.fetch.egress import EgressProxy

logger = logging.getLogger(__name__)


class _NoTraceback(logging.Filter):
    """scrapy-playwright logs a traceback with each failed render; the page's record already
    holds the failure, so the log keeps the one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


logging.getLogger("scrapy-playwright").addFilter(_NoTraceback())

# A page opens no windows (each would be another page to load, outside the page bounds).
_NO_POPUPS = "window.open = function () { return null; };"

# WebRTC may send UDP around a proxy (ICE candidates to any address); keep it on the proxy.
_BROWSER_ARGS = ["--force-webrtc-ip-handling-policy=disable_non_proxied_udp"]


class GuardedPlaywrightDownloadHandler(ScrapyPlaywrightDownloadHandler):
    """Renders with Chromium whose every connection goes through :class:`EgressProxy`, in
    contexts where pages cannot open windows.

    Scrapy's own requests are checked by the resolver and PrivateAddressMiddleware; the
    browser makes its own requests (redirects, scripts, images, fetch/XHR), so it is given a
    proxy that applies the same address policy. With ``ALLOW_PRIVATE_ADDRESSES`` there is
    nothing to enforce and the browser connects directly.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        policy = address_policy(crawler.settings)
        self.egress: EgressProxy | None = None
        if policy.allow_private:
            return
        self.egress = EgressProxy(policy, on_refused=self._refused)
        options = dict(self.config.launch_options)
        options["proxy"] = {"server": self.egress.start()}
        options["args"] = [*options.get("args", []), *_BROWSER_ARGS]
        self.config.launch_options = options
        crawler.signals.connect(self._stop_egress, signals.engine_stopped)

    async def _create_browser_context(
        self, name: str, context_kwargs: dict | None, spider: Spider | None = None
    ) -> BrowserContextWrapper:
        wrapper = await super()._create_browser_context(name, context_kwargs, spider)
        await wrapper.context.add_init_script(_NO_POPUPS)
        wrapper.context.on("page", _close_if_popup)
        return wrapper

    def _refused(self, reason: str) -> None:
        # Called on the proxy's thread; the stats and the log belong to the reactor's.
        reactor.callFromThread(self._count_refusal, reason)

    def _count_refusal(self, reason: str) -> None:
        self.stats.inc_value("browser/refused/private_address")
        logger.warning("Refused: %s", reason)

    def _stop_egress(self) -> None:
        if self.egress is not None:
            self.egress.stop()


async def _close_if_popup(page: Page) -> None:
    """Close a window a page opened anyway (a link with target=_blank clicked by a script)."""
    if await page.opener() is not None:
        await page.close()
