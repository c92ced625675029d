"""schema.org Event: conferences, concerts, meetups."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from schemas.common import Offer, OrganizationRef, PersonRef, PlaceRef


class Event(BaseModel):
    entity_type: ClassVar[str] = "Event"

    name: str
    description: str | None = None
    startDate: str | None = Field(default=None, description="ISO 8601 date or date-time.")
    endDate: str | None = Field(default=None, description="ISO 8601 date or date-time.")
    eventAttendanceMode: str | None = Field(
        default=None, description="OfflineEventAttendanceMode, OnlineEventAttendanceMode or Mixed."
    )
    location: PlaceRef | None = None
    organizer: list[OrganizationRef] = Field(default_factory=list)
    performer: list[PersonRef] = Field(default_factory=list)
    offers: list[Offer] = Field(default_factory=list)
