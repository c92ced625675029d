"""schema.org Organization: company and about pages."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from schemas.common import OrganizationRef, PersonRef, PostalAddress


class Organization(BaseModel):
    entity_type: ClassVar[str] = "Organization"

    name: str
    legalName: str | None = None
    alternateName: list[str] = Field(default_factory=list)
    description: str | None = None
    url: str | None = None
    foundingDate: str | None = Field(default=None, description="ISO 8601 date or year.")
    founder: list[PersonRef] = Field(default_factory=list)
    employee: list[PersonRef] = Field(default_factory=list)
    parentOrganization: OrganizationRef | None = None
    subOrganization: list[OrganizationRef] = Field(default_factory=list)
    address: PostalAddress | None = None
    numberOfEmployees: int | None = None
