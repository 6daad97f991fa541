"""The endpoints alerts and distress reports share, built once for each kind."""

import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Body, Depends, Response, Security
from pydantic import BaseModel

from api.auditing import audited_write
from api.context import note_access
from api.deps import RuntimeDep, authenticate
from api.errors import problems
from api.params import (
    Cursor,
    IdempotencyKey,
    IfMatch,
    Limit,
    RecordId,
    filter_dependency,
    json_response,
    parse_if_match,
)
from api.routers.protection import add_protection_routes
from api.routers.sightings import add_sighting_routes
from auth.policy import READ_SCOPE, WRITE_SCOPE
from auth.principal import Principal
from core import clock
from models.acks import AckCreate, AckRead, AcksRead
from models.enums import Scope
from services.records import acks, publishing, reading, rendering
from services.records import versions as record_versions
from services.records.kinds import KindSpec
from services.records.publishing import Saved
from services.records.reading import RecordFilter

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def items_json(docs: list[str], next_cursor: str | None = None) -> str:
    return '{"items":[' + ",".join(docs) + '],"next_cursor":' + json.dumps(next_cursor) + "}"


def saved_response(spec: KindSpec, saved: Saved, status: int = 200) -> Response:
    headers = {"Location": f"/v1/{spec.path}/{saved.id}"} if status == 201 else {}
    if saved.replayed:
        headers["Idempotent-Replayed"] = "true"
    doc = rendering.with_position_age(saved.doc, saved.position_at, clock.utcnow())
    if saved.related:  # per reader, so never stored; left out when empty (its default)
        related = json.dumps(list(saved.related), separators=(",", ":"))
        doc = doc[:-1] + ',"related":' + related + "}"
    return json_response(doc, status, saved.version, **headers)


def build_router(spec: KindSpec, read: type[BaseModel], patch: type[BaseModel]) -> APIRouter:
    """The create, list, get, patch, versions and acknowledgement endpoints of one kind."""
    create_model: Any = spec.create
    patch_model: Any = patch
    page_model: Any = Page[read]  # type: ignore[valid-type]
    noun = spec.kind.value if spec.kind.value == "alert" else "distress report"
    changers = "sender only" if spec.kind.value == "alert" else "sender or coordinating RCC"
    a_noun = f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"
    Reader = Annotated[Principal, Security(authenticate, scopes=[READ_SCOPE[spec.kind]])]
    Writer = Annotated[Principal, Security(authenticate, scopes=[WRITE_SCOPE[spec.kind]])]
    Acker = Annotated[
        Principal, Security(authenticate, scopes=[READ_SCOPE[spec.kind], Scope.ACKS_WRITE])
    ]
    Filter = Annotated[RecordFilter, Depends(filter_dependency(spec))]
    router = APIRouter(
        prefix=f"/v1/{spec.path}", tags=[spec.path], responses=problems(401, 403, 429)
    )

    @router.post(
        "",
        status_code=201,
        response_model=read,
        responses=problems(409, 413, 422),
        summary=f"Publish {a_noun}",
    )
    async def create(
        body: Annotated[create_model, Body(openapi_examples=spec.examples)],
        caller: Writer,
        runtime: RuntimeDep,
        key: IdempotencyKey = None,
    ) -> Response:
        """Publish as version 1 to whom `handling` names. Retry safely with `Idempotency-Key`."""
        saved = await audited_write(
            runtime, publishing.publish, caller, spec, body, key, runtime.retention
        )
        return saved_response(spec, saved, 201)

    @router.get("", response_model=page_model, responses=problems(422), summary=f"List {noun}s")
    async def list_records(caller: Reader, runtime: RuntimeDep, wanted: Filter) -> Response:
        """Newest first, only what your agency may read. Follow `next_cursor` for more.
        `q`: every word must match, ignoring case and accents. Each record shows
        `position_age_seconds`, the age of its position now."""
        listing = await runtime.db.read(reading.list_records, caller, spec, wanted)
        note_access(spec.path, listing.ids, listing.countries)
        return json_response(items_json(listing.docs, listing.next_cursor))

    @router.get(
        "/{record_id}", response_model=read, responses=problems(404, 422), summary=f"Get {a_noun}"
    )
    async def get(record_id: RecordId, caller: Reader, runtime: RuntimeDep) -> Response:
        """The current version; its number is the `ETag`. `position_age_seconds` is the age
        of its position now."""
        doc, version = await runtime.db.read(reading.get, caller, spec, str(record_id))
        return json_response(doc, version=version)

    @router.patch(
        "/{record_id}",
        response_model=read,
        responses=problems(404, 409, 412, 422),
        summary=f"Update {a_noun} ({changers})",
    )
    async def update(
        record_id: RecordId,
        body: patch_model,
        caller: Writer,
        runtime: RuntimeDep,
        if_match: IfMatch = None,
    ) -> Response:
        """Send only what changes; objects merge (RFC 7396). Makes version n+1."""
        changes = body.model_dump(exclude_unset=True)
        expected = parse_if_match(if_match)
        saved = await audited_write(
            runtime,
            publishing.update_record,
            caller,
            spec,
            str(record_id),
            changes,
            expected,
            runtime.retention,
        )
        return saved_response(spec, saved)

    @router.get(
        "/{record_id}/versions",
        response_model=page_model,
        responses=problems(404, 422),
        summary=f"Every version of {a_noun} you may read",
    )
    async def versions(
        record_id: RecordId,
        caller: Reader,
        runtime: RuntimeDep,
        limit: Limit = 200,
        cursor: Cursor = None,
    ) -> Response:
        """Every version you may read, oldest first, `limit` a page (200 unless you ask
        fewer): follow `next_cursor` for more. Each is under the handling it was sent with, so
        a version sent more narrowly than today is left out (the numbers show the gap)."""
        docs, next_cursor = await runtime.db.read(
            record_versions.page, caller, spec, str(record_id), limit, cursor
        )
        return json_response(items_json(docs, next_cursor))

    @router.post(
        "/{record_id}/acks",
        status_code=201,
        response_model=AckRead,
        responses=problems(404, 409, 422),
        summary=f"Acknowledge {a_noun}",
    )
    async def acknowledge(
        record_id: RecordId, body: AckCreate, caller: Acker, runtime: RuntimeDep
    ) -> dict[str, Any]:
        """Once per agency; the sending agency does not acknowledge its own."""
        return await audited_write(
            runtime, acks.acknowledge, caller, spec, str(record_id), body.note
        )

    @router.get(
        "/{record_id}/acks",
        response_model=AcksRead,
        responses=problems(404, 422),
        summary=f"Who acknowledged {a_noun}",
    )
    async def list_acks(record_id: RecordId, caller: Reader, runtime: RuntimeDep) -> Any:
        """Who acknowledged; when the sender asked for acknowledgements, which required
        agencies have not yet (those named in `handling.ack_required_from`, else every reader),
        the deadline `due_at` and whether it has passed with agencies pending (`overdue`)."""
        return await runtime.db.read(acks.list_acks, caller, spec, str(record_id))

    add_sighting_routes(router, spec, a_noun)
    add_protection_routes(router, spec, a_noun, read, saved_response)
    return router
