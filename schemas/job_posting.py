"""schema.org JobPosting: career pages and job boards."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from schemas.common import MonetaryAmount, OrganizationRef, PlaceRef


class JobPosting(BaseModel):
    entity_type: ClassVar[str] = "Thing"

    title: str
    description: str | None = None
    datePosted: str | None = Field(default=None, description="ISO 8601 date.")
    validThrough: str | None = Field(default=None, description="ISO 8601 date.")
    employmentType: list[str] = Field(
        default_factory=list, description="FULL_TIME, PART_TIME, CONTRACTOR, TEMPORARY, INTERN..."
    )
    hiringOrganization: OrganizationRef | None = None
    jobLocation: list[PlaceRef] = Field(default_factory=list)
    baseSalary: MonetaryAmount | None = None


class JobBoard(BaseModel):
    """All job postings listed on a page."""

    jobPostings: list[JobPosting] = Field(default_factory=list)
