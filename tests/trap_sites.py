"""A site of crawl traps, for tests and benchmarks: a calendar linking every month before and
after, each month its first days and every day the next one (endless both ways), and docs
pages whose relative link nests their folder in itself."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.sites import Page, Site


def _calendar(handler) -> Page:
    """A calendar: every month links the month before and after, and its first days; every
    day links the next day. Endless in both directions."""
    month = parse_qs(urlsplit(handler.path).query).get("month", ["2026-01"])[0]
    year, number = (int(part) for part in month.split("-"))
    before = f"{year - (number == 1)}-{(number - 2) % 12 + 1:02d}"
    after = f"{year + (number == 12)}-{number % 12 + 1:02d}"
    days = "".join(f"<a href='/day/{month}-{d:02d}'>{d}</a> " for d in (1, 2, 3))
    return Page(
        f"<html><head><title>Calendar {month}</title></head><body><main><h1>Events in {month}"
        f"</h1><p>No events are planned for this month of the calendar yet, come back later.</p>"
        f"<a href='/calendar?month={before}'>previous</a> <a href='/calendar?month={after}'>"
        f"next</a> {days}</main></body></html>"
    )


def _day(handler) -> Page:
    day = urlsplit(handler.path).path.rsplit("/", 1)[1]
    year, month, number = (int(part) for part in day.split("-"))
    following = f"{year:04d}-{month:02d}-{number + 1:02d}"
    return Page(
        f"<html><head><title>Day {day}</title></head><body><main><h1>Events on {day}</h1><p>No"
        f" events on this day of the calendar, which shows every day there is.</p><a href="
        f"'/day/{following}'>next day</a></main></body></html>"
    )


def _nesting(handler) -> Page:
    """A page under /docs/ with a relative link that nests the path in itself."""
    return Page(
        "<html><head><title>Docs</title></head><body><main><h1>Documentation</h1><p>A page "
        "whose relative link repeats its own folder, at any depth the crawler asks for.</p>"
        "<a href='guide/'>guide</a></main></body></html>"
    )


def trap_site() -> Site:
    """The trap site: ``/`` links the calendar (``/calendar?month=2026-06``) and the docs."""
    return {
        "/": "<html><head><title>Home</title></head><body><main><h1>Home</h1><p>The site has a "
        "calendar and documentation, both generated without end.</p><a href='/calendar?month="
        "2026-06'>calendar</a> <a href='/docs/guide/'>docs</a></main></body></html>",
        "/calendar": _calendar,
        # The days of 2026 (later years answer 404) and the nested docs paths.
        **{f"/day/2026-{m:02d}-{d:02d}": _day for m in range(1, 13) for d in range(1, 40)},
        **{"/docs/" + "guide/" * n: _nesting for n in range(1, 12)},
    }
