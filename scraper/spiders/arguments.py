"""The ``semantic`` spider's arguments (``-a name=value``), parsed and checked in one place.

``scrapy crawl`` checks them before the crawl starts (one line, exit status 1); the spider
parses them with the same function, so a crawl started any other way gets the same errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from scrapy.exceptions import UsageError

RENDER_MODES = ("never", "always", "auto")
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")
T = TypeVar("T")
_URL_SEPARATOR = re.compile(r",\s*(?=[A-Za-z][A-Za-z0-9+.-]*:)")


class ArgumentError(UsageError):
    """A spider argument with a value it cannot take; the message names both."""


@dataclass(frozen=True)
class CrawlArguments:
    start_urls: list[str]
    sitemap_urls: list[str]
    depth: int | None = None
    max_pages: int | None = None
    allow: str | None = None
    deny: str | None = None
    follow: bool = True
    render: str = "auto"
    schema: str | None = None


KNOWN = (
    "url",
    "urls_file",
    "sitemap",
    "depth",
    "max_pages",
    "allow",
    "deny",
    "follow",
    "render",
    "schema",
)


def argument(name: str, value: Any, parse: Callable[[str], T], expected: str) -> T:
    """``parse(value)``, or an ArgumentError naming the argument (or setting) and what it takes."""
    try:
        return parse(str(value))
    except (ValueError, OSError, re.error) as exc:
        detail = f" ({exc})" if str(exc) else ""
        raise ArgumentError(f"{name} must be {expected}, not {value!r}{detail}") from None


def at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.strip().isdigit() or int(text) < minimum:
            raise ValueError()  # int()'s own message adds nothing to the argument's
        return int(text)

    return parse


def _boolean(text: str) -> bool:
    if text.lower() in _TRUE + _FALSE:
        return text.lower() in _TRUE
    raise ValueError()


def _pattern(text: str) -> str:
    re.compile(text)
    return text


def _render_mode(text: str) -> str:
    if text not in RENDER_MODES:
        raise ValueError()
    return text


def _urls(text: str) -> list[str]:
    """The URLs of a comma-separated list: a comma separates URLs only where the next one
    starts (``,https://…``, ``, data:…``), so commas inside a URL stay in it."""
    urls = [u.strip() for u in _URL_SEPARATOR.split(text) if u.strip()]
    for url in urls:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ValueError(f"{url!r} is not an absolute http(s) URL")
    return urls


def _urls_file(path: str) -> list[str]:
    """URLs from a file, one per line; blank lines and ``#`` comments skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [url for line in lines if not line.lstrip().startswith("#") for url in _urls(line)]


def parse_arguments(given: Mapping[str, Any], render_setting: str) -> CrawlArguments:
    """The crawl's arguments from ``-a`` values; ArgumentError on the first bad one.

    ``render`` defaults to ``render_setting`` (RENDER_MODE), checked the same way.
    Names starting with ``_`` are let through: scrapyd passes ``_job`` to every spider.
    """
    unknown = sorted(name for name in given if name not in KNOWN and not name.startswith("_"))
    if unknown:
        raise ArgumentError(
            f"unknown argument -a {unknown[0]}: known arguments are {', '.join(KNOWN)}"
        )
    urls = "an absolute http(s) URL, or several separated by commas"
    start_urls = argument("url", given.get("url", ""), _urls, urls)
    if "urls_file" in given:
        start_urls += argument(
            "urls_file", given["urls_file"], _urls_file, "a readable file of http(s) URLs"
        )
    sitemap_urls = argument("sitemap", given.get("sitemap", ""), _urls, urls)
    if not start_urls and not sitemap_urls:
        raise ArgumentError("give a start URL: -a url=https://example.com/ (or urls_file, sitemap)")
    checks: dict[str, tuple[Callable[[str], Any], str]] = {
        "depth": (at_least(1), "a whole number >= 1 (follow=false fetches only the given URLs)"),
        "max_pages": (at_least(1), "a whole number >= 1"),
        "allow": (_pattern, "a regular expression"),
        "deny": (_pattern, "a regular expression"),
        "follow": (_boolean, "true or false"),
        "schema": (str, "package.module:Model"),
    }
    values = {
        name: argument(name, given[name], parse, expected)
        for name, (parse, expected) in checks.items()
        if name in given
    }
    modes = f"one of {', '.join(RENDER_MODES)}"
    if "render" in given:
        values["render"] = argument("render", given["render"], _render_mode, modes)
    else:
        values["render"] = argument("RENDER_MODE", render_setting, _render_mode, modes)
    return CrawlArguments(start_urls=start_urls, sitemap_urls=sitemap_urls, **values)
