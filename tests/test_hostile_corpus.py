"""Every page of tests/hostile/ in one real crawl: what must hold however hostile a page is.

See tests/hostile/README.md for the format. Each case's own expectations are in its area's
tests; this checks the invariants across all of them at once, so a case added for one area
is also checked against every other defence.
"""

from __future__ import annotations

import mimetypes
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.crawling import PROJECT_DIR, run_crawl
from tests.sites import Page, serve

CORPUS = Path(__file__).parent / "hostile"
INTERNAL_SECRET = "internal-secret-corpus-51c2"
TIME_LIMIT = 300  # seconds for the whole corpus: a case that stalls the crawl fails this


def _cases() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "README.md")


def _page(path: Path, internal: str) -> Page:
    body = path.read_bytes().replace(b"{{INTERNAL}}", internal.encode())
    if path.suffix == ".redirect":
        return Page(status=302, headers={"Location": body.decode().strip()})
    kind = mimetypes.guess_type(path.name)[0]
    if kind not in ("application/json", "application/xml", "text/xml", "text/plain"):
        kind = "text/html; charset=utf-8"
    return Page(body, content_type=kind)


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    state = tmp_path_factory.mktemp("hostile-corpus")
    internal_page = f"<html><body><main><p>{INTERNAL_SECRET}</p></main></body></html>"
    with serve({"/secret": internal_page, "/admin": internal_page}) as internal:
        internal_url = internal.url.rstrip("/")
        cases = {"/" + p.relative_to(CORPUS).as_posix(): p for p in _cases()}
        with serve({u: _page(p, internal_url) for u, p in cases.items()}) as site:
            base = site.url.rstrip("/")
            urls = state / "urls.txt"
            urls.write_text("".join(f"{base}{u}\n" for u in cases))
            started = time.monotonic()
            result = run_crawl(
                state,
                {"urls_file": str(urls), "follow": "false", "render": "auto"},
                {
                    "ALLOW_PRIVATE_ADDRESSES": "False",
                    "ALLOWED_PRIVATE_HOSTS": base.removeprefix("http://"),
                    "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": "15000",
                },
                timeout=TIME_LIMIT,
            )
            elapsed = time.monotonic() - started
            yield cases, base, internal, result, elapsed, state


def test_the_corpus_has_cases_of_every_area():
    areas = {p.relative_to(CORPUS).parts[0] for p in _cases()}
    assert {"browser", "names"} <= areas


def test_the_crawl_ends_cleanly_in_bounded_time(crawl):
    _cases, _base, _internal, result, elapsed, _state = crawl
    assert result.returncode == 0, result.log[-3000:]
    assert elapsed < TIME_LIMIT
    assert "Traceback" not in result.log, result.log[result.log.find("Traceback") - 500 :][:4000]


def test_every_case_is_exactly_one_record(crawl):
    cases, base, _internal, result, _elapsed, _state = crawl
    urls = [r["url"].removeprefix(base) for r in result.records]
    assert sorted(urls) == sorted(cases)


def test_nothing_reaches_the_internal_server(crawl):
    _cases, _base, internal, result, _elapsed, _state = crawl
    assert internal.hits == []
    for record in result.records:
        assert INTERNAL_SECRET not in (record.get("markdown") or ""), record["url"]
        assert INTERNAL_SECRET not in str(record.get("structured_data")), record["url"]


def test_scrapy_graph_prints_hostile_names_escaped(crawl):
    *_, state = crawl
    store = state / "graph"
    names = "SELECT ?n WHERE { ?e schema:name|schema:alternateName ?n }"
    for args in (["entity", "Robotics"], ["query", names], ["query", names, "-f", "json"]):
        shown = subprocess.run(
            [sys.executable, "-m", "scrapy", "graph", *args, "-s", f"GRAPH_STORE={store}"],
            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert "Robotics" in shown.stdout + shown.stderr
        for raw in ("\x1b", "\x07", "\x00", "\u202e"):
            assert raw not in shown.stdout + shown.stderr, (args, raw)
