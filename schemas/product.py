"""schema.org Product: a product page, or every product of a catalogue page."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from schemas.common import AggregateRating, Offer, OrganizationRef


class Product(BaseModel):
    entity_type: ClassVar[str] = "Product"

    name: str
    description: str | None = None
    brand: OrganizationRef | None = None
    manufacturer: OrganizationRef | None = None
    sku: str | None = None
    gtin: str | None = None
    category: str | None = None
    offers: list[Offer] = Field(default_factory=list)
    aggregateRating: AggregateRating | None = None


class ProductCatalog(BaseModel):
    """All products listed on a page (catalogue and listing pages)."""

    products: list[Product] = Field(default_factory=list)
