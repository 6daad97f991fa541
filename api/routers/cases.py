"""Cases and vessels: the records sharing a case id or naming a vessel, as you may read them."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AfterValidator

from api.context import note_access
from api.deps import Caller, RuntimeDep
from api.errors import problems
from api.params import CASE_ID, Cursor, Limit
from auth.principal import Principal
from core.errors import Forbidden
from models.cases import CaseRead, CasesPage, VesselRead
from models.enums import Scope
from models.envelope import Status, Timestamp
from models.vessels import KEY_DESCRIPTION, parse_key
from services.records import cases, vessels

RECORD_READ = (Scope.ALERTS_READ, Scope.DISTRESS_READ)
router = APIRouter(prefix="/v1", tags=["cases"], responses=problems(401, 403, 422, 429))


async def record_reader(caller: Caller) -> Principal:
    """A caller holding a read scope of at least one kind: it is shown the records of the
    kinds it may read, and nothing of the others."""
    if not caller.scopes & set(RECORD_READ):
        wanted = " ".join(RECORD_READ)
        raise Forbidden(
            f"this token lacks the scope {wanted} (either will do)",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope" scope="{wanted}"'},
        )
    return caller


Reader = Annotated[Principal, Depends(record_reader)]
VesselKey = Annotated[str, AfterValidator(parse_key)]
StatusQuery = Annotated[
    Status, Query(description="`actual` by default; `exercise` or `test` shows that traffic")
]


@router.get("/cases", response_model=CasesPage, summary="Cases you can see")
async def list_cases(
    caller: Reader,
    runtime: RuntimeDep,
    vessel: Annotated[
        VesselKey | None, Query(max_length=40, description=f"Naming a vessel: {KEY_DESCRIPTION}")
    ] = None,
    updated_since: Annotated[
        Timestamp | None, Query(description="With a record changed since (RFC 3339)")
    ] = None,
    status: StatusQuery = Status.ACTUAL,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    """Cases with at least one record you may read, the one most recently joined by a record
    first, each summed up from those records only. Follow `next_cursor` for more."""
    return await runtime.db.read(
        cases.list_cases, caller, vessel, updated_since, status.value, limit, cursor
    )


@router.get(
    "/cases/{case_id:path}", response_model=CaseRead, responses=problems(404), summary="One case"
)
async def get_case(
    case_id: Annotated[str, Path(max_length=64, pattern=CASE_ID, description="A `case_id`")],
    caller: Reader,
    runtime: RuntimeDep,
    status: StatusQuery = Status.ACTUAL,
) -> Any:
    """The records sharing this `case_id` that you may read (oldest first), their sightings,
    the vessels they name, the newest position and whether a distress report is open.
    A case shows nothing you could not read record by record; 404 when that is nothing."""
    view = await runtime.db.read(cases.get_case, caller, case_id, status.value)
    note_access("cases", view.ids, view.countries)
    return view.doc


@router.get(
    "/vessels/{key}",
    response_model=VesselRead,
    responses=problems(404),
    summary="A vessel's records and track",
)
async def get_vessel(
    key: Annotated[VesselKey, Path(max_length=40, description=KEY_DESCRIPTION)],
    caller: Reader,
    runtime: RuntimeDep,
    status: StatusQuery = Status.ACTUAL,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    """The records you may read that name this MMSI, IMO or call sign (newest first), and
    its track: a GeoJSON LineString ([lon, lat]) through their positions and sightings in
    time order, drawn only from what you may read. 404 when you may read none."""
    view = await runtime.db.read(vessels.get_vessel, caller, key, status.value, limit, cursor)
    note_access("vessels", view.ids, view.countries)
    return view.doc
