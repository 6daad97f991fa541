"""Events become deliveries: one row for each subscription that wants an event and whose
agency may read it (the same policy as every read path). A writer unit each round.
"""

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, Text, bindparam, cast
from sqlalchemy import select as core_select
from sqlmodel import Session

from auth.policy import Reader, agency_reader, can_agency_read
from core.ids import new_id
from delivery import pacing
from delivery.matching import matches
from models.subscriptions import DispatcherState
from models.tables import AGENCY, DELIVERY, EVENT, SUBSCRIPTION
from models.tables import DISPATCHER_STATE as STATE
from services.records.events import EVENT_COLUMNS as COPIED_COLUMNS

MAX_EXPANSION = 250  # deliveries one unit creates at most, an event split if need be (`expand`)
# Events are read this many at a time, as a unit goes: at 1,000 subscriptions a unit ends
# within its first event, and reading all 500 it may take cost it ~3 of its ~21 ms (B4).
EVENT_CHUNK = 16
# what matching and the visibility policy read of an event (the columns copied from its record)
EXPANDED_EVENT_COLUMNS = [EVENT.c[name] for name in ("seq", "id", "type", "at", *COPIED_COLUMNS)]
# The expander's place in the event log (and within an event), and its heartbeat, in one row.
# Plain statements: the row is read and written on every round, and an ORM object cost the
# writer more than the rest.
EXPANDER = "expander"
_PLACE = (
    core_select(STATE.c.last_seq, STATE.c.after_subscription)
    .where(STATE.c.name == EXPANDER)
    .with_for_update()
)
_BEAT = STATE.update().where(STATE.c.name == EXPANDER).values(heartbeat_at=bindparam("now"))
_NEXT_EVENTS = (
    core_select(*EXPANDED_EVENT_COLUMNS)
    .where(EVENT.c.seq > bindparam("last_seq"))
    .order_by(EVENT.c.seq)
    .limit(bindparam("batch"))
)
_ADVANCE = (
    STATE.update()
    .where(STATE.c.name == EXPANDER)
    .values(
        heartbeat_at=bindparam("now"),
        last_seq=bindparam("last_seq"),
        after_subscription=bindparam("after"),
    )
)


class Subscriber(NamedTuple):
    """A subscription as the fan-out rule sees it."""

    id: str
    event_types: list[str]
    filter: dict[str, Any]
    reader: Reader  # its agency
    created_at: datetime


def expand(session: Session, now: datetime, batch: int = 500, max_rows: int = MAX_EXPANSION) -> int:
    """Expand new events, up to `batch` of them a unit and at most `max_rows` deliveries: the
    writer commits every request's work in turn, and the POSTs in a unit's commit wait for it
    (PERFORMANCE.md, B4). An event to more subscriptions than that is expanded over several
    units, in the order of their ids, the place kept in the expander's row. Events that match
    nobody cost no rows and do not count. Returns how many events the unit expanded, the one
    it stopped within counted."""
    connection = session.connection()
    place = connection.execute(_PLACE).first()
    if place is None:
        last_seq, after = 0, None
        connection.execute(STATE.insert(), {"name": EXPANDER, "last_seq": 0, "heartbeat_at": now})
    else:
        last_seq, after = place
    first = _next_events(connection, last_seq, min(EVENT_CHUNK, batch))
    if not first:
        connection.execute(_BEAT, {"now": now})
        return 0  # no subscriptions read on an idle round
    subscribers = _subscribers(connection)
    rows: list[dict[str, Any]] = []
    done = 0
    for event in _events(connection, first, batch):
        begun, full = after, False  # `begun`: the last subscription done for this event
        for subscriber in subscribers:
            if after is not None and subscriber.id <= after:
                continue  # done by an earlier unit
            # a subscription gets what happens from its creation on (earlier: a replay)
            if event.at >= subscriber.created_at and wants(subscriber, event):
                if len(rows) >= max_rows:
                    full = True
                    break
                rows.append(delivery_row(subscriber.id, event, now))
            begun = subscriber.id
        if full:  # the rest next round, from the first subscription that wants it
            after = begun
            if begun is not None:
                done += 1  # begun here or before: this unit expanded part of it
            break
        done += 1
        last_seq, after = event.seq, None
    connection.execute(_ADVANCE, {"now": now, "last_seq": last_seq, "after": after})
    if rows:
        connection.execute(DELIVERY.insert(), rows)
        pacing.wake(connection, {row["subscription_id"] for row in rows}, now)
    return done


def _next_events(connection: Connection, after_seq: int, count: int) -> list[Row[Any]]:
    return list(connection.execute(_NEXT_EVENTS, {"last_seq": after_seq, "batch": count}))


def _events(connection: Connection, first: list[Row[Any]], batch: int) -> Iterator[Row[Any]]:
    """The events after the expander's place, up to `batch`, in order: `first`, then the rest
    read `EVENT_CHUNK` at a time, only as far as the unit goes."""
    chunk, read = first, 0
    while chunk:
        yield from chunk
        read += len(chunk)
        if len(chunk) < EVENT_CHUNK or read >= batch:
            return
        chunk = _next_events(connection, chunk[-1].seq, min(EVENT_CHUNK, batch - read))


def wants(subscriber: Subscriber, event: Row[Any]) -> bool:
    """The fan-out rule: the subscription asked for the event and its agency may read it."""
    return matches(subscriber.event_types, subscriber.filter, event) and can_agency_read(
        subscriber.reader, event
    )


# A subscription as stored, the JSON columns as their text, so that a row can be recognised
# by its content (`_subscribers`).
_STORED = (
    core_select(
        SUBSCRIPTION.c.id,
        cast(SUBSCRIPTION.c.event_types, Text),
        cast(SUBSCRIPTION.c.filter, Text),
        SUBSCRIPTION.c.created_at,
        SUBSCRIPTION.c.agency,
        AGENCY.c.country,
        AGENCY.c.type,
    )
    .join(AGENCY, AGENCY.c.code == SUBSCRIPTION.c.agency)
    .where(SUBSCRIPTION.c.deleted_at.is_(None))
)
# Every expansion reads every subscription, and building each one's Subscriber (two JSON
# documents, its agency as a reader) was a third of expanding an event to 1,000 of them
# (PERFORMANCE.md, B4). A row whose every column is as it was in the last expansion reuses
# what was built from it: keyed by the whole row, so nothing that changed is ever reused.
_built: dict[tuple[Any, ...], Subscriber] = {}


def _subscribers(connection: Connection) -> list[Subscriber]:
    global _built
    built: dict[tuple[Any, ...], Subscriber] = {}
    for row in connection.execute(_STORED):
        key = tuple(row)
        built[key] = _built.get(key) or _subscriber(key)
    _built = built  # only the rows there now: those gone or changed are forgotten
    # in the order an event's expansion goes through them (by id, as Python compares them)
    return sorted(built.values(), key=lambda subscriber: subscriber.id)


def find_subscriber(connection: Connection, subscription_id: str) -> Subscriber | None:
    """One subscription as the fan-out rule sees it (None if it is gone)."""
    found = connection.execute(_STORED.where(SUBSCRIPTION.c.id == subscription_id)).first()
    return _subscriber(tuple(found)) if found is not None else None


def _subscriber(stored: tuple[Any, ...]) -> Subscriber:
    sub_id, event_types, filter_, created_at, agency, country, agency_type = stored
    return Subscriber(
        sub_id,
        json.loads(event_types),
        json.loads(filter_),
        agency_reader(agency, country, agency_type),
        created_at,
    )


def delivery_row(subscription_id: str, event: Row[Any], now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(),
        "subscription_id": subscription_id,
        "event_seq": event.seq,
        "event_id": event.id,
        "event_type": event.type,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def beat(session: Session, now: datetime) -> None:
    """Say the dispatcher is alive in a round that does not expand (see `expand`)."""
    session.connection().execute(_BEAT, {"now": now})


def heartbeat(session: Session) -> datetime | None:
    state = session.get(DispatcherState, EXPANDER)
    return state.heartbeat_at if state else None
