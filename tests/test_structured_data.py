"""Structured data: JSON-LD (valid and broken blocks), microdata, RDFa, OpenGraph."""

from __future__ import annotations

from pathlib import Path

import pytest

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
