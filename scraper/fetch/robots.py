"""What a robots.txt answer means for a crawl, as RFC 9309 says (section 2.3.1).

- 2xx: the rules, of which only the first ``MAX_BYTES`` (500 KiB) are parsed;
- 4xx ("unavailable"): no rules, everything may be crawled;
- 5xx, 429 and no answer at all (timeout, refused or reset connection, DNS failure)
  ("unreachable"): nothing may be crawled. The RFC lets the file stay undefined "for a
  reasonably long period"; a crawl asks again after ``retry_after`` seconds.

3xx answers are followed by the crawl's redirects before the answer is judged. 429 counts as
a server error, as Google's crawler takes it: the server asks to be left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_BYTES = 500 * 1024  # RFC 9309 2.5: crawlers must parse at least 500 KiB


@dataclass(frozen=True)
class Unreachable:
    """A robots.txt that could not be read because of the server or the network: every URL
    of its host is refused until ``until`` (a ``time.monotonic()`` time)."""

    host: str
    why: str  # "answered 503", "timed out", …
    until: float

    def allowed(self, url: str, user_agent: str | bytes) -> bool:
        return False

    @property
    def message(self) -> str:
        return (
            f"robots.txt of {self.host} {self.why}: RFC 9309 says to crawl nothing of a "
            "site whose robots.txt is unreachable (asked again after ROBOTSTXT_RETRY_SECONDS)"
        )


def unreachable_status(status: int) -> bool:
    """Whether a robots.txt answer of ``status`` means the file is unreachable (5xx, 429)."""
    return status >= 500 or status == 429


def allow_all_status(status: int) -> bool:
    """Whether a robots.txt answer of ``status`` means there are no rules (other 4xx, or an
    unfollowed 3xx)."""
    return 300 <= status < 500 and not unreachable_status(status)


def parsed_part(body: bytes) -> bytes:
    """The part of a robots.txt body that is parsed: its first ``MAX_BYTES``, cut at the last
    line end within them (a rule cut in half is no rule)."""
    if len(body) <= MAX_BYTES:
        return body
    head = body[:MAX_BYTES]
    end = max(head.rfind(b"\n"), head.rfind(b"\r"))
    return head[: end + 1] if end >= 0 else b""
