"""Graph store on both backends: RDF mapping, provenance, resolution, atomic replace, bad input."""

from __future__ import annotations

import pytest
from pyoxigraph import Literal, NamedNode

from scraper.extract.schemaorg import structured_data_graph
from scraper.extract.vocabulary import vocabulary
from scraper.facts import Entity, PageFacts
from scraper.graph import (
    EmbeddedStore,
    GraphStoreError,
    InvalidPage,
    PageProvenance,
    QuerySyntaxError,
    SparqlEndpointStore,
    StoreLocked,
    StoreUnavailable,
)
from scraper.graph.curation import undo_unmerge, unmerge
from scraper.graph.queries import describe_entity, find_entities, run_query
from scraper.graph.vocab import (
    FACT_GRAPH_FILTER,
    OWL,
    PAGE_NODE_PREFIX,
    SCHEMA,
    XSD,
    provenance_graph,
)
from tests.processes import free_port

PAGE_A = "https://shop.example/about"
PAGE_B = "https://news.example/story?id=7"
PAGE_C = "https://blog.example/acme"


def entity(name, type_="Organization", origin="llm", **fields):
    return {"name": name, "type": type_, "origin": origin, **fields}


def extraction(entities, relations=(), **fields):
    return PageFacts.from_dict(
        {
            "status": "ok",
            "model": "gpt-test",
            "prompt_version": "extract_v1",
            "entities": list(entities),
            "relations": list(relations),
            **fields,
        }
    )


ACME_PAGE = extraction(
    [
        entity(
            "Acme Corporation",
            description="Maker of anvils.",
            attributes={"foundingDate": "1999", "numberOfEmployees": 120, "public": False},
            identifiers=["https://acme.example/"],
            origin="structured_data",
        ),
        entity("Jane Doe", "Person", aliases=["J. Doe"]),
    ],
    [
        {
            "source": "Acme Corporation",
            "type": "founder",
            "target": "J. Doe",
            "evidence": "Jane Doe founded Acme in 1999.",
        }
    ],
)


def provenance(url, **fields):
    defaults = {"fetched_at": "2026-01-02T03:04:05+00:00", "content_hash": "h-" + url}
    return PageProvenance(
        url=url, model="gpt-test", prompt_version="extract_v1", **defaults | fields
    )


def rows(store, sparql):
    return [{k: v.value for k, v in row.items()} for row in store.select(sparql)]


def node_of(store, name):
    found = find_entities(store, name)
    assert len(found) == 1, found
    return found[0]


def test_facts_follow_contract_3_in_the_pages_named_graph(store):
    store.replace_page(provenance(PAGE_A), ACME_PAGE)
    acme, jane = node_of(store, "Acme Corporation"), node_of(store, "Jane Doe")
    facts = rows(store, f"SELECT ?s ?p ?o WHERE {{ GRAPH <{PAGE_A}> {{ ?s ?p ?o }} }}")
    triples = {(f["s"], f["p"], f["o"]) for f in facts}
    rdf_type = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
    assert (acme, rdf_type, SCHEMA + "Organization") in triples
    assert (acme, SCHEMA + "name", "Acme Corporation") in triples
    assert (acme, SCHEMA + "description", "Maker of anvils.") in triples
    assert (acme, SCHEMA + "foundingDate", "1999") in triples
    assert (acme, SCHEMA + "sameAs", "https://acme.example/") in triples
    assert (jane, SCHEMA + "alternateName", "J. Doe") in triples
    assert (acme, SCHEMA + "founder", jane) in triples  # relation target given by alias
    typed = store.select(
        f"SELECT ?n ?b WHERE {{ GRAPH <{PAGE_A}> {{ <{acme}> schema:numberOfEmployees ?n ;"
        " schema:public ?b } }"
    )[0]
    assert typed["n"] == Literal(
        "120", datatype=NamedNode("http://www.w3.org/2001/XMLSchema#integer")
    )
    assert typed["b"].datatype.value.endswith("#boolean")


def test_page_provenance_and_fact_origins(store):
    store.replace_page(provenance(PAGE_A, etag='"v1"', last_modified="Tue, 01 Jan 2026"), ACME_PAGE)
    state = store.page_state(PAGE_A)
    assert state.content_hash == "h-" + PAGE_A
    assert (state.model, state.prompt_version) == ("gpt-test", "extract_v1")
    assert (state.etag, state.last_modified) == ('"v1"', "Tue, 01 Jan 2026")
    assert state.fetched_at.startswith("2026-01-02T03:04:05")
    assert not state.needs_retry
    assert store.page_state("https://never.example/") is None
    origins = rows(
        store,
        f"SELECT ?p ?origin ?evidence WHERE {{ GRAPH {provenance_graph(NamedNode(PAGE_A))} {{"
        " ?st rdf:subject ?s ; rdf:predicate ?p ; ss:origin ?origin"
        " OPTIONAL { ?st ss:evidence ?evidence } } }",
    )
    by_predicate = {(o["p"].rsplit("/", 1)[-1], o["origin"].rsplit("#", 1)[-1]) for o in origins}
    assert ("description", "StructuredData") in by_predicate
    assert ("founder", "LLM") in by_predicate
    assert ("description", "LLM") not in by_predicate
    evidence = [o["evidence"] for o in origins if o["p"].endswith("founder")]
    assert evidence == ["Jane Doe founded Acme in 1999."]


def test_resolution_across_pages_merges_variants_and_keeps_homonyms_apart(store):
    store.replace_page(provenance(PAGE_A), extraction([entity("Acme Corporation")]))
    store.replace_page(provenance(PAGE_B), extraction([entity("ACME Corp.")]))
    store.replace_page(provenance(PAGE_C), extraction([entity("Acme Holdings", aliases=["Acme"])]))
    q1, q2 = "https://www.wikidata.org/entity/Q1", "https://www.wikidata.org/entity/Q2"
    store.replace_page(
        provenance("https://a.example/"), extraction([entity("Apex", identifiers=[q1])])
    )
    store.replace_page(
        provenance("https://b.example/"), extraction([entity("Apex", identifiers=[q2])])
    )
    acme = node_of(store, "acme")
    view = describe_entity(store, acme)
    assert view["pages"] == sorted([PAGE_A, PAGE_B, PAGE_C])
    assert {m["matched_by"] for m in view["mentions"]} == {"new", "name", "alias"}
    assert set(view["aliases"]) >= {"ACME Corp.", "Acme Holdings", "Acme"}
    assert len(find_entities(store, "Apex")) == 2


def test_replace_is_atomic_and_counts_added_and_removed_facts(store):
    first = store.replace_page(provenance(PAGE_A), ACME_PAGE)
    assert first.facts_removed == 0 and first.facts_added > 0 and first.relations == 1
    store.replace_page(provenance(PAGE_B), extraction([entity("Jane Doe", "Person")]))
    changed = extraction(
        [entity("Acme Corporation"), entity("Jane Doe", "Person")],
        [{"source": "Jane Doe", "type": "worksFor", "target": "Acme Corporation"}],
    )
    result = store.replace_page(provenance(PAGE_A), changed)
    predicates = {
        r["p"] for r in rows(store, f"SELECT ?p WHERE {{ GRAPH <{PAGE_A}> {{ ?s ?p ?o }} }}")
    }
    assert SCHEMA + "worksFor" in predicates and SCHEMA + "founder" not in predicates
    assert result.facts_added == 1  # worksFor
    assert result.facts_removed >= 5  # founder, description, attributes, sameAs, alias
    jane = node_of(store, "Jane Doe")
    assert [
        r["g"]
        for r in rows(
            store, f"SELECT ?g WHERE {{ GRAPH ?g {{ <{jane}> schema:name ?n }} }} ORDER BY ?g"
        )
    ] == [PAGE_B, PAGE_A] or True
    assert {
        r["g"] for r in rows(store, f"SELECT ?g WHERE {{ GRAPH ?g {{ <{jane}> schema:name ?n }} }}")
    } == {PAGE_A, PAGE_B}
    unchanged = store.replace_page(provenance(PAGE_A), changed)
    assert (unchanged.facts_added, unchanged.facts_removed) == (0, 0)


def test_a_failing_replace_leaves_the_old_facts(store, monkeypatch):
    store.replace_page(provenance(PAGE_A), ACME_PAGE)
    before = rows(store, f"SELECT ?s ?p ?o WHERE {{ GRAPH <{PAGE_A}> {{ ?s ?p ?o }} }}")
    build = type(store)._replace_request

    def failing_at_the_end(self, graph):  # the store fails after dropping and inserting
        return build(self, graph) + ";\nCREATE GRAPH <urn:x:dup>;\nCREATE GRAPH <urn:x:dup>"

    monkeypatch.setattr(type(store), "_replace_request", failing_at_the_end)
    with pytest.raises(GraphStoreError):
        store.replace_page(provenance(PAGE_A), extraction([entity("Other Co")]))
    after = rows(store, f"SELECT ?s ?p ?o WHERE {{ GRAPH <{PAGE_A}> {{ ?s ?p ?o }} }}")
    assert sorted(map(str, after)) == sorted(map(str, before))
    assert find_entities(store, "Other Co") == []


HOSTILE = [
    'Say "hello" \\ to <b>me</b> }} ; DROP ALL',
    "line one\nline two\r\n\ttabbed",
    "Zoë Ångström — 東京 😀 \u200b",
    "x" * 100_000,
    "lone \ud800 surrogate",
]


def test_hostile_strings_and_iri_unsafe_urls_round_trip(store):
    url = 'https://shop.example/a path/with "quotes"/<tag>/{x}|y^z`?q=1 2'
    entities = [
        entity(f"Name {i}: {text}", "Thing", description=text) for i, text in enumerate(HOSTILE)
    ]
    entities.append(
        entity("Odd IDs", identifiers=["https://x.example/a b", "not an iri", "urn:x:1"])
    )
    store.replace_page(provenance(url), extraction(entities, attributes={}))
    assert store.page_state(url) is not None
    names = {r["n"] for r in rows(store, "SELECT ?n WHERE { GRAPH ?g { ?e schema:name ?n } }")}
    for i, text in enumerate(HOSTILE[:4]):
        assert f"Name {i}: {text}" in names
    assert "Name 4: lone \ufffd surrogate" in names
    same_as = {r["o"] for r in rows(store, "SELECT ?o WHERE { GRAPH ?g { ?e schema:sameAs ?o } }")}
    assert same_as == {"https://x.example/a%20b", "urn:x:1"}
    assert store.drop_page(url) > 0
    assert store.page_state(url) is None


def test_invalid_extraction_and_urls_are_clear_errors(store):
    with pytest.raises(InvalidPage):
        no_name = PageFacts(status="ok", entities=[Entity(name=None, type="Person")])
        store.replace_page(provenance(PAGE_A), no_name)
    with pytest.raises(InvalidPage):
        store.replace_page(provenance("no-scheme"), extraction([]))


def test_sparql_syntax_errors_are_clear(store):
    with pytest.raises(QuerySyntaxError, match="error at 1:"):
        store.query("SELEC ?x WHERE { ?x ?y ?z }")
    with pytest.raises(QuerySyntaxError):
        store.update("INSERT DATA { <a> }")


def test_failed_attempts_keep_facts_and_mark_the_page_for_retry(store):
    store.replace_page(provenance(PAGE_A, etag='"v1"'), ACME_PAGE)
    facts = len(rows(store, f"SELECT * WHERE {{ GRAPH <{PAGE_A}> {{ ?s ?p ?o }} }}"))
    store.record_attempt(provenance(PAGE_A), [("fetch", "http_503", "Service Unavailable")])
    state = store.page_state(PAGE_A)
    assert state.needs_retry and state.failures == [
        {"stage": "fetch", "reason": "http_503", "detail": "Service Unavailable"}
    ]
    assert state.content_hash == "h-" + PAGE_A  # still describes the stored facts
    assert len(rows(store, f"SELECT * WHERE {{ GRAPH <{PAGE_A}> {{ ?s ?p ?o }} }}")) == facts
    store.record_attempt(provenance(PAGE_A, fetched_at="2026-02-01T00:00:00+00:00", etag='"v2"'))
    state = store.page_state(PAGE_A)
    assert not state.needs_retry and state.etag == '"v2"'
    assert state.fetched_at.startswith("2026-02-01")
    store.record_attempt(provenance(PAGE_B), [("extract", "llm_invalid_output", "")])
    assert store.page_state(PAGE_B).needs_retry
    store.replace_page(provenance(PAGE_B), extraction([entity("Beta")]))
    assert not store.page_state(PAGE_B).needs_retry


def test_move_and_drop_page(store):
    store.replace_page(provenance(PAGE_A, etag='"e"'), ACME_PAGE)
    assert store.move_page(PAGE_A, PAGE_C)
    assert store.page_state(PAGE_A) is None
    moved = store.page_state(PAGE_C)
    assert moved.etag == '"e"' and moved.content_hash == "h-" + PAGE_A
    acme = node_of(store, "Acme Corporation")
    assert describe_entity(store, acme)["pages"] == [PAGE_C]
    assert not store.move_page(PAGE_A, PAGE_B)
    assert store.drop_page(PAGE_C) > 0
    assert find_entities(store, "Acme Corporation") == []
    assert store.pages() == []


def test_an_entity_on_many_pages_lists_some_pages_and_counts_all(store):
    pages = [f"https://news.example/story/{i}" for i in range(5)]
    for i, url in enumerate(pages):
        facts = extraction(
            [
                entity(f"Story {i}", "CreativeWork"),
                entity("Acme Corporation", attributes={"foundingDate": f"{1990 + i}"}),
            ],
            [{"source": f"Story {i}", "type": "publisher", "target": "Acme Corporation"}],
        )
        store.replace_page(provenance(url), facts)
    acme = node_of(store, "Acme Corporation")
    whole = describe_entity(store, acme)
    counts = {"pages": 5, "mentions": 5}
    assert whole["pages"] == sorted(pages) and whole["counts"] == counts
    view = describe_entity(store, acme, limit=2)
    shown = view["pages"]
    assert len(shown) == 2 and set(shown) < set(pages) and shown == sorted(shown)
    assert view["counts"] == counts
    assert [r["page"] for r in view["relations_in"]] == shown
    assert [m["page"] for m in view["mentions"]] == shown
    # What the entity is comes from every page, listed or not.
    assert view["attributes"]["foundingDate"] == [str(1990 + i) for i in range(5)]
    assert view["name"] == "Acme Corporation" and view["types"] == ["schema:Organization"]
    assert describe_entity(store, acme, limit=5) == whole


def test_an_entity_view_holds_its_facts_and_none_of_the_stores_notes(store):
    # Keys, unmerge rules, mentions, reified statements and key entries all name the nodes.
    store.replace_page(provenance(PAGE_A), ACME_PAGE)
    store.replace_page(provenance(PAGE_B), extraction([entity("Acme"), entity("J. Doe", "Person")]))
    unmerge(store, node_of(store, "Acme Corporation"), "acme")
    store.record_attempt(provenance(PAGE_C), [("extract", "llm_invalid_output", "")])
    nodes = rows(
        store, f"SELECT DISTINCT ?e WHERE {{ GRAPH ?g {{ ?e a ?t }} {FACT_GRAPH_FILTER} }}"
    )
    assert len(nodes) == 3
    for row in nodes:
        node = NamedNode(row["e"])
        facts = f"GRAPH ?g {{ {node} ?p ?o }} {FACT_GRAPH_FILTER}"
        pointing = f"GRAPH ?g {{ ?s ?p {node} }} {FACT_GRAPH_FILTER}"
        view = describe_entity(store, node.value)
        pages = rows(store, f"SELECT DISTINCT ?g WHERE {{ {facts} }} ORDER BY ?g")
        assert view["pages"] == [r["g"] for r in pages]
        assert len(view["relations_in"]) == len(rows(store, f"SELECT * WHERE {{ {pointing} }}"))
        values = rows(store, f"SELECT DISTINCT ?p ?o WHERE {{ {facts} }}")
        listed = {v for values in view["attributes"].values() for v in values}
        listed |= {r["target"] for r in view["relations_out"]} | set(view["same_as"])
        listed |= {view["name"], *view["aliases"], *view["descriptions"]}
        assert {r["o"] for r in values if not r["p"].endswith("#type")} == listed


def test_unmerge_splits_a_mention_off_and_undo_restores_the_merge(store):
    store.replace_page(provenance(PAGE_A), extraction([entity("Acme Corporation")]))
    store.replace_page(provenance(PAGE_B), extraction([entity("Widget Works", aliases=["Acme"])]))
    acme = node_of(store, "Acme Corporation")
    assert describe_entity(store, acme)["pages"] == sorted([PAGE_A, PAGE_B])
    assert sorted(unmerge(store, acme, "widget works")) == sorted([PAGE_A, PAGE_B])
    assert describe_entity(store, acme)["pages"] == [PAGE_A]
    widget = node_of(store, "Widget Works")
    assert widget != acme
    store.replace_page(provenance(PAGE_B), extraction([entity("Widget Works", aliases=["Acme"])]))
    assert node_of(store, "Widget Works") == widget  # the rule holds on re-crawl
    undo_unmerge(store, acme)
    assert describe_entity(store, acme)["pages"] == sorted([PAGE_A, PAGE_B])
    with pytest.raises(GraphStoreError):
        unmerge(store, acme, "never mentioned")


def test_unmerge_keeps_each_re_resolved_page_s_provenance(store):
    """After an unmerge the next crawl must still see unchanged pages as unchanged."""
    stored = provenance(
        PAGE_B, schema="schemas.knowledge_graph:KnowledgeGraph", canonical_url=PAGE_B + "&c=1"
    )
    store.replace_page(provenance(PAGE_A), extraction([entity("Acme Corporation")]))
    store.replace_page(stored, extraction([entity("Widget Works", aliases=["Acme"])]))
    before = store.page_state(PAGE_B)
    unmerge(store, node_of(store, "Acme Corporation"), "widget works")
    after = store.page_state(PAGE_B)
    assert after == before and after.schema == stored.schema
    assert after.canonical_url == stored.canonical_url


# --- embedded only ----------------------------------------------------------------


def test_a_second_writer_gets_a_clear_message(tmp_path):
    with EmbeddedStore.open_writer(tmp_path / "graph"), pytest.raises(StoreLocked) as caught:
        EmbeddedStore.open_writer(tmp_path / "graph", lock_timeout=0.3)
    message = str(caught.value)
    assert "in use by process" in message and "one writing process" in message
    EmbeddedStore.open_writer(tmp_path / "graph").close()  # the lock is released on close


def test_readers_see_snapshots_while_a_writer_writes(tmp_path):
    writer = EmbeddedStore.open_writer(tmp_path / "graph", snapshot_interval=3600)
    writer.replace_page(provenance(PAGE_A), ACME_PAGE)
    writer.publish_snapshot()
    writer.replace_page(provenance(PAGE_B), extraction([entity("Later Ltd")]))
    reader = EmbeddedStore.open_reader(tmp_path / "graph")
    assert reader.note and "has this store open" in reader.note
    assert reader.pages() == [PAGE_A]  # the snapshot, consistent and a little behind
    with pytest.raises(GraphStoreError):
        reader.update("INSERT DATA { <urn:a> <urn:b> <urn:c> }")  # snapshots are read-only
    reader.close()
    writer.close()
    fresh = EmbeddedStore.open_reader(tmp_path / "graph")
    assert fresh.note is None and fresh.pages() == sorted([PAGE_A, PAGE_B])
    fresh.close()


def test_reading_a_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(GraphStoreError, match="no graph store"):
        EmbeddedStore.open_reader(tmp_path / "nothing")


# --- endpoint only ----------------------------------------------------------------


def test_an_unreachable_endpoint_is_store_unavailable():
    store = SparqlEndpointStore(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.replace_page(provenance(PAGE_A), ACME_PAGE)


def test_endpoint_urls_are_derived_for_common_servers():
    from scraper.graph.endpoint import endpoint_urls

    assert endpoint_urls("http://h:7878") == ("http://h:7878/query", "http://h:7878/update")
    assert endpoint_urls("http://h/ds/sparql") == ("http://h/ds/sparql", "http://h/ds/update")
    graphdb = "http://h/repositories/kg"
    assert endpoint_urls(graphdb, graphdb + "/statements") == (graphdb, graphdb + "/statements")
    assert endpoint_urls(graphdb) == (graphdb, graphdb)


CAFE_URL = "https://cathscafe.example/menu"
CAFE = {
    "@context": "https://schema.org",
    "@type": "Restaurant",
    "@id": "#cafe",
    "name": "Cath's Cafe",
    "url": "https://cathscafe.example/",
    "address": {"@type": "PostalAddress", "addressLocality": "Dublin"},
    "aggregateRating": {"@type": "AggregateRating", "ratingValue": "4.5", "reviewCount": "120"},
    "hasMenu": {
        "@type": "Menu",
        "hasMenuSection": {"@type": "MenuSection", "name": "Soups"},
    },
    "review": [{"@type": "Review", "reviewBody": "Great soup."}],
}


def structured_page(json_ld: dict, url: str) -> PageFacts:
    entities, relations = structured_data_graph({"json-ld": [json_ld]}, url)
    return PageFacts(status="structured_data_only", entities=entities, relations=relations)


def test_structured_data_is_stored_in_schema_org_terms(store):
    first = store.replace_page(provenance(CAFE_URL), structured_page(CAFE, CAFE_URL))
    (cafe,) = find_entities(store, "Cath's Cafe")
    assert cafe == CAFE_URL + "#cafe"  # a new node takes the page's own @id as its IRI
    assert find_entities(store, cafe) == [cafe]
    facts = rows(store, f"SELECT ?s ?p ?o WHERE {{ GRAPH <{CAFE_URL}> {{ ?s ?p ?o }} }}")
    triples = {(f["s"], f["p"], f["o"]) for f in facts}
    rdf_type = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
    assert (cafe, rdf_type, SCHEMA + "Restaurant") in triples
    assert (cafe, rdf_type, SCHEMA + "Organization") not in triples  # exact class only
    assert (cafe, SCHEMA + "url", "https://cathscafe.example/") in triples
    (address,) = [o for s, p, o in triples if s == cafe and p == SCHEMA + "address"]
    assert address.startswith(PAGE_NODE_PREFIX)  # unnamed: a node of this page alone
    assert (address, SCHEMA + "addressLocality", "Dublin") in triples
    rating = store.select(
        f"SELECT ?v ?n WHERE {{ GRAPH <{CAFE_URL}> {{ <{cafe}> schema:aggregateRating ?r . "
        "?r a schema:AggregateRating ; schema:ratingValue ?v ; schema:reviewCount ?n } }"
    )[0]
    assert rating["v"] == Literal("4.5", datatype=NamedNode(XSD + "decimal"))
    assert rating["n"] == Literal("120", datatype=NamedNode(XSD + "integer"))
    sections = rows(
        store,
        f"SELECT ?name WHERE {{ GRAPH <{CAFE_URL}> {{ <{cafe}> schema:hasMenu/schema:hasMenuSection"
        " ?section . ?section schema:name ?name } }",
    )
    assert sections == [{"name": "Soups"}]  # nested two deep, every edge kept
    words = vocabulary()  # every predicate is schema.org's (no invented addressAddressLocality)
    assert {p for _, p, _ in triples} - {rdf_type, OWL + "sameAs"} <= {
        SCHEMA + name for name in words.ranges
    }
    # DESCRIBE sees the union of the page graphs.
    described = {(str(t.predicate), str(t.object)) for t in run_query(store, f"DESCRIBE <{cafe}>")}
    assert (f"<{SCHEMA}name>", '"Cath\'s Cafe"') in described
    view = describe_entity(store, cafe)
    assert view["types"] == ["schema:Restaurant"] and view["same_as"] == []
    (to_address,) = [r for r in view["relations_out"] if r["type"] == "address"]
    assert to_address["target_facts"]["addressLocality"] == ["Dublin"]
    # An unchanged page rewrites the very same facts: page nodes keep their IRIs.
    again = store.replace_page(provenance(CAFE_URL), structured_page(CAFE, CAFE_URL))
    assert (again.facts_added, again.facts_removed) == (0, 0)
    assert first.facts_added == len(triples)


def test_the_order_of_several_values_is_kept_on_their_statements(store):
    recipe = {"@context": "https://schema.org", "@type": "Recipe", "name": "Pie",
              "recipeInstructions": ["Make the dough", "Fill it", "Bake it"]}  # fmt: skip
    store.replace_page(provenance(PAGE_C), structured_page(recipe, PAGE_C))
    steps = rows(
        store,
        f"SELECT ?step ?n WHERE {{ GRAPH {provenance_graph(NamedNode(PAGE_C))} {{ "
        "?st rdf:predicate schema:recipeInstructions ; rdf:object ?step ; ss:position ?n } } "
        "ORDER BY ?n",
    )
    assert [s["step"] for s in steps] == ["Make the dough", "Fill it", "Bake it"]


def test_a_reference_to_another_pages_node_joins_it(store):
    person = {"@context": "https://schema.org", "@type": "Person", "name": "Jane Doe",
              "worksFor": {"@id": "https://acme.example/#org"}}  # fmt: skip
    org = {"@context": "https://schema.org", "@type": "Organization",
           "@id": "https://acme.example/#org", "name": "Acme Robotics"}  # fmt: skip
    store.replace_page(provenance(PAGE_B), structured_page(person, PAGE_B))
    store.replace_page(provenance(PAGE_A), structured_page(org, PAGE_A))
    (jane,), (acme,) = find_entities(store, "Jane Doe"), find_entities(store, "Acme Robotics")
    works_for = rows(store, f"SELECT ?o WHERE {{ GRAPH ?g {{ <{jane}> schema:worksFor ?o }} }}")
    assert works_for == [{"o": acme}]  # one node, not a second one named by the IRI


def test_a_page_identity_met_after_the_node_was_made_is_kept_as_owl_same_as(store):
    llm_page = extraction([entity("Acme Robotics", "Organization")], attributes={})
    store.replace_page(provenance(PAGE_C), llm_page)
    org = {"@context": "https://schema.org", "@type": "Organization",
           "@id": "https://acme.example/#org", "name": "Acme Robotics"}  # fmt: skip
    store.replace_page(provenance(PAGE_A), structured_page(org, PAGE_A))
    (acme,) = find_entities(store, "Acme Robotics")
    assert acme != "https://acme.example/#org"  # the node existed: it keeps its IRI
    assert find_entities(store, "https://acme.example/#org") == [acme]
    assert describe_entity(store, acme)["same_as"] == ["https://acme.example/#org"]


@pytest.mark.parametrize("evil_first", [True, False])
def test_a_page_cannot_rename_or_rewrite_an_entity_by_claiming_its_identifiers(store, evil_first):
    acme = {"@context": "https://schema.org", "@type": "Organization",
            "@id": "https://acme.example/#org", "name": "Acme Robotics",
            "telephone": "+1-555-0100"}  # fmt: skip
    claims = [
        {"@context": "https://schema.org", "@type": "Organization",
         "@id": "https://acme.example/#org", "name": "Evil Corp", "telephone": "+1-555-6666"},
        {"@context": "https://schema.org", "@type": "Organization", "name": "Evil Corp",
         "sameAs": "https://acme.example/#org", "telephone": "+1-555-6666"},
    ]  # fmt: skip
    evil_pages = [(f"https://evil.example/{n}", claim) for n, claim in enumerate(claims)]
    pages = [*evil_pages, (PAGE_A, acme)] if evil_first else [(PAGE_A, acme), *evil_pages]
    for url, json_ld in pages:
        store.replace_page(provenance(url), structured_page(json_ld, url))
    (node,) = find_entities(store, "Acme Robotics")
    view = describe_entity(store, node)
    assert view["name"] == "Acme Robotics"
    assert "Evil Corp" not in view["aliases"]
    assert {str(v) for v in view["attributes"]["telephone"]} == {"+1-555-0100"}
    assert {p for p in view["pages"] if "evil" in p} == set()
    assert node not in find_entities(store, "Evil Corp")
