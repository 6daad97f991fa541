"""Positions, areas, vessels and head counts, validated the way a duty officer expects."""

from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)

from models.envelope import CountryCode, Timestamp
from models.inputs import Input


def _whole(value: object) -> object:
    """JSON has one kind of number: 642.0 is the integer 642, as the document's `integer`
    (JSON Schema) says. Strings and booleans stay errors, and 642.5 too."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JsonInt = Annotated[StrictInt, BeforeValidator(_whole)]
# the validator outside the union, or pydantic cannot apply a field's bounds to the integer
JsonIntOrNone = Annotated[StrictInt | None, BeforeValidator(_whole)]

Latitude = Field(ge=-90, le=90, description="WGS-84 latitude, degrees north")
Longitude = Field(ge=-180, le=180, description="WGS-84 longitude, degrees east")


class Location(Input):
    lat: StrictFloat = Latitude
    lon: StrictFloat = Longitude
    accuracy_m: StrictFloat | None = Field(
        default=None, ge=0, le=1_000_000, description="Radius of uncertainty, metres"
    )


class Polygon(Input):
    """A GeoJSON Polygon: rings of [lon, lat] positions, each closed, the first the outline."""

    type: Literal["Polygon"]
    coordinates: list[list[tuple[StrictFloat, StrictFloat]]] = Field(min_length=1, max_length=10)

    @field_validator("coordinates")
    @classmethod
    def _rings(cls, rings: list[list[tuple[float, float]]]) -> list[list[tuple[float, float]]]:
        if sum(len(ring) for ring in rings) > 1000:
            raise ValueError("at most 1000 positions")
        for ring in rings:
            if len(ring) < 4:
                raise ValueError("each ring needs at least 4 positions")
            if ring[0] != ring[-1]:
                raise ValueError("each ring must end where it starts")
            for lon, lat in ring:
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise ValueError("positions are [lon, lat] within WGS-84 ranges")
        return rings


def imo_check_digit_ok(imo: str) -> bool:
    digits = [int(d) for d in imo]
    return sum(d * (7 - i) for i, d in enumerate(digits[:6])) % 10 == digits[6]


class Vessel(Input):
    name: str | None = Field(default=None, max_length=100)
    mmsi: str | None = Field(default=None, pattern=r"^[0-9]{9}$", description="9 digits")
    imo: str | None = Field(
        default=None, pattern=r"^[0-9]{7}$", description="7 digits, the last a check digit"
    )
    call_sign: str | None = Field(default=None, max_length=20)
    flag: CountryCode | None = None
    vessel_type: str | None = Field(default=None, max_length=60, examples=["wooden fishing boat"])
    length_m: StrictFloat | None = Field(default=None, gt=0, le=500)
    hull_colour: str | None = Field(default=None, max_length=60)
    markings: str | None = Field(default=None, max_length=200)

    @field_validator("imo")
    @classmethod
    def _imo(cls, imo: str | None) -> str | None:
        if imo is not None and not imo_check_digit_ok(imo):
            raise ValueError("IMO number check digit does not match")
        return imo

    @model_validator(mode="after")
    def _identified(self) -> "Vessel":
        if not any((self.name, self.mmsi, self.imo, self.call_sign, self.markings)):
            raise ValueError("a vessel needs a name, mmsi, imo, call_sign or markings")
        return self


Count = Field(default=None, ge=0, le=100_000)


class Persons(Input):
    estimate: JsonIntOrNone = Count
    min: JsonIntOrNone = Count
    max: JsonIntOrNone = Count

    @model_validator(mode="after")
    def _ordered(self) -> "Persons":
        values = [v for v in (self.min, self.estimate, self.max) if v is not None]
        if values != sorted(values):
            raise ValueError("persons must satisfy min ≤ estimate ≤ max")
        return self


class PersonsOnBoard(Persons):
    estimate: JsonInt = Field(ge=0, le=100_000, description="Best estimate of persons on board")
    children: JsonIntOrNone = Count
    injured: JsonIntOrNone = Count
    deceased: JsonIntOrNone = Count
    missing: JsonIntOrNone = Count

    @model_validator(mode="after")
    def _parts(self) -> "PersonsOnBoard":
        ceiling = self.max if self.max is not None else self.estimate
        for name in ("children", "injured", "deceased", "missing"):
            value = getattr(self, name)
            if value is not None and value > ceiling:
                raise ValueError(f"{name} cannot exceed the persons on board")
        return self


FixSource = Literal[
    "gps", "ais", "satellite_phone", "epirb", "radar", "aircraft", "visual", "reported", "other"
]


class Position(Input):
    lat: StrictFloat = Latitude
    lon: StrictFloat = Longitude
    fix_time: Timestamp = Field(
        description="When the position was true (RFC 3339); at most 5 minutes in the future"
    )
    fix_source: FixSource | None = Field(
        default=None,
        description="How the position was fixed: `gps`, `ais`, `satellite_phone`, `epirb`, "
        "`radar`, `aircraft`, `visual`, `reported` (second hand), `other`",
    )
    uncertainty_m: StrictFloat | None = Field(
        default=None, ge=0, le=1_000_000, description="Radius of uncertainty, metres"
    )
