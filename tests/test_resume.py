"""Kill a real crawl mid-way and resume it with the same JOBDIR."""

import json
import os
import signal
import time
from collections import Counter

from scraper.graph import open_store
from tests.crawling import run_crawl, start_crawl
from tests.sites import Page, serve

PAGES = 30


def _slow_page(i: int):
    def answer(handler):
        time.sleep(0.15)  # slow enough to kill the crawl half-way
        nxt = "".join(f"<a href='/p{j}'>p{j}</a> " for j in (i + 1, i + 2) if j < PAGES)
        return Page(
            f"<html><body><main><h1>Page {i}</h1><p>Page number {i} of the slow site, "
            f"with a little text to clean.</p>{nxt}</main></body></html>"
        )

    return answer


def test_killed_crawl_resumes_without_refetching(tmp_path):
    site = {("/" if i == 0 else f"/p{i}"): _slow_page(i) for i in range(PAGES)}
    site["/robots.txt"] = Page("", content_type="text/plain")
    jobdir = tmp_path / "job"
    journal = jobdir / "pages.journal"
    with serve(site) as running:
        proc = start_crawl(
            tmp_path,
            {"url": running.url, "render": "never"},
            tmp_path / "first.jsonl",
            # One clean worker: downloads wait while it has 2 pages (BACKLOG_PER_WORKER).
            {"JOBDIR": str(jobdir), "CONCURRENT_REQUESTS": "2", "CLEAN_WORKERS": "1"},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = journal.read_text().count('"e": "done"') if journal.exists() else 0
            if done >= 8:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        hits_before_resume = Counter(running.hits)
        finished_first = {
            json.loads(line)["url"]
            for line in journal.read_text().splitlines()
            if '"e": "done"' in line
        }
        assert 8 <= len(finished_first) < PAGES
        # Every page the killed crawl finished is in its feed (written through, not buffered).
        fed_first = {json.loads(line)["url"] for line in (tmp_path / "first.jsonl").open()}
        assert finished_first <= fed_first

        resumed = run_crawl(
            tmp_path,
            {"url": running.url, "render": "never"},
            {"JOBDIR": str(jobdir), "CONCURRENT_REQUESTS": "2"},
        )
    assert resumed.returncode == 0, resumed.log[-2000:]
    assert "Resuming from" in resumed.log
    resumed_urls = {r["url"] for r in resumed.records}
    # Finished pages are neither fetched nor processed again ...
    assert not resumed_urls & finished_first
    # ... and together the two runs cover every page exactly once.
    assert len(finished_first | resumed_urls) == PAGES
    pages_fetched = Counter(h for h in running.hits if h != "/robots.txt")
    refetched = [p for p, n in pages_fetched.items() if n > 1]
    # Only pages in flight at the kill (2 downloads, 2 with the clean worker) are fetched twice.
    assert len(refetched) <= 4, (refetched, hits_before_resume)
    # Every page is in the graph once, under its own URL (a page's facts are replaced whole).
    expected = {running.url} | {f"{running.url}p{i}" for i in range(1, PAGES)}
    with open_store(str(tmp_path / "graph"), write=False) as store:
        pages = store.pages()
    assert len(pages) == len(set(pages)) and set(pages) == expected


def test_interrupted_crawl_resumes_into_the_same_feed_without_fetching_twice(tmp_path):
    """The README's Ctrl-C example: stop, resume with the same JOBDIR and -o file."""
    site = {("/" if i == 0 else f"/p{i}"): _slow_page(i) for i in range(PAGES)}
    site["/robots.txt"] = Page("", content_type="text/plain")
    jobdir, feed = tmp_path / "job", tmp_path / "pages.jsonl"
    settings = {"JOBDIR": str(jobdir), "CONCURRENT_REQUESTS": "2"}
    with serve(site) as running:
        args = {"url": running.url, "render": "never"}
        proc = start_crawl(tmp_path, args, feed, settings, output="-o")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(running.hits) < 8:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGINT)  # Ctrl-C: Scrapy stops gracefully
        assert proc.wait(timeout=60) == 0
        assert 0 < len(feed.read_text().splitlines()) < PAGES
        resumed = start_crawl(tmp_path, args, feed, settings, output="-o")
        assert resumed.wait(timeout=120) == 0
    urls = [json.loads(line)["url"] for line in feed.read_text().splitlines()]
    assert len(urls) == PAGES and len(set(urls)) == PAGES  # every page once in the feed
    fetched = Counter(h for h in running.hits if h != "/robots.txt")
    assert [p for p, n in fetched.items() if n > 1] == []  # none fetched twice
