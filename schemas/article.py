"""schema.org Article: news, blog and documentation articles."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from schemas.common import OrganizationRef, PersonRef
from schemas.knowledge_graph import Entity


class Article(BaseModel):
    entity_type: ClassVar[str] = "CreativeWork"

    headline: str
    description: str | None = None
    author: list[PersonRef] = Field(default_factory=list)
    datePublished: str | None = Field(default=None, description="ISO 8601 date.")
    dateModified: str | None = Field(default=None, description="ISO 8601 date.")
    publisher: OrganizationRef | None = None
    mentions: list[Entity] = Field(
        default_factory=list, description="People, organizations, products, places it mentions."
    )
