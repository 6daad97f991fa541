"""The change feed: every visible event in order, for agencies that cannot take webhooks."""

import asyncio
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Response, Security
from pydantic import BaseModel

from api.auditing import note_access
from api.deps import RuntimeDep, authenticate
from api.errors import problems
from api.params import json_response
from auth.principal import Principal
from models.enums import Scope
from services.records import events

router = APIRouter(prefix="/v1/feed", tags=["feed"], responses=problems(401, 403, 422, 429))
FeedReader = Annotated[Principal, Security(authenticate, scopes=[Scope.FEED_READ])]
RECHECK_SECONDS = 0.5  # events committed by other processes are noticed this fast
# Stretches of events (services/events.py: SCAN_WINDOW each) one request looks through for
# the caller's next visible event: a request stays bounded however long the log is.
WINDOWS_PER_REQUEST = 10


class FeedEvent(BaseModel):
    id: str
    type: str
    timestamp: str
    cursor: str
    data: dict[str, object]


class FeedPage(BaseModel):
    events: list[FeedEvent]
    next_cursor: str


@router.get("", response_model=FeedPage, summary="Read the change feed")
async def feed(
    caller: FeedReader,
    runtime: RuntimeDep,
    after: Annotated[
        str, Query(pattern=r"^\d{1,18}$", description="`next_cursor` of your last page")
    ] = "0",
    limit: Annotated[int, Query(ge=1, le=500, description="Most events per page")] = 100,
    wait: Annotated[float, Query(ge=0, le=30, description="Long-poll up to this many seconds")] = 0,
    include_exercise: Annotated[bool, Query(description="Also exercise and test traffic")] = False,
) -> Response:
    """Events you may see after `after`, oldest first: `alert.created`, `alert.updated`, …
    With nothing new, the answer waits up to `wait` seconds for the next one. Store
    `next_cursor` and pass it back as `after`: pages never skip or repeat an event. A page
    may be empty with a `next_cursor` ahead of yours (a long stretch of events you may not
    see): read on from it."""
    cursor = int(after)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    windows = 0
    while True:
        read = partial(
            events.read_feed,
            principal=caller,
            after=cursor,
            limit=limit,
            include_exercise=include_exercise,
        )
        page = await runtime.db.read(read)
        cursor = page.cursor
        if page.events:
            break
        if not page.caught_up:  # a stretch of events the caller may not see: read on
            windows += 1
            if windows < WINDOWS_PER_REQUEST:
                continue
            break  # an empty page whose cursor moved on; the caller reads on from there
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        await runtime.db.events.wait(min(RECHECK_SECONDS, remaining))
    found, ids, countries = page.events, page.ids, page.countries
    note_access("feed", ids, countries)
    return json_response('{"events":[' + ",".join(found) + f'],"next_cursor":"{cursor}"}}')
