"""schema.org building blocks shared by the domain schemas.

Field names are schema.org property names so that the structural mapping
(a model is a node, scalar fields are properties, model fields are edges
named after the field) yields schema.org relations. ``entity_type`` says
which contract-2 entity type a model's nodes get; models without a name
(offers, ratings, addresses) are folded into their parent's attributes.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field


class PersonRef(BaseModel):
    entity_type: ClassVar[str] = "Person"

    name: str
    jobTitle: str | None = None


class OrganizationRef(BaseModel):
    entity_type: ClassVar[str] = "Organization"

    name: str
    url: str | None = None


class PostalAddress(BaseModel):
    streetAddress: str | None = None
    addressLocality: str | None = None
    addressRegion: str | None = None
    postalCode: str | None = None
    addressCountry: str | None = None


class PlaceRef(BaseModel):
    entity_type: ClassVar[str] = "Place"

    name: str
    address: PostalAddress | None = None


class Offer(BaseModel):
    price: float | None = Field(default=None, description="Number only, no currency sign.")
    priceCurrency: str | None = Field(default=None, description="ISO 4217 code, e.g. USD.")
    availability: str | None = Field(
        default=None, description="schema.org ItemAvailability name, e.g. InStock, OutOfStock."
    )
    url: str | None = None


class AggregateRating(BaseModel):
    ratingValue: float | None = None
    bestRating: float | None = None
    reviewCount: int | None = None


class MonetaryAmount(BaseModel):
    currency: str | None = Field(default=None, description="ISO 4217 code, e.g. EUR.")
    minValue: float | None = None
    maxValue: float | None = None
    unitText: str | None = Field(default=None, description="HOUR, DAY, WEEK, MONTH or YEAR.")
