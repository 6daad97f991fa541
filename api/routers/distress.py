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
from models.distress import CoordinationRequest, DistressPatch, DistressRead
from models.enums import Scope
from services.records import coordination, publishing
from services.records.kinds import DISTRESS

router = build_router(DISTRESS, DistressRead, DistressPatch)
DistressWrite = Annotated[Principal, Security(authenticate, scopes=[Scope.DISTRESS_WRITE])]


@router.post(
    "/{record_id}/close",
    response_model=DistressRead,
    responses=problems(404, 409, 412, 422),
    summary="Close a distress case (sender or coordinating RCC)",
)
async def close(
    record_id: RecordId,
    body: CloseRequest,
    caller: DistressWrite,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
) -> Response:
    """Close with the outcome; this is the last SITREP of the case. The sending agency or the
    coordinating RCC (`coordinating_rcc`) may close it."""
    changes = {"outcome": body.outcome.value, "close_note": body.note}
    expected = parse_if_match(if_match)
    saved = await audited_write(
        runtime,
        publishing.finish,
        caller,
        DISTRESS,
        str(record_id),
        changes,
        expected,
        retention=runtime.retention,
    )
    return saved_response(DISTRESS, saved)


@router.post(
    "/{record_id}/coordination",
    response_model=DistressRead,
    responses=problems(404, 409, 412, 422),
    summary="Hand SAR coordination to another MRCC (sender or coordinating RCC)",
)
async def hand_over(
    record_id: RecordId,
    body: CoordinationRequest,
    caller: DistressWrite,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
) -> Response:
    """Make `to` the coordinating RCC, as a new SITREP version, and tell readers with a
    `distress.coordination_changed` event (carrying `from`, `to`, `by` and your `note`).

    Only the sending agency or the current coordinating RCC may hand over; `to` must be an
    `mrcc` agency able to read the report (an actual report every MRCC reads; for an exercise,
    name it in `handling.recipient_agencies` first). Handing to the current RCC is a 409. The
    new RCC may then update and close the report like its sender."""
    expected = parse_if_match(if_match)
    saved = await audited_write(
        runtime,
        coordination.hand_over,
        caller,
        str(record_id),
        body.to,
        body.note,
        expected,
        retention=runtime.retention,
    )
    return saved_response(DISTRESS, saved)
