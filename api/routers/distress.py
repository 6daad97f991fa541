"""Vessel-in-distress reports: the shared record endpoints and closing a case."""

from typing import Annotated

from fastapi import Response, Security

from api.auditing import audited_write
from api.deps import RuntimeDep, authenticate
from api.errors import problems
from api.params import IfMatch, RecordId, parse_if_match
from api.routers.records import build_router, saved_response
from auth.principal import Principal
from models.acks import CloseRequest
from models.distress import DistressPatch, DistressRead
from models.enums import Scope
from services.records import publishing
from services.records.kinds import DISTRESS

router = build_router(DISTRESS, DistressRead, DistressPatch)
DistressWrite = Annotated[Principal, Security(authenticate, scopes=[Scope.DISTRESS_WRITE])]


@router.post(
    "/{record_id}/close",
    response_model=DistressRead,
    responses=problems(404, 409, 412, 422),
    summary="Close a distress case (sender only)",
)
async def close(
    record_id: RecordId,
    body: CloseRequest,
    caller: DistressWrite,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
) -> Response:
    """Close with the outcome; this is the last SITREP of the case."""
    changes = {"outcome": body.outcome.value, "close_note": body.note}
    expected = parse_if_match(if_match)
    saved = await audited_write(
        runtime, publishing.finish, caller, DISTRESS, str(record_id), changes, expected
    )
    return saved_response(DISTRESS, saved)
