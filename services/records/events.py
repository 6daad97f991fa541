"""Events: emitted with each change, in its transaction, and written as JSON one way."""

from datetime import datetime
from typing import Any

from sqlmodel import Session

from auth.policy import POLICY_COLUMNS
from core import bulk
from core.clock import iso, utcnow
from core.ids import new_id
from core.jsontext import dumps
from core.signals import EVENTS_EMITTED
from models.tables import EVENT

EVENT_COLUMNS = (*POLICY_COLUMNS, "category", "severity_rank", "lat", "lon")


def emit(session: Session, event_type: str, columns: dict[str, Any], data: str) -> str:
    """Add an event to the caller's transaction: it commits (or not) with the change."""
    event_id = new_id()
    bulk.insert(
        session,
        EVENT,
        {
            "id": event_id,
            "type": event_type,
            "at": utcnow(),
            "record_id": columns["id"],
            **{name: columns[name] for name in EVENT_COLUMNS},
            "data": data,
        },
    )
    session.info[EVENTS_EMITTED] = True  # the writer wakes waiting feeds after the commit
    return event_id


def event_json(seq: int | None, event_id: str, event_type: str, at: datetime, data: str) -> str:
    """`{"id","type","timestamp","cursor","data"}`, with the stored record as it is: every
    event a subscriber or feed reader gets is written here (a `ping` has no cursor)."""
    head = dumps(
        {
            "id": event_id,
            "type": event_type,
            "timestamp": iso(at),
            "cursor": None if seq is None else str(seq),
        }
    )
    return head[:-1] + ',"data":' + data + "}"
