"""Map one page's extraction result to RDF quads (public contract 3).

A page contributes two named graphs:

* ``<page URL>`` — its facts: nodes typed with schema.org classes, ``schema:name``,
  ``schema:alternateName``, ``schema:description``, ``schema:sameAs``, attributes as
  ``schema:<attribute>`` properties, and relations as ``S schema:<relationType> O``.
* ``provenance_graph(page)`` — everything *about* those facts: the page's fetch
  provenance, the resolution keys and merge record of every mention, and for every fact
  an ``rdf:Statement``-style reification with ``ss:origin`` (``ss:LLM`` or
  ``ss:StructuredData``) and, for relations, the evidence sentence.

Plain RDF reification keeps the facts graph exactly as contract 3 describes (one graph
per page, nothing but facts in it), works on every SPARQL 1.1 endpoint (RDF-star is not
SPARQL 1.1) and records a fact's origin even when both the LLM and the page's structured
data assert it. Both graphs are replaced together, so origins never outlive their facts.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pyoxigraph import BlankNode, Literal, NamedNode, Quad

from scraper.facts import Entity, Origin, PageFacts, Relation
from scraper.graph.names import normalise_name
from scraper.graph.resolution import MentionKeys, Resolution
from scraper.graph.vocab import (
    ENTITY_TYPES,
    OWL_SAME_AS,
    PAGE_NODE,
    RDF_OBJECT,
    RDF_PREDICATE,
    RDF_SUBJECT,
    RDF_TYPE,
    XSD,
    local_name,
    provenance_graph,
    schema,
    ss,
    to_iri,
)

_SURROGATE = re.compile("[\ud800-\udfff]")
ORIGINS = {Origin.LLM: ss("LLM"), Origin.STRUCTURED_DATA: ss("StructuredData")}


def clean_text(text: str) -> str:
    """``text`` with lone surrogates (not encodable, so not storable) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def checked_facts(facts: PageFacts) -> PageFacts:
    """A page's facts as the store takes them (the input contract), or ValueError.

    Every string is checked and passed through :func:`clean_text`; an entity type that is
    not a contract-2 type becomes ``Thing``; empty aliases and identifiers are dropped.
    """
    if not isinstance(facts, PageFacts):
        raise ValueError(f"expected PageFacts, got {type(facts).__name__}")
    return dataclasses.replace(
        facts,
        entities=[_checked_entity(entity) for entity in _items(facts.entities, "entities")],
        relations=[_checked_relation(r) for r in _items(facts.relations, "relations")],
    )


def _items(values: Any, what: str) -> list[Any]:
    if not isinstance(values, list | tuple):
        raise ValueError(f"{what}: expected a list, got {values!r:.80}")
    return list(values)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what}: expected a string, got {value!r:.80}")
    return clean_text(value)


def _texts(values: Any, what: str) -> list[str]:
    return [_text(value, what) for value in _items(values, what) if value]


def _checked_entity(entity: Any) -> Entity:
    if not isinstance(entity, Entity):
        raise ValueError(f"expected an Entity, got {entity!r:.80}")
    if not isinstance(entity.attributes, dict):
        raise ValueError(f"entity attributes: expected a dict, got {entity.attributes!r:.80}")
    description = entity.description
    classes = entity.classes
    return Entity(
        name=_text(entity.name, "entity name"),
        type=entity.type if entity.type in ENTITY_TYPES else "Thing",
        aliases=_texts(entity.aliases, "entity aliases"),
        description=_text(description, "entity description") if description else "",
        attributes={_text(k, "attribute name"): v for k, v in entity.attributes.items()},
        identifiers=_texts(entity.identifiers, "entity identifiers"),
        origin=Origin(entity.origin),
        resolve_by_name=bool(entity.resolve_by_name),
        classes=None if classes is None else _texts(classes, "entity classes"),
        ref=_text(entity.ref, "entity ref"),
        iri=_text(entity.iri, "entity iri"),
    )


def _checked_relation(relation: Any) -> Relation:
    if not isinstance(relation, Relation):
        raise ValueError(f"expected a Relation, got {relation!r:.80}")
    evidence = relation.evidence
    return Relation(
        source=_text(relation.source, "relation source"),
        type=_text(relation.type, "relation type"),
        target=_text(relation.target, "relation target"),
        evidence=_text(evidence, "relation evidence") if evidence else "",
        origin=Origin(relation.origin),
    )


def stored_json(facts: PageFacts) -> str:
    """The facts as the store keeps them (``ss:extraction``), read back by re-resolution."""
    stored = {
        "status": facts.status,
        "model": facts.model,
        "prompt_version": facts.prompt_version,
        "entities": [entity.as_dict() for entity in facts.entities],
        "relations": [relation.as_dict() for relation in facts.relations],
    }
    return json.dumps(stored, ensure_ascii=False, separators=(",", ":"))


@dataclass
class PageProvenance:
    """Where a page's facts came from; ``url`` names the page's graph."""

    url: str
    fetched_at: str | None = None
    content_hash: str | None = None
    model: str | None = None
    prompt_version: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    requested_url: str | None = None
    canonical_url: str | None = None
    extraction_status: str | None = None
    schema: str | None = None  # the extraction schema's import path


@dataclass
class PageGraph:
    """The quads one page contributes, ready to be written atomically."""

    page: NamedNode
    provenance: NamedNode
    facts: list[Quad] = field(default_factory=list)
    annotations: list[Quad] = field(default_factory=list)
    entities: int = 0
    relations: int = 0
    merged_mentions: int = 0
    dropped_relations: int = 0


def mention_keys(entity: Entity) -> MentionKeys:
    """The resolution keys of an entity."""
    return MentionKeys.of(
        entity.type,
        entity.name,
        entity.aliases,
        entity.identifiers,
        _own_iri(entity),
        by_name=entity.resolve_by_name,
    )


def _own_iri(entity: Entity) -> str:
    """The page's IRI of the entity as an IRI the store takes ("" when it is none)."""
    try:
        return to_iri(entity.iri).value if entity.iri else ""
    except ValueError:
        return ""


def term(value: Any) -> Literal | NamedNode:
    """The RDF term of an attribute value: an IRI for ``{"@id": …}``, a typed or
    language-tagged literal for a JSON-LD value object, :func:`literal` for the rest."""
    if isinstance(value, dict):
        iri, text = value.get("@id"), value.get("@value")
        try:
            if isinstance(iri, str):
                return to_iri(iri)
            if isinstance(text, str) and isinstance(value.get("@language"), str):
                return Literal(clean_text(text), language=value["@language"])
            if isinstance(text, str) and isinstance(value.get("@type"), str):
                return Literal(clean_text(text), datatype=to_iri(value["@type"]))
        except ValueError:  # not an IRI, a language tag or a datatype: the text as it is
            return Literal(clean_text(iri if isinstance(iri, str) else str(text)))
    return literal(value)


def literal(value: Any) -> Literal:
    """An RDF literal for a JSON scalar (numbers and booleans typed, other values as text)."""
    if isinstance(value, bool):
        return Literal("true" if value else "false", datatype=NamedNode(XSD + "boolean"))
    if isinstance(value, int):
        return Literal(str(value), datatype=NamedNode(XSD + "integer"))
    if isinstance(value, float):
        return Literal(repr(value), datatype=NamedNode(XSD + "decimal"))
    if isinstance(value, str):
        return Literal(clean_text(value))
    return Literal(clean_text(json.dumps(value, ensure_ascii=False, sort_keys=True)))


def datetime_literal(value: str) -> Literal:
    """An ``xsd:dateTime`` literal when ``value`` is ISO 8601, otherwise plain text."""
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return Literal(clean_text(value))
    return Literal(value, datatype=NamedNode(XSD + "dateTime"))


def _attribute_values(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return [v for v in value if v is not None]
    return [value]


class _PageGraphBuilder:
    def __init__(self, provenance: PageProvenance):
        self.page = to_iri(provenance.url)
        self.graph = PageGraph(self.page, provenance_graph(self.page))
        self._facts: dict[tuple, set[str]] = {}  # (s, p, o) -> origins
        self._evidence: dict[tuple, str] = {}
        self._positions: dict[tuple, int] = {}  # (s, p, o) -> place among p's values

    def fact(
        self,
        s: NamedNode,
        p: NamedNode,
        o: Any,
        origin: str,
        evidence: str | None = None,
        position: int | None = None,
    ) -> None:
        key = (s, p, o)
        self._facts.setdefault(key, set()).add(origin)
        if evidence:
            self._evidence[(s, p, o, origin)] = evidence
        if position is not None:
            self._positions.setdefault(key, position)

    def note(self, s: Any, p: NamedNode, o: Any) -> None:
        self.graph.annotations.append(Quad(s, p, o, self.graph.provenance))

    def finish(self) -> PageGraph:
        for (s, p, o), origins in self._facts.items():
            self.graph.facts.append(Quad(s, p, o, self.page))
            for origin in sorted(origins):
                statement = BlankNode()
                self.note(statement, RDF_SUBJECT, s)
                self.note(statement, RDF_PREDICATE, p)
                self.note(statement, RDF_OBJECT, o)
                self.note(statement, ss("origin"), ORIGINS[Origin(origin)])
                evidence = self._evidence.get((s, p, o, origin))
                if evidence:
                    self.note(statement, ss("evidence"), Literal(evidence))
                if (s, p, o) in self._positions:
                    self.note(statement, ss("position"), literal(self._positions[(s, p, o)]))
        return self.graph


def _provenance_notes(builder: _PageGraphBuilder, provenance: PageProvenance, extraction: str):
    page = builder.page
    builder.note(page, RDF_TYPE, ss("Page"))
    builder.note(page, ss("extraction"), Literal(extraction))
    if provenance.fetched_at:
        builder.note(page, ss("fetchedAt"), datetime_literal(provenance.fetched_at))
        # fetchedAt moves with every unchanged re-fetch; changedAt stays with these facts.
        builder.note(page, ss("changedAt"), datetime_literal(provenance.fetched_at))
    for name in ("content_hash", "model", "prompt_version", "schema", "etag", "last_modified"):
        value = getattr(provenance, name)
        if value:
            builder.note(page, ss(local_name(name)), Literal(clean_text(str(value))))
    if provenance.extraction_status:
        builder.note(page, ss("extractionStatus"), Literal(provenance.extraction_status))
    for name in ("requested_url", "canonical_url"):
        value = getattr(provenance, name)
        if value and value != provenance.url:
            try:
                builder.note(page, ss(local_name(name)), to_iri(value))
            except ValueError:
                builder.note(page, ss(local_name(name)), Literal(clean_text(value)))


def _node_lookup(extraction: PageFacts, resolutions: list[Resolution]) -> dict[str, NamedNode]:
    """Refs, names and aliases of the page's entities → node, for relation ends (a ref holds
    a ":", a normalised name never does)."""
    lookup: dict[str, NamedNode] = {}
    for entity, resolution in zip(extraction.entities, resolutions, strict=True):
        node = NamedNode(resolution.iri)
        if entity.ref:
            lookup[entity.ref] = node
        for label in filter(None, (entity.name, *entity.aliases)):
            lookup.setdefault(label, node)
            lookup.setdefault(normalise_name(label), node)
    return lookup


def class_iri(name: str) -> NamedNode:
    """``schema:Recipe`` for ``Recipe``; a full IRI (another vocabulary's class) as it is."""
    return to_iri(name) if ":" in name else schema(name)


def _entity_facts(builder: _PageGraphBuilder, node: NamedNode, entity: Entity, names: set) -> None:
    origin = entity.origin
    for name in entity.classes if entity.classes is not None else [entity.type]:
        builder.fact(node, RDF_TYPE, class_iri(name), origin)
    if entity.name:
        label = Literal(entity.name)
        builder.fact(node, schema("name" if node not in names else "alternateName"), label, origin)
        names.add(node)
    for alias in entity.aliases:
        if alias != entity.name:
            builder.fact(node, schema("alternateName"), Literal(alias), origin)
    if entity.description:
        builder.fact(node, schema("description"), literal(entity.description), origin)
    own_iri = _own_iri(entity)  # "" when the page gave none, or none that is an IRI
    if own_iri and own_iri != node.value:
        builder.fact(node, OWL_SAME_AS, NamedNode(own_iri), origin)
    for identifier in entity.identifiers:
        if identifier != entity.iri:  # the page's own IRI of the node is owl:sameAs, above
            try:
                builder.fact(node, schema("sameAs"), to_iri(identifier), origin)
            except ValueError:
                builder.fact(node, schema("identifier"), literal(identifier), origin)
    for attribute, value in entity.attributes.items():
        predicate = schema(local_name(attribute))
        values = _attribute_values(value)
        for position, item in enumerate(values):
            # RDF values are a set: the page's order of several values (recipe steps) is
            # kept on each fact's statement as ss:position.
            ordered = position if len(values) > 1 else None
            builder.fact(node, predicate, term(item), origin, position=ordered)


def build_page_graph(
    provenance: PageProvenance, extraction: PageFacts, resolutions: list[Resolution]
) -> PageGraph:
    """All quads of a page: facts in the page's graph, the rest in its provenance graph."""
    builder = _PageGraphBuilder(provenance)
    _provenance_notes(builder, provenance, stored_json(extraction))
    names: set[NamedNode] = set()
    nodes: set[NamedNode] = set()
    for entity, resolution in zip(extraction.entities, resolutions, strict=True):
        node = NamedNode(resolution.iri)
        nodes.add(node)
        _entity_facts(builder, node, entity, names)
        if resolution.matched_by != PAGE_NODE:
            _mention_notes(builder, node, entity, resolution)
        builder.graph.merged_mentions += resolution.matched_by not in ("new", PAGE_NODE)
    builder.graph.entities = len(nodes)

    lookup = _node_lookup(extraction, resolutions)
    for relation in extraction.relations:
        source = lookup.get(relation.source) or lookup.get(normalise_name(relation.source))
        target = lookup.get(relation.target) or lookup.get(normalise_name(relation.target))
        if source is None or target is None:
            builder.graph.dropped_relations += 1
            continue
        predicate = schema(local_name(relation.type))
        builder.fact(source, predicate, target, relation.origin, relation.evidence)
        builder.graph.relations += 1
    if builder.graph.dropped_relations:
        builder.note(builder.page, ss("droppedRelations"), literal(builder.graph.dropped_relations))
    return builder.finish()


def _mention_notes(
    builder: _PageGraphBuilder, node: NamedNode, entity: Entity, resolution: Resolution
) -> None:
    """Resolution keys of the node and the merge record of this mention."""
    keys = mention_keys(entity)
    for key in sorted(keys.ids):
        builder.note(node, ss("idKey"), Literal(key))
    if keys.name_key:
        builder.note(node, ss("nameKey"), Literal(keys.name_key))
    for key in sorted(keys.alias_keys):
        builder.note(node, ss("aliasKey"), Literal(key))
    mention = BlankNode()
    builder.note(mention, RDF_TYPE, ss("Mention"))
    builder.note(mention, ss("node"), node)
    builder.note(mention, ss("mentionName"), Literal(entity.name))
    builder.note(mention, ss("origin"), ORIGINS[entity.origin])
    builder.note(mention, ss("matchedBy"), Literal(resolution.matched_by))
    if resolution.matched_key:
        builder.note(mention, ss("matchedKey"), Literal(resolution.matched_key))
