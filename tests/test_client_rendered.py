"""``render=auto`` on a site whose chrome is static and whose main content JavaScript
renders: a real ``scrapy crawl`` with real Chromium."""

import pytest

from tests.client_rendered_site import (
    CONSENT_TEXT,
    JS_FACTS,
    NEWSLETTER_TEXT,
    STATIC_FACTS,
    client_rendered_site,
)
from tests.crawling import run_crawl
from tests.sites import serve

RENDERED = {
    "/team": "empty_mount_point",
    "/products": "skeleton",
    "/history": "noscript_notice",
    "/latest": "no_main_content",  # redirected to /news
}


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    with serve(client_rendered_site()) as running:
        result = run_crawl(
            tmp_path_factory.mktemp("client-rendered"),
            {"url": running.url, "render": "auto"},
            {"CHUNK_SIZE_TOKENS": "200", "CHUNK_OVERLAP_TOKENS": "20"},
        )
        base = running.url.rstrip("/")
        yield running, result, {r["url"].removeprefix(base): r for r in result.records}


def test_every_page_is_recorded_and_robots_obeyed(crawl):
    running, result, records = crawl
    assert result.returncode == 0, result.log[-3000:]
    assert set(records) == {"/", "/about", *RENDERED, "/privacy", "/terms", "/private/admin"}
    assert [f["reason"] for f in records["/private/admin"]["failures"]] == ["robots_disallowed"]
    assert not [hit for hit in running.hits if hit.startswith("/private/")]
    for path, record in records.items():
        if path != "/private/admin":
            assert record["failures"] == [], path


def test_pages_without_their_main_content_are_rendered_with_the_reason(crawl):
    _, result, records = crawl
    for path, reason in RENDERED.items():
        assert (records[path]["rendered"], records[path]["render_reason"]) == (True, reason)
        assert f"'render/auto/{reason}': 1" in result.log
    for path in ("/", "/about", "/privacy", "/terms"):
        assert (records[path]["rendered"], records[path]["render_reason"]) == (False, None)
    assert f"'pages/rendered': {len(RENDERED)}" in result.log


def test_every_fact_that_exists_only_after_rendering_is_found(crawl):
    _, _, records = crawl
    for path, facts in JS_FACTS.items():
        for fact in facts:
            assert fact in records[path]["markdown"], (path, fact)
    for path, fact in STATIC_FACTS.items():
        assert fact in records[path]["markdown"], (path, fact)


def test_no_page_keeps_the_consent_banner_or_the_newsletter_popup(crawl):
    _, _, records = crawl
    pages = [r for r in records.values() if r["markdown"]]
    assert len(pages) == 8
    assert [r["url"] for r in pages if "cookies" in r["markdown"]] == []
    assert [r["url"] for r in pages if CONSENT_TEXT[:40] in r["markdown"]] == []
    assert [r["url"] for r in pages if NEWSLETTER_TEXT[:40] in r["markdown"]] == []


def test_the_footers_copyright_year_is_no_publication_date(crawl):
    _, _, records = crawl
    assert {r["published"] for r in records.values()} == {None}  # "© 2026" in every footer


def test_a_long_rendered_page_keeps_every_fact_sentence_whole_in_a_chunk(crawl):
    _, _, records = crawl
    history = records["/history"]
    assert len(history["chunks"]) > 3
    for fact in JS_FACTS["/history"]:
        assert any(fact in chunk["text"] for chunk in history["chunks"]), fact


def test_rendered_requests_carry_no_download_meta(crawl):
    """The rendered re-request keeps the page's depth and the URL first asked for, not the
    meta of the static download (Scrapy warns about copied internal keys)."""
    running, result, records = crawl
    assert "internal meta keys" not in result.log
    assert records["/latest"]["final_url"] == running.url + "news"
    warnings = [line for line in result.log.splitlines() if "] WARNING: " in line]
    assert [w for w in warnings if "No LLM configured" not in w] == []
