"""The change feed: every visible event in order, for agencies that cannot take webhooks."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, Security
from pydantic import BaseModel

from api.context import note_access
from api.deps import RuntimeDep, authenticate
from api.errors import problems
from api.params import json_response
from auth.principal import Principal
from models.enums import Scope
from services.records import feed

router = APIRouter(prefix="/v1/feed", tags=["feed"], responses=problems(401, 403, 422, 429))
FeedReader = Annotated[Principal, Security(authenticate, scopes=[Scope.FEED_READ])]


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
async def read_feed(
    request: Request,
    caller: FeedReader,
    runtime: RuntimeDep,
    after: Annotated[
        str, Query(pattern=r"^[0-9]{1,18}$", description="`next_cursor` of your last page")
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
    page = await feed.next_page(
        runtime.db,
        caller,
        int(after),
        limit,
        wait,
        include_exercise=include_exercise,
        gone=request.is_disconnected,
        polls=runtime.polls,
    )
    note_access("feed", page.ids, page.countries)
    return json_response(
        '{"events":[' + ",".join(page.events) + f'],"next_cursor":"{page.cursor}"}}'
    )
