"""Clean stage: main content as Markdown, boilerplate dropped, metadata, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from scraper.cleaning import CleanedPage, clean_html

FIXTURES = Path(__file__).parent / "fixtures" / "cleaning"
URL = "https://example.org/page"


def clean_fixture(name: str) -> CleanedPage:
    return clean_html((FIXTURES / name).read_text(encoding="utf-8"), URL)


def test_article_keeps_text_headings_and_list_and_drops_chrome():
    page = clean_fixture("article.html")
    md = page.markdown
    assert "Sea otters crack open shellfish" in md
    assert "## What the study found" in md
    assert "- Young otters learn the habit from their mothers." in md
    assert "they plan to follow tagged animals next year" in md
    for chrome in ("About us", "cookies", "SCRIPT-MARKER", "color: red", "Beavers", "Privacy"):
        assert chrome not in md


def test_article_metadata():
    page = clean_fixture("article.html")
    assert page.title == "Otters use tools"
    assert page.language == "en-US"
    assert page.canonical_url == "https://example.org/news/otters-use-tools"
    assert page.published.startswith("2024-03-05")
    assert page.modified.startswith("2024-03-06")
    assert page.author == "Ada Brook"


def test_product_keeps_price_and_specs_table_and_drops_reviews_and_rails():
    page = clean_fixture("product.html")
    md = page.markdown
    assert "# Trail Runner 3" in md
    assert "€129.00" in md
    assert "grippy outsole" in md
    assert "| Weight | 280 g |" in md
    assert "| Drop | 6 mm |" in md
    for chrome in ("Log in", "Women", "Home /", "Add to cart", "REVIEW-MARKER", "Trail Sock"):
        assert chrome not in md
    assert page.language == "de-DE"


def test_forum_keeps_every_post():
    md = clean_fixture("forum.html").markdown
    assert "I go on holiday for two weeks" in md
    assert "The fridge is fine for two weeks" in md
    assert "Drying a spoonful as a backup never hurts" in md
    for author in ("breadfan", "crumbcoat", "ryeguy"):
        assert author in md
    for chrome in ("SIGNATURE-MARKER", "Members", "Powered by"):
        assert chrome not in md


def test_docs_keeps_code_block_and_table():
    md = clean_fixture("docs.html").markdown
    assert '```python\nimport widgetlib\n\napp = widgetlib.load("widget.toml")' in md
    assert "`widget.toml`" in md
    assert "| Name | Default | Meaning |" in md
    assert "| timeout | 30 | Seconds before a request is dropped |" in md
    assert "API reference" not in md
    assert "documentation generator" not in md


def test_listing_keeps_every_card():
    md = clean_fixture("listing.html").markdown
    for course in ("Pottery", "Spanish", "Bookkeeping", "Photography"):
        assert course in md
    for price in ("£180", "£150", "£120", "£160"):
        assert price in md
    assert "Apply" not in md
    assert "1 Main Street" not in md


def test_markdown_is_much_shorter_than_html():
    html = (FIXTURES / "article.html").read_text(encoding="utf-8")
    assert len(clean_html(html, URL).markdown) < len(html) / 2


@pytest.mark.parametrize("html", ["", "   \n\t  ", "<html></html>", "<html><body></body></html>"])
def test_empty_documents_give_empty_markdown(html):
    page = clean_html(html, URL)
    assert page.markdown == ""
    assert page.canonical_url is None


@pytest.mark.parametrize(
    "html",
    [
        "<html><body><div><p>Unclosed <b>tags <i>everywhere<table><tr><td>cell",
        "<?xml version='1.0' encoding='iso-8859-1'?><html><body><p>XML-ish page</p></body></html>",
        "\x00\x01<p>binary junk \ud800 lone surrogate</p>",
        "<p>" + "<div>" * 5000 + "deep" + "</div>" * 5000 + "</p>",
        "<![CDATA[ odd ]]><!-- comment --><p>text after markup junk</p>",
    ],
)
def test_malformed_html_does_not_raise(html):
    page = clean_html(html, URL)
    assert isinstance(page.markdown, str)


def test_malformed_html_keeps_its_text():
    page = clean_html("<html><body><div><p>Unclosed <b>tags <i>everywhere", URL)
    assert "Unclosed tags everywhere" in page.markdown


def test_huge_document_is_cleaned():
    paragraph = "<p>" + "Rivers carry sediment to the sea and build deltas. " * 20 + "</p>"
    html = "<html><body><main>" + paragraph * 2500 + "</main></body></html>"
    assert len(html) > 2_000_000
    assert "build deltas" in clean_html(html, URL).markdown
