"""Emitting events with each change, and reading them back as the feed."""

import json
import uuid
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import Table
from sqlmodel import Session, col, select

from auth.policy import readable
from auth.principal import Principal
from core import bulk
from core.clock import utcnow
from core.signals import EVENTS_EMITTED
from models.events import Event

EVENT = cast(Table, Event.__table__)  # type: ignore[attr-defined]
EVENT_COLUMNS = (
    "kind",
    "status",
    "sender_agency",
    "sender_country",
    "distribution",
    "tlp",
    "recipient_countries",
    "recipient_agencies",
    "category",
    "severity_rank",
    "lat",
    "lon",
)


def emit(session: Session, event_type: str, columns: dict[str, Any], data: str) -> str:
    """Add an event to the caller's transaction: it commits (or not) with the change."""
    event_id = str(uuid.uuid4())
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


def event_json(seq: int, event_id: str, event_type: str, at: datetime, data: str) -> str:
    """`{"id","type","timestamp","cursor","data"}`, with the stored record as it is."""
    head = json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "cursor": str(seq),
        },
        separators=(",", ":"),
    )
    return head[:-1] + ',"data":' + data + "}"


def read_feed(
    session: Session, principal: Principal, after: int, limit: int, include_exercise: bool
) -> tuple[list[str], int, list[str], list[str]]:
    """Visible events after `after`, oldest first: their JSON, the next cursor, and each
    one's record id and country.

    The newest seq is read first: everything up to it has been considered, so the cursor can
    move past events the caller may not see, and nothing committed later is skipped.
    """
    newest = latest_seq(session)
    if after >= newest:  # nothing newer; and a cursor past any seq (an int4) never reaches SQL
        return [], after, [], []
    query = (
        sa.select(
            col(Event.seq),
            col(Event.id),
            col(Event.type),
            col(Event.at),
            col(Event.data),
            col(Event.record_id),
            col(Event.sender_country),
        )
        .where(col(Event.seq) > after, col(Event.seq) <= newest, readable(principal, Event))
        .order_by(col(Event.seq))
        .limit(limit)
    )
    if not include_exercise:
        query = query.where(col(Event.status) == "actual")
    found: list[Any] = list(session.connection().execute(query).all())
    events = [event_json(*row[:5]) for row in found]
    cursor: int = found[-1][0] if len(found) == limit else max(newest, after)
    return events, cursor, [row[5] for row in found], [row[6] for row in found]


def latest_seq(session: Session) -> int:
    return session.exec(select(Event.seq).order_by(col(Event.seq).desc()).limit(1)).first() or 0
