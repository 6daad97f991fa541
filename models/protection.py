"""Requests and answers of data protection: redaction and legal holds."""

from typing import Annotated

from pydantic import BaseModel, Field, StrictBool

from models.envelope import Timestamp
from models.inputs import Input

FieldPath = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z_]+(\.[a-z_0-9]+)*$")]
Reason = Field(
    min_length=1,
    max_length=500,
    description="Why, for the audit trail, where it stays: do not repeat what is removed",
)


class RedactRequest(Input):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "fields": ["description", "vessels.0.name"],
                    "reason": "EXERCISE: an informant's name was posted by mistake",
                }
            ]
        }
    }

    fields: list[FieldPath] = Field(
        min_length=1,
        max_length=20,
        description="Text fields of that version, dotted, list items by index from 0: "
        "`description`, `vessels.0.name`, `assistance_required.1`",
        examples=[["description", "vessels.0.name"]],
    )
    reason: str = Reason


class LegalHoldRequest(Input):
    model_config = {
        "json_schema_extra": {
            "examples": [{"on": True, "reason": "EXERCISE: evidence for prosecution case 17/2026"}]
        }
    }

    on: StrictBool = Field(description="true: suspend the purge; false: lift the hold")
    reason: str = Reason


class Redaction(BaseModel):
    version: int
    fields: list[str]
    redacted_at: Timestamp
    also_in_versions: list[int] | None = Field(
        default=[],
        description="Only in this answer: other versions that still hold the same text at "
        "those fields (an update copies what it does not change): redact them too. `null` "
        "when the fields were already redacted (a retry): the text is gone, so which other "
        "versions held it can no longer be told; the first answer said",
    )
