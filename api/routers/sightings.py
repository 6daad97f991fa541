"""Sightings of a record's vessel, added to each kind's router by `build_router`."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Security

from api.auditing import audited_write
from api.deps import RuntimeDep, authenticate
from api.errors import problems
from api.params import Cursor, Limit, RecordId
from auth.policy import READ_SCOPE
from auth.principal import Principal
from models.enums import Scope
from models.sightings import EXAMPLE, SightingCreate, SightingRead, SightingsRead
from services.records import sightings
from services.records.kinds import KindSpec

EXAMPLES = {
    "aircraft": {
        "summary": "Seen from a patrol aircraft (exercise note)",
        "value": {**EXAMPLE, "note": "EXERCISE: " + EXAMPLE["note"]},
    },
    "radar": {
        "summary": "A coastal radar contact",
        "value": {
            "observed_at": "2026-11-25T21:40:00Z",
            "position": {"lat": 6.4, "lon": 99.2},
            "source": "coastal_radar",
            "heading_deg": 120,
            "speed_kn": 6,
        },
    },
}


def add_sighting_routes(router: APIRouter, spec: KindSpec, a_noun: str) -> None:
    """`POST` and `GET /{record_id}/sightings` for one kind of record."""
    Reader = Annotated[Principal, Security(authenticate, scopes=[READ_SCOPE[spec.kind]])]
    Sighter = Annotated[
        Principal, Security(authenticate, scopes=[READ_SCOPE[spec.kind], Scope.SIGHTINGS_WRITE])
    ]

    @router.post(
        "/{record_id}/sightings",
        status_code=201,
        response_model=SightingRead,
        responses=problems(404, 413, 422),
        summary=f"Report a sighting of {a_noun}'s vessel",
    )
    async def create_sighting(
        record_id: RecordId,
        body: Annotated[SightingCreate, Body(openapi_examples=EXAMPLES)],
        caller: Sighter,
        runtime: RuntimeDep,
    ) -> dict[str, Any]:
        """Any agency that can read the record may add where and when the boat was seen.
        Whoever can read the record reads the sighting, and gets `sighting.created`."""
        return await audited_write(runtime, sightings.create, caller, spec, str(record_id), body)

    @router.get(
        "/{record_id}/sightings",
        response_model=SightingsRead,
        responses=problems(404, 422),
        summary=f"Sightings of {a_noun}'s vessel",
    )
    async def list_sightings(
        record_id: RecordId,
        caller: Reader,
        runtime: RuntimeDep,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> Any:
        """In the order they were reported; follow `next_cursor` for more."""
        return await runtime.db.read(
            sightings.list_sightings, caller, spec, str(record_id), limit, cursor
        )
