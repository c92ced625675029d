"""Unit tests of the crawl stage's pure helpers: decoding, addresses, JS-shell detection."""

import asyncio

import pytest

from scraper.chunk.tokens import count_tokens
from scraper.fetch.addresses import is_public_address, non_public_addresses
from scraper.fetch.decoding import decode_html
from scraper.fetch.rendering import js_shell_reason

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
    assert asyncio.run(non_public_addresses("localhost"))
    assert asyncio.run(non_public_addresses("127.0.0.1")) == ["127.0.0.1"]


def test_js_shell_detection():
    shell = (
        '<html><head><script src="/app.js"></script></head>'
        '<body><div id="root"></div><noscript>Please enable JavaScript.</noscript></body></html>'
    )
    reason = js_shell_reason(shell)
    assert reason and "#root" in reason and "noscript" in reason
    article = "<html><body><p>" + "Real server-rendered text. " * 20 + "</p><script></script>"
    assert js_shell_reason(article) is None
    assert js_shell_reason("<html><body><p>Tiny page, no scripts.</p></body></html>") is None
    assert js_shell_reason("") is None


def test_count_tokens_handles_huge_text():
    assert count_tokens("word " * 300_000) >= 300_000
    # Dense markup has far more tokens per character than prose.
    assert count_tokens('<a href="#x">&amp;</a>;{}[]' * 40_000) > 200_000
