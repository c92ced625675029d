"""schema.org Person: profile, team and biography pages."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from schemas.common import OrganizationRef, PlaceRef


class Person(BaseModel):
    entity_type: ClassVar[str] = "Person"

    name: str
    alternateName: list[str] = Field(default_factory=list)
    jobTitle: str | None = None
    description: str | None = None
    worksFor: list[OrganizationRef] = Field(default_factory=list)
    alumniOf: list[OrganizationRef] = Field(default_factory=list)
    birthDate: str | None = Field(default=None, description="ISO 8601 date.")
    birthPlace: PlaceRef | None = None
    url: str | None = None
