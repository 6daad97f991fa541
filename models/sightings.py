"""Sightings: a boat seen again, by an aircraft, a patrol, a radar or a fisherman."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictFloat
from sqlalchemy import Column, Index, Text
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from models.base import UTCDateTime
from models.envelope import Timestamp
from models.inputs import Input
from models.shapes import JsonIntOrNone, Location

Source = Literal["aircraft", "vessel", "coastal_radar", "ais", "report", "other"]
SOURCES = "`aircraft`, `vessel`, `coastal_radar`, `ais`, `report` (second hand), `other`"

EXAMPLE: dict[str, Any] = {
    "observed_at": "2026-11-25T06:10:00Z",
    "position": {"lat": 7.95, "lon": 95.6, "accuracy_m": 500},
    "source": "aircraft",
    "heading_deg": 160,
    "speed_kn": 5.5,
    "persons_seen": 120,
    "note": "Maritime patrol aircraft: wooden boat, blue tarpaulin, many persons on deck",
}


class Sighting(SQLModel, table=True):
    """One sighting of a record's vessel. Nothing here decides who reads it: a sighting is
    read exactly when its record is (auth/policy.py), so only `record_id` matters for that."""

    __table_args__ = (
        Index("ix_sighting_record", "record_id", "seq"),  # as reported: the sightings list
        Index("ix_sighting_seen", "record_id", "observed_at", "seq"),  # newest seen: tracks
    )

    seq: int | None = SQLField(default=None, primary_key=True)
    id: str = SQLField(max_length=36, unique=True)
    record_id: str = SQLField(foreign_key="record.id", max_length=36)
    agency: str = SQLField(foreign_key="agency.code", max_length=32)
    client_id: str = SQLField(max_length=64)
    observed_at: datetime = SQLField(sa_type=UTCDateTime)
    created_at: datetime = SQLField(sa_type=UTCDateTime)
    lat: float
    lon: float
    doc: str = SQLField(sa_column=Column(Text, nullable=False))


class SightingCreate(Input):
    model_config = {"json_schema_extra": {"examples": [EXAMPLE]}}

    observed_at: Timestamp = Field(
        description="When the vessel was seen (RFC 3339; at most 5 minutes ahead of now)"
    )
    position: Location
    source: Source = Field(description=f"Who or what saw it: {SOURCES}")
    heading_deg: StrictFloat | None = Field(
        default=None, ge=0, le=360, description="Course over ground, degrees true"
    )
    speed_kn: StrictFloat | None = Field(
        default=None, ge=0, le=100, description="Speed over ground, knots"
    )
    persons_seen: JsonIntOrNone = Field(
        default=None, ge=0, le=100_000, description="Persons counted or estimated on board"
    )
    note: str | None = Field(default=None, max_length=2000)


class SightingRead(BaseModel):
    id: str
    record_id: str
    kind: str = Field(description="The record's kind: `alert` or `distress`")
    observed_at: Timestamp
    position: Location
    source: str
    heading_deg: float | None = None
    speed_kn: float | None = None
    persons_seen: int | None = None
    note: str | None = None
    reported_by: str = Field(description="The reporting agency's code")
    created_at: Timestamp


class SightingsRead(BaseModel):
    items: list[SightingRead]
    next_cursor: str | None
