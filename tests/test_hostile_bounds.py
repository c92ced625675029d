"""Hostile sites that cost without bound: binary pages, huge structured data, pages of endless
chunks, crawl traps, and robots.txt answers that are errors, timeouts or too big.

Real ``scrapy crawl`` processes against local servers on 127.0.0.1 (and a fake LLM there);
the page files are the corpus of ``tests/hostile/bounds/`` (its README says what each attacks).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

from scraper.fetch.frontier import Frontier, FrontierLimits, repeats_segments, url_pattern
from scraper.fetch.robots import MAX_BYTES, parsed_part
from tests.crawling import run_crawl, run_scrapy
from tests.fake_llm import FakeLLM, serve_fake_llm
from tests.sites import Page, serve
from tests.trap_sites import trap_site

CORPUS = Path(__file__).parent / "hostile" / "bounds"
FAST_LLM = {"LLM_BACKOFF_INITIAL": "0.01", "LLM_BACKOFF_MAX": "0.05", "LLM_TIMEOUT": "10"}
NOT_TEXT = ("random-bytes-as-html", "binary-declared-windows-1252", "png-served-as-html")


def _read(name: str) -> str:
    return (CORPUS / f"{name}.html").read_text(encoding="utf-8")


def _corpus_site() -> dict:
    pages = {
        f"/{f.stem}": Page(f.read_bytes(), content_type="text/html") for f in CORPUS.glob("*.html")
    }
    index = "".join(f"<a href='{path}'>{path}</a> " for path in sorted(pages))
    home = (
        "<html lang='en'><head><title>Hostile corpus</title></head><body><main><h1>Hostile"
        f" corpus</h1><p>Every hostile page of the bounds corpus, linked.</p>{index}</main></body>"
        "</html>"
    )
    return {"/": home, **pages}


def test_binary_pages_huge_structured_data_and_endless_chunks_are_bounded(tmp_path):
    with serve(_corpus_site()) as site, serve_fake_llm(FakeLLM()) as fake:
        result = run_crawl(
            tmp_path,
            {"url": site.url, "render": "never"},
            {**FAST_LLM, "CLEAN_TIMEOUT": "5"},
            env={"OPENAI_BASE_URL": fake.base_url},
            timeout=300,
        )
        prompts = [json.dumps(r.body) for r in fake.requests]
        failures_file = (tmp_path / "failures.jsonl").read_text()
        # The cap raised, retry_failed extracts the page whole: chunked again, not 101 chunks.
        retry = run_scrapy(
            tmp_path,
            ["retry_failed"],
            tmp_path / "retried.jsonl",
            settings={**FAST_LLM, "CHUNK_MAX_PER_PAGE": "1000"},
            env={"OPENAI_BASE_URL": fake.base_url},
            timeout=300,
        )
    assert result.returncode == 0, result.log[-3000:]
    assert "Traceback" not in result.log
    records = {urlsplit(r["url"]).path: r for r in result.records}
    assert len(result.records) == len(records) == len(_corpus_site())  # one record per page
    for name in NOT_TEXT:
        record = records[f"/{name}"]
        assert [(f["stage"], f["reason"]) for f in record["failures"]] == [("fetch", "not_text")]
        assert record["markdown"] is None and record["chunks"] == []
    nested = records["/nested-tables"]
    assert [(f["stage"], f["reason"]) for f in nested["failures"]] == [("clean", "clean_timeout")]
    assert nested["markdown"] is None and nested["chunks"] == []
    assert "clean/failed/clean_timeout': 1" in result.log
    huge = records["/huge-jsonld"]
    assert huge["failures"] == [], huge["failures"]
    big_block = re.search(r"<script[^>]*>(.*?)</script>", _read("huge-jsonld"), re.S)
    assert big_block is not None
    assert huge["structured_data_skipped"] == [
        {"syntax": "json-ld", "items": 1, "bytes": len(big_block.group(1)), "reason": "too_large"}
    ]
    assert [d["name"] for d in huge["structured_data"]["json-ld"]] == ["Bounded Shop Ltd"]
    assert "visible content, which must be kept" in huge["markdown"]
    garbage = records["/garbage-text-many-chunks"]
    assert len(garbage["chunks"]) == 101  # one past CHUNK_MAX_PER_PAGE: the rest is not chunked
    assert garbage["extraction"]["status"] == "failed"
    assert garbage["extraction"]["failure_reason"] == "too_many_chunks"
    assert garbage["extraction"]["usage"]["calls"] == 0
    assert [f["reason"] for f in garbage["failures"]] == ["too_many_chunks"]
    first_words = " ".join(garbage["chunks"][0]["text"].split()[5:15])
    assert prompts and not any(first_words in prompt for prompt in prompts)
    assert "skipped:    structured data 1 json-ld" in result.log
    assert "fetch/not_text: 3" in result.log and "extract/too_many_chunks: 1" in result.log
    failures = [json.loads(line) for line in failures_file.splitlines()]
    assert [f["reason"] for f in failures] == ["too_many_chunks"]
    assert retry.returncode == 0, retry.log[-3000:]
    [retried] = retry.records
    assert retried["extraction"]["status"] == "ok"
    assert len(retried["chunks"]) == retried["extraction"]["usage"]["calls"] == 134


def test_calendar_trap_and_nesting_paths_are_cut_off_and_summarised(tmp_path):
    site = trap_site()
    with serve(site) as running:
        started = time.monotonic()
        result = run_crawl(
            tmp_path,
            {"url": running.url, "render": "never"},
            {"URL_PATTERN_MAX_PAGES": "5", "LLM_CACHE_ENABLED": "False"},
            timeout=300,
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 0, result.log[-3000:]
    paths = [r["url"].removeprefix(running.url.rstrip("/")) for r in result.records]
    months = [p for p in paths if p.startswith("/calendar")]
    days = [p for p in paths if p.startswith("/day/")]
    docs = [p for p in paths if p.startswith("/docs/")]
    # 1 month linked from home + 5 more months linked from months; each month's 3 first days
    # are linked from a month (not a trap), and 5 days more from days.
    assert len(months) == 6, months
    assert len(days) <= 6 * 3 + 5, days
    # Records come in the order pages finish, which load can flip; which pages is what counts.
    assert sorted(docs) == ["/docs/guide/", "/docs/guide/guide/"]  # /docs/guide/guide/guide/ is cut
    assert len(paths) == len(set(paths))
    report = json.loads(next((tmp_path / "reports").glob("*.json")).read_text())
    assert report["cut_off"]["url_pattern"] >= 6 and report["cut_off"]["repeated_segments"] == 1
    patterns = report["trap_patterns"]
    assert f"127.0.0.1:{urlsplit(running.url).port}/calendar?month={{n}}-{{n}}" in patterns
    assert "cut off:" in result.log and "links not followed" in result.log
    assert "traps:      127.0.0.1:" in result.log
    assert elapsed < 120


def test_default_depth_and_per_site_budget(tmp_path):
    # A chain of pages without numbers in their names (no URL pattern): only depth stops it.
    names = ["/"] + ["/" + "a" * i for i in range(1, 26)]
    chain = {
        name: f"<html><head><title>Page {i}</title></head><body><main><h1>Page {i}</h1><p>One "
        f"more page of a long chain of pages, each linking the next one.</p><a href="
        f"'{names[i + 1] if i + 1 < len(names) else '/'}'>next</a></main></body></html>"
        for i, name in enumerate(names)
    }
    (tmp_path / "deep").mkdir()
    (tmp_path / "budget").mkdir()
    with serve(chain) as running:
        deep = run_crawl(tmp_path / "deep", {"url": running.url, "render": "never"})
        port = urlsplit(running.url).port
        two_hosts = f"http://127.0.0.1:{port}/,http://localhost:{port}/"
        budget = run_crawl(
            tmp_path / "budget", {"url": two_hosts, "render": "never"}, {"SITE_MAX_PAGES": "3"}
        )
    assert deep.returncode == 0, deep.log[-3000:]
    assert len(deep.records) == 21  # depth 0 to DEPTH_LIMIT=20
    assert "depth_limit 1" in deep.log
    hosts = [urlsplit(r["url"]).hostname for r in budget.records]
    assert sorted(hosts) == ["127.0.0.1"] * 3 + ["localhost"] * 3
    assert "site_max_pages 2" in budget.log


def test_bad_bound_setting_is_one_line(tmp_path):
    result = run_crawl(tmp_path, {"url": "http://127.0.0.1:9/"}, {"SITE_MAX_PAGES": "lots"})
    assert result.returncode == 1
    assert result.log.strip() == (
        "error: SITE_MAX_PAGES must be a whole number >= 0 (0: none), not 'lots'"
    )


def _slow_robots(handler) -> Page:
    time.sleep(8)
    return Page("User-agent: *\nAllow: /\n", content_type="text/plain")


def _robots_site(robots) -> dict:
    page = (
        "<html><head><title>{0}</title></head><body><main><h1>{0}</h1><p>A page of a site "
        "whose robots.txt answers in its own way, to test what the crawler makes of it.</p>"
        "{1}</main></body></html>"
    )
    return {
        "/robots.txt": robots,
        "/": page.format("Home", "<a href='/early/x'>early</a> <a href='/late/x'>late</a>"),
        "/early/x": page.format("Early", ""),
        "/late/x": page.format("Late", ""),
    }


def test_robots_txt_per_rfc_9309(tmp_path):
    filler = "# " + "x" * 98 + "\n"
    big = "User-agent: *\nDisallow: /early/\n" + filler * (MAX_BYTES // len(filler) + 1)
    big += "Disallow: /late/\n"  # past the first 500 KiB: not read
    sites = {
        "error": _robots_site(Page("oops", status=503, content_type="text/plain")),
        "slow": _robots_site(_slow_robots),
        "missing": _robots_site(Page("no such file", status=404, content_type="text/plain")),
        "big": _robots_site(Page(big, content_type="text/plain")),
    }
    with (
        serve(sites["error"]) as error,
        serve(sites["slow"]) as slow,
        serve(sites["missing"]) as missing,
        serve(sites["big"]) as huge,
    ):
        result = run_crawl(
            tmp_path,
            {"url": ",".join(s.url for s in (error, slow, missing, huge)), "render": "never"},
            {"DOWNLOAD_TIMEOUT": "3", "RETRY_TIMES": "0"},
            timeout=180,
        )
        hits = {
            name: list(s.hits) for name, s in zip(sites, (error, slow, missing, huge), strict=True)
        }
    assert result.returncode == 0, result.log[-3000:]
    assert "Traceback" not in result.log
    outcome = {r["url"]: [f["reason"] for f in r["failures"]] for r in result.records}
    # 5xx and a timeout: nothing of the site is fetched, each refused page is a record.
    assert outcome[error.url] == ["robots_unreachable"]
    assert outcome[slow.url] == ["robots_unreachable"]
    assert hits["error"] == ["/robots.txt"]
    assert set(hits["slow"]) == {"/robots.txt"}
    # 4xx: no rules, everything is crawled.
    assert outcome[missing.url] == outcome[missing.url + "early/x"] == []
    # Over 500 KiB: the rules in the first 500 KiB apply, the ones after are not read.
    assert outcome[huge.url + "early/x"] == ["robots_disallowed"]
    assert outcome[huge.url + "late/x"] == []
    assert "only its first" in result.log
    assert len(result.records) == 2 + 3 + 3  # every page scheduled ends as one record


def test_url_patterns_and_repeated_segments():
    assert url_pattern("https://h.test/calendar/2026/12/") == "h.test/calendar/{n}/{n}/"
    assert url_pattern("https://h.test/e?month=2026-12&view=m") == "h.test/e?month={n}-{n}&view=m"
    assert url_pattern("https://h.test/s/3f2a9b1c7d/x") == "h.test/s/{id}/x"
    assert url_pattern("https://h.test/about/team") is None
    assert repeats_segments("/a/b/a/b/a/b/", 2) and repeats_segments("/x/x/x", 2)
    assert not repeats_segments("/docs/v1/api/v1/", 2) and not repeats_segments("/a/b/a/b", 2)
    frontier = Frontier(FrontierLimits(pattern_max_pages=2))
    chain = [
        frontier.admit(f"https://h.test/p/{i}", 1, f"https://h.test/p/{i + 1}") for i in range(5)
    ]
    assert chain == [None, None, "url_pattern", "url_pattern", "url_pattern"]
    # The same pattern linked from a page of another pattern (a listing) is not a trap.
    assert frontier.admit("https://h.test/p/99", 1, "https://h.test/products") is None
    assert frontier.cut_patterns == {"h.test/p/{n}": 3}


def test_robots_parsed_part_cuts_at_a_line_end():
    body = b"Disallow: /a\n" * (MAX_BYTES // 13 + 10)
    part = parsed_part(body)
    assert len(part) <= MAX_BYTES and part.endswith(b"\n") and parsed_part(b"x") == b"x"
