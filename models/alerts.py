"""Incident alerts: what a sender posts, patches and reads back."""

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from models.envelope import Envelope, EnvelopePatch, EnvelopeRead, Timestamp
from models.inputs import Input
from models.shapes import Location, Persons, Polygon, Vessel


class Category(StrEnum):
    SMUGGLING_DEPARTURE = "smuggling_departure"
    VESSEL_AT_SEA = "vessel_at_sea"
    SUSPICIOUS_VESSEL = "suspicious_vessel"
    LANDING = "landing"
    FACILITATOR_ACTIVITY = "facilitator_activity"
    TRAFFICKING_INDICATOR = "trafficking_indicator"
    DOCUMENT_FRAUD = "document_fraud"
    INTERCEPTION = "interception"
    OTHER = "other"


class Urgency(StrEnum):
    IMMEDIATE = "immediate"
    EXPECTED = "expected"
    FUTURE = "future"
    PAST = "past"
    UNKNOWN = "unknown"


class Severity(StrEnum):
    EXTREME = "extreme"
    SEVERE = "severe"
    MODERATE = "moderate"
    MINOR = "minor"
    UNKNOWN = "unknown"


class Certainty(StrEnum):
    OBSERVED = "observed"
    LIKELY = "likely"
    POSSIBLE = "possible"
    UNLIKELY = "unlikely"
    UNKNOWN = "unknown"


SEVERITY_RANK = {"unknown": 0, "minor": 1, "moderate": 2, "severe": 3, "extreme": 4}

EXAMPLE: dict[str, Any] = {
    "category": "smuggling_departure",
    "headline": "Suspected departure of ~150 persons from Teknaf beach, heading south",
    "description": "Coast Guard patrol reports a wooden trawler loading passengers at night "
    "south of Shamlapur, Cox's Bazar. Facilitators seen on shore. Likely bound for Malaysia.",
    "urgency": "immediate",
    "severity": "severe",
    "certainty": "likely",
    "location": {"lat": 21.05, "lon": 92.18, "accuracy_m": 2000},
    "place_name": "Shamlapur, Teknaf, Cox's Bazar",
    "sea_area": "Bay of Bengal",
    "observed_at": "2026-11-23T18:40:00Z",
    "vessels": [
        {
            "vessel_type": "wooden fishing trawler",
            "length_m": 18,
            "hull_colour": "blue",
            "markings": "Bengali script on bow, name painted over",
        }
    ],
    "persons": {"estimate": 150, "min": 120, "max": 180},
    "status": "actual",
    "case_id": "BDCG-2026-1123-07",
    "labels": ["andaman-sea-season"],
    "handling": {
        "distribution": "countries",
        "recipient_countries": ["MY", "TH", "ID"],
        "recipient_agencies": [],
        "tlp": "amber",
        "ack_required": True,
    },
}


EXERCISE: dict[str, Any] = {
    **EXAMPLE,
    "headline": "EXERCISE: " + EXAMPLE["headline"],
    "status": "exercise",
    "case_id": "EX-ANDAMAN-2026-01",
}

# The exercise comes first, so pressing Execute in /docs never posts an actual alert.
OPENAPI_EXAMPLES: dict[str, Any] = {
    "exercise": {
        "summary": "EXERCISE: departure off Cox's Bazar",
        "description": "`status: exercise` keeps it out of actual lists, feeds and webhooks "
        "unless a reader asks for exercise traffic. Try the API with this one.",
        "value": EXERCISE,
    },
    "departure": {
        "summary": "Departure off Cox's Bazar (ACTUAL: reaches real duty officers)",
        "value": EXAMPLE,
    },
}


class AlertBody(BaseModel):
    category: Category = Field(
        description="`smuggling_departure`, `vessel_at_sea`, `suspicious_vessel`, `landing`, "
        "`facilitator_activity`, `trafficking_indicator`, `document_fraud`, `interception`, "
        "`other`"
    )
    headline: str = Field(min_length=1, max_length=160)
    description: str | None = Field(default=None, max_length=8000)
    urgency: Urgency = Field(
        default=Urgency.UNKNOWN, description="CAP urgency: act `immediate`ly, `expected` soon, …"
    )
    severity: Severity = Field(
        default=Severity.UNKNOWN,
        description="CAP severity: `extreme` > `severe` > `moderate` > "
        "`minor`; lists filter by a minimum",
    )
    certainty: Certainty = Field(default=Certainty.UNKNOWN, description="CAP certainty")
    location: Location
    area: Polygon | None = Field(default=None, description="GeoJSON Polygon ([lon, lat] order)")
    place_name: str | None = Field(default=None, max_length=200)
    sea_area: str | None = Field(default=None, max_length=100)
    observed_at: Timestamp | None = Field(
        default=None, description="When it was seen (RFC 3339); at most 5 minutes in the future"
    )
    vessels: list[Vessel] = Field(default_factory=list, max_length=50)
    persons: Persons | None = None


class AlertCreate(Envelope, AlertBody, Input):
    model_config = {"json_schema_extra": {"examples": [EXERCISE]}}


class AlertPatch(EnvelopePatch):
    """Any subset of the fields of a new alert; objects merge (RFC 7396), null removes."""

    model_config = {
        "json_schema_extra": {
            # `status` cannot change: with it, the first example only patches exercise alerts
            "examples": [
                {
                    "status": "exercise",
                    "severity": "extreme",
                    "persons": {"estimate": 190, "max": 220},
                },
                {"severity": "extreme", "persons": {"estimate": 190, "max": 220}},
            ]
        }
    }

    category: Category | None = None
    headline: str | None = None
    description: str | None = None
    urgency: Urgency | None = None
    severity: Severity | None = None
    certainty: Certainty | None = None
    location: dict[str, Any] | None = None
    area: dict[str, Any] | None = None
    place_name: str | None = None
    sea_area: str | None = None
    observed_at: str | None = None
    vessels: list[dict[str, Any]] | None = None
    persons: dict[str, Any] | None = None


class AlertRead(AlertBody, EnvelopeRead):
    kind: str = "alert"
    state: str = Field(description="`active`, `cancelled`, or `expired` once `expires_at` passed")
    cancel_reason: str | None = None
