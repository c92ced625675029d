"""Map any Pydantic answer to entities and relations by its structure (public contract 2).

A model is a node, scalar fields are its properties, fields holding models are
edges named after the field. A model's node type is its ``type`` field when
that holds a contract-2 type, else its ``entity_type`` class variable, else
its class name when that is a contract-2 type, else ``Thing``; its name is the
``name``, ``headline`` or ``title`` field, and a model without one is folded
into its parent as ``field.property`` attributes. The default
:class:`~schemas.knowledge_graph.KnowledgeGraph` maps one to one.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from schemas.knowledge_graph import ENTITY_TYPES, KnowledgeGraph
from scraper.extract.schemaorg import GraphBuilder
from scraper.facts import Entity, Origin, Relation


def graph_from_model(answer: BaseModel) -> tuple[list[Entity], list[Relation]]:
    """Entities and relations (origin ``llm``) of a validated answer."""
    if isinstance(answer, KnowledgeGraph):
        entities = [Entity(**entity.model_dump(), origin=Origin.LLM) for entity in answer.entities]
        relations = [
            Relation(**relation.model_dump(), origin=Origin.LLM) for relation in answer.relations
        ]
        return entities, relations
    builder = GraphBuilder(base_url=None, origin=Origin.LLM, evidence="", with_identifiers=False)
    builder.add([model_node(answer)])
    return builder.entities, builder.relations


def model_node(model: BaseModel) -> dict[str, Any]:
    """``model`` as a JSON-LD-shaped node for :class:`~scraper.extract.schemaorg.GraphBuilder`."""
    node: dict[str, Any] = {"@type": _node_type(model)}
    for field in type(model).model_fields:
        value = getattr(model, field)
        if field == "type" and value in ENTITY_TYPES:
            continue
        if field == "attributes" and isinstance(value, dict):
            node.update(value)
        elif field == "aliases":
            node["alternateName"] = value
        else:
            node[field] = _value(value)
    return node


def _value(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return model_node(value)
    if isinstance(value, list):
        return [_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _value(item) for key, item in value.items()}
    return value


def _node_type(model: BaseModel) -> str:
    declared = getattr(model, "type", None)
    if isinstance(declared, str) and declared in ENTITY_TYPES:
        return declared
    class_type = getattr(type(model), "entity_type", None)
    if isinstance(class_type, str):
        return class_type
    name = type(model).__name__
    return name if name in ENTITY_TYPES else "Thing"
