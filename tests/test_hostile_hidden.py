"""Text a browser never shows is removed before any extractor, so it never reaches the LLM.

The pages are the corpus of ``tests/hostile/hidden/`` (its README says what each attacks):
cleaned directly for static HTML, and crawled with ``render=always`` in real Chromium, with
a fake LLM on 127.0.0.1 that records every prompt.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scraper.clean import clean_page, hidden
from scraper.clean.dom import parse_html
from scraper.clean.hidden import hiding_reason, remove_hidden
from tests.crawling import run_crawl
from tests.fake_llm import FakeLLM, serve_fake_llm
from tests.sites import Page, serve

CORPUS = Path(__file__).parent / "hostile" / "hidden"
STATIC = sorted(f for f in CORPUS.glob("*.html") if not f.name.startswith("rendered-"))


@pytest.mark.parametrize("path", STATIC, ids=lambda p: p.stem)
def test_static_hidden_text_is_removed_and_content_kept(path):
    markdown = clean_page(path.read_text(encoding="utf-8"), f"https://site.test/{path.name}")
    text = markdown.markdown
    assert "INJECTED" not in text
    assert text.count("VISIBLE:") == 2, text
    if path.stem.startswith("kept-"):
        assert "KEPT:" in text, text


def test_hiding_declarations():
    assert hiding_reason({"display": "none !important"}) == "display"
    assert hiding_reason({"font-size": "0em"}) == "font_size"
    assert hiding_reason({"position": "absolute", "left": "-200em"}) == "off_screen"
    assert hiding_reason({"position": "relative", "left": "-9999px"}) is None
    assert hiding_reason({"color": "#000"}, background="black") == "same_colour"
    assert hiding_reason({"color": "#000", "background": "#fff"}, background="#000") is None
    assert hiding_reason({"opacity": "0", "transition": "opacity .3s"}) is None
    assert hiding_reason({"display": "flex", "font-size": "12px"}) is None


def test_hidden_removal_survives_deep_nesting():
    # Deeper than Python's recursion limit (libxml2 keeps about 4,000 levels).
    inner = "deep text <p hidden>INJECTED</p>"
    tree = parse_html(f"<html><body>{'<div>' * 2000}{inner}{'</div>' * 2000}</body></html>")
    assert tree is not None
    assert remove_hidden(tree) == {"hidden": 1}
    assert "INJECTED" not in tree.text_content()


def test_a_sites_stylesheet_is_read_once_for_all_its_pages(monkeypatch):
    read, style_rules = [], hidden._style_rules
    monkeypatch.setattr(hidden, "_style_rules", lambda css: read.append(css) or style_rules(css))
    hidden._stylesheets_hiding_rules.cache_clear()
    site_css = ".promo-note {display: none} .lead {font-weight: bold}"
    for n in range(3):
        tree = parse_html(
            f"<html><head><style>{site_css}</style></head><body><p class='lead'>Page {n}</p>"
            f"<p class='promo-note'>INJECTED {n}</p></body></html>"
        )
        assert tree is not None
        assert remove_hidden(tree) == {"display": 1}
        assert "INJECTED" not in tree.text_content() and f"Page {n}" in tree.text_content()
    assert read == [site_css]
    other = parse_html("<html><head><style>.x {display: none}</style></head><body></body></html>")
    assert other is not None
    remove_hidden(other)
    assert read == [site_css, ".x {display: none}"]


def test_rendered_pages_drop_what_the_browser_does_not_show(tmp_path):
    site = {f"/{f.stem}": Page(f.read_bytes()) for f in CORPUS.glob("*.html")}
    links = "".join(f"<a href='{path}'>{path}</a> " for path in sorted(site))
    site["/"] = Page(
        "<html><head><title>Hidden corpus</title></head><body><main><h1>Hidden corpus</h1>"
        f"<p>VISIBLE: every page of the hidden-text corpus.</p><p>VISIBLE: linked.</p>{links}"
        "</main></body></html>"
    )
    with serve(site) as running, serve_fake_llm(FakeLLM()) as fake:
        result = run_crawl(
            tmp_path,
            {"url": running.url, "render": "always"},
            {"LLM_BACKOFF_INITIAL": "0.01", "LLM_TIMEOUT": "10"},
            env={"OPENAI_BASE_URL": fake.base_url},
            timeout=400,
        )
        prompts = [json.dumps(r.body) for r in fake.requests]
    assert result.returncode == 0, result.log[-3000:]
    records = result.by_url()
    assert len(records) == len(site)
    for path in site:
        record = records[running.url.rstrip("/") + path]
        assert record["rendered"] is True and record["failures"] == [], (path, record["failures"])
        assert "INJECTED" not in record["markdown"], (path, record["markdown"])
        assert all("INJECTED" not in chunk["text"] for chunk in record["chunks"])
        assert record["markdown"].count("VISIBLE:") == 2, (path, record["markdown"])
        if path.startswith("/kept-"):
            assert "KEPT:" in record["markdown"], (path, record["markdown"])
    assert prompts and not any("INJECTED" in prompt for prompt in prompts)
