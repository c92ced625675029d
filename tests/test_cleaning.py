"""Clean stage: main content as Markdown, boilerplate dropped, metadata, bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trafilatura

from scraper.clean import metadata
from scraper.clean.chrome import remove_overlays
from scraper.clean.dom import parse_html, repeated_block_share, strip_boilerplate
from scraper.clean.main_content import (
    CleanedPage,
    add_missing_description,
    choose_markdown,
    clean_html,
    drop_shop_policy_lines,
    drop_unconfirmed_short_lines,
)
from scraper.clean.metadata import jsonld_nodes, page_kind, product_description, trafilatura_fields

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


def test_product_keeps_hidden_tab_panels_and_adds_the_declared_description():
    md = clean_fixture("product_tabs.html").markdown
    assert "never leaks when you pour boiling water" in md  # hidden role=tabpanel
    assert "let it dry with the lid open overnight" in md  # display:none, aria-controls target
    assert "lifetime warranty against manufacturing defects" in md  # <details>
    # Missing from the visible text: added from JSON-LD, markup and entities removed.
    assert "packs inside a 900 ml pot & weighs only 140 grams" in md
    for chrome in ("cookies", "Compare the sizes", "Titanium spork"):
        assert chrome not in md


def test_hidden_panels_are_dropped_unless_asked_for():
    html = (
        "<body><main><p>Visible text of the page that is long enough to matter here.</p>"
        '<div class="tab-panel" hidden><p>Hidden tab text.</p></div></main></body>'
    )
    for keep_panels, kept in ((False, False), (True, True)):
        root = parse_html(html)
        strip_boilerplate(root, keep_panels=keep_panels)
        assert ("Hidden tab text" in root.text_content()) is kept


def test_declared_description_is_added_only_when_missing():
    description = "Hand-thrown stoneware mug glazed in deep blue, holds 350 ml."
    present = f"# Mug\n\n{description}"
    assert add_missing_description(present, description) == present
    assert add_missing_description("# Mug", description) == f"# Mug\n\n{description}"
    assert add_missing_description("# Mug", None) == "# Mug"


def test_product_description_is_plain_text():
    encoded = '{"@type": "Product", "description": "Blue%20mug%2C%20350%20ml."}'
    root = parse_html(f'<script type="application/ld+json">{encoded}</script><p>x</p>')
    assert product_description(jsonld_nodes(root)) == "Blue mug, 350 ml."


def test_forum_keeps_every_post():
    md = clean_fixture("forum.html").markdown
    assert "I go on holiday for two weeks" in md
    assert "The fridge is fine for two weeks" in md
    assert "Drying a spoonful as a backup never hurts" in md
    for author in ("breadfan", "crumbcoat", "ryeguy"):
        assert author in md
    for chrome in ("SIGNATURE-MARKER", "Members", "Powered by"):
        assert chrome not in md


def test_forum_wrapped_in_a_form_keeps_every_post_and_drops_user_cards():
    md = clean_fixture("forum_form.html").markdown
    assert "Is there a food-safe glue that survives the dishwasher?" in md
    assert "heat softens it over time" in md
    assert "buy a new one for drinks" in md
    assert "Joined" not in md
    assert "New posts" not in md


_POST = (
    "<div class='post'><p>{n}: the starter dough doubled overnight in a warm kitchen, so "
    "next time I will feed it in the morning and bake in the evening.</p></div>"
)


@pytest.mark.parametrize(
    ("body", "share"),
    [
        # A thread: four posts of one class hold nearly all of the text.
        ("<h1>Starter</h1>" + "".join(_POST.format(n=n) for n in range(4)), 0.95),
        # Three posts are no run; an article's paragraphs have no class.
        ("".join(_POST.format(n=n) for n in range(3)), 0.0),
        ("".join(f"<p>{_POST.format(n=n)[18:-10]}</p>" for n in range(6)), 0.0),
        # Short repeated cards (a menu's items) do not count.
        ("".join("<div class='card'><p>Rye</p></div>" for _ in range(8)), 0.0),
    ],
)
def test_repeated_block_share(body, share):
    root = parse_html(f"<html><body><main>{body}</main></body></html>")
    assert repeated_block_share(root.find("body")) == pytest.approx(share, abs=0.05)


def _kind(html: str) -> str | None:
    root = parse_html(html)
    return page_kind(root, jsonld_nodes(root))


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        ('<meta property="og:type" content="article">', "article"),
        ('<script type="application/ld+json">{"@type": "QAPage"}</script>', "discussion"),
        ('<script type="application/ld+json">{"@type": "Product"}</script>', "product"),
        ("", None),
    ],
)
def test_page_kind_from_declarations(head, kind):
    assert _kind(f"<html><head>{head}</head><body><p>x</p></body></html>") == kind


def test_page_kind_from_microdata():
    html = '<div itemscope itemtype="https://schema.org/DiscussionForumPosting"><p>x</p></div>'
    assert _kind(html) == "discussion"
    product = '<div itemscope itemtype="http://schema.org/Product"><p>x</p></div>'
    assert _kind(product) == "product"
    assert _kind(product * 2) is None  # a list of products


def test_short_dom_lines_are_kept_only_when_trafilatura_kept_them():
    from_dom = (
        "# Kettle\n\nIn stock\n\nAdd to cart\n\n€24.90\n\n"
        "A stainless kettle that boils a litre of water in three minutes flat.\n\n"
        "- Colour: steel\n- Share\n\n| Volume | 1 l |\n| --- | --- |\n\n```\nok\n```"
    )
    from_trafilatura = "A stainless kettle that boils a litre of water.\n\n- Colour: steel"
    kept = drop_unconfirmed_short_lines(from_dom, from_trafilatura)
    for line in ("# Kettle", "€24.90", "three minutes flat.", "- Colour: steel", "| Volume |"):
        assert line in kept
    assert "```\nok\n```" in kept
    for chrome in ("In stock", "Add to cart", "Share"):
        assert chrome not in kept
    assert "\n\n\n" not in kept


def test_only_the_first_unconfirmed_price_is_kept():
    from_dom = "# Kettle\n\n€24.90\n\nA stainless kettle.\n\n## Toasters\n\n€39.00\n\n€12.50"
    kept = drop_unconfirmed_short_lines(from_dom, "A stainless kettle. €12.50")
    assert "€24.90" in kept  # the page's product
    assert "€39.00" not in kept  # a cross-sell card trafilatura did not keep
    assert "€12.50" in kept  # trafilatura kept it


def test_a_product_page_the_dom_extractor_finds_empty_keeps_only_trafilaturas_long_lines():
    # What trafilatura keeps of a shop page whose product is filled in by script.
    from_trafilatura = (
        "Aliexpress\n\nI'm shopping for...\n\nSold & shipped by\n\n"
        "A stainless kettle that boils a litre of water in three minutes flat."
    )
    kept = choose_markdown(from_trafilatura, "", "product")
    assert kept.strip() == "A stainless kettle that boils a litre of water in three minutes flat."
    assert choose_markdown("Aliexpress\n\nI'm shopping for...", "", "product").strip() == ""
    # Threads are held to the same rule; undeclared pages keep trafilatura's output.
    assert choose_markdown("Reply\n\nShare", "", "discussion").strip() == ""
    assert choose_markdown("Reply\n\nShare", "", None) == "Reply\n\nShare"


def test_lines_that_are_only_an_image_url_are_dropped():
    thumbs = "".join(
        f"<p>https://cdn.example.net/images/160x160/tee_{colour}_THUMB.jpg?v=2</p>"
        for colour in ("bone", "navy", "ecru")
    )
    html = (
        "<html><body><main><h1>Staple Tee</h1><p>A regular fit tee in mid-weight combed "
        "cotton, side seamed, with double needle hems.</p>" + thumbs + "<p>Care guide: "
        "https://example.org/care</p><p>https://example.org/size-chart</p></main></body></html>"
    )
    md = clean_html(html, URL).markdown
    assert "combed cotton" in md
    assert "THUMB" not in md and "cdn.example.net" not in md
    assert "https://example.org/care" in md  # a page address is text, not an image
    assert "https://example.org/size-chart" in md


def test_product_page_drops_shop_policy_lines():
    md = clean_fixture("product_shop_chrome.html").markdown
    assert "$49.00" in md
    assert "lights a whole tent for twelve hours" in md
    assert "no questions asked" in md  # a long line that mentions returns is description
    for chrome in ("financing", "In stock", "Free shipping", "Call us", "010-4477"):
        assert chrome not in md


def test_shop_policy_lines_are_kept_in_code():
    markdown = "```\nreturns = checkout(cart)\n```\n\nSign in to your account"
    assert drop_shop_policy_lines(markdown) == "```\nreturns = checkout(cart)\n```\n"


def test_docs_keeps_code_block_and_table():
    md = clean_fixture("docs.html").markdown
    # The fence's language tag survives only when the DOM extractor's output is kept.
    assert re.search(r"```\w*\nimport widgetlib\n+app = widgetlib.load\(\"widget.toml\"\)", md)
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
    assert "Unclosed tags everywhere" in page.markdown.replace("*", "")


def test_huge_document_is_cleaned():
    paragraph = "<p>" + "Rivers carry sediment to the sea and build deltas. " * 20 + "</p>"
    html = "<html><body><main>" + paragraph * 2500 + "</main></body></html>"
    assert len(html) > 2_000_000
    assert "build deltas" in clean_html(html, URL).markdown


OVERLAY_ARTICLE = (
    "<html><head><title>Otters</title><meta property='og:type' content='article'></head><body>"
    "<main><article><h1>Otters use tools</h1>{overlay}"
    + "<p>Sea otters crack open shellfish with stones they keep under their arms.</p>"
    + "<p>Young otters learn the habit from their mothers over their first year.</p>"
    + "<p>Researchers filmed the animals along the coast of California for months.</p>"
    + "</article></main></body></html>"
)
CONSENT = "We use cookies to personalise content and ads and to analyse our traffic with partners."


@pytest.mark.parametrize(
    "overlay",
    [
        f"<div class='cookie-banner' role='dialog'><p>{CONSENT}</p></div>",
        f"<div id='ConsentManager'><p>{CONSENT}</p></div>",
        f"<section aria-modal='true'><p>{CONSENT}</p></section>",
        f"<dialog open><p>{CONSENT}</p></dialog>",
        f"<div class='newsletter-popup'><p>{CONSENT}</p></div>",
        f"<div style='position: fixed; bottom: 0'><p>{CONSENT}</p></div>",
    ],
)
def test_overlays_are_removed_before_trafilatura_reads_the_page(overlay):
    """On articles trafilatura's output is kept: the banner must be gone before it runs."""
    md = clean_html(OVERLAY_ARTICLE.format(overlay=overlay), URL).markdown
    assert "Sea otters crack open shellfish" in md
    assert "personalise content" not in md


def test_overlay_words_match_whole_words_and_never_take_the_main_content():
    # "cookierecipe" is no cookie banner; layout classes that content wears too are no
    # overlay (a "fixed" section, Adobe's "cmp-container" components).
    for wrapper in ("cookierecipe", "fixed", "cmp-container"):
        section = f"<div class='{wrapper}'><p>Otters fold the butter into the sugar.</p></div>"
        md = clean_html(OVERLAY_ARTICLE.format(overlay=section), URL).markdown
        assert "fold the butter into the sugar" in md, wrapper


def test_a_long_popup_named_element_is_content():
    """A pop-up is short: a long "newsletter" element is an issue of the newsletter, a long
    "modal" one a product page's content wrapper."""
    issue = "".join(f"<p>Issue {n}: otters crack shellfish on stones.</p>" for n in range(30))
    modal = "".join(
        f"<p>Otter {n} dives for urchins along the coast at dawn.</p>" for n in range(110)
    )
    story = "<p>" + "Otters fold the butter into the sugar before they bake. " * 250 + "</p>"
    root = parse_html(
        f"<html><body><div>{story}</div><div class='newsletter-issue'>{issue}</div>"
        f"<div class='modal-content'>{modal}</div>"
        f"<div class='newsletter-popup'><p>{CONSENT}</p></div></body></html>"
    )
    remove_overlays(root)
    text = root.text_content()
    assert "Issue 29: otters crack shellfish" in text and "Otter 109 dives" in text
    assert "personalise content" not in text


def test_a_consent_preference_centre_goes_however_long():
    """Consent managers carry long preference centres, on a short page most of its text."""
    purposes = "".join(
        f"<h4>Purpose {n}</h4><p>{CONSENT} Partners may store data on your device.</p>"
        for n in range(25)
    )
    page = OVERLAY_ARTICLE.format(overlay=f"<div id='onetrust-consent-sdk'>{purposes}</div>")
    md = clean_html(page, URL).markdown
    assert "Sea otters crack open shellfish" in md
    assert "Partners may store data" not in md


def test_an_article_shown_in_a_modal_is_kept():
    in_modal = (
        "<html><body><nav><a href='/'>Home</a></nav><div class='modal' role='dialog'>"
        "<article><h1>Otters</h1>"
        + "<p>Sea otters crack open shellfish with stones they keep under their arms.</p>" * 4
        + "</article></div></body></html>"
    )
    assert "Sea otters crack open shellfish" in clean_html(in_modal, URL).markdown


def _article(body: str, head: str = "", footer: str = "") -> str:
    return (
        f"<html><head><title>Guide</title><meta property='og:type' content='article'>{head}"
        "</head><body><main><article><h1>Install the crawler</h1>"
        "<p>Install the package with pip, then run the command below to check it works.</p>"
        f"{body}<p>The crawl writes one JSON line per page and a summary at the end.</p>"
        f"</article></main><footer>{footer}</footer></body></html>"
    )


@pytest.mark.parametrize(
    ("pre", "fenced"),
    [
        # One line: trafilatura writes it as inline code.
        ("<pre><code>pip install semantic-scraper</code></pre>", "pip install semantic-scraper"),
        # No <code>: trafilatura writes paragraphs.
        ("<pre>a = 1\nb = 2</pre>", "a = 1\nb = 2"),
        # A blank line inside, which trafilatura drops, and the language.
        (
            "<pre><code class='language-python'>def f():\n    return 1\n\nprint(f())</code></pre>",
            "def f():\n    return 1\n\nprint(f())",
        ),
    ],
)
def test_code_blocks_are_fenced_on_the_trafilatura_path(pre, fenced):
    md = clean_html(_article(pre), URL).markdown
    assert "The crawl writes one JSON line" in md  # trafilatura's output (an article)
    assert re.search(rf"\n\n```\w*\n{re.escape(fenced)}\n```\n\n", md), md


def test_inline_code_stays_inline():
    md = clean_html(_article("<p>Run <code>scrapy crawl</code> from the project folder.</p>"), URL)
    assert "Run `scrapy crawl` from the project folder." in md.markdown


def test_a_copyright_line_is_no_publication_date():
    assert clean_html(_article("", footer="© 2026 Example Inc."), URL).published is None


@pytest.mark.parametrize(
    "markup",
    [
        "<p>Posted <time datetime='2024-05-02T09:00:00Z'>2 May</time></p>",
        "<meta itemprop='datePublished' content='2024-05-02'>",
    ],
)
def test_the_articles_own_date_is_published(markup):
    page = clean_html(_article(markup, footer="© 2026 Example Inc."), URL)
    assert page.published.startswith("2024-05-02")


def test_a_parsed_page_is_freed_with_its_tree():
    """extruct's parser kept every parsed document in its element-class cache: a clean
    worker's memory grew by every page it parsed (about 5 MB for this one)."""
    import psutil

    html = "<html><body>" + "<div class='c'><p>Some text.</p></div>" * 20000 + "</body></html>"

    def parse_and_walk() -> None:
        tree = parse_html(html)
        assert tree is not None
        assert sum(1 for _ in tree.iter()) > 40000  # an element proxy each, as the cleaner makes

    parse_and_walk()
    before = psutil.Process().memory_info().rss
    for _ in range(10):
        parse_and_walk()
    assert psutil.Process().memory_info().rss - before < 20 * 2**20


_BYLINE_PAGES = [
    *sorted(FIXTURES.glob("*.html")),
    _article(
        "<p class='byline'>By Ada Lovelace, 3 March 2023</p>",
        head="<meta name='author' content='Ada Lovelace'>",
    ),
    _article("<p>Updated on 2022-11-05 by <a rel='author' href='/ada'>Ada King</a></p>"),
]


@pytest.mark.parametrize("page", _BYLINE_PAGES, ids=lambda page: getattr(page, "stem", "inline"))
def test_trafilatura_fields_are_those_of_trafilatura_extract_metadata(page):
    html = page.read_text() if isinstance(page, Path) else page
    expected = trafilatura.extract_metadata(parse_html(html), default_url=URL)
    found = trafilatura_fields(parse_html(html), URL, with_date=True)
    assert (found.title, found.author, found.date) == (
        expected.title,
        expected.author,
        expected.date,
    )


def test_no_date_is_searched_for_a_page_that_declares_one(monkeypatch):
    """htmldate's search is half of what trafilatura's metadata costs: not for a page that
    says when it was published."""
    searched: list[str] = []
    monkeypatch.setattr(metadata, "find_date", lambda *args, **kwargs: searched.append("x"))
    declared = "<meta property='article:published_time' content='2024-05-02'>"
    page = clean_html(_article("", head=declared), URL)
    assert page.published.startswith("2024-05-02")
    assert searched == []
    clean_html(_article(""), URL)
    assert searched == ["x"]
