"""The change feed: every event a reader may see, in commit order, a bounded look at a time,
waiting (long poll) when there is nothing new."""

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from auth.policy import readable
from auth.principal import Principal
from core.db import Database
from models.events import Event
from services.records.events import event_json
from services.records.polls import Polls
from services.registry.tokens import check_standing

SCAN_WINDOW = 10_000  # events one read looks at, at most
WINDOWS_PER_REQUEST = 10  # windows one request looks through for the caller's next event
RECHECK_SECONDS = 0.5  # events committed by other processes are noticed this fast


@dataclass(frozen=True)
class FeedPage:
    """Visible events as JSON, the cursor to ask from next, and what the audit notes: each
    event's record id and that record's country."""

    events: list[str]
    cursor: int
    ids: list[str]
    countries: list[str]  # one per id
    caught_up: bool  # the cursor has reached the newest event: nothing more to look at


def read_window(
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


def read_window_in_standing(
    session: Session, principal: Principal, after: int, limit: int, include_exercise: bool
) -> FeedPage:
    """`read_window`, once the caller is known to be in good standing still (a 401 if not)."""
    check_standing(session, principal)
    return read_window(session, principal, after, limit, include_exercise)


def latest_seq(session: Session) -> int:
    return session.exec(select(Event.seq).order_by(col(Event.seq).desc()).limit(1)).first() or 0


async def next_page(
    db: Database,
    principal: Principal,
    after: int,
    limit: int,
    wait: float,
    include_exercise: bool,
    gone: Callable[[], Awaitable[bool]] | None = None,
    polls: Polls | None = None,
) -> FeedPage:
    """The caller's next page: the first window with events it may see, or, with nothing new,
    what arrives within `wait` seconds. Bounded however long the log: after
    WINDOWS_PER_REQUEST windows of events it may not see, an empty page whose cursor moved on
    (the caller reads on from there).

    A long poll checks the caller's standing with each read: a revoked token or deactivated
    client is refused before it waits, and within RECHECK_SECONDS while it waits. Checked only
    as the answer went out, it waited for the next event it may see: its 401 told a revoked
    client when that was (and, by `after`, which seq), poll after poll.

    A long poll whose caller hung up (`gone()`) ends within RECHECK_SECONDS too; it used to
    wait out its `wait` for nobody, and a client dropping fifty a second kept 1,500 running.
    And a client has at most a few waiting at once (`polls`, services/records/polls.py)."""
    place = polls.held(principal.client_id) if polls is not None and wait > 0 else nullcontext()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    windows = 0
    look = read_window_in_standing if wait > 0 else read_window
    with place:
        while True:
            page = await db.read(look, principal, after, limit, include_exercise)
            after = page.cursor
            if page.events:
                return page
            if not page.caught_up:  # a stretch of events the caller may not see: read on
                windows += 1
                if windows < WINDOWS_PER_REQUEST:
                    continue
                return page
            remaining = deadline - loop.time()
            if remaining <= 0 or (gone is not None and await gone()):
                return page
            await db.events.wait(min(RECHECK_SECONDS, remaining))
