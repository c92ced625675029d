"""Lookups for people and agents: entity search, an entity with its sources, a page's facts.

Plain Python over any :class:`GraphStore`; the MCP server (and any other front end) calls
these through the public API (``scraper.api``) instead of writing SPARQL of its own.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from pyoxigraph import Literal, NamedNode

from scraper.graph.queries import (
    canonical_name,
    describe_entity,
    find_entities,
    local,
    short,
    similar_names,
)
from scraper.graph.store import GraphStore, GraphStoreError, page_iri
from scraper.graph.vocab import FACT_GRAPH_FILTER, RDF, SCHEMA, is_entity

_TYPE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
# Matching names read per search: the best of them are returned (bounded on huge graphs,
# where a letter or two matches most names).
SEARCH_CANDIDATES = 5000


# Pages listed per entity by `scrapy graph entity` and MCP unless asked: a hub is named on
# thousands of pages, and what it is comes from all of them anyway.
ENTITY_PAGES = 20


def type_iri(name: str) -> NamedNode:
    """The schema.org class a user names: ``Organization``, ``schema:Organization`` or its IRI.

    Raises ``ValueError`` with what to write instead.
    """
    text = name.strip().removeprefix("schema:").removeprefix(SCHEMA)
    text = text.removeprefix("http://schema.org/")
    if not _TYPE_NAME.fullmatch(text):
        raise ValueError(
            f"not a schema.org type: {name!r}; give a class name such as Organization or Person"
        )
    return NamedNode(SCHEMA + text)


def _rank(label: str, text: str) -> int:
    """0 for the whole name, 1 a prefix, 2 a word's prefix, 3 anywhere inside."""
    label, text = label.casefold(), text.casefold()
    if label == text:
        return 0
    if label.startswith(text):
        return 1
    return 2 if re.search(r"\b" + re.escape(text), label) else 3


def search_entities(
    store: GraphStore, text: str, *, types: Iterable[str] = (), limit: int = 20
) -> list[dict[str, Any]]:
    """Entities whose name or alias contains ``text`` (case-insensitive), best matches first.

    An entity the resolution keys find (``"acme corp"`` finds ``ACME Corp.``) comes first,
    then names written exactly so, names starting with ``text``, names with a word starting
    with it, and the others. ``types`` keeps entities of any of those schema.org classes.
    Each hit: ``id``, ``name`` (the canonical name), ``types`` and ``matched`` (the name or
    alias that matched). The best among the first SEARCH_CANDIDATES matching names.
    """
    text = text.strip()
    if not text:
        raise ValueError("give a name, or part of one, to search for")
    kinds_wanted = [type_iri(t) for t in types]
    classes = " ".join(str(iri) for iri in kinds_wanted)
    wanted = f"FILTER EXISTS {{ GRAPH ?tg {{ ?e a ?class }} VALUES ?class {{ {classes} }} }}"
    rows = store.select(
        "SELECT ?e ?label WHERE { GRAPH ?g { ?e schema:name|schema:alternateName ?label } "
        f"{FACT_GRAPH_FILTER} FILTER(CONTAINS(LCASE(STR(?label)), {Literal(text.lower())})) "
        f"{wanted if classes else ''} FILTER({is_entity('?e')}) }} LIMIT {SEARCH_CANDIDATES}"
    )
    best: dict[str, tuple[int, str]] = {}
    for row in rows:
        iri, label = row["e"].value, row["label"].value
        best[iri] = min(best.get(iri, (4, label)), (_rank(label, text), label))
    ranked = sorted(best, key=lambda iri: (*best[iri], iri))[:limit]
    matched = {iri: best[iri][1] for iri in ranked}
    found = find_entities(store, text)
    order = [*found, *(iri for iri in matched if iri not in found)]
    facts = _names_and_types(store, order)
    wanted_types = {short(iri) for iri in kinds_wanted}
    hits = [
        {"id": iri, "name": name, "types": sorted(kinds), "matched": matched.get(iri, text)}
        for iri in order
        if iri in facts
        for name, kinds in [facts[iri]]
        if not wanted_types or kinds & wanted_types
    ]
    return hits[:limit]


def _names_and_types(store: GraphStore, iris: list[str]) -> dict[str, tuple[Any, set[str]]]:
    """(canonical name, prefixed classes) of each entity of ``iris`` that has facts."""
    names: dict[str, Counter] = defaultdict(Counter)
    kinds: dict[str, set[str]] = defaultdict(set)
    ordered = sorted(iris)
    for start in range(0, len(ordered), 500):
        values = " ".join(f"<{iri}>" for iri in ordered[start : start + 500])
        rows = store.select(
            f"SELECT ?e ?p ?o WHERE {{ VALUES ?e {{ {values} }} GRAPH ?g {{ ?e ?p ?o }} "
            f"FILTER(?p IN (rdf:type, schema:name)) {FACT_GRAPH_FILTER} }}"
        )
        for row in rows:
            iri = row["e"].value
            if row["p"].value == RDF + "type":
                kinds[iri].add(short(row["o"]))
            else:
                names[iri][row["o"].value] += 1
    return {iri: (canonical_name(names[iri]), kinds[iri]) for iri in ordered if iri in kinds}


def _sources(store: GraphStore, pages: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Where facts came from: each page's fetch time, content hash, model, prompt version."""
    pages = list(pages)
    states = store.page_states(pages, failures=True) if pages else {}
    sources = {}
    for url in pages:
        state = states.get(url)
        if state is not None:
            fields = dataclasses.asdict(state)
            fields.pop("url")
            sources[url] = {k: v for k, v in fields.items() if v not in (None, [])}
    return sources


def entity_views(store: GraphStore, name: str, limit: int | None = None) -> list[dict[str, Any]]:
    """What the graph knows of each entity called ``name`` (a name, an alias, an identity a
    page gave it, or its IRI), with ``sources``: the provenance of every page listed.
    ``limit`` bounds the pages listed per entity (see ``describe_entity``).

    Raises GraphStoreError naming similar names when there is none.
    """
    views = [describe_entity(store, iri, limit) for iri in find_entities(store, name)]
    views = [v for v in views if v["types"] or v["pages"]]
    if not views:
        hints = similar_names(store, name)
        hint = f"; names containing it: {', '.join(hints)}" if hints else ""
        raise GraphStoreError(f"no entity named {name!r}{hint}")
    for view in views:
        view["sources"] = _sources(store, view["pages"])
    return views


def page_facts(store: GraphStore, url: str) -> dict[str, Any]:
    """What one page contributed: its provenance (fetch time, content hash, model, prompt
    version, extraction status, failures) and every node of its named graph with the
    node's types, names, attributes and relations.

    Raises GraphStoreError when the store has never seen the page.
    """
    page = page_iri(url)
    sources = _sources(store, [page.value])
    if not sources:
        raise GraphStoreError(f"the store has no page {url}; search entities to find pages")
    rows = store.select(f"SELECT ?s ?p ?o WHERE {{ GRAPH {page} {{ ?s ?p ?o }} }} ORDER BY ?s ?p")
    subjects = {row["s"].value for row in rows}
    nodes: dict[str, dict[str, Any]] = {}
    for row in rows:
        node = nodes.setdefault(
            row["s"].value,
            {"id": row["s"].value, "types": [], "names": [], "aliases": [], "attributes": {}}
            | {"relations": []},
        )
        predicate, obj = row["p"].value, row["o"]
        if predicate == RDF + "type":
            node["types"].append(short(obj))
        elif predicate == SCHEMA + "name":
            node["names"].append(obj.value)
        elif predicate == SCHEMA + "alternateName":
            node["aliases"].append(obj.value)
        elif isinstance(obj, NamedNode) and obj.value in subjects:
            node["relations"].append({"type": local(row["p"]), "target": obj.value})
        else:
            node["attributes"].setdefault(local(row["p"]), []).append(obj.value)
    for node in nodes.values():
        for relation in node["relations"]:
            names = nodes[relation["target"]]["names"]
            relation["target_name"] = names[0] if names else None
    return {"url": page.value, **sources[page.value], "nodes": list(nodes.values())}
