"""When a record's required acknowledgements fall due: set by the version that asks for them
(publication, or the update that changes who must acknowledge or how soon), and kept by the
versions that leave that alone. `ack_check_at` is the dispatcher's cue, cleared once looked at."""

from datetime import datetime, timedelta
from typing import Any

from models.envelope import Handling
from models.records import Record

ACK_FIELDS = ("ack_required", "ack_required_from", "ack_due_minutes")


def first_deadline(handling: Handling, now: datetime) -> dict[str, datetime | None]:
    due = None
    if handling.ack_required and handling.ack_due_minutes is not None:
        due = now + timedelta(minutes=handling.ack_due_minutes)
    return {"ack_due_at": due, "ack_check_at": due}


def next_deadline(
    row: Record, before: dict[str, Any], handling: Handling, now: datetime, final: bool
) -> dict[str, datetime | None]:
    """The deadline of version n+1: unchanged unless it asks for acknowledgements anew; none
    to watch once the record is closed or cancelled."""
    after = handling.model_dump(mode="json")
    if all(before.get(name) == after[name] for name in ACK_FIELDS):
        kept = {"ack_due_at": row.ack_due_at, "ack_check_at": row.ack_check_at}
    else:
        kept = first_deadline(handling, now)
    if final:
        kept["ack_check_at"] = None
    return kept
