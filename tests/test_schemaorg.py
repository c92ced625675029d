"""schema.org structured data to entities and relations, without an LLM (standard processors)."""

from __future__ import annotations

from scraper.clean.structured_data import extract_structured_data
from scraper.extract import jsonld
from scraper.extract.merge import merge_entities
from scraper.extract.schemaorg import structured_data_graph
from scraper.extract.vocabulary import XSD, coarse_type, jsonld_context, typed_text, typed_value

PAGE = "https://shop.example/products/widget"


def by_name(entities):
    return {e.name: e for e in entities if e.name}


def by_ref(entities):
    return {e.ref: e for e in entities}


def edges(entities, relations):
    """(source label, property, target label): a node's label is its name, else its class."""
    refs = by_ref(entities)

    def label(ref):
        entity = refs[ref]
        return entity.name or (entity.classes[0] if entity.classes else entity.iri)

    return {(label(r.source), r.type, label(r.target)) for r in relations}


def typed(value, datatype):
    return {"@value": value, "@type": XSD + datatype}


def test_json_ld_nodes_keep_exact_classes_nesting_typed_values_and_identities():
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
                    "foundingDate": "1999-04-01",
                    "founder": {"@type": "Person", "name": "Jane Doe", "@id": "_:b0"},
                },
                {
                    "@type": ["Product"],
                    "name": "Widget",
                    "url": "/products/widget",
                    "brand": {"@id": "/#org"},
                    "offers": [
                        {"@type": "Offer", "price": "9.99", "priceCurrency": "USD"},
                        {"@type": "Offer", "price": 8.5, "priceCurrency": "USD"},
                    ],
                    "aggregateRating": {"@type": "AggregateRating", "ratingValue": 4.5},
                },
                {"@type": "WebPage", "@id": "#page", "mainEntity": {"@id": "/#org"}},
            ],
        }
    ]
    entities, relations = structured_data_graph({"json-ld": json_ld}, PAGE)
    found = by_name(entities)
    acme = found["Acme Corporation"]
    assert (acme.classes, acme.type, acme.aliases) == (["Organization"], "Organization", ["Acme"])
    assert acme.iri == "https://shop.example/#org"  # the page's identity, kept
    assert acme.identifiers == [
        "https://shop.example/#org",
        "https://en.wikipedia.org/wiki/Acme_Corporation",
    ]
    assert acme.attributes == {
        "foundingDate": typed("1999-04-01", "date"),
        "sameAs": {"@id": "https://en.wikipedia.org/wiki/Acme_Corporation"},
    }
    assert found["Jane Doe"].identifiers == []  # a blank node is no identifier
    widget = found["Widget"]
    assert widget.attributes == {"url": {"@id": PAGE}}  # url stays url, and an IRI
    assert widget.identifiers == []
    offers = sorted((e.attributes["price"] for e in entities if e.classes == ["Offer"]), key=str)
    assert offers == [typed("8.5", "decimal"), typed("9.99", "decimal")]
    assert next(e for e in entities if e.classes == ["AggregateRating"]).attributes == {
        "ratingValue": typed("4.5", "decimal")
    }
    page = by_ref(entities)[PAGE + "#page"]
    assert page.classes == ["WebPage"] and page.name == ""  # unnamed nodes stay nodes
    assert edges(entities, relations) == {
        ("Acme Corporation", "founder", "Jane Doe"),
        ("Widget", "brand", "Acme Corporation"),
        ("Widget", "offers", "Offer"),
        ("Widget", "aggregateRating", "AggregateRating"),
        ("WebPage", "mainEntity", "Acme Corporation"),
    }
    assert len([r for r in relations if r.type == "offers"]) == 2
    assert {e.origin for e in entities} == {"structured_data"}


def test_text_values_stay_text_and_references_to_other_pages_stay_iris():
    json_ld = [
        {
            "@context": "http://schema.org/",
            "@type": "NewsArticle",
            "headline": "Acme opens a plant",
            "author": "Jane Doe",
            "publisher": {"@id": "https://acme.example/#org"},
            "datePublished": "2024-05-01T09:30",
            "wordCount": "512",
            "isAccessibleForFree": "True",
            "timeRequired": "PT4M",
        }
    ]
    entities, relations = structured_data_graph({"json-ld": json_ld}, PAGE)
    (article,) = entities
    assert (article.classes, article.type) == (["NewsArticle"], "CreativeWork")
    assert article.attributes == {
        "headline": "Acme opens a plant",
        "author": "Jane Doe",  # text, not an invented Person
        # An IRI the page does not describe stays an IRI: once the page describing
        # https://acme.example/#org is stored, its node has that IRI (see test_graph).
        "publisher": {"@id": "https://acme.example/#org"},
        "datePublished": typed("2024-05-01T09:30:00", "dateTime"),
        "wordCount": typed("512", "integer"),
        "isAccessibleForFree": typed("true", "boolean"),
        "timeRequired": typed("PT4M", "duration"),
    }
    assert relations == []


def test_microdata_by_the_w3c_mapping_links_items_by_itemid():
    html = """<html><body>
    <div itemscope itemtype="https://schema.org/Person" itemid="#jane">
      <span itemprop="name">Jane Doe</span><span itemprop="jobTitle">CTO</span>
      <link itemprop="worksFor" href="#org"><a itemprop="url" href="/jane">me</a>
      <time itemprop="birthDate" datetime="1980-02-03">3 Feb 1980</time>
    </div>
    <div itemscope itemtype="http://schema.org/LocalBusiness" itemid="#org">
      <span itemprop="name">Roe's Bakery</span>
      <div itemprop="address" itemscope itemtype="http://schema.org/PostalAddress">
        <span itemprop="addressLocality">Springfield</span></div>
      <ol><li itemprop="makesOffer" itemscope itemtype="http://schema.org/Offer">
        <meta itemprop="price" content="3.50"></li></ol>
    </div></body></html>"""
    data = extract_structured_data(html, PAGE)
    entities, relations = structured_data_graph(data, PAGE)
    found = by_name(entities)
    jane = found["Jane Doe"]
    assert jane.attributes == {
        "jobTitle": "CTO",
        "url": {"@id": "https://shop.example/jane"},
        "birthDate": typed("1980-02-03", "date"),
    }
    bakery = found["Roe's Bakery"]
    assert (bakery.classes, bakery.type) == (["LocalBusiness"], "Organization")
    assert bakery.iri == PAGE + "#org"
    # The demo's bug: the link made a second "Organization" named by its IRI. Not any more.
    assert len(entities) == 4
    assert edges(entities, relations) == {
        ("Jane Doe", "worksFor", "Roe's Bakery"),
        ("Roe's Bakery", "address", "PostalAddress"),
        ("Roe's Bakery", "makesOffer", "Offer"),
    }
    offer = next(e for e in entities if e.classes == ["Offer"])
    assert offer.attributes == {"price": typed("3.50", "decimal")}


def test_rdfa_reaches_the_graph_with_only_schema_org_terms():
    html = """<html><head><link rel="stylesheet" href="/s.css"></head><body>
    <div vocab="https://schema.org/" typeof="Restaurant" resource="#cafe">
      <h1 property="name">Cath's Cafe</h1>
      <span property="telephone" content="+155501003344">555-0100</span>
      <a property="hasMenu" href="/menu">menu</a>
      <time property="foundingDate" datetime="2001-05-04">May 2001</time>
      <div property="address" typeof="PostalAddress">
        <span property="addressLocality">Dublin</span></div>
    </div></body></html>"""
    entities, relations = structured_data_graph(extract_structured_data(html, PAGE), PAGE)
    cafe = by_name(entities)["Cath's Cafe"]
    assert cafe.classes == ["Restaurant"] and cafe.iri == PAGE + "#cafe"
    assert cafe.attributes == {
        "telephone": "+155501003344",
        "hasMenu": {"@id": "https://shop.example/menu"},
        "foundingDate": typed("2001-05-04", "date"),  # HTML5 rules: the datetime, typed
    }
    assert edges(entities, relations) == {("Cath's Cafe", "address", "PostalAddress")}
    assert len(entities) == 2  # the stylesheet link is not schema.org


def test_ordered_values_keep_the_page_order():
    json_ld = [
        {
            "@context": "https://schema.org",
            "@type": "Recipe",
            "name": "Pie",
            "recipeInstructions": ["Make the dough", "Fill it", "Bake it"],
        }
    ]
    (pie,), _ = structured_data_graph({"json-ld": json_ld}, PAGE)
    assert pie.attributes["recipeInstructions"] == ["Make the dough", "Fill it", "Bake it"]


def test_coarse_types_come_from_the_class_hierarchy():
    assert coarse_type(["Restaurant"]) == "Organization"  # also a Place: Organization first
    assert coarse_type(["BlogPosting"]) == "CreativeWork"
    assert coarse_type(["City"]) == "Place"
    assert coarse_type(["MusicEvent"]) == "Event"
    assert coarse_type(["ProductModel"]) == "Product"
    assert coarse_type(["JobPosting"]) == "Thing"
    assert coarse_type([]) == "Thing"


def test_values_are_typed_only_where_their_range_and_form_agree():
    assert typed_text("price", "12.50") == typed("12.50", "decimal")
    assert typed_text("price", "free") == "free"  # range Number or Text: text stays text
    assert typed_text("numberOfEmployees", "120") == "120"  # a QuantitativeValue: no datatype
    assert typed_text("startDate", "2026-02-30") == "2026-02-30"  # not a date
    assert typed_text("name", "2026") == "2026"
    assert typed_value("price", 12.0) == typed("12.0", "decimal")
    assert typed_value("ratingCount", 7) == 7
    assert typed_value("price", float("nan")) is None


def test_malformed_structured_data_is_ignored_not_fatal():
    data = {
        "json-ld": ["a string", None, 3, {"@type": 5, "name": "x"}, {"@context": 7, "name": "y"}],
        "microdata": [{"@type": None}, "junk"],
        "rdfa": [{"@id": 3}],
        "opengraph": [{"namespace": {}, "properties": [["og:title", "x"]]}],
    }
    assert structured_data_graph(data, PAGE) == ([], [])


def test_unknown_remote_contexts_are_never_fetched():
    json_ld = [{"@context": "https://evil.example/ctx.jsonld", "@type": "Person", "name": "Ann"}]
    entities, _ = structured_data_graph({"json-ld": json_ld}, PAGE)
    assert [(e.name, e.classes) for e in entities] == [("Ann", ["Person"])]  # read as schema.org


def test_schema_orgs_context_is_loaded_once_for_every_page(monkeypatch):
    loads = []
    monkeypatch.setattr(jsonld, "jsonld_context", lambda: loads.append(1) or jsonld_context())
    for name in ("Ann", "Bob", "Cy"):
        block = {"@context": "https://schema.org/", "@type": "Person", "name": f"{name} Lee"}
        entities, _ = structured_data_graph({"json-ld": [block]}, PAGE)
        assert [e.name for e in entities] == [f"{name} Lee"]
    assert len(loads) <= 1  # none when an earlier test loaded it already


def test_reference_cycles_terminate():
    json_ld = [
        {"@context": "https://schema.org", "@id": "#a", "@type": "Person", "name": "Ann",
         "knows": {"@id": "#b"}},
        {"@context": "https://schema.org", "@id": "#b", "@type": "Person", "name": "Bob",
         "knows": {"@id": "#a"}},
    ]  # fmt: skip
    entities, relations = structured_data_graph({"json-ld": json_ld}, PAGE)
    assert sorted(e.name for e in entities) == ["Ann", "Bob"]
    assert edges(entities, relations) == {("Ann", "knows", "Bob"), ("Bob", "knows", "Ann")}


def test_the_pages_own_nodes_stay_apart_and_values_are_not_resolved_by_name():
    json_ld = [
        {
            "@context": "https://schema.org",
            "@type": "MusicRecording",
            "name": "Back in the U.S.S.R.",
            "recordingOf": {"@type": "MusicComposition", "name": "Back in the U.S.S.R"},
            "additionalProperty": [
                {"@type": "PropertyValue", "name": "price", "value": "low"},
                {"@type": "PropertyValue", "name": "price", "value": "fair"},
            ],
        }
    ]
    entities, relations = structured_data_graph({"json-ld": json_ld}, PAGE)
    merged, canonical = merge_entities(entities)
    assert len(merged) == 4  # alike names, but the page's RDF says four nodes
    values = [e for e in merged if e.classes == ["PropertyValue"]]
    assert [e.attributes["value"] for e in values] == ["low", "fair"]
    assert not any(e.resolve_by_name for e in values)  # a value, not a thing known by name
    assert all(e.resolve_by_name for e in merged if e.classes != ["PropertyValue"])
    assert {canonical[r.target] for r in relations} == {r.target for r in relations}


def test_microdata_reads_machine_readable_values_and_years():
    html = """<div itemscope itemtype="https://schema.org/Person"><span itemprop="name">Ann</span>
      <time itemprop="birthDate" content="1954">in the fifties</time>
      <link itemprop="url" content="https://ann.example/"><img itemprop="image"></div>"""
    entities, _ = structured_data_graph(extract_structured_data(html, PAGE), PAGE)
    assert entities[0].attributes == {
        "birthDate": typed("1954", "gYear"),
        "url": {"@id": "https://ann.example/"},  # no src at all: no image, not the page URL
    }
