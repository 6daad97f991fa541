"""GeoJSON views of the record lists, for maps."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, Security

from api.context import note_access
from api.deps import RuntimeDep, authenticate
from api.errors import problems
from api.params import filter_dependency, json_response
from auth.policy import READ_SCOPE
from auth.principal import Principal
from services.records import geo, reading
from services.records.kinds import ALERTS, DISTRESS, KindSpec
from services.records.reading import RecordFilter

router = APIRouter(prefix="/v1/geo", tags=["geo"], responses=problems(401, 403, 422, 429))
GEOJSON: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/geo+json": {}}, "description": "FeatureCollection"}
}


def _route(spec: KindSpec) -> None:
    Reader = Annotated[Principal, Security(authenticate, scopes=[READ_SCOPE[spec.kind]])]
    Filter = Annotated[RecordFilter, Depends(filter_dependency(spec))]

    @router.get(
        f"/{spec.path}",
        response_class=Response,
        responses=GEOJSON,
        summary=f"{spec.path} as GeoJSON",
    )
    async def features(caller: Reader, runtime: RuntimeDep, wanted: Filter) -> Response:
        """The same list and filters, as a GeoJSON FeatureCollection of points ([lon, lat])."""
        listing = await runtime.db.read(reading.list_records, caller, spec, wanted)
        note_access(spec.path, listing.ids, listing.countries)
        collection: dict[str, Any] = geo.feature_collection(listing.docs, listing.next_cursor)
        response = json_response(json.dumps(collection, separators=(",", ":")))
        response.headers["content-type"] = "application/geo+json"
        return response


_route(ALERTS)
_route(DISTRESS)
