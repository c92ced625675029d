"""Read-side views of the graph used by ``scrapy graph``: stats, entity lookup, exports."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import IO, Any

from pyoxigraph import (
    Literal,
    NamedNode,
    QueryBoolean,
    QueryResultsFormat,
    QuerySolutions,
    RdfFormat,
    serialize,
)

from scraper.graph.resolution import name_key
from scraper.graph.store import GraphStore, GraphStoreError, QuerySyntaxError
from scraper.graph.vocab import (
    ENTITY_TYPES,
    FACT_GRAPH_FILTER,
    OWL,
    PAGE_NODE_PREFIX,
    PREFIXES,
    RDF,
    SCHEMA,
    SPARQL_PREFIXES,
    SS,
    is_entity,
    is_node,
    node_iri,
    to_iri,
)

EXPORT_FORMATS = ("nquads", "turtle", "jsonld", "jsonl")
# Graphs named urn:semantic-scraper:… hold provenance and curation, not facts.
_MAX_MESSAGE = 160
_ERROR_POSITION = re.compile(r"(error at )(\d+):(\d+)")


def short(term: Any) -> str:
    """A compact text form of a term: prefixed IRIs, plain literal values."""
    if term is None:
        return ""
    if isinstance(term, NamedNode):
        for prefix, iri in PREFIXES.items():
            if term.value.startswith(iri):
                return f"{prefix}:{term.value[len(iri) :]}"
        return term.value
    if isinstance(term, Literal):
        return term.value
    return str(term)


def run_query(store: GraphStore, sparql: str, *, allow_service: bool = False) -> Any:
    """Run a user's query with the schema/rdf/xsd/owl/ss prefixes predeclared.

    A federated query (``SERVICE <url>``) is refused unless ``allow_service``: it would make
    the store send requests to whatever server the query names.

    Its default graph is the union of the page graphs (every fact, none of the provenance),
    so ``DESCRIBE <node>`` and patterns outside ``GRAPH`` see the whole graph; ``GRAPH ?g``
    still reaches every named graph, provenance included.
    """
    if is_update(sparql):
        raise QueryRefused(
            "this is a SPARQL update: queries here are read-only (SELECT, ASK, CONSTRUCT, "
            "DESCRIBE); change the graph by crawling, or with drop-page and unmerge"
        )
    if is_federated(sparql) and not allow_service:
        raise QueryRefused(
            "SERVICE (a federated query) is off: it would make the graph store send requests "
            "to other servers; allow it with -s GRAPH_QUERY_SERVICE=True"
        )
    prologue = SPARQL_PREFIXES.replace("\n", " ")
    pages = [NamedNode(url) for url in store.pages()]
    try:
        return store.query(prologue + sparql, default_graphs=pages)
    except QuerySyntaxError as exc:
        # The prologue sits on line 1: give positions in the user's own text.
        message = str(exc).replace(prologue, "")
        message = _ERROR_POSITION.sub(
            lambda m: (
                m.group(1)
                + f"{m.group(2)}:"
                + str(int(m.group(3)) - (len(prologue) if m.group(2) == "1" else 0))
            ),
            message,
        )
        if len(message) > _MAX_MESSAGE:  # parsers list every token they expected
            message = message[:_MAX_MESSAGE].rsplit(",", 1)[0] + ", …"
        raise QuerySyntaxError(message + _pointer(sparql, message)) from None


class QueryRefused(GraphStoreError):
    """A query the store is not allowed to run (a federated ``SERVICE`` clause)."""


def _pointer(sparql: str, message: str) -> str:
    """The offending line of the query with a caret under the error position."""
    match = _ERROR_POSITION.search(message)
    lines = sparql.splitlines()
    if not match or not 0 < int(match.group(2)) <= len(lines):
        return ""
    line, column = lines[int(match.group(2)) - 1], int(match.group(3))
    return f"\n  {line}\n  {' ' * max(column - 1, 0)}^"


def canonical_name(names: Counter) -> str | None:
    """The name most pages use; ties go to the longer (more complete) name."""
    if not names:
        return None
    return max(names, key=lambda n: (names[n], len(n), n))


def local(term: NamedNode) -> str:
    """Local name of a schema.org property (other IRIs stay whole), for JSON outputs."""
    return term.value.removeprefix(SCHEMA)


def format_result(result: Any, fmt: str, out: IO[str]) -> None:
    """Write a query result as ``table``, ``json`` or ``csv``."""
    if isinstance(result, QuerySolutions | QueryBoolean):
        if fmt in ("json", "csv"):
            kind = QueryResultsFormat.JSON if fmt == "json" else QueryResultsFormat.CSV
            text = _serialized(result, kind)
            out.write(printable_json(text) + "\n" if fmt == "json" else text)
        elif isinstance(result, QueryBoolean):
            out.write(f"{'true' if result else 'false'}\n")
        else:
            names = [v.value for v in result.variables]
            rows = [[_cell(row[n]) for n in names] for row in result]
            _table(names, rows, out)
        return
    triples = list(result)  # CONSTRUCT / DESCRIBE
    out.write((serialize(triples, format=RdfFormat.N_TRIPLES) or b"").decode("utf-8"))


def _serialized(result: QuerySolutions | QueryBoolean, kind: QueryResultsFormat) -> str:
    """A result in ``kind``; without an output file pyoxigraph returns the bytes."""
    return (result.serialize(format=kind) or b"").decode("utf-8")


# Control characters (terminal escape sequences among them) and the bidirectional-text
# controls that reorder what a reader sees, which a page may put in a name.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: control characters written as escapes (a page
    named "\x1b]0;pwned\x07" cannot retitle, recolour or clear the reader's terminal)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


# What a JSON serializer leaves raw inside strings (it escapes U+0000-U+001F itself; raw
# newlines and tabs outside strings are its layout).
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable_json(text: str) -> str:
    """JSON ``text`` with the characters of :func:`printable` written as ``\\uXXXX``
    escapes: the same JSON (they occur only inside its strings), now safe to print."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _cell(term: Any, width: int = 80) -> str:
    text = printable(short(term))
    return text if len(text) <= width else text[: width - 1] + "…"


# SERVICE outside strings, IRIs and comments: a federated query, which has the store send
# requests to any server the query names.
_NOT_KEYWORDS = re.compile(
    r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\''
    r"|<[^<>\"{}|^`\\\s]*>|#[^\n]*"
)
_SERVICE = re.compile(r"(?<![\w:])SERVICE(?![\w:-])", re.IGNORECASE)


def is_federated(sparql: str) -> bool:
    """Whether the query has a ``SERVICE`` clause."""
    return bool(_SERVICE.search(_NOT_KEYWORDS.sub(" ", sparql)))


# The first keyword after the prologue (BASE and PREFIX declarations) says what a request is.
_PROLOGUE = re.compile(r"\s*(?:(?:BASE|PREFIX\s+[^\s:]*:)\s*)*(\w+)", re.IGNORECASE)
_UPDATE_KEYWORDS = frozenset(
    ("insert", "delete", "load", "clear", "drop", "create", "add", "move", "copy", "with")
)


def is_update(sparql: str) -> bool:
    """Whether the request is a SPARQL update (INSERT, DELETE, LOAD, DROP, ...)."""
    match = _PROLOGUE.match(_NOT_KEYWORDS.sub(" ", sparql))
    return match is not None and match.group(1).lower() in _UPDATE_KEYWORDS


def _table(names: list[str], rows: list[list[str]], out: IO[str]) -> None:
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
    out.write("  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


def _count(store: GraphStore, where: str) -> int:
    rows = store.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ {where} }}")
    return int(rows[0]["n"].value) if rows else 0


def stats(store: GraphStore) -> dict[str, Any]:
    """Sizes of the graph: pages, entities by type, facts, relations, merges, origins."""
    entity = f"FILTER({is_entity('?e')})"
    types = store.select(
        "SELECT ?t (COUNT(DISTINCT ?e) AS ?n) WHERE { GRAPH ?g { ?e a ?t } "
        f"{entity} {FACT_GRAPH_FILTER} }} GROUP BY ?t ORDER BY DESC(?n)"
    )
    origins = store.select(
        "SELECT ?origin (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?st rdf:subject ?s ; "
        "ss:origin ?origin } } GROUP BY ?origin"
    )
    return {
        "store": store.location,
        "pages": _count(store, "SELECT DISTINCT ?p WHERE { GRAPH ?g { ?p a ss:Page } }"),
        "pages_needing_retry": _count(
            store, "SELECT DISTINCT ?p WHERE { GRAPH ?g { ?p a ss:Page ; ss:failure ?f } }"
        ),
        "entities": _count(
            store,
            f"SELECT DISTINCT ?e WHERE {{ GRAPH ?g {{ ?e a ?t }} {entity} {FACT_GRAPH_FILTER} }}",
        ),
        "entities_by_type": {short(r["t"]): int(r["n"].value) for r in types},
        "facts": _count(store, f"GRAPH ?g {{ ?s ?p ?o }} {FACT_GRAPH_FILTER}"),
        "page_nodes": _count(
            store,
            f"SELECT DISTINCT ?e WHERE {{ GRAPH ?g {{ ?e ?p ?o }} {FACT_GRAPH_FILTER} "
            f'FILTER(STRSTARTS(STR(?e), "{PAGE_NODE_PREFIX}")) }}',
        ),
        "relations": _count(
            store, f"GRAPH ?g {{ ?s ?p ?o }} FILTER({is_node('?o')}) " + FACT_GRAPH_FILTER
        ),
        "mentions": _count(store, "GRAPH ?g { ?m a ss:Mention }"),
        "merged_mentions": _count(
            store, 'GRAPH ?g { ?m a ss:Mention ; ss:matchedBy ?by FILTER(?by != "new") }'
        ),
        "facts_by_origin": {short(r["origin"]): int(r["n"].value) for r in origins},
    }


def _nodes(store: GraphStore, iris: set[str]) -> set[str]:
    """Those of ``iris`` that are nodes of the graph (not IRI values such as a URL)."""
    nodes = {iri for iri in iris if iri.startswith(PAGE_NODE_PREFIX)}
    others = sorted(iris - nodes)
    for start in range(0, len(others), 500):
        values = " ".join(f"<{iri}>" for iri in others[start : start + 500])
        rows = store.select(
            f"SELECT DISTINCT ?e WHERE {{ VALUES ?e {{ {values} }} GRAPH ?g {{ ?m ss:node ?e }} }}"
        )
        nodes |= {row["e"].value for row in rows}
    return nodes


def _is_iri(text: str) -> bool:
    """True when ``text`` is an absolute IRI (a name such as ``Note: x`` is not)."""
    try:
        node_iri(text)
    except ValueError:
        return False
    return True


def find_entities(store: GraphStore, name: str) -> list[str]:
    """IRIs of entities called ``name``: by its resolution keys (normalised, any type, aliases
    too), else by any name or alias written exactly so (case aside), else by an identity the
    pages gave it (``owl:sameAs``/``schema:sameAs``); a node's own IRI finds the node."""
    if _is_iri(name.strip()) and _nodes(store, {name.strip()}):
        return [name.strip()]
    keys = {key for t in ENTITY_TYPES if (key := name_key(t, name))}
    if keys:
        values = " ".join(str(Literal(k)) for k in sorted(keys))
        rows = store.select(
            f"SELECT DISTINCT ?e WHERE {{ VALUES ?k {{ {values} }} "
            "GRAPH ?g { ?e ss:nameKey|ss:aliasKey ?k } } ORDER BY ?e"
        )
        if rows:
            return [r["e"].value for r in rows]
    rows = store.select(
        "SELECT DISTINCT ?e WHERE { GRAPH ?g { ?e schema:name|schema:alternateName ?label } "
        f"FILTER(LCASE(STR(?label)) = LCASE({Literal(name.strip())})) {FACT_GRAPH_FILTER} }} "
        "ORDER BY ?e"
    )
    if not rows and ":" in name:
        try:
            iri = to_iri(name)
        except ValueError:
            return []
        rows = store.select(
            f"SELECT DISTINCT ?e WHERE {{ GRAPH ?g {{ ?e owl:sameAs|schema:sameAs {iri} }} "
            f"{FACT_GRAPH_FILTER} }} ORDER BY ?e"
        )
    return [r["e"].value for r in rows]


def similar_names(store: GraphStore, name: str, limit: int = 10) -> list[str]:
    """Names containing ``name`` (case-insensitive), for "did you mean" hints."""
    rows = store.select(
        "SELECT DISTINCT ?label WHERE { GRAPH ?g { ?e schema:name|schema:alternateName ?label } "
        f"FILTER(CONTAINS(LCASE(STR(?label)), LCASE({Literal(name)}))) }} LIMIT {limit}"
    )
    return sorted(r["label"].value for r in rows)


def _names(store: GraphStore, iris: set[str]) -> dict[str, str]:
    if not iris:
        return {}
    values = " ".join(f"<{i}>" for i in sorted(iris))
    rows = store.select(
        f"SELECT ?e ?n WHERE {{ VALUES ?e {{ {values} }} GRAPH ?g {{ ?e schema:name ?n }} }}"
    )
    counts: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        counts[r["e"].value][r["n"].value] += 1
    return {iri: name for iri, c in counts.items() if (name := canonical_name(c))}


def describe_entity(store: GraphStore, iri: str) -> dict[str, Any]:
    """Everything the graph says about one entity, with the pages that say it."""
    node = NamedNode(iri)
    out_rows = store.select(
        f"SELECT ?p ?o ?g WHERE {{ GRAPH ?g {{ {node} ?p ?o }} {FACT_GRAPH_FILTER} }}"
    )
    in_rows = store.select(
        f"SELECT ?s ?p ?g WHERE {{ GRAPH ?g {{ ?s ?p {node} }} {FACT_GRAPH_FILTER} }}"
    )
    mentions = store.select(
        "SELECT ?page ?name ?by ?key ?origin WHERE { GRAPH ?pg { "
        f"?m ss:node {node} ; ss:mentionName ?name ; ss:matchedBy ?by ; ss:origin ?origin "
        "OPTIONAL { ?m ss:matchedKey ?key } ?page a ss:Page } } ORDER BY ?page"
    )
    names: Counter = Counter()
    view: dict[str, Any] = {
        "id": iri,
        "types": set(),
        "aliases": set(),
        "descriptions": set(),
        "same_as": set(),
        "attributes": defaultdict(set),
        "relations_out": set(),
        "relations_in": set(),
        "pages": set(),
    }
    related: set[str] = set()
    nodes = _nodes(store, {r["o"].value for r in out_rows if isinstance(r["o"], NamedNode)})
    for r in out_rows:
        predicate, obj, page = r["p"].value, r["o"], r["g"].value
        view["pages"].add(page)
        if predicate == RDF + "type":
            view["types"].add(short(obj))
        elif predicate == SCHEMA + "name":
            names[obj.value] += 1
        elif predicate == SCHEMA + "alternateName":
            view["aliases"].add(obj.value)
        elif predicate == SCHEMA + "description":
            view["descriptions"].add(obj.value)
        elif predicate in (SCHEMA + "sameAs", OWL + "sameAs"):
            view["same_as"].add(obj.value)
        elif isinstance(obj, NamedNode) and obj.value in nodes:
            view["relations_out"].add((local(r["p"]), obj.value, page))
            related.add(obj.value)
        else:
            view["attributes"][local(r["p"])].add(obj.value)
    for r in in_rows:
        view["relations_in"].add((local(r["p"]), r["s"].value, r["g"].value))
        related.add(r["s"].value)
    labels = _names(store, related)
    name = canonical_name(names)
    return {
        "id": iri,
        "name": name,
        "types": sorted(view["types"]),
        "aliases": sorted((set(names) | view["aliases"]) - {name}),
        "descriptions": sorted(view["descriptions"]),
        "same_as": sorted(view["same_as"]),
        "attributes": {k: sorted(v) for k, v in sorted(view["attributes"].items())},
        "relations_out": [
            {"type": p, "target": o, "target_name": labels.get(o), "page": g}
            | ({"target_facts": _node_facts(store, o)} if o.startswith(PAGE_NODE_PREFIX) else {})
            for p, o, g in sorted(view["relations_out"])
        ],
        "relations_in": [
            {"type": p, "source": s, "source_name": labels.get(s), "page": g}
            for p, s, g in sorted(view["relations_in"])
        ],
        "pages": sorted(view["pages"]),
        "mentions": [
            {
                "page": m["page"].value,
                "name": m["name"].value,
                "matched_by": m["by"].value,
                "matched_key": m["key"].value if "key" in m else None,
                "origin": short(m["origin"]),
            }
            for m in mentions
        ],
    }


def _node_facts(store: GraphStore, iri: str, depth: int = 2) -> dict[str, list[Any]]:
    """What the graph says of a page's own node (an offer, an address), nested nodes inline."""
    rows = store.select(
        f"SELECT ?p ?o WHERE {{ GRAPH ?g {{ <{iri}> ?p ?o }} {FACT_GRAPH_FILTER} }} ORDER BY ?p"
    )
    facts: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        obj = r["o"]
        if r["p"].value == RDF + "type":
            facts["type"].append(local(obj))
        elif isinstance(obj, NamedNode) and obj.value.startswith(PAGE_NODE_PREFIX) and depth > 0:
            facts[local(r["p"])].append(_node_facts(store, obj.value, depth - 1))
        else:
            facts[local(r["p"])].append(short(obj))
    return dict(facts)


def export(store: GraphStore, fmt: str, out: IO[bytes]) -> None:
    """Write the graph: ``nquads`` and ``jsonld`` with every named graph (facts and
    provenance); ``turtle`` the facts merged into one graph; ``jsonl`` one entity a line."""
    if fmt == "nquads":
        serialize(store.quads(), out, RdfFormat.N_QUADS)
    elif fmt == "jsonld":
        serialize(store.quads(), out, RdfFormat.JSON_LD)
    elif fmt == "turtle":
        facts = {q.triple for q in store.quads() if not str(q.graph_name).startswith("<urn:")}
        serialize(facts, out, RdfFormat.TURTLE, prefixes={"schema": SCHEMA, "ss": SS})
    elif fmt == "jsonl":
        for entity in entity_lines(store):
            out.write(json.dumps(entity, ensure_ascii=False).encode("utf-8") + b"\n")
    else:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")


def entity_lines(store: GraphStore) -> Iterator[dict[str, Any]]:
    """One JSON object per entity: names, types, attributes, outgoing relations, pages."""
    rows = store.select(
        f"SELECT ?s ?p ?o ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} {FACT_GRAPH_FILTER} "
        f"FILTER({is_entity('?s')}) }} ORDER BY ?s"
    )
    by_entity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_entity[r["s"].value].append(r)
    labels: dict[str, Counter] = defaultdict(Counter)
    for iri, facts in by_entity.items():
        for r in facts:
            if r["p"].value == SCHEMA + "name":
                labels[iri][r["o"].value] += 1
    names = {iri: canonical_name(c) for iri, c in labels.items()}
    objects = {r["o"].value for f in by_entity.values() for r in f if isinstance(r["o"], NamedNode)}
    nodes = _nodes(store, objects)
    for iri, facts in by_entity.items():
        entity: dict[str, Any] = {"id": iri, "name": names.get(iri), "types": set()}
        entity |= {"alternateNames": set(), "attributes": defaultdict(set), "relations": set()}
        entity |= {"description": set(), "sameAs": set()}
        pages = set()
        for r in facts:
            predicate, obj = r["p"].value, r["o"]
            pages.add(r["g"].value)
            if predicate == RDF + "type":
                entity["types"].add(short(obj))
            elif predicate in (SCHEMA + "name", SCHEMA + "alternateName"):
                entity["alternateNames"].add(obj.value)
            elif predicate in (SCHEMA + "description", SCHEMA + "sameAs"):
                entity[local(r["p"])].add(obj.value)
            elif isinstance(obj, NamedNode) and obj.value in nodes:
                entity["relations"].add((local(r["p"]), obj.value))
            else:
                entity["attributes"][local(r["p"])].add(obj.value)
        yield {
            "id": iri,
            "name": entity["name"],
            "types": sorted(entity["types"]),
            "alternateNames": sorted(entity["alternateNames"] - {entity["name"]}),
            "description": sorted(entity["description"]),
            "sameAs": sorted(entity["sameAs"]),
            "attributes": {k: sorted(v) for k, v in sorted(entity["attributes"].items())},
            "relations": [
                {"type": p, "target": o, "targetName": names.get(o)}
                for p, o in sorted(entity["relations"])
            ],
            "pages": sorted(pages),
        }
