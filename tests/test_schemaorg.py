"""schema.org structured data to entities and relations, without an LLM."""

from __future__ import annotations

import extruct

from scraper.extract.schemaorg import entity_type, structured_data_graph

PAGE = "https://shop.example/products/widget"


def by_name(entities):
    return {e.name: e for e in entities}


def triples(relations):
    return {(r.source, r.type, r.target) for r in relations}


def test_json_ld_graph_with_references_identifiers_and_folded_values():
    json_ld = [
        {
            "@context": "https://schema.org",
            "@graph": [
                {
                    "@type": "Organization",
                    "@id": "/#org",
                    "name": "Acme Corporation",
                    "alternateName": ["Acme"],
                    "sameAs": "https://en.wikipedia.org/wiki/Acme_Corporation",
                    "foundingDate": "1999",
                    "founder": {"@type": "Person", "name": "Jane Doe", "@id": "_:b0"},
                },
                {
                    "@type": ["Product"],
                    "name": "Widget",
                    "url": "/products/widget",
                    "brand": {"@id": "/#org"},
                    "offers": [
                        {"@type": "Offer", "price": "9.99", "priceCurrency": "USD"},
                        {"@type": "Offer", "price": "8.99", "priceCurrency": "USD"},
                    ],
                    "aggregateRating": {"@type": "AggregateRating", "ratingValue": 4.5},
                },
                {"@type": "WebPage", "name": "Widget | Acme", "mainEntity": {"@id": "/#org"}},
                {"@type": "BreadcrumbList", "itemListElement": [{"@type": "ListItem"}]},
            ],
        }
    ]
    entities, relations = structured_data_graph({"json-ld": json_ld}, PAGE)
    found = by_name(entities)
    assert set(found) == {"Acme Corporation", "Jane Doe", "Widget"}
    acme = found["Acme Corporation"]
    assert acme.type == "Organization" and acme.aliases == ["Acme"]
    assert acme.identifiers == [
        "https://shop.example/#org",
        "https://en.wikipedia.org/wiki/Acme_Corporation",
    ]
    assert acme.attributes == {"foundingDate": "1999"}
    assert found["Jane Doe"].identifiers == []  # a blank node is no identifier
    widget = found["Widget"]
    assert widget.identifiers == [PAGE]
    assert widget.attributes == {
        "offers.price": ["9.99", "8.99"],
        "offers.priceCurrency": "USD",
        "aggregateRating.ratingValue": 4.5,
    }
    assert triples(relations) == {
        ("Acme Corporation", "founder", "Jane Doe"),
        ("Widget", "brand", "Acme Corporation"),
    }
    assert {e.origin for e in entities} == {"structured_data"}
    assert {r.origin for r in relations} == {"structured_data"}


def test_plain_text_values_of_entity_properties_become_typed_entities():
    json_ld = [
        {
            "@type": "NewsArticle",
            "headline": "Acme opens a plant",
            "author": ["Jane Doe", {"name": "John Roe"}],
            "publisher": {"name": "Daily Planet"},
            "datePublished": "2024-05-01",
        }
    ]
    entities, relations = structured_data_graph({"json-ld": json_ld}, PAGE)
    types = {e.name: e.type for e in entities}
    assert types == {
        "Acme opens a plant": "CreativeWork",
        "Jane Doe": "Person",
        "John Roe": "Person",
        "Daily Planet": "Organization",
    }
    assert triples(relations) == {
        ("Acme opens a plant", "author", "Jane Doe"),
        ("Acme opens a plant", "author", "John Roe"),
        ("Acme opens a plant", "publisher", "Daily Planet"),
    }


def test_microdata_from_extruct():
    html = """<html><body>
    <div itemscope itemtype="http://schema.org/Person">
      <span itemprop="name">John Roe</span><span itemprop="jobTitle">CTO</span>
      <div itemprop="worksFor" itemscope itemtype="http://schema.org/LocalBusiness">
        <span itemprop="name">Roe's Bakery</span>
        <div itemprop="address" itemscope itemtype="http://schema.org/PostalAddress">
          <span itemprop="addressLocality">Springfield</span></div>
      </div>
    </div></body></html>"""
    data = extruct.extract(html, base_url=PAGE, syntaxes=["microdata"])
    entities, relations = structured_data_graph(data, PAGE)
    found = by_name(entities)
    assert found["John Roe"].type == "Person"
    assert found["John Roe"].attributes == {"jobTitle": "CTO"}
    bakery = found["Roe's Bakery"]
    assert bakery.type == "Organization"
    assert bakery.attributes == {"address.addressLocality": "Springfield"}
    assert triples(relations) == {("John Roe", "worksFor", "Roe's Bakery")}
    assert relations[0].evidence == "microdata"


def test_entity_types_map_to_contract_types():
    assert entity_type(["Restaurant"]) == "Organization"
    assert entity_type(["BlogPosting"]) == "CreativeWork"
    assert entity_type(["City"]) == "Place"
    assert entity_type(["MusicEvent"]) == "Event"
    assert entity_type(["ProductModel"]) == "Product"
    assert entity_type(["JobPosting"]) == "Thing"
    assert entity_type([]) == "Thing"


def test_malformed_structured_data_is_ignored_not_fatal():
    data = {
        "json-ld": ["a string", None, 3, [{"@type": 5, "name": ["", {"@value": "Real Name"}]}]],
        "microdata": [{"type": None, "properties": {"name": None}}, "junk"],
        "opengraph": [{"namespace": {}, "properties": [["og:title", "x"]]}],
    }
    entities, relations = structured_data_graph(data, PAGE)
    assert [(e.name, e.type) for e in entities] == [("Real Name", "Thing")]
    assert relations == []


def test_reference_cycles_terminate():
    json_ld = [
        {"@id": "#a", "@type": "Person", "name": "Ann", "knows": {"@id": "#b"}},
        {"@id": "#b", "@type": "Person", "name": "Bob", "knows": {"@id": "#a"}},
    ]
    entities, relations = structured_data_graph({"json-ld": json_ld}, PAGE)
    assert sorted(e.name for e in entities) == ["Ann", "Bob"]
    assert triples(relations) == {("Ann", "knows", "Bob"), ("Bob", "knows", "Ann")}
