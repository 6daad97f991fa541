"""Replays: past events sent again to one subscription, queued a bounded chunk at a time.

Asking for a replay writes one row and nothing else: however far back it reaches, the
request's transaction stays small. The dispatcher then queues the replay a chunk of events
per round (`advance`), in a writer unit of its own, so the writes of everyone else pass in
between. A replay reaches back at most `max_days` and over at most `max_events` events;
further back, the feed (`GET /v1/feed`) has every event the agency may see.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from auth.principal import Principal
from core.clock import utcnow
from core.errors import NotFound, Unprocessable
from core.ids import new_id
from delivery import pacing
from delivery.expansion import EXPANDED_EVENT_COLUMNS, delivery_row, find_subscriber, wants
from models.subscriptions import Replay, ReplayRead
from models.tables import DELIVERY, EVENT, REPLAY
from services.webhooks.subscriptions import own

CHUNK = 500  # events looked at in one writer unit
# The oldest running replay, locked so that two workers advance different ones. Built once:
# every dispatcher round asks, and building it each time cost more than running it.
_OLDEST_RUNNING = (
    select(REPLAY)
    .where(REPLAY.c.state == "running")
    .order_by(REPLAY.c.created_at)
    .limit(1)
    .with_for_update(skip_locked=True)
)


@dataclass(frozen=True)
class ReplayLimits:
    max_days: int
    max_events: int


def start(
    session: Session,
    principal: Principal,
    subscription_id: str,
    since: datetime,
    limits: ReplayLimits,
) -> ReplayRead:
    """Record a replay of the events since `since`, replacing any still running."""
    sub = own(session, principal, subscription_id)
    now = utcnow()
    if since < now - timedelta(days=limits.max_days):
        raise Unprocessable(
            [
                {
                    "field": "since",
                    "message": f"a replay reaches back at most {limits.max_days} days; "
                    "read older events from the feed",
                }
            ]
        )
    connection = session.connection()
    first = connection.execute(select(func.min(EVENT.c.seq)).where(EVENT.c.at >= since)).scalar()
    last = connection.execute(select(func.max(EVENT.c.seq))).scalar() or 0
    after = (first - 1) if first is not None else last
    if last - after > limits.max_events:
        raise Unprocessable(
            [
                {
                    "field": "since",
                    "message": f"{last - after} events since then; a replay sends at most "
                    f"{limits.max_events}: ask from a later time, or read the feed",
                }
            ]
        )
    state = "running" if last > after else "done"
    values = {
        "id": new_id(),
        "since": since,
        "after_seq": after,
        "last_seq": last,
        "queued": 0,
        "state": state,
        "created_at": now,
        "finished_at": None if state == "running" else now,
    }
    replay = session.get(Replay, sub.id)
    if replay is None:
        replay = Replay.model_validate({"subscription_id": sub.id, **values})
    else:
        replay.sqlmodel_update(values)
    session.add(replay)
    return read(replay)


def get(session: Session, principal: Principal, subscription_id: str) -> ReplayRead:
    sub = own(session, principal, subscription_id)
    replay = session.get(Replay, sub.id)
    if replay is None:
        raise NotFound(f"subscription {subscription_id} has no replay")
    return read(replay)


def read(replay: Replay) -> ReplayRead:
    return ReplayRead(
        id=replay.id,
        state="running" if replay.state == "running" else "done",
        since=replay.since,
        queued=replay.queued,
        remaining=replay.last_seq - replay.after_seq,
        created_at=replay.created_at,
        finished_at=replay.finished_at,
    )


def advance(session: Session, now: datetime, chunk: int = CHUNK) -> int:
    """Queue the next chunk of the oldest running replay; return how many events it looked
    at (0 when no replay runs)."""
    connection = session.connection()
    replay = connection.execute(_OLDEST_RUNNING).first()
    if replay is None:
        return 0
    subscriber = find_subscriber(connection, replay.subscription_id)
    events = connection.execute(
        select(*EXPANDED_EVENT_COLUMNS)
        .where(EVENT.c.seq > replay.after_seq, EVENT.c.seq <= replay.last_seq)
        .order_by(EVENT.c.seq)
        .limit(chunk)
    ).all()
    wanted = [event for event in events if subscriber is not None and wants(subscriber, event)]
    if wanted and subscriber is not None:
        _queue(connection, [delivery_row(subscriber.id, event, now) for event in wanted], now)
        pacing.wake_now(connection, replay.subscription_id, now)
    after = events[-1].seq if len(events) == chunk else replay.last_seq
    done = after >= replay.last_seq
    connection.execute(
        REPLAY.update()
        .where(REPLAY.c.subscription_id == replay.subscription_id)
        .values(
            after_seq=after,
            queued=REPLAY.c.queued + len(wanted),
            state="done" if done else "running",
            finished_at=now if done else None,
        )
    )
    return max(len(events), 1)


def _queue(connection: Connection, rows: list[dict[str, Any]], now: datetime) -> None:
    """Insert the deliveries, or send again those the subscription already had."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(DELIVERY)
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=[DELIVERY.c.subscription_id, DELIVERY.c.event_seq],
            set_={"state": "pending", "next_attempt_at": now, "lease_until": None},
        ),
        rows,
    )
