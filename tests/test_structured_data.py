"""Structured data: JSON-LD (valid and broken blocks), microdata, RDFa, OpenGraph."""

from __future__ import annotations

from pathlib import Path

import pytest

from scraper.clean.page import clean_page
from scraper.clean.structured_data import SYNTAXES, extract_structured_data

FIXTURE = Path(__file__).parent / "fixtures" / "cleaning" / "structured.html"
URL = "https://acme.example/about"


@pytest.fixture(scope="module")
def data() -> dict[str, list]:
    return extract_structured_data(FIXTURE.read_text(encoding="utf-8"), URL)


def test_every_syntax_key_is_present(data):
    assert set(data) == set(SYNTAXES)


def test_jsonld_keeps_valid_blocks_and_skips_the_broken_one(data):
    names = [item.get("name") for item in data["json-ld"]]
    assert names == ["Acme Corporation", "Acme"]  # the block with a comment and trailing commas
    assert data["json-ld"][0]["founder"] == {"@type": "Person", "name": "Jane Doe"}


def test_microdata_as_rdf_in_expanded_json_ld(data):
    (product,) = data["microdata"]
    assert product["@type"] == ["https://schema.org/Product"]
    assert product["https://schema.org/name"] == [{"@value": "Rocket Skates"}]
    (offer,) = product["https://schema.org/offers"]
    assert offer["@type"] == ["https://schema.org/Offer"]
    assert offer["https://schema.org/price"] == [{"@value": "99.50"}]


def test_rdfa(data):
    people = [node for node in data["rdfa"] if "https://schema.org/Person" in node.get("@type", [])]
    assert people[0]["https://schema.org/name"][0]["@value"] == "Wile E. Coyote"


def test_opengraph(data):
    (graph,) = data["opengraph"]
    assert graph["og:title"] == "Acme Corporation"
    assert graph["@type"] == "website"


@pytest.mark.parametrize(
    "html", ["", "   ", "<html><head><script type='application/ld+json'>{{{</script>", "\x00<p"]
)
def test_bad_markup_gives_empty_lists(html):
    data = extract_structured_data(html, URL)
    assert set(data) == set(SYNTAXES)
    assert data["json-ld"] == []


# Every RDFa rule the pruning relies on, in page noise: a subject from an ancestor's @href, a
# hanging @rel completed by a plain link, a value from nested markup, @role, a <base> in the
# body, a typed <time>, and a chain through @typeof; a head of scripts, styles, plain metas.
RDFA_IN_NOISE = """<html lang="en"><head><title>Shop</title><meta name="viewport" content="w">
<script>var shop = 1;</script><style>p {color: red}</style><link rel="stylesheet" href="/s.css">
<meta property="og:title" content="Shop"><meta property="og:tag" content="b">
<meta property="og:tag" content="a"></head>
<body><div class="nav"><a href="/a">A</a><a href="/b">B</a></div>
<div><base href="https://shop.example/"><p>Intro <b>text</b> and <a href="/c">links</a>.</p>
<div vocab="https://schema.org/" typeof="Person"><div><span>noise</span>
  <h2 property="name">Wile <em>E.</em> Coyote</h2></div>
  <a href="/acme"><span property="worksFor">Acme</span></a>
  <div rel="knows"><p>friend: <a href="/roadrunner">Road Runner</a></p></div>
  <time property="birthDate" datetime="1949-09-17">Sept 17</time>
  <div property="address" typeof="PostalAddress"><span property="addressLocality">Mesa</span>
  </div></div>
<nav role="navigation" id="menu"><ul><li><a href="/x">X</a></li></ul></nav>
<footer><p>© 2026</p></footer></div></body></html>"""


def _normalized(value):
    """Blank nodes renamed and lists sorted: pyRdfa's order and bnode ids vary by run."""
    if isinstance(value, list):
        return sorted((_normalized(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items() if k != "@id" or v[:2] != "_:"}
    return value


XHV_ROLE = "http://www.w3.org/1999/xhtml/vocab#role"


def _without_previews_and_roles(items):
    """pyRdfa's items without OpenGraph's and the role vocabulary's triples."""
    left = []
    for item in items:
        kept = {k: v for k, v in item.items() if not k.startswith(("http://ogp.me/", XHV_ROLE))}
        if set(kept) - {"@id"}:
            left.append(kept)
    return left


def test_rdfa_of_the_pruned_page_is_the_rdfa_of_the_whole_page_without_previews_and_roles():
    from scraper.clean.dom import parse_html
    from scraper.clean.structured_data import _Html5RDFa

    whole = _Html5RDFa().extract_items(parse_html(RDFA_IN_NOISE), base_url=URL)
    assert any(XHV_ROLE in item for item in whole)  # what the pruned read leaves out
    assert any("http://ogp.me/ns#title" in item for item in whole)
    data = extract_structured_data(RDFA_IN_NOISE, URL)
    pruned = data["rdfa"]
    assert _normalized(pruned) == _normalized(_without_previews_and_roles(whole))
    assert data["opengraph"][0]["og:title"] == "Shop"
    people = [n for n in pruned if "https://schema.org/Person" in n.get("@type", [])]
    assert people and people[0]["https://schema.org/knows"] == [
        {"@id": "https://shop.example/roadrunner"}
    ]


def test_rdfa_blank_nodes_do_not_change_the_content_hash():
    """pyRdfa labels blank nodes at random: the same page cleaned twice must hash the same, or
    a re-crawl takes every such page for changed."""
    html = (
        "<html><head><title>t</title></head><body><nav role='navigation'><a href='/'>Home</a>"
        "</nav><main role='main'><div typeof='schema:Person'><span property='schema:name'>"
        "Jane Doe</span><span rel='schema:knows'><span typeof='schema:Person'>"
        "<span property='schema:name'>Ann Lee</span></span></span></div><p>Hello.</p></main>"
        "</body></html>"
    )
    first, second = clean_page(html, "http://example.org/"), clean_page(html, "http://example.org/")
    assert first.content_hash == second.content_hash
    rdfa = first.structured_data["rdfa"]
    assert rdfa == second.structured_data["rdfa"]
    labels = {item["@id"] for item in rdfa if item["@id"].startswith("_:")}
    assert labels == {f"_:b{i}" for i in range(len(labels))} and len(labels) >= 2
    jane = next(i for i in rdfa if {"@value": "Jane Doe"} in i.get("http://schema.org/name", []))
    [knows] = jane["http://schema.org/knows"]
    ann = next(i for i in rdfa if i["@id"] == knows["@id"])
    assert ann["http://schema.org/name"] == [{"@value": "Ann Lee"}]


def test_a_page_with_only_link_previews_document_links_and_roles_needs_no_rdfa_processor(
    monkeypatch,
):
    from scraper.clean.structured_data import _Html5RDFa

    def refuse(*args, **kwargs):
        raise AssertionError("pyRdfa ran")

    monkeypatch.setattr(_Html5RDFa, "extract_items", refuse)
    html = (
        '<html prefix="og: http://ogp.me/ns# fb: http://ogp.me/ns/fb#"><head><title>t</title>'
        '<meta property="og:title" content="T"><meta property="fb:app_id" content="1">'
        '<meta property="twitter:card" content="summary"><link rel="https://api.w.org/" '
        'href="/wp-json/"><link rel="stylesheet" href="/s.css"></head><body>'
        '<nav role="navigation"><a href="/" rel="nofollow noopener">Home</a></nav>'
        '<main role="main"><p>Hello.</p></main></body></html>'
    )
    data = extract_structured_data(html, URL)
    assert data["rdfa"] == []
    assert data["opengraph"][0]["og:title"] == "T"


def test_a_breadcrumb_of_blank_list_items_hashes_the_same_every_time():
    items = "".join(
        f'<li property="itemListElement" typeof="ListItem"><a property="item" href="/{n}">'
        f'<span property="name">Level {n}</span></a><meta property="position" content="{n}">'
        "</li>"
        for n in range(1, 6)
    )
    html = (
        '<html><head><title>t</title></head><body><ol vocab="https://schema.org/" '
        f'typeof="BreadcrumbList">{items}</ol><main><p>Hello.</p></main></body></html>'
    )
    pages = [clean_page(html, "http://example.org/") for _ in range(6)]
    assert len({page.content_hash for page in pages}) == 1
    [crumbs] = [
        i
        for i in pages[0].structured_data["rdfa"]
        if "https://schema.org/BreadcrumbList" in i.get("@type", [])
    ]
    assert len(crumbs["https://schema.org/itemListElement"]) == 5
