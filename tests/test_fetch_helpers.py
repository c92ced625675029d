"""Unit tests of the crawl stage's pure helpers: decoding, addresses, render decisions."""

import dataclasses

import pytest

from scraper.chunk.tokens import count_tokens
from scraper.clean.chrome import remove_overlays
from scraper.clean.dom import parse_html
from scraper.clean.hidden import remove_hidden
from scraper.clean.main_content import clean_tree_for_render, dom_markdown
from scraper.clean.page import clean_page
from scraper.clean.structured_data import MAX_BYTES
from scraper.fetch.addresses import is_public_address, non_public, system_lookup
from scraper.fetch.decoding import decode_html
from scraper.fetch.rendering import RenderReason, clean_unless_rendered, render_reason

FRENCH = "<p>Café crème brûlée, très élégant, déjà vu à la française.</p>"


def test_decode_declared_charset():
    text, charset, wrong = decode_html(FRENCH.encode("cp1252"), "windows-1252")
    assert (text, charset, wrong) == (FRENCH, "cp1252", False)


def test_decode_wrong_utf8_declaration_falls_back_to_detection():
    text, charset, wrong = decode_html(FRENCH.encode("cp1252"), "utf-8")
    assert text == FRENCH and wrong and charset == "cp1252"


def test_decode_utf8_body_declared_latin1():
    text, charset, wrong = decode_html(FRENCH.encode("utf-8"), "iso-8859-1")
    assert text == FRENCH and charset == "utf-8" and wrong


def test_decode_meta_charset_and_bom_and_unknown_label():
    body = '<meta charset="windows-1251"><p>привет мир</p>'.encode("cp1251")
    assert decode_html(body, None)[0].endswith("привет мир</p>")
    assert decode_html(b"\xef\xbb\xbf<p>hi</p>", "latin-1")[0] == "<p>hi</p>"
    assert decode_html(FRENCH.encode("utf-8"), "no-such-charset")[0] == FRENCH


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.9", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False),
    ],
)
def test_public_addresses(address, public):
    assert is_public_address(address) is public


def test_localhost_resolves_to_non_public():
    assert non_public(system_lookup("localhost"))
    assert non_public(system_lookup("127.0.0.1")) == ["127.0.0.1"]


CHROME = (
    "<header><nav>" + "".join(f"<a href='/{n}'>Section {n}</a>" for n in range(12)) + "</nav>"
    "</header><div class='cookie-banner' role='dialog'><p>"
    + "We use cookies to measure our audience and personalise what you see. " * 4
    + "</p></div>{main}<footer><p>"
    + "Example Ltd, 1 High Street, London. Registered in England and Wales. " * 3
    + "</p></footer>"
)


def _page(main: str, head: str = "<script src='/app.js'></script>") -> str:
    return f"<html><head>{head}</head><body>{CHROME.format(main=main)}</body></html>"


def test_js_shell_detection():
    shell = (
        '<html><head><script src="/app.js"></script></head>'
        '<body><div id="root"></div><noscript>Please enable JavaScript.</noscript></body></html>'
    )
    reason = render_reason(shell)
    assert reason and reason.code == "empty_mount_point"
    assert "#root" in reason.detail and "noscript" in reason.detail
    article = "<html><body><p>" + "Real server-rendered text. " * 20 + "</p><script></script>"
    assert render_reason(article) is None
    assert render_reason("<html><body><p>Tiny page, no scripts.</p></body></html>") is None
    assert render_reason("") is None


def test_static_chrome_around_a_client_rendered_body_is_rendered():
    """Menus, a consent banner and a footer are static; the main content is not there."""
    cases = {
        "<main><div id='app'></div></main>": "empty_mount_point",
        "<main><h1>Shop</h1><div class='product-skeleton'></div></main>": "skeleton",
        "<main><noscript>This site requires JavaScript.</noscript></main>": "noscript_notice",
        "<main><h1>News</h1></main>": "no_main_content",
    }
    for main, code in cases.items():
        reason = render_reason(_page(main))
        assert isinstance(reason, RenderReason) and reason.code == code, main


def test_pages_with_their_content_are_not_rendered():
    body = "<p>" + "The rover maps a warehouse in an hour and reports every pallet. " * 6 + "</p>"
    # Content next to an empty widget mount point and a skeleton of comments still to load.
    main = f"<main><h1>Rover</h1>{body}<div id='root'></div><div class='skeleton'></div></main>"
    assert render_reason(_page(main)) is None
    # No script to run: a browser would show the same page.
    assert render_reason(_page("<main><div id='app'></div></main>", head="")) is None
    # A JSON-LD block runs nothing.
    json_ld = "<script type='application/ld+json'>{}</script>"
    assert render_reason(_page("<main><h1>News</h1></main>", head=json_ld)) is None


def _comparable(content: object) -> object:
    """A page's content without the parts that differ on every clean: pyRdfa names the blank
    node of each @role anew (and the content hash covers it)."""
    if isinstance(content, RenderReason):
        return content
    fields = dataclasses.asdict(content)
    fields.pop("content_hash")
    fields["structured_data"].pop("rdfa")
    return fields


def test_one_parse_decides_and_cleans_as_the_two_calls_do():
    """clean_unless_rendered reuses the cleaning's DOM extraction for the decision (a copy of
    the tree on product pages, which cleaning reads with their panels): its answer is
    render_reason's, else clean_page's."""
    product = '<script type=\'application/ld+json\'>{"@type": "Product", "name": "Rover"}</script>'
    panel = (
        "<div class='tab-panel' style='display:none'>" + "Spec line of the rover. " * 12 + "</div>"
    )
    pages = [
        _page("<main><div id='app'></div></main>"),
        _page("<main><h1>News</h1></main>"),
        _page(
            "<main><h1>Rover</h1>" + "<p>The rover maps a warehouse in an hour.</p>" * 8 + "</main>"
        ),
        _page(
            f"<main><h1>Rover</h1><p>$129.00</p>{panel}</main>", head=product + "<script></script>"
        ),
        _page(
            f"<main><h1>Rover</h1><p>$129.00</p>{panel * 3}</main>",
            head=product + "<script></script>",
        ),
        _page("<main><p>No scripts here, and little text.</p></main>", head=""),
        "",
    ]
    for html in pages:
        expected = render_reason(html) or clean_page(html, "http://shop.example/", MAX_BYTES)
        found = clean_unless_rendered(html, "http://shop.example/", MAX_BYTES)
        assert _comparable(found) == _comparable(expected), html


def test_the_decision_counts_the_dom_markdown_of_a_page_of_no_kind():
    """On a product page cleaning keeps hidden tab panels; the render decision reads the page
    as any other page, without them (from a copy of the cleaned tree)."""
    product = '<script type=\'application/ld+json\'>{"@type": "Product"}</script>'
    panel = "<div class='tab-panel' hidden>" + "Spec line of the rover. " * 6 + "</div>"
    side = "<aside><p>" + "Other shops sell other rovers. " * 12 + "</p></aside>"
    for head in (product, ""):
        html = _page(f"<main><h1>Rover</h1><p>$129.00</p>{panel}</main>{side}", head=head)
        cleaned, plain = clean_tree_for_render(parse_html(html), "http://s.example/", True)
        tree = parse_html(html)
        remove_hidden(tree)
        remove_overlays(tree)
        assert plain == dom_markdown(tree)
        assert "Rover" in plain and "Spec line" not in plain
        assert "Spec line" in cleaned.markdown


def test_count_tokens_handles_huge_text():
    assert count_tokens("word " * 300_000) >= 300_000
    # Dense markup has far more tokens per character than prose.
    assert count_tokens('<a href="#x">&amp;</a>;{}[]' * 40_000) > 200_000
