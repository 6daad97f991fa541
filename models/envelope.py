"""What alerts and distress reports share: the envelope, handling rules and common shapes."""

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)

from models.inputs import Input
from models.registry import AGENCY_CODE, COUNTRY_CODE


class Kind(StrEnum):
    ALERT = "alert"
    DISTRESS = "distress"
    SUBSCRIPTION = "subscription"  # events only: news about an agency's own webhooks
    REGISTRY = "registry"  # events only: clients and agencies a platform admin made


class Status(StrEnum):
    ACTUAL = "actual"
    EXERCISE = "exercise"
    TEST = "test"


class Distribution(StrEnum):
    AGENCY = "agency"
    NATIONAL = "national"
    COUNTRIES = "countries"
    NETWORK = "network"


class Purpose(StrEnum):
    """What readers may use a record for (DESIGN.md, Data protection): it also sets how long
    the record is kept (services/records/retention.py)."""

    SEARCH_AND_RESCUE = "search_and_rescue"
    BORDER_MANAGEMENT = "border_management"
    LAW_ENFORCEMENT = "law_enforcement"
    HUMANITARIAN = "humanitarian"


class Tlp(StrEnum):
    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"


CountryCode = Annotated[str, Field(pattern=COUNTRY_CODE, examples=["MY"])]
AgencyCode = Annotated[str, Field(pattern=AGENCY_CODE, examples=["MY-MMEA"])]
Label = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[\w .:/+-]+$")]


# [0-9], not \d: Python's \d is any script's digit, RFC 3339's DIGIT is ASCII
RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def _rfc3339(value: object) -> object:
    """Pydantic also reads numbers and digit strings as Unix seconds (`0` is 1970): a time
    here is RFC 3339 text, as documented."""
    if isinstance(value, datetime) or (isinstance(value, str) and RFC3339.match(value)):
        return value
    raise ValueError("expected an RFC 3339 time with a time zone, e.g. 2026-11-24T03:15:00Z")


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00: a valid text, an instant past the calendar
        raise ValueError("outside the years 1 to 9999 once in UTC") from None


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_utc)]

# BCP 47 in the shape used in practice: language, script, region, variants (`en`, `ms-MY`,
# `zh-Hant-TW`); also a valid CAP `xs:language`.
LANGUAGE_TAG = r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-[A-Za-z]{2}|-[0-9]{3})?(-[A-Za-z0-9]{5,8})*$"


class Handling(Input):
    distribution: Distribution = Field(
        description="Who receives it: `agency` (your agency only), `national` (your country), "
        "`countries` (your country and `recipient_countries`), `network` (every member country)"
    )
    recipient_countries: list[CountryCode] = Field(
        default_factory=list, max_length=50, description="With `distribution=countries`"
    )
    recipient_agencies: list[AgencyCode] = Field(
        default_factory=list,
        max_length=100,
        description="Named agencies, always added to what `distribution` gives "
        "(also under TLP red)",
    )
    tlp: Tlp = Field(
        default=Tlp.AMBER,
        description="Traffic Light Protocol 2.0 for onward sharing. `red`: only your agency and "
        "`recipient_agencies` may read it, whatever the distribution",
    )
    ack_required: StrictBool = Field(
        default=False, description="Ask recipients to acknowledge; pending ones are listed"
    )
    ack_required_from: list[AgencyCode] = Field(
        default_factory=list,
        max_length=100,
        description="With `ack_required`: the agencies whose acknowledgement is required (each "
        "must be able to read the record); empty: every reader",
    )
    ack_due_minutes: StrictInt | None = Field(
        default=None,
        ge=1,
        le=10080,
        description="With `ack_required`: minutes from publication (or from the version that "
        "changed who must acknowledge, or when) until a missing acknowledgement is overdue; "
        "distress reports default to 30, alerts to none",
    )
    purpose: Purpose | None = Field(
        default=None,
        description="What readers may use it for: `search_and_rescue`, `border_management`, "
        "`law_enforcement`, `humanitarian`. Sets how long it is kept. Default: "
        "`search_and_rescue` for distress reports, `border_management` for alerts",
    )
    personal_data: StrictBool = Field(
        default=False,
        description="True when it identifies or describes people (victims, crew, informants): "
        "kept for a shorter time; redact a mistake with `POST …/versions/{n}/redact`",
    )

    @model_validator(mode="after")
    def _countries_with_countries(self) -> "Handling":
        if self.distribution == Distribution.COUNTRIES and not self.recipient_countries:
            raise ValueError("distribution=countries needs recipient_countries")
        if self.distribution != Distribution.COUNTRIES and self.recipient_countries:
            raise ValueError("recipient_countries is used only with distribution=countries")
        if not self.ack_required and self.ack_required_from:
            raise ValueError("ack_required_from needs ack_required: true")
        if not self.ack_required and self.ack_due_minutes is not None:
            raise ValueError("ack_due_minutes needs ack_required: true (or null to remove it)")
        self.recipient_countries = sorted(set(self.recipient_countries))
        self.recipient_agencies = sorted(set(self.recipient_agencies))
        self.ack_required_from = sorted(set(self.ack_required_from))
        return self


class Envelope(Input):
    """Fields every sender sets on both kinds of record."""

    status: Status = Field(
        default=Status.ACTUAL,
        description="`actual`; `exercise` and `test` traffic is kept apart and never listed "
        "unless asked for",
    )
    case_id: str | None = Field(
        default=None, max_length=64, pattern=r"^[\w.:/-]+$", description="Your case reference"
    )
    references: list[UUID] = Field(
        default_factory=list, max_length=20, description="Ids of related records"
    )
    expires_at: Timestamp | None = Field(default=None, description="RFC 3339, with a time zone")
    labels: list[Label] = Field(default_factory=list, max_length=20)
    language: str = Field(
        default="en",
        max_length=35,
        pattern=LANGUAGE_TAG,
        description="BCP 47 tag of the language the text is written in, e.g. `en`, `ms`, `th`, "
        "`vi`, `id`, `bn`; CAP `info/language`",
    )
    handling: Handling = Field(description="Who may read it, and whether to acknowledge")

    default_purpose: ClassVar[Purpose] = Purpose.BORDER_MANAGEMENT

    @model_validator(mode="after")
    def _purpose(self) -> "Envelope":
        if self.handling.purpose is None:
            self.handling.purpose = self.default_purpose
        return self


class EnvelopePatch(Input):
    """The envelope fields a PATCH may carry; checked as a whole once merged."""

    status: str | None = None
    case_id: str | None = None
    references: list[str] | None = None
    expires_at: str | None = None
    labels: list[str] | None = None
    language: str | None = None
    handling: dict[str, Any] | None = None


class Related(BaseModel):
    id: UUID
    kind: str = Field(description="`alert` or `distress`", examples=["alert"])
    matched: list[str] = Field(
        description="The vessel keys both records name", examples=[["mmsi:533123456"]]
    )


class EnvelopeRead(BaseModel):
    """What every record returns beside its body: ids, sender, times, handling."""

    id: UUID
    version: int = Field(
        description="Starts at 1; each change adds one. Also the `ETag`", examples=[1]
    )
    sender_agency: str = Field(examples=["BD-CG"])
    sender_country: str = Field(examples=["BD"])
    created_at: Timestamp
    updated_at: Timestamp
    status: str = Field(description="`actual`, `exercise` or `test`", examples=["actual"])
    case_id: str | None = None
    references: list[UUID] = []
    expires_at: Timestamp | None = None
    labels: list[str] = []
    language: str = Field(default="en", description="BCP 47 tag of the text's language")
    handling: Handling
    position_age_seconds: int | None = Field(
        default=None,
        description="Seconds since the record's position was true (a distress report's "
        "`position.fix_time`, an alert's `observed_at`), as of this answer; null when the "
        "record gives no such time. Not stored: events carry the times themselves",
    )
    retain_until: Timestamp | None = Field(
        default=None,
        description="When this record is purged (its last change plus the retention period of "
        "its `purpose`, shorter with `personal_data`), unless `legal_hold` is on",
    )
    legal_hold: bool = Field(
        default=False, description="Set by the sender agency's admin: no purge while on"
    )
    related: list[Related] = Field(
        default=[],
        description="Only in the answer to a create or update, and only when there are any: "
        "earlier records you may read naming the same MMSI, IMO or call sign (at most 20)",
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge, null removes, everything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged
