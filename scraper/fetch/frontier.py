"""Which links a crawl follows: depth, page budgets and crawl traps.

A site can generate URLs without end: a calendar whose every month links the next one,
pagination past the last page, relative links that nest a path in itself
(``/a/b/a/b/a/b/``). Each link is judged before it is scheduled, and a link that is cut off
is counted by reason (never silently):

- ``depth_limit``: deeper than ``depth_limit`` links from a start page;
- ``max_pages``: the crawl already scheduled ``max_pages`` pages;
- ``site_max_pages``: its host already has ``site_max_pages`` pages;
- ``repeated_segments``: its path repeats a run of segments more than ``max_repeats``
  times in a row (Heritrix's pathological-path rule);
- ``url_pattern``: its *pattern* (the URL with every number replaced by ``{n}`` and every
  hex or UUID identifier by ``{id}``: ``/calendar/{n}/{n}``, ``/list?page={n}``) is the
  pattern of the page it was found on, and pages of that pattern already added
  ``pattern_max_pages`` new URLs of it. A pattern that keeps producing itself is a trap;
  its URLs found on other pages (a listing's links to products) still count as pages.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from scraper import settings as defaults

_NUMBER = re.compile(r"\d+")
# Hex identifiers with a digit (hashes, session ids) and UUIDs: one placeholder each.
_IDENTIFIER = re.compile(
    r"^(?=.*\d)(?:[0-9a-f]{8,}|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})$", re.I
)
REASONS = ("depth_limit", "max_pages", "site_max_pages", "repeated_segments", "url_pattern")


def url_pattern(url: str) -> str | None:
    """``url`` with its numbers and identifiers replaced (host kept, query keys sorted), or
    None when it has neither: such a URL is one page, not one of a series."""
    parts = urlsplit(url)
    variable = False

    def generalise(text: str) -> str:
        nonlocal variable
        if _IDENTIFIER.match(text):
            variable = True
            return "{id}"
        general = _NUMBER.sub("{n}", text)
        variable = variable or general != text
        return general

    path = "/".join(generalise(segment) for segment in parts.path.split("/"))
    query = sorted(f"{key}={generalise(value)}" for key, value in parse_qsl(parts.query, True))
    pattern = f"{parts.netloc.lower()}{path}" + (f"?{'&'.join(query)}" if query else "")
    return pattern if variable else None


def repeats_segments(path: str, max_repeats: int) -> bool:
    """Whether ``path`` holds a run of segments repeated more than ``max_repeats`` times in a
    row (``/a/a/a/``, ``/x/y/x/y/x/y/`` for 2)."""
    segments = [s for s in path.split("/") if s]
    times = max_repeats + 1
    for length in range(1, len(segments) // times + 1):
        for start in range(len(segments) - length * times + 1):
            run = segments[start : start + length]
            if all(
                segments[start + k * length : start + (k + 1) * length] == run
                for k in range(1, times)
            ):
                return True
    return False


@dataclass(frozen=True)
class FrontierLimits:
    """The bounds of a crawl (0 or None: no bound); the defaults are the settings'."""

    depth_limit: int = defaults.DEPTH_LIMIT
    max_pages: int | None = defaults.CRAWL_MAX_PAGES  # or -a max_pages
    site_max_pages: int = defaults.SITE_MAX_PAGES
    pattern_max_pages: int = defaults.URL_PATTERN_MAX_PAGES
    max_repeats: int = defaults.URL_MAX_REPEATED_SEGMENTS


@dataclass
class Frontier:
    """Admits or cuts off each new link of a crawl, and counts what it cut off."""

    limits: FrontierLimits
    pages: int = 0
    per_site: Counter[str] = field(default_factory=Counter)
    per_pattern: Counter[str] = field(default_factory=Counter)
    cut_off: Counter[str] = field(default_factory=Counter)  # reason -> links
    cut_patterns: Counter[str] = field(default_factory=Counter)  # pattern -> links

    def admit(self, url: str, depth: int, found_on: str | None = None) -> str | None:
        """None when ``url`` (``depth`` links from a start page, found on the page
        ``found_on``) is to be crawled, and it is counted; else why it is cut off."""
        reason, pattern = self._refusal(url, depth, found_on)
        if reason is not None:
            self.cut_off[reason] += 1
            if reason == "url_pattern" and pattern is not None:
                self.cut_patterns[pattern] += 1
            return reason
        self.pages += 1
        self.per_site[_site(url)] += 1
        if pattern is not None:
            self.per_pattern[pattern] += 1
        return None

    def count(self, url: str) -> None:
        """Count ``url``, scheduled by an earlier run of a resumed crawl."""
        self.pages += 1
        self.per_site[_site(url)] += 1

    def _refusal(self, url: str, depth: int, found_on: str | None) -> tuple[str | None, str | None]:
        """Why ``url`` is cut off (or None), and its pattern when pages of the same pattern
        produced it (that is what ``url_pattern`` counts)."""
        limits = self.limits
        if limits.depth_limit and depth > limits.depth_limit:
            return "depth_limit", None
        if limits.max_pages is not None and self.pages >= limits.max_pages:
            return "max_pages", None
        if limits.site_max_pages and self.per_site[_site(url)] >= limits.site_max_pages:
            return "site_max_pages", None
        if limits.max_repeats and repeats_segments(urlsplit(url).path, limits.max_repeats):
            return "repeated_segments", None
        pattern = url_pattern(url)
        if pattern is None or found_on is None or url_pattern(found_on) != pattern:
            return None, None
        if limits.pattern_max_pages and self.per_pattern[pattern] >= limits.pattern_max_pages:
            return "url_pattern", pattern
        return None, pattern


def _site(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()
