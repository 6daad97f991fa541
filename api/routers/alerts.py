"""Incident alerts: the shared record endpoints, cancellation and CAP export."""

from typing import Annotated

from fastapi import Response, Security

from api.auditing import audited_write
from api.deps import RuntimeDep, authenticate
from api.errors import problems
from api.params import IfMatch, RecordId, parse_if_match
from api.routers.records import build_router, saved_response
from auth.principal import Principal
from models.acks import CancelRequest
from models.alerts import AlertPatch, AlertRead
from models.enums import Scope
from services.records import cap, publishing
from services.records.kinds import ALERTS

router = build_router(ALERTS, AlertRead, AlertPatch)
AlertsWrite = Annotated[Principal, Security(authenticate, scopes=[Scope.ALERTS_WRITE])]
AlertsRead = Annotated[Principal, Security(authenticate, scopes=[Scope.ALERTS_READ])]


@router.post(
    "/{record_id}/cancel",
    response_model=AlertRead,
    responses=problems(404, 409, 412, 422),
    summary="Cancel an alert (sender only)",
)
async def cancel(
    record_id: RecordId,
    body: CancelRequest,
    caller: AlertsWrite,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
) -> Response:
    """Cancel with a reason; recipients get the cancellation like any other version."""
    expected = parse_if_match(if_match)
    reason = {"cancel_reason": body.reason}
    saved = await audited_write(
        runtime,
        publishing.finish,
        caller,
        ALERTS,
        str(record_id),
        reason,
        expected,
        retention=runtime.retention,
    )
    return saved_response(ALERTS, saved)


@router.get(
    "/{record_id}/cap",
    response_class=Response,
    responses={
        200: {"content": {"application/cap+xml": {}}, "description": "CAP 1.2 alert message"},
        **problems(404, 422),
    },
    summary="The alert as a CAP 1.2 message",
)
async def as_cap(record_id: RecordId, caller: AlertsRead, runtime: RuntimeDep) -> Response:
    """OASIS CAP 1.2: the first version you may read is an `Alert`, later ones `Update` (with
    `references` to the earlier versions you may read), a cancelled alert `Cancel`. `scope` is
    `Restricted`, or `Private` under TLP red."""
    xml = await runtime.db.read(cap.alert_as_cap, caller, str(record_id))
    return Response(content=xml, media_type="application/cap+xml")
