"""The graph store API shared by the embedded and the SPARQL-endpoint backends.

Backends only run SPARQL: ``query`` (SELECT/ASK/CONSTRUCT) and ``update`` (one request,
applied atomically). Everything else — resolution lookups, atomic page replacement,
provenance, moves and drops — is built here from those two, so both backends behave
the same and are tested the same.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyoxigraph import BlankNode, Literal, NamedNode, Quad, QueryBoolean, QuerySolutions

from scraper.extract.vocabulary import kinds_differ
from scraper.facts import Origin, PageFacts
from scraper.graph.mapping import (
    PageGraph,
    PageProvenance,
    build_page_graph,
    checked_facts,
    datetime_literal,
    mention_keys,
)
from scraper.graph.resolution import KnownNode, Resolution, Resolver
from scraper.graph.vocab import (
    CURATION_GRAPH,
    FACT_GRAPH_FILTER,
    KEY_INDEX_GRAPH,
    PAGE_NODE,
    PROVENANCE_PREFIX,
    RDF_TYPE,
    SPARQL_PREFIXES,
    is_entity,
    key_entry_iri,
    key_entry_sparql,
    page_node_iri,
    provenance_graph,
    ss,
    to_iri,
)


class GraphStoreError(Exception):
    """A graph store problem with a message meant for users."""


class StoreUnavailable(GraphStoreError):
    """The store cannot be reached or failed while answering (worth retrying)."""


class StoreLocked(GraphStoreError):
    """Another process writes to the embedded store."""


class QuerySyntaxError(GraphStoreError):
    """The SPARQL text is invalid."""


class InvalidPage(GraphStoreError):
    """The page cannot be stored (bad URL or extraction that breaks the input contract)."""


@dataclass
class PageState:
    """What the store remembers of a page (what issue-5 re-crawls compare against)."""

    url: str
    content_hash: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: str | None = None
    model: str | None = None
    prompt_version: str | None = None
    schema: str | None = None
    extraction_status: str | None = None
    requested_url: str | None = None
    canonical_url: str | None = None
    last_attempt_at: str | None = None
    changed_at: str | None = None  # the fetch that stored the facts the page has now
    failures: list[dict[str, str]] = field(default_factory=list)

    @property
    def needs_retry(self) -> bool:
        """The last attempt failed: its facts (if any) are older than the page."""
        return bool(self.failures)

    def provenance(self) -> PageProvenance:
        """The provenance these facts were stored with, every field of it."""
        shared = {f.name for f in dataclasses.fields(PageProvenance)}
        return PageProvenance(
            **{name: value for name, value in vars(self).items() if name in shared}
        )


@dataclass
class ReplaceResult:
    """Counts of one page replacement, for crawl reports."""

    facts_added: int
    facts_removed: int
    entities: int
    relations: int
    merged_mentions: int
    dropped_relations: int


# A resolution key a page asserts of a node: (node IRI, ss:idKey|nameKey|aliasKey IRI, key).
KeyAssertion = tuple[str, str, str]
KEY_KINDS = (ss("idKey"), ss("nameKey"), ss("aliasKey"))
KEY_KINDS_IRIS = tuple(kind.value for kind in KEY_KINDS)
_KEY_KIND_FILTER = f"FILTER(?kind IN ({', '.join(map(str, KEY_KINDS))}))"


@dataclass
class WriteBatch:
    """Writes of several pages gathered into one atomic update request.

    ``key_changes`` is how many more (or fewer) pages assert each resolution key once the
    batch is written: the key index changes by that much, and resolution of a later page
    of the batch sees it before it is written.
    """

    operations: list[str] = field(default_factory=list)
    key_changes: Counter[KeyAssertion] = field(default_factory=Counter)
    pages: set[NamedNode] = field(default_factory=set)

    def add(
        self,
        pages: Iterable[NamedNode],
        request: str,
        keys_added: Iterable[KeyAssertion] = (),
        keys_removed: Iterable[KeyAssertion] = (),
    ) -> None:
        self.pages.update(pages)
        self.operations.append(request)
        self.key_changes.update(keys_added)
        self.key_changes.subtract(keys_removed)

    def request(self) -> str:
        """The whole batch as one SPARQL update ("" when it writes nothing)."""
        changes = {entry: n for entry, n in self.key_changes.items() if n}
        return ";\n".join([*self.operations, *_key_index_update(changes)])

    def clear(self) -> None:
        self.operations.clear()
        self.key_changes.clear()
        self.pages.clear()


def _key_index_update(changes: dict[KeyAssertion, int]) -> list[str]:
    """Operations adding ``changes`` to the key index's page counts; an entry no page
    asserts any more leaves the index."""
    if not changes:
        return []
    index = KEY_INDEX_GRAPH
    rows = " ".join(
        f"({key_entry_iri(*entry)} {NamedNode(entry[0])} {NamedNode(entry[1])} "
        f"{Literal(entry[2])} {n})"
        for entry, n in sorted(changes.items())
    )
    operations = [
        f"DELETE {{ GRAPH {index} {{ ?e {ss('keyPages')} ?c }} }}\n"
        f"INSERT {{ GRAPH {index} {{ ?e {ss('keyNode')} ?node ; {ss('keyKind')} ?kind ; "
        f"{ss('keyValue')} ?key ; {ss('keyPages')} ?sum }} }}\n"
        f"WHERE {{ VALUES (?e ?node ?kind ?key ?n) {{ {rows} }}\n"
        f"  OPTIONAL {{ GRAPH {index} {{ ?e {ss('keyPages')} ?c }} }} "
        "BIND(COALESCE(?c, 0) + ?n AS ?sum) }"
    ]
    fewer = [key_entry_iri(*entry) for entry, n in changes.items() if n < 0]
    if fewer:
        operations.append(
            f"DELETE {{ GRAPH {index} {{ ?e ?p ?o }} }}\n"
            f"WHERE {{ VALUES ?e {{ {_values(fewer)} }} "
            f"GRAPH {index} {{ ?e {ss('keyPages')} ?c ; ?p ?o }} FILTER(?c <= 0) }}"
        )
    return operations


def _keys_of(annotations: Iterable[Quad]) -> set[KeyAssertion]:
    """The resolution keys among a page's provenance quads."""
    return {
        (q.subject.value, q.predicate.value, q.object.value)
        for q in annotations
        if q.predicate in KEY_KINDS
        and isinstance(q.subject, NamedNode)
        and isinstance(q.object, Literal)
    }


def sparql_term(term: Any) -> str:
    """A term in SPARQL/N-Triples syntax (escaping handled by pyoxigraph)."""
    return str(term)


def _data_block(quads: Iterable[Quad]) -> str:
    by_graph: dict[str, list[str]] = {}
    for q in quads:
        by_graph.setdefault(str(q.graph_name), []).append(f"{q.subject} {q.predicate} {q.object} .")
    return "\n".join(f"GRAPH {g} {{\n" + "\n".join(t) + "\n}" for g, t in by_graph.items())


def insert_data(quads: list[Quad]) -> str:
    return f"INSERT DATA {{\n{_data_block(quads)}\n}}" if quads else ""


def _values(terms: Iterable[Any]) -> str:
    return " ".join(sparql_term(t) for t in terms)


def _failure(row: dict[str, Any]) -> dict[str, str]:
    """A recorded failure of a page from a row with ``?stage ?reason`` and maybe ``?detail``."""
    return {
        "stage": row["stage"].value,
        "reason": row["reason"].value,
        "detail": _value(row.get("detail")) or "",
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _value(term: Any) -> str | None:
    return None if term is None else term.value


class GraphStore(ABC):
    """A knowledge-graph store: pages' facts in per-page named graphs plus provenance."""

    location: str
    _batch: WriteBatch | None = None  # the open write_batch
    _key_index_checked = False

    # --- backend primitives -------------------------------------------------
    @abstractmethod
    def query(
        self, sparql: str, default_graphs: list[NamedNode] | None = None
    ) -> QuerySolutions | QueryBoolean | Iterator[Any]:
        """Run a SPARQL query (its default graph the union of ``default_graphs`` when given;
        the named graphs stay available to ``GRAPH``). Raises QuerySyntaxError or
        StoreUnavailable."""

    @abstractmethod
    def update(self, sparql: str) -> None:
        """Run one SPARQL update request atomically."""

    @abstractmethod
    def quads(self) -> Iterator[Quad]:
        """Every quad of the store (for exports)."""

    @abstractmethod
    def close(self) -> None:
        """Release the store (locks, connections)."""

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _asks(self, sparql: str) -> bool:
        result = self.query(SPARQL_PREFIXES + sparql)
        if not isinstance(result, QueryBoolean):
            raise GraphStoreError("expected an ASK query")
        return bool(result)

    def select(self, sparql: str) -> list[dict[str, Any]]:
        """Rows of a SELECT query as ``{variable: term}`` dicts (unbound variables absent)."""
        result = self.query(SPARQL_PREFIXES + sparql)
        if not isinstance(result, QuerySolutions):
            raise GraphStoreError("expected a SELECT query")
        names = [v.value for v in result.variables]
        return [{n: v for n in names if (v := row[n]) is not None} for row in result]

    # --- pages ----------------------------------------------------------------
    def replace_page(
        self,
        provenance: PageProvenance,
        facts: PageFacts,
        *,
        ignore_pages: Iterable[str] = (),
    ) -> ReplaceResult:
        """Store a page's facts and provenance, replacing what the page had, atomically.

        Resolution sees every stored page, this page's previous facts included (so its
        nodes keep their IRIs), except ``ignore_pages`` (used when re-resolving pages).
        """
        try:
            parsed = checked_facts(facts)
            page = to_iri(provenance.url)
        except ValueError as exc:
            raise InvalidPage(str(exc)) from exc
        ignored = [page_iri(url) for url in ignore_pages]
        with self.write_batch() as batch:
            self._apart_from_batch(page, *ignored)
            graph = page_graph(provenance, parsed, self._known_nodes(parsed, ignored))
            old = self._fact_keys(page)
            old_keys = self._page_keys(page)
            new_keys = _keys_of(graph.annotations)
            batch.add(
                [page], self._replace_request(graph), new_keys - old_keys, old_keys - new_keys
            )
        new = {(str(q.subject), str(q.predicate), str(q.object)) for q in graph.facts}
        return ReplaceResult(
            facts_added=len(new - old),
            facts_removed=len(old - new),
            entities=graph.entities,
            relations=graph.relations,
            merged_mentions=graph.merged_mentions,
            dropped_relations=graph.dropped_relations,
        )

    # --- batches ----------------------------------------------------------------
    @contextmanager
    def write_batch(self) -> Iterator[WriteBatch]:
        """Gather the page writes (replace, record, drop, move) made inside into one
        atomic update, written when the block ends (nothing of it when it raises).

        Each page stays atomic: a page written twice in one batch splits it there, so
        every read a write makes (a page's old facts) sees the page as written before.
        Inside an open batch this joins it.
        """
        if self._batch is not None:
            yield self._batch
            return
        self._ensure_key_index()
        self._batch = WriteBatch()
        try:
            yield self._batch
            self._commit_batch()
        finally:
            self._batch = None

    def _commit_batch(self) -> None:
        assert self._batch is not None, "called inside write_batch"
        request = self._batch.request()
        if request:
            self.update(request)
        self._batch.clear()

    def _apart_from_batch(self, *pages: NamedNode) -> None:
        """Write the open batch first when it already changes one of ``pages``."""
        if self._batch is not None and not self._batch.pages.isdisjoint(pages):
            self._commit_batch()

    def _ensure_key_index(self) -> None:
        """Build the key index of a store written before it existed (once per store)."""
        if self._key_index_checked:
            return
        if not self._asks(f"ASK {{ GRAPH {KEY_INDEX_GRAPH} {{ ?s ?p ?o }} }}") and self._asks(
            f"ASK {{ GRAPH ?g {{ ?node ?kind ?key }} {_KEY_KIND_FILTER} "
            f'FILTER(STRSTARTS(STR(?g), "{PROVENANCE_PREFIX}")) }}'
        ):
            self.update(_build_key_index())
        self._key_index_checked = True

    def _replace_request(self, graph: PageGraph) -> str:
        return ";\n".join(
            part
            for part in (
                f"DROP SILENT GRAPH {graph.page}",
                f"DROP SILENT GRAPH {graph.provenance}",
                insert_data(graph.facts + graph.annotations),
            )
            if part
        )

    def record_attempt(
        self,
        provenance: PageProvenance,
        failures: Iterable[tuple[str, str, str]] = (),
    ) -> None:
        """Remember a fetch that produced no new facts, keeping the facts the page has.

        With ``failures`` (stage, reason, detail) the page is marked for retry; without,
        the page was seen unchanged: its fetch time, ETag and Last-Modified move.
        """
        page = page_iri(provenance.url)
        prov = provenance_graph(page)
        failures = list(failures)
        notes = [Quad(page, RDF_TYPE, ss("Page"), prov)]
        notes.append(Quad(page, ss("lastAttemptAt"), datetime_literal(_now()), prov))
        moved = ["lastAttemptAt", "failure"]
        if failures:
            for stage, reason, detail in failures:
                node = BlankNode()
                notes.append(Quad(page, ss("failure"), node, prov))
                notes.append(Quad(node, ss("stage"), Literal(stage), prov))
                notes.append(Quad(node, ss("reason"), Literal(reason), prov))
                if detail:
                    notes.append(Quad(node, ss("detail"), Literal(detail), prov))
        else:
            moved += ["fetchedAt", "etag", "lastModified"]
            if provenance.fetched_at:
                notes.append(
                    Quad(page, ss("fetchedAt"), datetime_literal(provenance.fetched_at), prov)
                )
            for name, value in (
                ("etag", provenance.etag),
                ("lastModified", provenance.last_modified),
            ):
                if value:
                    notes.append(Quad(page, ss(name), Literal(value), prov))
        clear = " UNION ".join(
            f"{{ BIND({ss(p)} AS ?p) {page} ?p ?o OPTIONAL {{ ?o ?fp ?fo }} }}" for p in moved
        )
        with self.write_batch() as batch:
            batch.add(
                [page],
                f"DELETE {{ GRAPH {prov} {{ {page} ?p ?o . ?o ?fp ?fo }} }}\n"
                f"WHERE {{ GRAPH {prov} {{ {clear} }} }};\n" + insert_data(notes),
            )

    def drop_page(self, url: str) -> int:
        """Remove a page's facts and provenance; returns how many facts it had."""
        page = page_iri(url)
        with self.write_batch() as batch:
            self._apart_from_batch(page)
            removed = len(self._fact_keys(page))
            batch.add(
                [page],
                f"DROP SILENT GRAPH {page};\nDROP SILENT GRAPH {provenance_graph(page)}",
                keys_removed=self._page_keys(page),
            )
        return removed

    def move_page(self, old_url: str, new_url: str) -> bool:
        """Move a page's facts and provenance to a new URL (a redirect); False if absent."""
        old, new = page_iri(old_url), page_iri(new_url)
        with self.write_batch() as batch:
            self._apart_from_batch(old, new)
            if self.page_state(old_url) is None:
                return False
            old_prov, new_prov = provenance_graph(old), provenance_graph(new)
            batch.add(
                [old, new],
                f"MOVE SILENT GRAPH {old} TO {new};\n"
                f"MOVE SILENT GRAPH {old_prov} TO {new_prov};\n"
                f"DELETE {{ GRAPH {new_prov} {{ {old} ?p ?o }} }}\n"
                f"INSERT {{ GRAPH {new_prov} {{ {new} ?p ?o }} }}\n"
                f"WHERE {{ GRAPH {new_prov} {{ {old} ?p ?o }} }};\n"
                f"INSERT DATA {{ GRAPH {new_prov} {{ {new} {ss('movedFrom')} {old} }} }}",
                # MOVE replaces what the new URL had: its keys leave the index.
                keys_removed=self._page_keys(new),
            )
        return True

    def page_state(self, url: str) -> PageState | None:
        """The stored provenance of a page, or None when the store has never seen it."""
        page = page_iri(url)
        rows = self.select(
            f"SELECT ?p ?o ?stage ?reason ?detail WHERE {{ GRAPH {provenance_graph(page)} {{\n"
            f"  {page} ?p ?o .\n"
            "  OPTIONAL { ?o ss:stage ?stage ; ss:reason ?reason\n"
            "             OPTIONAL { ?o ss:detail ?detail } }\n"
            "} }"
        )
        if not rows:
            return None
        state = PageState(url=page.value)
        for row in rows:
            local = row["p"].value.rsplit("#", 1)[-1]
            if local in _STATE_FIELDS:
                setattr(state, _STATE_FIELDS[local], row["o"].value)
            elif local == "failure" and "stage" in row:
                state.failures.append(_failure(row))
        return state

    def page_states(
        self, urls: Iterable[str] | None = None, *, failures: bool = False
    ) -> dict[str, PageState]:
        """The stored provenance of every page (or of those of ``urls``) by URL, in one query,
        and with ``failures`` their recorded failures in a second one."""
        properties = ", ".join(f"ss:{local}" for local in _STATE_FIELDS)
        values = "" if urls is None else f"VALUES ?page {{ {_values(map(page_iri, urls))} }} "
        rows = self.select(
            f"SELECT ?page ?p ?o WHERE {{ {values}GRAPH ?g {{ ?page a ss:Page ; ?p ?o }} "
            f"FILTER(?p IN ({properties})) }}"
        )
        states: dict[str, PageState] = {}
        for row in rows:
            url = row["page"].value
            state = states.setdefault(url, PageState(url=url))
            setattr(state, _STATE_FIELDS[row["p"].value.rsplit("#", 1)[-1]], row["o"].value)
        if failures and states:
            rows = self.select(
                f"SELECT ?page ?stage ?reason ?detail WHERE {{ "
                f"VALUES ?page {{ {_values(map(NamedNode, states))} }} GRAPH ?g {{ "
                "?page ss:failure ?f . ?f ss:stage ?stage ; ss:reason ?reason "
                "OPTIONAL { ?f ss:detail ?detail } } }"
            )
            for row in rows:
                states[row["page"].value].failures.append(_failure(row))
        return states

    def entity_and_relation_keys(self) -> tuple[set[str], set[tuple[str, str, str]]]:
        """Every entity node and every relation triple in the page graphs.

        Compared before and after a crawl, they tell which entities and relations it
        added and removed (a fact several pages support counts once).
        """
        entities = self.select("SELECT DISTINCT ?e WHERE { GRAPH ?mg { ?m ss:node ?e } }")
        relations = self.select(
            f"SELECT DISTINCT ?e ?p ?o WHERE {{ GRAPH ?g {{ ?e ?p ?o }} {FACT_GRAPH_FILTER} "
            f"FILTER({is_entity('?e')} && {is_entity('?o')}) }}"
        )
        return (
            {row["e"].value for row in entities},
            {(r["e"].value, r["p"].value, r["o"].value) for r in relations},
        )

    def pages(self) -> list[str]:
        """URLs of every page the store knows."""
        rows = self.select("SELECT DISTINCT ?page WHERE { GRAPH ?g { ?page a ss:Page } }")
        return sorted(row["page"].value for row in rows)

    # --- resolution -------------------------------------------------------------
    def _known_nodes(self, extraction: PageFacts, ignored: list[NamedNode]) -> list[KnownNode]:
        """Stored nodes sharing a key with the page's mentions, with all their keys.

        The page's own previous facts count too, so a re-crawled page keeps its nodes
        (stable IRIs) unless its entities really changed. Read from the key index (its page
        counts, changed by the open batch and less the ``ignored`` pages' keys), so a node
        named on thousands of pages costs what a node named on one does.
        """
        keys: set[str] = set()
        for entity in extraction.entities:
            keys |= mention_keys(entity).all_keys()
        if not keys:
            return []
        changes = Counter(self._batch.key_changes) if self._batch is not None else Counter()
        for page in ignored:
            changes.subtract(self._page_keys(page))
        pending = {node for (node, _, key), n in changes.items() if n > 0 and key in keys}
        also = f"UNION {{ VALUES ?node {{ {_values(map(NamedNode, sorted(pending)))} }} }}"
        index = KEY_INDEX_GRAPH
        rows = self.select(
            "SELECT ?node ?kind ?key ?pages WHERE {\n"
            "  { SELECT DISTINCT ?node WHERE {\n"
            f"    {{ VALUES ?k {{ {_values(Literal(k) for k in sorted(keys))} }}\n"
            f"      GRAPH {index} {{ ?e ss:keyValue ?k ; ss:keyNode ?node }} }}\n"
            f"    {also if pending else ''} }} }}\n"
            f"  {{ GRAPH {index} {{ ?entry ss:keyNode ?node ; ss:keyKind ?kind ; "
            "ss:keyValue ?key ; ss:keyPages ?pages } }\n"
            f"  UNION {{ GRAPH {CURATION_GRAPH} {{ ?node ?kind ?key }} }}\n"
            "}"
        )
        pages: Counter[KeyAssertion] = Counter()
        kept_apart: dict[str, set[str]] = {}
        for row in rows:
            node, kind, key = row["node"].value, row["kind"].value, row["key"].value
            if "pages" in row:
                pages[(node, kind, key)] = int(row["pages"].value)
            elif kind == ss("keepApart").value:
                kept_apart.setdefault(node, set()).add(key)
        candidates = {node for node, _, _ in pages} | pending
        pages.update({entry: n for entry, n in changes.items() if entry[0] in candidates})
        present = sorted(entry for entry, n in pages.items() if n > 0)
        matched = {node for node, _, key in present if key in keys}
        nodes: dict[str, KnownNode] = {}
        slots = dict(zip(KEY_KINDS_IRIS, ("ids", "name_keys", "alias_keys"), strict=True))
        for node, kind, key in present:
            if node in matched:
                known = nodes.setdefault(
                    node, KnownNode(node, kept_apart=kept_apart.get(node, set()))
                )
                getattr(known, slots[kind]).add(key)
        return list(nodes.values())

    def _page_keys(self, page: NamedNode) -> set[KeyAssertion]:
        """The resolution keys a stored page asserts (in its provenance graph)."""
        rows = self.select(
            f"SELECT ?node ?kind ?key WHERE {{ GRAPH {provenance_graph(page)} "
            f"{{ ?node ?kind ?key }} {_KEY_KIND_FILTER} }}"
        )
        return {(row["node"].value, row["kind"].value, row["key"].value) for row in rows}

    def _fact_keys(self, page: NamedNode) -> set[tuple[str, str, str]]:
        rows = self.select(f"SELECT ?s ?p ?o WHERE {{ GRAPH {page} {{ ?s ?p ?o }} }}")
        return {(str(r["s"]), str(r["p"]), str(r["o"])) for r in rows}


def _build_key_index() -> str:
    """The update building the key index from every page's provenance graph."""
    index = KEY_INDEX_GRAPH
    return (
        SPARQL_PREFIXES + f"DROP SILENT GRAPH {index};\n"
        f"INSERT {{ GRAPH {index} {{ ?e ss:keyNode ?node ; ss:keyKind ?kind ; "
        "ss:keyValue ?key ; ss:keyPages ?pages } }\n"
        "WHERE {\n"
        "  { SELECT ?node ?kind ?key (COUNT(DISTINCT ?g) AS ?pages) WHERE {\n"
        f"    GRAPH ?g {{ ?node ?kind ?key }} {_KEY_KIND_FILTER}\n"
        f'    FILTER(STRSTARTS(STR(?g), "{PROVENANCE_PREFIX}")) }} GROUP BY ?node ?kind ?key }}\n'
        f"  BIND({key_entry_sparql('?node', '?kind', '?key')} AS ?e)\n"
        "}"
    )


def page_graph(
    provenance: PageProvenance, facts: PageFacts, known: Iterable[KnownNode] = ()
) -> PageGraph:
    """The quads of a page's checked facts, its mentions resolved against ``known`` nodes
    (what :meth:`GraphStore.replace_page` writes; bulk loaders write it themselves)."""
    page = to_iri(provenance.url)
    return build_page_graph(provenance, facts, _resolve(Resolver(known), page, facts))


def _resolve(resolver: Resolver, page: NamedNode, facts: PageFacts) -> list[Resolution]:
    """Each entity's node: resolved across pages when it has a name or an identifier, else
    a node of this page alone (an unnamed offer is not the same as another page's)."""
    resolutions: list[Resolution] = []
    markup_nodes: dict[str, list[str]] = {}  # node -> classes of the markup node it became
    for entity in facts.entities:
        keys = mention_keys(entity)
        if keys.all_keys():
            # Two nodes of the page's own markup of different kinds (a recording, the
            # composition it records) are two things: the second never joins the first by
            # name, however alike their names.
            markup = entity.origin == Origin.STRUCTURED_DATA and entity.ref
            classes = entity.classes or [entity.type]
            apart = (
                [n for n, c in markup_nodes.items() if kinds_differ(c, classes)] if markup else []
            )
            resolution = resolver.resolve(keys, apart_from=apart)
            resolutions.append(resolution)
            if markup:
                markup_nodes.setdefault(resolution.iri, classes)
        else:
            iri = page_node_iri(page, len(resolutions)).value
            resolutions.append(Resolution(iri, PAGE_NODE))
    return resolutions


# Provenance properties (ss:<local>) that make up a PageState.
_STATE_FIELDS = {
    "contentHash": "content_hash",
    "etag": "etag",
    "lastModified": "last_modified",
    "fetchedAt": "fetched_at",
    "model": "model",
    "promptVersion": "prompt_version",
    "schema": "schema",
    "extractionStatus": "extraction_status",
    "requestedUrl": "requested_url",
    "canonicalUrl": "canonical_url",
    "lastAttemptAt": "last_attempt_at",
    "changedAt": "changed_at",
}


def page_iri(url: str) -> NamedNode:
    try:
        return to_iri(url)
    except ValueError as exc:
        raise InvalidPage(str(exc)) from exc
