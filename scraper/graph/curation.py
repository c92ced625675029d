"""Curation: keep wrongly merged mentions apart (unmerge), undo it, and re-resolve pages.

Rules live in the store's curation graph, so every later crawl and every worker obeys them;
the pages concerned are re-stored from their stored extraction, no LLM call needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from pyoxigraph import Literal, NamedNode, Quad

from scraper.facts import PageFacts
from scraper.graph.store import GraphStore, GraphStoreError, insert_data, page_iri
from scraper.graph.vocab import CURATION_GRAPH, node_iri, provenance_graph, ss


def unmerge(store: GraphStore, iri: str, name: str) -> list[str]:
    """Keep mentions written ``name`` (any case) apart from node ``iri`` and
    re-resolve the pages that mention the node, from their stored extraction.
    Returns the re-resolved pages' URLs."""
    node = _node(iri)
    rule = Literal(name.lower())
    split_off = _pages_where(
        store,
        f"GRAPH ?g {{ ?m ss:node {node} ; ss:mentionName ?n . ?page a ss:Page "
        f"FILTER(LCASE(?n) = {rule}) }}",
    )
    if not split_off:
        raise GraphStoreError(f"entity {iri} has no mention written {name!r}")
    store.update(insert_data([Quad(node, ss("keepApart"), rule, CURATION_GRAPH)]))
    return reresolve_urls(store, _pages_of(store, node), split_off)


def undo_unmerge(store: GraphStore, iri: str) -> list[str]:
    """Forget every unmerge rule of a node and re-resolve the pages it concerns."""
    node = _node(iri)
    split_off = _pages_where(
        store,
        f"GRAPH {CURATION_GRAPH} {{ {node} ss:keepApart ?k }}\n"
        "GRAPH ?g { ?m ss:mentionName ?n . ?page a ss:Page } FILTER(LCASE(?n) = ?k)",
    )
    store.update(f"DELETE WHERE {{ GRAPH {CURATION_GRAPH} {{ {node} {ss('keepApart')} ?k }} }}")
    return reresolve_urls(store, set(_pages_of(store, node)) | set(split_off), split_off)


def _node(iri: str) -> NamedNode:
    """The node a user names; a GraphStoreError (one line for the command) when not an IRI."""
    try:
        return node_iri(iri)
    except ValueError as exc:
        raise GraphStoreError(str(exc)) from None


def _pages_where(store: GraphStore, pattern: str) -> list[str]:
    rows = store.select(f"SELECT DISTINCT ?page WHERE {{ {pattern} }}")
    return sorted(row["page"].value for row in rows)


def _pages_of(store: GraphStore, node: NamedNode) -> list[str]:
    """Pages with a mention resolved to ``node``."""
    return _pages_where(store, f"GRAPH ?g {{ ?m ss:node {node} . ?page a ss:Page }}")


def reresolve_urls(store: GraphStore, urls: Iterable[str], fresh: Iterable[str] = ()) -> list[str]:
    """Re-store pages from their stored extraction (after resolution rules changed).

    Pages keep their previous resolutions where the rules allow, except ``fresh``
    pages, which forget theirs; those go last, so they see the others' result.
    """
    fresh = set(fresh)
    done = []
    for url in sorted(set(urls), key=lambda u: (u in fresh, u)):
        page = page_iri(url)
        graph = provenance_graph(page)
        rows = store.select(f"SELECT ?x WHERE {{ GRAPH {graph} {{ {page} ss:extraction ?x }} }}")
        state = store.page_state(url)
        if not rows or state is None:
            continue
        extraction = PageFacts.from_dict(json.loads(rows[0]["x"].value))
        ignored = [url] if url in fresh else []
        store.replace_page(state.provenance(), extraction, ignore_pages=ignored)
        done.append(url)
    return done
