"""A page's structured data (JSON-LD, microdata, RDFa) as entities and relations, with no LLM.

Standard processors make the RDF — pyld for JSON-LD (:mod:`scraper.extract.jsonld`), the W3C
mapping for microdata (:mod:`scraper.clean.microdata`), pyRdfa for RDFa (through extruct) —
and this module reads the page's graph node by node, keeping what the page says in
schema.org's own terms:

* every node is an entity, named or not (an Offer, a PostalAddress, a WebPage), with its
  exact classes (``classes``) and the contract-2 type its class hierarchy gives (``type``);
* ``schema:name``, ``alternateName`` and ``description`` fill name, aliases and description;
* a property whose value is another node of the page is a relation (schema.org's property,
  schema.org's direction); an IRI stays an IRI (``{"@id": …}``); literals are typed by the
  property's range (:func:`~scraper.extract.vocabulary.typed_value`); values keep their order;
* a node's own IRI (``@id``, ``itemid``) is kept (``iri``): with its ``sameAs`` IRIs it
  resolves the node across pages, and a new node takes it as its IRI, so a reference to it
  from any page (``"publisher": {"@id": "/#org"}``) is a link to that node.

Only schema.org terms are kept (pyRdfa also reports stylesheets, feeds and other links).
"""

from __future__ import annotations

from typing import Any

from scraper.extract.jsonld import expand, flatten
from scraper.extract.vocabulary import (
    SCHEMA,
    coarse_type,
    is_value_class,
    schema_local,
    typed_value,
)
from scraper.facts import Entity, Origin, Relation


def structured_data_graph(
    structured_data: dict[str, Any], base_url: str | None
) -> tuple[list[Entity], list[Relation]]:
    """Entities and relations of a page's JSON-LD, microdata and RDFa (the clean stage's
    ``structured_data``: JSON-LD as written, microdata and RDFa as expanded JSON-LD)."""
    expanded: list[Any] = []
    for block in structured_data.get("json-ld") or []:
        if isinstance(block, dict):
            expanded += expand(block, base_url)
    for syntax in ("microdata", "rdfa"):
        expanded += [node for node in structured_data.get(syntax) or [] if isinstance(node, dict)]
    reader = _GraphReader(_default_graph(flatten(expanded)))
    return reader.entities, reader.relations


def _default_graph(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The nodes of every graph of the page as one graph (named graphs' nodes included)."""
    flat: list[dict[str, Any]] = []
    for node in nodes:
        inner = node.get("@graph")
        if isinstance(inner, list):
            flat += _default_graph([n for n in inner if isinstance(n, dict)])
            node = {key: value for key, value in node.items() if key != "@graph"}
        if len(node) > 1:
            flat.append(node)
    return flat


def _schema_iri(iri: str) -> str:
    """schema.org terms in one namespace (``http://schema.org/`` is the same vocabulary)."""
    local = schema_local(iri)
    return SCHEMA + local if local else iri


def is_absolute_iri(iri: str) -> bool:
    """An IRI that names something outside the page's own document: ``https://…``, ``urn:…``
    (not a blank node ``_:b0``, not a relative reference left by a missing base URL)."""
    scheme, colon, rest = iri.partition(":")
    return bool(colon and rest) and scheme.isalpha() and scheme != "_"


def _text(value: dict[str, Any]) -> str | None:
    text = value.get("@value")
    return text.strip() or None if isinstance(text, str) else None


class _GraphReader:
    """Reads flattened JSON-LD nodes into entities (one per node) and relations."""

    def __init__(self, nodes: list[dict[str, Any]]):
        self.entities: list[Entity] = []
        self.relations: list[Relation] = []
        self._kept = {node["@id"]: node for node in nodes if self._in_schema(node)}
        for ref, node in self._kept.items():
            self._read(ref, node)

    @staticmethod
    def _in_schema(node: dict[str, Any]) -> bool:
        return isinstance(node.get("@id"), str) and any(
            schema_local(key) for key in [*node, *node.get("@type", [])] if isinstance(key, str)
        )

    def _read(self, ref: str, node: dict[str, Any]) -> None:
        classes = [
            c for t in node.get("@type", []) if isinstance(t, str) and (c := schema_local(t))
        ]
        own_iri = ref if is_absolute_iri(ref) else ""
        entity = Entity(
            name="",
            type=coarse_type(classes),
            classes=classes,
            identifiers=[own_iri] if own_iri else [],
            origin=Origin.STRUCTURED_DATA,
            ref=ref,
            iri=own_iri,
            resolve_by_name=not is_value_class(classes),
        )
        for key, values in node.items():
            prop = schema_local(key) if not key.startswith("@") else None
            if prop is not None and isinstance(values, list):
                for value in values:
                    self._value(entity, prop, value)
        self.entities.append(entity)

    def _value(self, entity: Entity, prop: str, value: Any) -> None:
        if not isinstance(value, dict):
            return
        if isinstance(value.get("@list"), list):
            for item in value["@list"]:
                self._value(entity, prop, item)
        elif isinstance(value.get("@id"), str):
            self._link(entity, prop, value["@id"])
        elif "@value" in value:
            self._literal(entity, prop, value)

    def _link(self, entity: Entity, prop: str, target: str) -> None:
        if target in self._kept:
            self.relations.append(
                Relation(source=entity.ref, type=prop, target=target, origin=Origin.STRUCTURED_DATA)
            )
        elif is_absolute_iri(target):
            # A document, an image, an enumeration member, or a thing described elsewhere
            # (``"publisher": {"@id": "/#org"}``): an IRI, which is that thing's node once
            # the page describing it is stored (a node takes the @id it is given as its IRI).
            iri = _schema_iri(target)
            if prop == "sameAs" and iri not in entity.identifiers:
                entity.identifiers.append(iri)
            entity.add(prop, {"@id": iri})

    def _literal(self, entity: Entity, prop: str, value: dict[str, Any]) -> None:
        if prop in ("name", "alternateName", "description") and (text := _text(value)):
            if prop == "name" and not entity.name:
                entity.name = text
                return
            if prop == "alternateName" and text not in entity.aliases:
                entity.aliases.append(text)
                return
            if prop == "description" and not entity.description:
                entity.description = text
                return
        language = value.get("@language")
        if isinstance(language, str) and isinstance(value.get("@value"), str):
            entity.add(prop, {"@value": value["@value"], "@language": language})
            return
        datatype = value.get("@type")
        typed = typed_value(
            prop, value.get("@value"), datatype if isinstance(datatype, str) else None
        )
        if typed is not None:
            entity.add(prop, typed)
