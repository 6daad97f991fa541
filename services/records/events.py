"""Emitting events with each change, and reading them back as the feed."""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from auth.policy import POLICY_COLUMNS, readable
from auth.principal import Principal
from core import bulk
from core.clock import iso, utcnow
from core.signals import EVENTS_EMITTED
from models.events import Event
from models.tables import EVENT

SCAN_WINDOW = 10_000  # events one feed read looks at, at most
EVENT_COLUMNS = (*POLICY_COLUMNS, "category", "severity_rank", "lat", "lon")


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


def event_json(seq: int | None, event_id: str, event_type: str, at: datetime, data: str) -> str:
    """`{"id","type","timestamp","cursor","data"}`, with the stored record as it is: every
    event a subscriber or feed reader gets is written here (a `ping` has no cursor)."""
    head = json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "timestamp": iso(at),
            "cursor": None if seq is None else str(seq),
        },
        separators=(",", ":"),
    )
    return head[:-1] + ',"data":' + data + "}"


@dataclass(frozen=True)
class FeedPage:
    """Visible events as JSON, the cursor to ask from next, and what the audit notes: each
    event's record id and that record's country."""

    events: list[str]
    cursor: int
    ids: list[str]
    countries: list[str]  # one per id
    caught_up: bool  # the cursor has reached the newest event: nothing more to look at


def read_feed(
    session: Session,
    principal: Principal,
    after: int,
    limit: int,
    include_exercise: bool,
    window: int | None = None,
) -> FeedPage:
    """Visible events after `after`, oldest first, looking at no more than `window` events.

    The newest seq is read first: everything up to it has been considered, so the cursor can
    move past events the caller may not see, and nothing committed later is skipped. The
    window keeps one read bounded for a caller who may see few of a long log's events: the
    cursor then moves past the window and the caller reads on from there.
    """
    newest = latest_seq(session)
    if after >= newest:  # nothing newer; and a cursor past any seq (an int4) never reaches SQL
        return FeedPage([], after, [], [], caught_up=True)
    upto = min(newest, after + (window or SCAN_WINDOW))
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
        .where(col(Event.seq) > after, col(Event.seq) <= upto, readable(principal, Event))
        .order_by(col(Event.seq))
        .limit(limit)
    )
    if not include_exercise:
        query = query.where(col(Event.status) == "actual")
    found: list[Any] = list(session.connection().execute(query).all())
    cursor: int = found[-1][0] if len(found) == limit else upto
    return FeedPage(
        [event_json(*row[:5]) for row in found],
        cursor,
        [row[5] for row in found],
        [row[6] for row in found],
        caught_up=cursor >= newest,
    )


def latest_seq(session: Session) -> int:
    return session.exec(select(Event.seq).order_by(col(Event.seq).desc()).limit(1)).first() or 0
