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
    row: Record,
    before: dict[str, Any],
    handling: Handling,
    now: datetime,
    final: bool,
    expires_at: datetime | None,
) -> dict[str, datetime | None]:
    """The deadline of version n+1: unchanged unless it asks for acknowledgements anew; none
    to watch once the record is closed or cancelled."""
    after = handling.model_dump(mode="json")
    if all(before.get(name) == after[name] for name in ACK_FIELDS):
        kept = {"ack_due_at": row.ack_due_at, "ack_check_at": row.ack_check_at}
        if _untold(row, expires_at, now):
            kept["ack_check_at"] = row.ack_due_at
    else:
        kept = first_deadline(handling, now)
    if final:
        kept["ack_check_at"] = None
    return kept


def _untold(row: Record, expires_at: datetime | None, now: datetime) -> bool:
    """Whether this version revives a deadline nobody was told of: the record had expired by
    it (the round that looked cleared its cue and told nobody, as an expired record is not
    watched), and this version's later expiry makes it watched again. The next round tells
    the pending agencies then, once: its cue is cleared as it does."""
    due, expired = row.ack_due_at, row.expires_at
    return (
        row.ack_check_at is None
        and due is not None
        and expired is not None
        and expired <= due
        and (expires_at is None or expires_at > now)
    )
