"""Vessel-in-distress reports (IMO SITREP short form)."""

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, Field, model_validator

from models.envelope import AgencyCode, Envelope, EnvelopePatch, EnvelopeRead, Purpose
from models.inputs import Input
from models.shapes import PersonsOnBoard, Position, Vessel


class SarPhase(StrEnum):
    UNCERTAINTY = "uncertainty"
    ALERT = "alert"
    DISTRESS = "distress"


class Nature(StrEnum):
    SINKING = "sinking"
    FLOODING = "flooding"
    FIRE = "fire"
    CAPSIZE_RISK = "capsize_risk"
    DISABLED_ADRIFT = "disabled_adrift"
    OVERCROWDED = "overcrowded"
    UNSEAWORTHY = "unseaworthy"
    NO_FUEL = "no_fuel"
    NO_WATER_FOOD = "no_water_food"
    MEDICAL = "medical"
    MAN_OVERBOARD = "man_overboard"
    PIRACY = "piracy"
    OTHER = "other"


class Outcome(StrEnum):
    RESCUED = "rescued"
    ASSISTED = "assisted"
    REACHED_SHORE = "reached_shore"
    FALSE_ALERT = "false_alert"
    LOST = "lost"
    UNKNOWN = "unknown"


# SAR phases ranked on the alert severity scale, so `severity=` filters both kinds alike.
PHASE_RANK = {"uncertainty": 2, "alert": 3, "distress": 4}

EXAMPLE: dict[str, Any] = {
    "position": {
        "lat": 5.62,
        "lon": 94.41,
        "fix_time": "2026-11-24T03:15:00Z",
        "fix_source": "satellite_phone",
        "uncertainty_m": 5000,
    },
    "sar_phase": "distress",
    "vessel": {
        "vessel_type": "wooden boat",
        "length_m": 20,
        "hull_colour": "green",
        "markings": "no name, blue tarpaulin roof",
    },
    "nature_of_distress": ["overcrowded", "disabled_adrift", "no_water_food"],
    "persons_on_board": {"estimate": 180, "min": 150, "max": 200, "children": 60, "injured": 4},
    "assistance_required": ["rescue", "water", "medical evacuation"],
    "coordinating_rcc": "ID-BASARNAS",
    "weather_on_scene": "wind SW 20 kt, sea state 4, visibility good",
    "actions_taken": "Nearest merchant vessels informed by EGC SafetyNET; aircraft requested.",
    "status": "actual",
    "handling": {"distribution": "network", "tlp": "amber", "ack_required": True},
}


EXERCISE: dict[str, Any] = {
    **EXAMPLE,
    "actions_taken": "EXERCISE: " + EXAMPLE["actions_taken"],
    "status": "exercise",
    "case_id": "EX-ANDAMAN-2026-01",
}

# The exercise comes first, so pressing Execute in /docs never posts an actual report.
OPENAPI_EXAMPLES: dict[str, Any] = {
    "exercise": {
        "summary": "EXERCISE: overcrowded wooden boat adrift west of Aceh",
        "description": "`status: exercise` keeps it out of actual lists, feeds and webhooks, "
        "and the safety-of-life floor (every MRCC reads actual reports) does not apply. "
        "Try the API with this one.",
        "value": EXERCISE,
    },
    "overcrowded": {
        "summary": "Overcrowded boat adrift west of Aceh (ACTUAL: reaches every MRCC)",
        "value": EXAMPLE,
    },
}


class DistressBody(BaseModel):
    position: Position
    sar_phase: SarPhase = Field(
        description="SAR Convention phase: `uncertainty` (INCERFA), `alert` (ALERFA), "
        "`distress` (DETRESFA)"
    )
    vessel: Vessel | None = None
    nature_of_distress: list[Nature] = Field(
        default_factory=list,
        max_length=13,
        description="Any of `sinking`, `flooding`, `fire`, `capsize_risk`, `disabled_adrift`, "
        "`overcrowded`, `unseaworthy`, `no_fuel`, `no_water_food`, `medical`, `man_overboard`, "
        "`piracy`, `other`",
    )
    persons_on_board: PersonsOnBoard = Field(
        description="`estimate` is required; `min`/`max` bound it; the other counts are parts of it"
    )
    assistance_required: list[str] = Field(
        default_factory=list, max_length=20, description="Free text, e.g. `rescue`, `water`"
    )
    coordinating_rcc: AgencyCode | None = Field(
        default=None, description="Agency code of the coordinating rescue centre"
    )
    weather_on_scene: str | None = Field(default=None, max_length=500)
    actions_taken: str | None = Field(default=None, max_length=4000)


# Minutes a required acknowledgement of a distress report may wait when the sender names none.
ACK_DUE_MINUTES = 30


class DistressCreate(Envelope, DistressBody, Input):
    model_config = {"json_schema_extra": {"examples": [EXERCISE]}}

    default_purpose: ClassVar[Purpose] = Purpose.SEARCH_AND_RESCUE

    @model_validator(mode="after")
    def _ack_deadline(self) -> "DistressCreate":
        if self.handling.ack_required and self.handling.ack_due_minutes is None:
            self.handling.ack_due_minutes = ACK_DUE_MINUTES
        return self


class CoordinationRequest(Input):
    to: AgencyCode = Field(
        description="The MRCC taking over coordination", examples=["ID-BASARNAS"]
    )
    note: str | None = Field(
        default=None,
        max_length=1000,
        examples=["EXERCISE: boat drifted into the Indonesian SRR"],
    )


class DistressPatch(EnvelopePatch):
    """Any subset of the fields of a new report; objects merge (RFC 7396), null removes."""

    model_config = {
        # `status` cannot change: with it, the first example only patches exercise reports
        "json_schema_extra": {
            "examples": [
                {"status": "exercise", "persons_on_board": {"estimate": 190, "deceased": 2}},
                {"persons_on_board": {"estimate": 190, "deceased": 2}},
            ]
        }
    }

    position: dict[str, Any] | None = None
    sar_phase: SarPhase | None = None
    vessel: dict[str, Any] | None = None
    nature_of_distress: list[str] | None = None
    persons_on_board: dict[str, Any] | None = None
    assistance_required: list[str] | None = None
    coordinating_rcc: str | None = None
    weather_on_scene: str | None = None
    actions_taken: str | None = None


class DistressRead(DistressBody, EnvelopeRead):
    kind: str = "distress"
    state: str = Field(description="`open` or `closed`")
    sitrep_number: int = Field(description="1 for the first report; each update adds one")
    outcome: Outcome | None = None
    close_note: str | None = None
