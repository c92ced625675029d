"""The default schema (public contract 2): entities and relations of any page."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

EntityType = Literal["Person", "Organization", "Product", "Place", "Event", "CreativeWork", "Thing"]
ENTITY_TYPES: tuple[str, ...] = EntityType.__args__

# Attribute values stay simple so every store and export can hold them.
AttributeValue = str | int | float | bool | list[str]


class Entity(BaseModel):
    """A real-world thing named in the page."""

    name: str = Field(min_length=1, description="The name as written in the page text.")
    type: EntityType
    aliases: list[str] = Field(
        default_factory=list, description="Other names the page uses for it, as written."
    )
    description: str = Field(default="", description="One sentence from what the page says.")
    attributes: dict[str, AttributeValue] = Field(
        default_factory=dict,
        description="Facts about it keyed by lowerCamelCase schema.org property names.",
    )


class Relation(BaseModel):
    """``source`` has property ``type`` whose value is ``target`` (schema.org direction)."""

    source: str = Field(min_length=1, description="Name of the subject entity.")
    type: str = Field(
        pattern=r"^[a-z][A-Za-z0-9]*$",
        description="lowerCamelCase schema.org property (founder, worksFor, manufacturer, ...) "
        "or a lowerCamelCase verb when none fits.",
    )
    target: str = Field(min_length=1, description="Name of the object entity.")
    evidence: str = Field(default="", description="The sentence of the page that states it.")


class KnowledgeGraph(BaseModel):
    """Entities and relations stated in a piece of page text."""

    entities: list[Entity] = Field(default_factory=list)
    relations: list[Relation] = Field(default_factory=list)
