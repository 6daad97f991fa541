"""Acknowledgement shapes, and the bodies of cancel and close."""

from pydantic import BaseModel, Field

from models.distress import Outcome
from models.envelope import Timestamp
from models.inputs import Input


class AckCreate(Input):
    note: str | None = Field(
        default=None, max_length=1000, examples=["EXERCISE: MMEA vessel KM Pekan tasked"]
    )


class AckRead(BaseModel):
    agency: str
    client_id: str = Field(
        description="The acknowledging client; other agencies see the agency's code here"
    )
    note: str | None
    at: Timestamp


class AcksRead(BaseModel):
    acknowledged: list[AckRead]
    pending: list[str] = Field(
        description="Required agencies that have not acknowledged: those named in "
        "`handling.ack_required_from`, else every agency that can read the record "
        "(listed when the sender asked for acknowledgements)"
    )
    due_at: Timestamp | None = Field(
        description="When a missing acknowledgement becomes overdue: the version that asked "
        "for them plus `handling.ack_due_minutes`; null without a deadline"
    )
    overdue: bool = Field(
        description="The deadline has passed with agencies pending (never once the record "
        "is closed or cancelled)"
    )


class CancelRequest(Input):
    reason: str = Field(
        min_length=1, max_length=1000, examples=["EXERCISE: vessel identified as a fishing boat"]
    )


class CloseRequest(Input):
    outcome: Outcome = Field(
        description="`rescued`, `assisted`, `reached_shore`, `false_alert`, `lost`, `unknown`"
    )
    note: str | None = Field(
        default=None, max_length=2000, examples=["EXERCISE: all 184 persons rescued"]
    )
