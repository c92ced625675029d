"""Map any Pydantic answer to entities and relations by its structure (public contract 2).

A model is a node; its fields are the node's schema.org properties (``cook_time`` →
``cookTime``); a field holding models links the node to theirs by that property, whether or
not they have a name (a recipe's nutrition, an offer). A model's class is its ``type`` field
when that names a schema.org class, else its class name when that is a schema.org class
(``class Recipe(BaseModel)`` → ``schema:Recipe``), else its ``entity_type`` class variable,
else ``Thing``; the contract-2 type follows from the class hierarchy. Its ``name`` field is its
name; ``aliases``/``alternate_name`` and ``description`` fill those; an ``attributes`` dict
adds properties. Values are typed: numbers, booleans, dates and date-times from their Python
type, text by the property's schema.org range. The default
:class:`~schemas.knowledge_graph.KnowledgeGraph` maps one to one.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time
from enum import Enum
from typing import Any

from pydantic import BaseModel

from schemas.knowledge_graph import KnowledgeGraph
from scraper.extract.vocabulary import (
    XSD,
    Value,
    coarse_type,
    schema_class,
    typed_text,
    typed_value,
)
from scraper.facts import Entity, Origin, Relation
from scraper.graph.vocab import local_name

_ALIAS_FIELDS = frozenset(["aliases", "alternate_name", "alternateName"])


def graph_from_model(answer: BaseModel) -> tuple[list[Entity], list[Relation]]:
    """Entities and relations (origin ``llm``) of a validated answer."""
    if isinstance(answer, KnowledgeGraph):
        entities = [Entity(**entity.model_dump(), origin=Origin.LLM) for entity in answer.entities]
        relations = [
            Relation(**relation.model_dump(), origin=Origin.LLM) for relation in answer.relations
        ]
        return entities, relations
    reader = _ModelReader()
    reader.node(answer)
    return reader.entities, reader.relations


def _model_class(model: BaseModel) -> str:
    for candidate in (
        getattr(model, "type", None),
        type(model).__name__,
        getattr(type(model), "entity_type", None),
    ):
        if isinstance(candidate, str) and (found := schema_class(candidate)):
            return found
    return "Thing"


def _scalar(prop: str, value: Any) -> Value | None:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, datetime):
        return {"@value": value.isoformat(), "@type": XSD + "dateTime"}
    if isinstance(value, date):
        return {"@value": value.isoformat(), "@type": XSD + "date"}
    if isinstance(value, time):
        return {"@value": value.isoformat(), "@type": XSD + "time"}
    if isinstance(value, str):
        return typed_text(prop, value, iris=True) if value.strip() else None
    if isinstance(value, bool | int | float):
        return typed_value(prop, value)
    return None if value is None else str(value)


@dataclasses.dataclass
class _ModelReader:
    entities: list[Entity] = dataclasses.field(default_factory=list)
    relations: list[Relation] = dataclasses.field(default_factory=list)

    def node(self, model: BaseModel) -> Entity:
        schema_class_name = _model_class(model)
        entity = Entity(
            name="",
            type=coarse_type([schema_class_name]),
            classes=[schema_class_name],
            origin=Origin.LLM,
            ref=f"_:m{len(self.entities)}",
        )
        self.entities.append(entity)
        for field in type(model).model_fields:
            value = getattr(model, field)
            if field == "type" and schema_class(str(value)) == schema_class_name:
                continue
            if field == "name" and isinstance(value, str) and value.strip():
                entity.name = value.strip()
            elif field in _ALIAS_FIELDS and isinstance(value, list):
                entity.aliases += [a for a in value if isinstance(a, str) and a.strip()]
            elif field == "description" and isinstance(value, str):
                entity.description = value.strip()
            elif field == "attributes" and isinstance(value, dict):
                for key, item in value.items():
                    self._property(entity, local_name(str(key)), item)
            else:
                self._property(entity, local_name(field), value)
        return entity

    def _mapping_node(self, mapping: dict[Any, Any]) -> Entity:
        """A mapping is a node of its own too (no class): its keys are its properties."""
        node = Entity(name="", classes=[], origin=Origin.LLM, ref=f"_:m{len(self.entities)}")
        self.entities.append(node)
        for key, inner in mapping.items():
            self._property(node, local_name(str(key)), inner)
        return node

    def _property(self, entity: Entity, prop: str, value: Any) -> None:
        for item in value if isinstance(value, list | tuple) else [value]:
            if isinstance(item, BaseModel | dict):
                child = self.node(item) if isinstance(item, BaseModel) else self._mapping_node(item)
                self.relations.append(
                    Relation(source=entity.ref, type=prop, target=child.ref, origin=Origin.LLM)
                )
            elif (scalar := _scalar(prop, item)) is not None:
                entity.add(prop, scalar)
