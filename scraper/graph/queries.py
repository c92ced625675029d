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

from scraper.graph.name_index import IndexedEntity, NameIndex
from scraper.graph.resolution import name_key
from scraper.graph.store import GraphStore, GraphStoreError, PageState, QuerySyntaxError
from scraper.graph.vocab import (
    ENTITY_TYPES,
    FACT_GRAPH_FILTER,
    KEY_INDEX_GRAPH,
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
    provenance_graph,
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


_UPDATE = re.compile(
    r"(?<![\w:?$])(INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD|WITH)(?![\w:-])",
    re.IGNORECASE,
)


def is_update(sparql: str) -> bool:
    """Whether the text is (or holds) a SPARQL update: a keyword only updates use (INSERT,
    DELETE, LOAD, DROP, ...), outside strings, IRIs and comments."""
    return bool(_UPDATE.search(_NOT_KEYWORDS.sub(" ", sparql)))


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
        values = f"VALUES ?k {{ {' '.join(str(Literal(k)) for k in sorted(keys))} }}"
        # The key index has one entry per node and key; the pages' own notes of the keys (a
        # store written before the index) have one per page naming the node.
        rows = store.select(
            f"SELECT DISTINCT ?e WHERE {{ {values} GRAPH {KEY_INDEX_GRAPH} {{ ?entry "
            "ss:keyValue ?k ; ss:keyKind ?kind ; ss:keyNode ?e } "
            "FILTER(?kind IN (ss:nameKey, ss:aliasKey)) } ORDER BY ?e"
        ) or store.select(
            f"SELECT DISTINCT ?e WHERE {{ {values} "
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
    rows = store.select(  # each name once with its count: a hub has one per page
        f"SELECT ?e ?n (COUNT(?g) AS ?c) WHERE {{ VALUES ?e {{ {values} }} "
        "GRAPH ?g { ?e schema:name ?n } } GROUP BY ?e ?n"
    )
    counts: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        counts[r["e"].value][r["n"].value] += int(r["c"].value)
    return {iri: name for iri, c in counts.items() if (name := canonical_name(c))}


def entity_name(store: GraphStore, iri: str) -> str | None:
    """The canonical name of a node (None when it has no name)."""
    return _names(store, {iri}).get(iri)


# What the store notes of an entity outside its pages' facts, by predicate: as subject its
# resolution keys and unmerge rules, as object mentions, reified statements and key-index
# entries. Excluding them keeps a node's facts as FACT_GRAPH_FILTER would, without making a
# string of the graph's name for each of a hub's thousands of rows.
_NOTES_OF_NODE = ("ss:idKey", "ss:nameKey", "ss:aliasKey", "ss:keepApart")
_NOTES_TO_NODE = ("rdf:subject", "rdf:object", "ss:node", "ss:keyNode")
# Predicates of what an entity is called and is; any other to a node is a relation.
_LABELS = {RDF + "type", SCHEMA + "name", SCHEMA + "alternateName", SCHEMA + "description"}
_LABELS |= {SCHEMA + "sameAs", OWL + "sameAs"}


def describe_entity(store: GraphStore, iri: str, limit: int | None = None) -> dict[str, Any]:
    """Everything the graph says about one entity, with the pages that say it.

    ``limit`` bounds what is listed page by page, for an entity named on thousands of pages:
    ``pages`` then holds ``limit`` of its pages (the first the store finds, in IRI order) and
    ``relations_out``, ``relations_in`` and ``mentions`` what those pages say. Types, names,
    aliases, descriptions and attributes always come from every page; ``counts`` gives how
    many pages and mentions there are in all.
    """
    node = NamedNode(iri)
    not_of_node = f"FILTER(?p NOT IN ({', '.join(_NOTES_OF_NODE)}))"
    # Each (predicate, value) once with the number of pages saying it: what every page of a
    # hub repeats (its type, name, url) comes back as one row, not one per page.
    out_facts = store.select(
        f"SELECT ?p ?o (COUNT(?g) AS ?n) WHERE {{ GRAPH ?g {{ {node} ?p ?o }} {not_of_node} }} "
        "GROUP BY ?p ?o"
    )
    facts = f"GRAPH ?g {{ {node} ?p ?o }} {not_of_node}"
    listed = store.select(
        f"SELECT DISTINCT ?g WHERE {{ {facts} }}" + ("" if limit is None else f" LIMIT {limit + 1}")
    )
    truncated = limit is not None and len(listed) > limit
    # A hub's pages are counted, and the ones listed are the first the store finds (sorting
    # thousands of pages to list twenty costs more than all the rest).
    pages = sorted(r["g"].value for r in listed[:limit])
    page_count = (
        _count(store, f"SELECT DISTINCT ?g WHERE {{ {facts} }}") if truncated else len(pages)
    )

    def on_pages(variable: str) -> str:
        # Only a truncated view is restricted to its pages: in a whole one, a page that
        # points at the entity without saying anything of it shows too.
        return f"VALUES ?{variable} {{ {' '.join(f'<{g}>' for g in pages)} }}" if truncated else ""

    nodes = _nodes(store, {r["o"].value for r in out_facts if isinstance(r["o"], NamedNode)})

    def is_relation(row: dict[str, Any]) -> bool:
        obj = row["o"]
        return row["p"].value not in _LABELS and isinstance(obj, NamedNode) and obj.value in nodes

    out_rows = store.select(
        f"SELECT ?p ?o ?g WHERE {{ {on_pages('g')} GRAPH ?g {{ {node} ?p ?o "
        f"FILTER(isIRI(?o)) }} {not_of_node} }}"
    )
    in_rows = store.select(
        f"SELECT ?s ?p ?g WHERE {{ {on_pages('g')} GRAPH ?g {{ ?s ?p {node} }} "
        f"FILTER(?p NOT IN ({', '.join(_NOTES_TO_NODE)})) }}"
    )
    mention = (  # in this order: oxigraph then starts from the node's mentions, not all pages
        f"?m ss:node {node} . ?page a ss:Page . ?m ss:mentionName ?name ; ss:matchedBy ?by ; "
        "ss:origin ?origin OPTIONAL { ?m ss:matchedKey ?key }"
    )
    # The listed pages' provenance graphs named one by one: oxigraph reads just those (with
    # VALUES it walks every mention of the hub, or every graph of the store).
    mention_graphs = " UNION ".join(
        f"{{ GRAPH {provenance_graph(NamedNode(page))} {{ {mention} }} }}" for page in pages
    )
    mentions = store.select(
        "SELECT ?page ?name ?by ?key ?origin WHERE { "
        f"{mention_graphs if truncated else f'GRAPH ?pg {{ {mention} }}'} }} ORDER BY ?page"
    )
    counts = {
        "pages": page_count,
        "mentions": _count(store, f"GRAPH ?pg {{ ?m ss:node {node} }}")
        if truncated
        else len(mentions),
    }
    names: Counter = Counter()
    aliases, descriptions, same_as = set(), set(), set()
    attributes: dict[str, set[str]] = defaultdict(set)
    for r in out_facts:
        predicate, value = r["p"].value, r["o"].value
        if predicate == RDF + "type":
            continue
        if predicate == SCHEMA + "name":
            names[value] += int(r["n"].value)
        elif predicate == SCHEMA + "alternateName":
            aliases.add(value)
        elif predicate == SCHEMA + "description":
            descriptions.add(value)
        elif predicate in (SCHEMA + "sameAs", OWL + "sameAs"):
            same_as.add(value)
        elif not is_relation(r):
            attributes[local(r["p"])].add(value)
    relations_out = {
        (local(r["p"]), r["o"].value, r["g"].value) for r in out_rows if is_relation(r)
    }
    relations_in = {(local(r["p"]), r["s"].value, r["g"].value) for r in in_rows}
    labels = _names(store, {o for _, o, _ in relations_out} | {s for _, s, _ in relations_in})
    name = canonical_name(names)
    return {
        "id": iri,
        "name": name,
        "types": sorted({short(r["o"]) for r in out_facts if r["p"].value == RDF + "type"}),
        "aliases": sorted((set(names) | aliases) - {name}),
        "descriptions": sorted(descriptions),
        "same_as": sorted(same_as),
        "attributes": {k: sorted(v) for k, v in sorted(attributes.items())},
        "relations_out": [
            {"type": p, "target": o, "target_name": labels.get(o), "page": g}
            | ({"target_facts": _node_facts(store, o)} if o.startswith(PAGE_NODE_PREFIX) else {})
            for p, o, g in sorted(relations_out)
        ],
        "relations_in": [
            {"type": p, "source": s, "source_name": labels.get(s), "page": g}
            for p, s, g in sorted(relations_in)
        ],
        "pages": pages,
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
        "counts": counts,
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


# --- What the web explorer (`scrapy graph serve`) shows -------------------------------------

NEIGHBOURHOOD_MAX_NODES = 500


def _types(store: GraphStore, iris: set[str]) -> dict[str, list[str]]:
    """The classes (``schema:Person``) of each of ``iris``, sorted."""
    if not iris:
        return {}
    values = " ".join(f"<{i}>" for i in sorted(iris))
    rows = store.select(
        f"SELECT DISTINCT ?e ?t WHERE {{ VALUES ?e {{ {values} }} GRAPH ?g {{ ?e a ?t }} "
        f"{FACT_GRAPH_FILTER} }}"
    )
    types: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        types[r["e"].value].append(short(r["t"]))
    return {iri: sorted(t) for iri, t in types.items()}


def main_type(types: list[str]) -> str:
    """The type a node is shown (and coloured) by: its contract-2 type when it has one."""
    coarse = [t for t in types if t.removeprefix("schema:") in ENTITY_TYPES]
    return (coarse or types or ["Thing"])[0].removeprefix("schema:")


def name_index(store: GraphStore) -> NameIndex:
    """Every entity's names and aliases, for search as you type (:class:`NameIndex`).

    Three lean scans (names, aliases, types), each on its predicate's index: names and
    aliases live in page graphs only, and our own classes (ss:Page, ss:Mention) are skipped.
    """
    named = store.select("SELECT ?e ?label WHERE { GRAPH ?g { ?e schema:name ?label } }")
    aliases = store.select(
        "SELECT DISTINCT ?e ?label WHERE { GRAPH ?g { ?e schema:alternateName ?label } }"
    )
    typed = store.select("SELECT DISTINCT ?e ?t WHERE { GRAPH ?g { ?e a ?t } }")
    names: dict[str, Counter] = defaultdict(Counter)
    for r in named:  # one row per page that gives the name: the most given is canonical
        names[r["e"].value][r["label"].value] += 1
    types: dict[str, list[str]] = defaultdict(list)
    for r in typed:
        if not r["t"].value.startswith(SS):
            types[r["e"].value].append(short(r["t"]))
    labels = [(r["e"].value, r["label"].value) for r in named + aliases]
    entities = [
        IndexedEntity(iri, canonical_name(names[iri]) or "", tuple(sorted(types.get(iri, []))))
        for iri in {iri for iri, _ in labels}
    ]
    return NameIndex(entities, labels)


def entity_types(store: GraphStore) -> list[str]:
    """Every class entities have (``schema:Person``, …), for a type filter."""
    rows = store.select(
        "SELECT DISTINCT ?t WHERE { GRAPH ?mg { ?m ss:node ?e } GRAPH ?g { ?e a ?t } "
        f"{FACT_GRAPH_FILTER} }}"
    )
    return sorted(short(r["t"]) for r in rows)


def _term_view(term: Any, nodes: set[str]) -> dict[str, Any]:
    """A fact's object for display: ``kind`` node, iri or literal, with its datatype or
    language."""
    if isinstance(term, NamedNode):
        kind = "node" if term.value in nodes else "iri"
        return {"kind": kind, "value": term.value, "short": short(term)}
    if isinstance(term, Literal):
        view = {"kind": "literal", "value": term.value, "datatype": short(term.datatype)}
        return view | ({"language": term.language} if term.language else {})
    return {"kind": "blank", "value": str(term)}


def entity_facts(store: GraphStore, iri: str) -> dict[str, Any]:
    """Every fact about ``iri`` (as subject: ``out``, as object: ``in``), each with the page
    it sits in and how that page said it (``origins``: ``LLM``/``StructuredData``, the
    relation's evidence), and ``pages``: each page's fetch time, model and prompt version."""
    node = NamedNode(iri)
    out_rows = store.select(
        f"SELECT ?p ?o ?g WHERE {{ GRAPH ?g {{ {node} ?p ?o }} {FACT_GRAPH_FILTER} }}"
    )
    in_rows = store.select(
        f"SELECT ?s ?p ?g WHERE {{ GRAPH ?g {{ ?s ?p {node} }} {FACT_GRAPH_FILTER} }}"
    )
    for r in out_rows:
        r["s"] = node
    for r in in_rows:
        r["o"] = node
    pages = {r["g"].value for r in out_rows + in_rows}
    origins = _origins(store, node, pages)
    objects = {r["o"].value for r in out_rows if isinstance(r["o"], NamedNode)}
    nodes = _nodes(store, objects)
    subjects = {r["s"].value for r in in_rows}
    labels = _names(store, nodes | subjects)
    facts: dict[str, dict[tuple[str, str, str, str], dict[str, Any]]] = {"out": {}, "in": {}}
    for direction, rows in (("out", out_rows), ("in", in_rows)):
        for r in rows:
            other = r["o"] if direction == "out" else r["s"]
            key = (r["p"].value, str(other), r["g"].value, direction)
            fact = facts[direction].setdefault(
                key,
                {
                    "property": short(r["p"]),
                    "value": _term_view(other, nodes | subjects),
                    "page": r["g"].value,
                    "origins": [],
                },
            )
            if isinstance(other, NamedNode) and other.value in labels:
                fact["value"]["name"] = labels[other.value]
            for said in origins.get((str(r["s"]), str(r["p"]), str(r["o"]), r["g"].value), []):
                if said not in fact["origins"]:
                    fact["origins"].append(said)
    states = store.page_states(pages) if pages else {}
    order = lambda f: (f["property"] != "rdf:type", f["property"], f["value"]["value"], f["page"])  # noqa: E731
    return {
        "out": sorted(facts["out"].values(), key=order),
        "in": sorted(facts["in"].values(), key=order),
        "pages": {url: _provenance_view(states.get(url)) for url in sorted(pages)},
    }


def _origins(
    store: GraphStore, node: NamedNode, pages: set[str]
) -> dict[tuple[str, str, str, str], list[dict[str, str]]]:
    """How each page said each fact about ``node`` (its subject or object): ``origin``
    (``LLM``, ``StructuredData``) and the relation's ``evidence``, by (s, p, o, page)."""
    said: dict[tuple[str, str, str, str], list[dict[str, str]]] = defaultdict(list)
    ordered = sorted(pages)
    for start in range(0, len(ordered), 200):
        graphs = " ".join(
            f"({to_iri(p)} {provenance_graph(to_iri(p))})" for p in ordered[start : start + 200]
        )
        rows = store.select(
            f"SELECT ?g ?s ?p ?o ?origin ?evidence WHERE {{ VALUES (?g ?pg) {{ {graphs} }} "
            f"GRAPH ?pg {{ {{ ?st rdf:subject {node} }} UNION {{ ?st rdf:object {node} }} "
            "?st rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ; ss:origin ?origin "
            "OPTIONAL { ?st ss:evidence ?evidence } } }"
        )
        for r in rows:
            view = {"origin": local_name_of(r["origin"])}
            view |= {"evidence": r["evidence"].value} if "evidence" in r else {}
            said[(str(r["s"]), str(r["p"]), str(r["o"]), r["g"].value)].append(view)
    return said


def local_name_of(term: Any) -> str:
    """The part of an IRI after its last ``#`` or ``/``."""
    value = term.value if isinstance(term, NamedNode) else str(term)
    return re.split(r"[#/]", value)[-1]


def _provenance_view(state: PageState | None) -> dict[str, Any]:
    if state is None:
        return {}
    return {
        "fetched_at": state.fetched_at,
        "changed_at": state.changed_at,
        "model": state.model,
        "prompt_version": state.prompt_version,
        "extraction_status": state.extraction_status,
        "content_hash": state.content_hash,
    }


def neighbourhood(
    store: GraphStore, iri: str, *, hops: int = 1, max_nodes: int = NEIGHBOURHOOD_MAX_NODES
) -> dict[str, Any]:
    """The nodes within ``hops`` relations of ``iri`` (either direction) and the relations
    between them: ``nodes`` (``id``, ``name``, ``type``, ``hop``), ``edges`` (``source``,
    ``target``, ``type``), ``truncated`` when more than ``max_nodes`` were reachable."""
    hop_of, frontier = {iri: 0}, {iri}
    edges: set[tuple[str, str, str]] = set()
    truncated = False
    for hop in range(1, max(1, hops) + 1):
        rows = _relations_touching(store, frontier)
        ends = {r[k].value for r in rows for k in ("s", "o")}
        found = sorted(_nodes(store, ends - hop_of.keys()))
        room = max_nodes - len(hop_of)
        if len(found) > room:
            found, truncated = found[:room], True
        hop_of |= dict.fromkeys(found, hop)
        edges |= {
            (r["s"].value, r["o"].value, short(r["p"]))
            for r in rows
            if r["s"].value in hop_of and r["o"].value in hop_of
        }
        frontier = set(found)
        if not frontier:
            break
    # Relations among the outermost nodes, which no hop has looked from yet.
    edges |= {
        (r["s"].value, r["o"].value, short(r["p"]))
        for r in _relations_touching(store, frontier)
        if r["s"].value in hop_of and r["o"].value in hop_of
    }
    names, types = _names(store, set(hop_of)), _types(store, set(hop_of))
    return {
        "center": iri,
        "nodes": [
            {"id": n, "name": names.get(n) or "", "type": main_type(types.get(n, [])), "hop": h}
            for n, h in sorted(hop_of.items(), key=lambda item: (item[1], item[0]))
        ],
        "edges": [{"source": s, "target": o, "type": p} for s, o, p in sorted(edges)],
        "truncated": truncated,
    }


def _relations_touching(store: GraphStore, iris: set[str]) -> list[dict[str, Any]]:
    """Triples ``?s ?p ?o`` of the page graphs with an IRI object and one end in ``iris``
    (types aside), 500 nodes a query."""
    rows: list[dict[str, Any]] = []
    ordered = sorted(iris)
    for start in range(0, len(ordered), 500):
        values = " ".join(f"<{i}>" for i in ordered[start : start + 500])
        rows += store.select(
            f"SELECT DISTINCT ?s ?p ?o WHERE {{ VALUES ?x {{ {values} }} "
            "{ GRAPH ?g { ?x ?p ?o } BIND(?x AS ?s) } "
            "UNION { GRAPH ?g { ?s ?p ?x } BIND(?x AS ?o) } "
            f"FILTER(isIRI(?s) && isIRI(?o) && ?p != rdf:type) {FACT_GRAPH_FILTER} }}"
        )
    return rows


def page_view(store: GraphStore, url: str) -> dict[str, Any] | None:
    """What one page contributed: its provenance and status (``state``), the ``mentions``
    it resolved (name as written, node, how it matched) and its ``facts`` (each with its
    origins); None when the store never saw the page."""
    state = store.page_state(url)
    if state is None:
        return None
    page = to_iri(url)
    prov = provenance_graph(page)
    mentions = store.select(
        f"SELECT ?node ?name ?by ?key ?origin WHERE {{ GRAPH {prov} {{ ?m ss:node ?node ; "
        "ss:mentionName ?name ; ss:matchedBy ?by ; ss:origin ?origin "
        "OPTIONAL { ?m ss:matchedKey ?key } } } ORDER BY ?name"
    )
    rows = store.select(
        f"SELECT ?s ?p ?o ?origin ?evidence WHERE {{ GRAPH {page} {{ ?s ?p ?o }} "
        f"OPTIONAL {{ GRAPH {prov} {{ ?st rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ; "
        "ss:origin ?origin OPTIONAL { ?st ss:evidence ?evidence } } } } ORDER BY ?s ?p ?o"
    )
    dropped = store.select(
        f"SELECT ?n WHERE {{ GRAPH {prov} {{ {page} ss:droppedRelations ?n }} }}"
    )
    subjects = {r["s"].value for r in rows}
    objects = {r["o"].value for r in rows if isinstance(r["o"], NamedNode)}
    nodes = _nodes(store, subjects | objects)
    labels = _names(store, nodes)
    facts: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        key = (str(r["s"]), str(r["p"]), str(r["o"]))
        fact = facts.setdefault(
            key,
            {
                "subject": r["s"].value,
                "subject_name": labels.get(r["s"].value),
                "property": short(r["p"]),
                "value": _term_view(r["o"], nodes),
                "origins": [],
            },
        )
        if isinstance(r["o"], NamedNode) and r["o"].value in labels:
            fact["value"]["name"] = labels[r["o"].value]
        if "origin" in r:
            said = {"origin": local_name_of(r["origin"])}
            said |= {"evidence": r["evidence"].value} if "evidence" in r else {}
            if said not in fact["origins"]:
                fact["origins"].append(said)
    return {
        "url": state.url,
        "state": _provenance_view(state)
        | {
            "last_attempt_at": state.last_attempt_at,
            "canonical_url": state.canonical_url,
            "requested_url": state.requested_url,
            "schema": state.schema,
            "etag": state.etag,
            "last_modified": state.last_modified,
            "needs_retry": state.needs_retry,
            "failures": state.failures,
            "dropped_relations": int(dropped[0]["n"].value) if dropped else 0,
        },
        "mentions": [
            {
                "node": m["node"].value,
                "node_name": labels.get(m["node"].value),
                "name": m["name"].value,
                "matched_by": m["by"].value,
                "matched_key": m["key"].value if "key" in m else None,
                "origin": local_name_of(m["origin"]),
            }
            for m in mentions
        ],
        "facts": list(facts.values()),
    }


def find_pages(store: GraphStore, text: str = "", limit: int = 200) -> list[dict[str, Any]]:
    """Pages whose URL contains ``text`` (all when empty), failed ones first, each with its
    status and times; at most ``limit``."""
    filter_ = f"FILTER(CONTAINS(LCASE(STR(?page)), {Literal(text.lower())}))" if text else ""
    rows = store.select(
        "SELECT ?page ?fetched ?changed ?attempt ?status (COUNT(?f) AS ?failures) "
        "WHERE { GRAPH ?g { ?page a ss:Page OPTIONAL { ?page ss:fetchedAt ?fetched } "
        "OPTIONAL { ?page ss:lastAttemptAt ?attempt } "
        "OPTIONAL { ?page ss:changedAt ?changed } OPTIONAL { ?page ss:extractionStatus ?status } "
        f"OPTIONAL {{ ?page ss:failure ?f }} }} {filter_} }} "
        "GROUP BY ?page ?fetched ?changed ?attempt ?status ORDER BY DESC(?failures) ?page "
        f"LIMIT {int(limit)}"
    )
    return [
        {
            "url": r["page"].value,
            "fetched_at": r["fetched"].value if "fetched" in r else None,
            "changed_at": r["changed"].value if "changed" in r else None,
            "last_attempt_at": r["attempt"].value if "attempt" in r else None,
            "extraction_status": r["status"].value if "status" in r else None,
            "failures": int(r["failures"].value),
        }
        for r in rows
    ]
