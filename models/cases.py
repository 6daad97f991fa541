"""Cases and vessels as a caller sees them: built from the records it may read, nothing else."""

from typing import Any, Literal

from pydantic import BaseModel, Field

from models.envelope import Timestamp
from models.sightings import SightingRead


class Fix(BaseModel):
    """Where a vessel was at a time, and which record or sighting says so."""

    lat: float
    lon: float
    at: Timestamp = Field(
        description="When it was there: a report's `position.fix_time`, an alert's "
        "`observed_at` (else its `created_at`), a sighting's `observed_at`"
    )
    source: Literal["alert", "distress", "sighting"]
    id: str = Field(description="The record's or the sighting's id")
    record_id: str


class LineString(BaseModel):
    type: Literal["LineString"] = "LineString"
    coordinates: list[tuple[float, float]] = Field(description="[lon, lat], oldest first")


class CaseVessel(BaseModel):
    keys: list[str] = Field(description="Its vessel keys (none without MMSI, IMO or call sign)")
    vessel: dict[str, Any] = Field(description="The vessel as its latest record describes it")
    named_by: list[str] = Field(description="Ids of the records naming it")


class CaseRead(BaseModel):
    case_id: str
    records: list[dict[str, Any]] = Field(
        description="The records of the case you may read, oldest first, each with its "
        "`kind` and `version`"
    )
    sightings: list[SightingRead] = Field(description="Their sightings, in time order")
    vessels: list[CaseVessel]
    last_position: Fix | None = Field(
        description="The newest position of any of them by the time it was true (an alert "
        "without `observed_at` only when nothing else has a time)"
    )
    open_distress: bool = Field(description="Whether one of them is an open distress report")


class CaseSummary(BaseModel):
    case_id: str
    records: int = Field(description="How many of its records you may read")
    kinds: list[str]
    updated_at: Timestamp = Field(description="The latest change to one of those records")
    open_distress: bool


class CasesPage(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None


class VesselRead(BaseModel):
    key: str = Field(examples=["mmsi:533123456"])
    items: list[dict[str, Any]] = Field(description="Records naming it, newest first")
    next_cursor: str | None
    track: LineString | None = Field(
        description="GeoJSON LineString of the positions below, in time order (null when "
        "there are fewer than two)"
    )
    positions: list[Fix] = Field(description="Every position the track is drawn from")
