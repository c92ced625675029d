"""The resolution-key index and batched page writes, on both backends."""

from __future__ import annotations

import pytest

from scraper.graph import EmbeddedStore, SparqlEndpointStore
from scraper.graph.curation import unmerge
from scraper.graph.queries import describe_entity
from scraper.graph.vocab import KEY_INDEX_GRAPH
from tests.test_graph import PAGE_A, PAGE_B, PAGE_C, entity, extraction, node_of, provenance


def reopened(store):
    """The same store opened anew (what a later crawl does)."""
    if isinstance(store, EmbeddedStore):
        store.close()
        return EmbeddedStore.open_writer(store.folder)
    return SparqlEndpointStore(store.location)


def key_pages(store) -> dict[tuple[str, str], int]:
    """(node, key) -> pages asserting it, as the index holds it."""
    rows = store.select(
        f"SELECT ?node ?key ?pages WHERE {{ GRAPH {KEY_INDEX_GRAPH} {{ "
        "?e ss:keyNode ?node ; ss:keyValue ?key ; ss:keyPages ?pages } }"
    )
    return {(r["node"].value, r["key"].value): int(r["pages"].value) for r in rows}


def test_key_counts_follow_replaces_drops_moves_and_unmerges(store):
    acme = extraction([entity("Acme Corporation")])
    store.replace_page(provenance(PAGE_A), acme)
    store.replace_page(provenance(PAGE_B), extraction([entity("ACME Corp.", aliases=["Acme"])]))
    node = node_of(store, "Acme Corporation")
    assert key_pages(store) == {(node, "Organization|acme"): 2}
    store.replace_page(provenance(PAGE_B), extraction([entity("Widget Works")]))  # re-crawl
    widget = node_of(store, "Widget Works")
    assert key_pages(store) == {
        (node, "Organization|acme"): 1,
        (widget, "Organization|widget works"): 1,
    }
    store.move_page(PAGE_B, PAGE_C)
    assert key_pages(store)[(widget, "Organization|widget works")] == 1
    store.drop_page(PAGE_A)
    assert key_pages(store) == {(widget, "Organization|widget works"): 1}
    store.replace_page(provenance(PAGE_A), extraction([entity("Widget Works")]))
    assert unmerge(store, widget, "widget works")
    assert sum(key_pages(store).values()) == 2  # each page's node asserts its key once


def test_a_store_written_before_the_index_gets_it_on_the_first_write(store):
    store.replace_page(provenance(PAGE_A), extraction([entity("Acme Corporation")]))
    store.replace_page(provenance(PAGE_B), extraction([entity("Acme Corporation")]))
    built = key_pages(store)
    store.update(f"DROP GRAPH {KEY_INDEX_GRAPH}")  # as stores written before it were
    assert node_of(store, "ACME corp")  # read before any write: found by the pages' keys
    with reopened(store) as old:
        old.replace_page(provenance(PAGE_C), extraction([entity("Acme Corporation")]))
        node = node_of(old, "Acme Corporation")  # one node: the old pages were found
        assert key_pages(old) == {**built, (node, "Organization|acme"): 3}


def test_a_batch_writes_its_pages_at_once_and_resolves_them_in_order(store):
    with store.write_batch():
        store.replace_page(provenance(PAGE_A), extraction([entity("Acme Corporation")]))
        store.replace_page(provenance(PAGE_B), extraction([entity("ACME Corp")]))
        assert store.pages() == []  # nothing written until the batch ends
    node = node_of(store, "Acme Corporation")
    assert describe_entity(store, node)["pages"] == sorted([PAGE_A, PAGE_B])
    with pytest.raises(RuntimeError), store.write_batch():
        store.replace_page(provenance(PAGE_C), extraction([entity("Acme Corporation")]))
        raise RuntimeError("the crawl died mid-batch")
    assert PAGE_C not in store.pages()  # a batch is all or nothing
    assert key_pages(store)[(node, "Organization|acme")] == 2
