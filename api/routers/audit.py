"""The audit trail, for auditors and platform admins."""

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, Security

from api.context import note_access
from api.deps import RuntimeDep, authenticate
from api.errors import problems
from api.params import json_response
from auth.principal import Principal
from models.audit import AuditPage, VerifyResult
from models.enums import Scope
from models.envelope import Timestamp
from services.audit import listing
from services.audit.listing import AuditFilter
from services.audit.trail import verify_walk

router = APIRouter(prefix="/v1/audit-events", tags=["audit"], responses=problems(401, 403, 429))
Auditor = Annotated[Principal, Security(authenticate, scopes=[Scope.AUDIT_READ])]


@router.get("", response_model=AuditPage, responses=problems(422), summary="Read the audit trail")
async def list_events(
    caller: Auditor,
    runtime: RuntimeDep,
    actor_agency: Annotated[str | None, Query(max_length=32)] = None,
    action: Annotated[str | None, Query(max_length=200, examples=["GET /v1/alerts"])] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Literal["success", "denied", "error"] | None = None,
    since: Annotated[Timestamp | None, Query(description="RFC 3339 with a time zone")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """Oldest first. Auditors see their own country's agencies' actions and every access to
    their country's records; platform admins see everything.

    A page looks at 100,000 rows of the trail at most (all of one `object_id`'s): fewer than
    `limit` items, even none, with a `next_cursor` means read on from there. `next_cursor` is
    null once the newest row was reached."""
    wanted = AuditFilter(actor_agency, action, object_id, outcome, since, limit, cursor)
    events, next_cursor, seqs = await runtime.db.read(listing.list_events, caller, wanted)
    note_access("audit-events", [str(seq) for seq in seqs], [])
    page: dict[str, Any] = {"items": events, "next_cursor": next_cursor}
    return json_response(json.dumps(page, separators=(",", ":")))


@router.get("/verify", response_model=VerifyResult, summary="Verify the hash chain")
async def verify(caller: Auditor, runtime: RuntimeDep) -> VerifyResult:
    """Walk the whole chain; `first_bad_seq` names the first row that was edited, removed,
    inserted or moved. Compare `head_hash` with the one you anchored outside the service.

    One verification at a time per client: asking again while yours runs is a 429 saying how
    many rows it has checked so far (`checked`), with `Retry-After`."""
    verdict = await runtime.db.walks.run(caller.client_id, verify_walk)
    return VerifyResult(
        ok=verdict.ok,
        checked=verdict.checked,
        head_hash=verdict.head_hash,
        first_bad_seq=verdict.first_bad_seq,
    )
