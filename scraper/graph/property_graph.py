"""The graph as a property graph (nodes with labels and typed properties, typed edges), the
shape GraphML (Gephi, yEd, NetworkX) and Neo4j take.

Nodes are the entities and the pages' own nodes (offers, addresses); labels are their
classes' local names; ``name`` is the canonical name, ``aliases``, ``description``,
``sameAs`` and ``pages`` (where the facts came from) are lists, and every other literal or
IRI value is a property named after its predicate. An edge is a relation between two nodes
with the pages that state it. Each property is one :class:`Column` whose type holds for every
value written in it (a column with a value that is not a valid integer is text).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from pyoxigraph import Literal, NamedNode

from scraper.graph.queries import canonical_name
from scraper.graph.store import GraphStore
from scraper.graph.vocab import FACT_GRAPH_FILTER, OWL, RDF, SCHEMA, XSD, is_node

# Value types, named as neo4j-admin's header names them.
LONG, DOUBLE, BOOLEAN, STRING, DURATION = "long", "double", "boolean", "string", "duration"
DATE, DATETIME, LOCALDATETIME = "date", "datetime", "localdatetime"
TIME, LOCALTIME = "time", "localtime"
_WHOLE_NUMBERS = (
    *("integer", "int", "long", "short", "byte", "unsignedInt", "unsignedShort"),
    *("unsignedByte", "nonNegativeInteger", "positiveInteger", "negativeInteger"),
)
_XSD_TYPES = dict.fromkeys(_WHOLE_NUMBERS, LONG) | dict.fromkeys(("decimal", "double"), DOUBLE)
_XSD_TYPES |= {"float": DOUBLE, "boolean": BOOLEAN, "date": DATE, "duration": DURATION}
_XSD_TYPES |= {"dateTime": DATETIME, "time": TIME}
# xsd:duration's lexical form (ISO 8601: P1Y2M3DT4H5M6.5S), which Neo4j's duration reads.
_DURATION = re.compile(
    r"-?P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?"
)
# Properties every node has a column for (lists but ``id`` and ``name``).
FIXED = ("id", "name", "aliases", "description", "sameAs", "pages")
_LISTS = {SCHEMA + "alternateName": "aliases", SCHEMA + "description": "description"}
_LISTS |= {SCHEMA + "sameAs": "sameAs", OWL + "sameAs": "sameAs"}
_KEY = re.compile(r"[^A-Za-z0-9_]+")


@dataclass
class Node:
    id: str
    labels: list[str]
    properties: dict[str, list[Any]]  # key -> values (Python values of the column's type)


@dataclass
class Edge:
    source: str
    target: str
    type: str
    pages: list[str]


@dataclass(frozen=True)
class Column:
    key: str
    type: str  # LONG, DOUBLE, BOOLEAN, DATE, DATETIME or STRING
    is_list: bool  # some node has more than one value (always for the FIXED lists)


@dataclass
class PropertyGraph:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)  # node properties, FIXED first


def property_key(predicate: str) -> str:
    """A property or edge name for a predicate: its schema.org local name, else the last
    segment of its IRI, reduced to letters, digits and ``_`` (names headers can hold)."""
    tail = predicate.removeprefix(SCHEMA)
    tail = re.split(r"[#/:]", tail.rstrip("/#"))[-1] if tail == predicate else tail
    return _KEY.sub("_", tail).strip("_") or "property"


def _value_type(term: Any) -> str:
    """The column type a value asks for: its datatype's (a time without a zone is a local
    one), STRING when its text is not a valid value of that type."""
    if not isinstance(term, Literal):
        return STRING
    kind = _XSD_TYPES.get(term.datatype.value.removeprefix(XSD), STRING)
    if kind == STRING:
        return STRING
    try:
        value = _parse(kind, term.value)
    except ValueError:
        return STRING
    if kind in (DATETIME, TIME) and value.tzinfo is None:
        return LOCALDATETIME if kind == DATETIME else LOCALTIME
    return kind


def _parse(kind: str, text: str) -> Any:
    """``text`` as a value of ``kind``; ValueError when it is not one."""
    if kind == LONG:
        return int(text)
    if kind == DOUBLE:
        return float(text)
    if kind == BOOLEAN:
        if text not in ("true", "false", "1", "0"):
            raise ValueError(text)
        return text in ("true", "1")
    if kind == DATE:
        return date.fromisoformat(text)
    if kind in (DATETIME, LOCALDATETIME):
        return datetime.fromisoformat(text)
    if kind in (TIME, LOCALTIME):
        return time.fromisoformat(text)
    if kind == DURATION and not _DURATION.fullmatch(text):
        raise ValueError(text)
    return text


def _column_type(terms: Iterable[Any]) -> str:
    """The one type every value of a column has, else STRING (text holds them all)."""
    kinds = {_value_type(t) for t in terms}
    return kinds.pop() if len(kinds) == 1 else STRING


def build_property_graph(store: GraphStore) -> PropertyGraph:
    """Every node of the graph (entities and the pages' own nodes) with its facts, and every
    relation between two of them, from the page graphs (provenance left out)."""
    rows = store.select(
        f"SELECT ?s ?p ?o ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} {FACT_GRAPH_FILTER} "
        f"FILTER({is_node('?s')}) }} ORDER BY ?s"
    )
    subjects = {row["s"].value for row in rows}
    names: dict[str, Counter] = defaultdict(Counter)
    labels: dict[str, set[str]] = defaultdict(set)
    lists: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    values: dict[str, dict[str, set[Any]]] = defaultdict(lambda: defaultdict(set))
    edges: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for row in rows:
        iri, predicate, obj, page = row["s"].value, row["p"].value, row["o"], row["g"].value
        lists[iri]["pages"].add(page)
        if predicate == RDF + "type":
            labels[iri].add(property_key(obj.value))
        elif predicate == SCHEMA + "name":
            names[iri][obj.value] += 1
        elif predicate in _LISTS:
            lists[iri][_LISTS[predicate]].add(obj.value)
        elif isinstance(obj, NamedNode) and obj.value in subjects:
            edges[(iri, property_key(predicate), obj.value)].add(page)
        else:
            values[iri][predicate].add(obj)
    keys = _attribute_keys({p for facts in values.values() for p in facts})
    by_key: dict[str, list[Any]] = defaultdict(list)
    many = set()
    for facts in values.values():
        for predicate, terms in facts.items():
            by_key[keys[predicate]].extend(terms)
            if len(terms) > 1:
                many.add(keys[predicate])
    types = {key: _column_type(terms) for key, terms in by_key.items()}
    graph = PropertyGraph(
        columns=[
            Column("id", STRING, False),
            Column("name", STRING, False),
            *(Column(key, STRING, True) for key in FIXED[2:]),
            *(Column(key, types[key], key in many) for key in sorted(by_key)),
        ]
    )
    for iri in sorted(subjects):
        name = canonical_name(names[iri])
        aliases = (set(names[iri]) | lists[iri]["aliases"]) - {name}
        properties: dict[str, list[Any]] = {"id": [iri], "name": [name] if name else []}
        properties["aliases"] = sorted(aliases)
        for key in FIXED[3:]:
            properties[key] = sorted(lists[iri][key])
        for predicate, terms in values[iri].items():
            key = keys[predicate]
            properties[key] = sorted(_parse(types[key], t.value) for t in terms)
        graph.nodes.append(Node(iri, sorted(labels[iri]), properties))
    graph.edges = [
        Edge(source, target, kind, sorted(pages))
        for (source, kind, target), pages in sorted(edges.items())
    ]
    return graph


def _attribute_keys(predicates: set[str]) -> dict[str, str]:
    """A distinct property key per predicate, never one of FIXED (``foundingDate``; a second
    predicate with the same local name gets ``_2``)."""
    keys: dict[str, str] = {}
    taken = set(FIXED)
    for predicate in sorted(predicates, key=lambda p: (not p.startswith(SCHEMA), p)):
        key = base = property_key(predicate)
        number = 1
        while key in taken:
            number += 1
            key = f"{base}_{number}"
        keys[predicate] = key
        taken.add(key)
    return keys
