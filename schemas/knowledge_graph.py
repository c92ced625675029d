"""The default schema (public contract 2): entities and relations of any page."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import AliasChoices, BaseModel, Field, field_validator

EntityType = Literal["Person", "Organization", "Product", "Place", "Event", "CreativeWork", "Thing"]
ENTITY_TYPES: tuple[str, ...] = get_args(EntityType)
# What models write for a type when they do not use the schema's word (case is matched anyway).
TYPE_SYNONYMS = {
    "company": "Organization",
    "corporation": "Organization",
    "business": "Organization",
    "organisation": "Organization",
    "institution": "Organization",
    "human": "Person",
    "people": "Person",
    "location": "Place",
    "city": "Place",
    "country": "Place",
    "creative_work": "CreativeWork",
    "book": "CreativeWork",
    "article": "CreativeWork",
}

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

    @field_validator("type", mode="before")
    @classmethod
    def _synonym(cls, value: object) -> object:
        return TYPE_SYNONYMS.get(value.lower(), value) if isinstance(value, str) else value


class Relation(BaseModel):
    """``source`` has property ``type`` whose value is ``target`` (schema.org direction)."""

    # Other keys models use for the same thing are accepted; the schema shows the first.
    source: str = Field(
        min_length=1,
        description="Name of the subject entity.",
        validation_alias=AliasChoices("source", "subject", "from"),
    )
    type: str = Field(
        pattern=r"^[a-z][A-Za-z0-9]*$",
        validation_alias=AliasChoices("type", "predicate", "relation"),
        description="lowerCamelCase schema.org property (founder, worksFor, manufacturer, ...) "
        "or a lowerCamelCase verb when none fits.",
    )
    target: str = Field(
        min_length=1,
        description="Name of the object entity.",
        validation_alias=AliasChoices("target", "object", "to"),
    )
    evidence: str = Field(default="", description="The sentence of the page that states it.")


class KnowledgeGraph(BaseModel):
    """Entities and relations stated in a piece of page text."""

    entities: list[Entity] = Field(default_factory=list)
    relations: list[Relation] = Field(
        default_factory=list, validation_alias=AliasChoices("relations", "relationships")
    )
