"""Redaction and legal holds, added to each kind's router by `build_router`."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Security
from pydantic import BaseModel, create_model

from api.auditing import audited_write
from api.context import note_detail
from api.deps import RuntimeDep, authenticate
from api.errors import problems
from api.params import RecordId, json_response
from auth.policy import WRITE_SCOPE
from auth.principal import Principal
from core.clock import utcnow
from models.protection import LegalHoldRequest, Redaction, RedactRequest
from services.records import holds, redaction
from services.records.kinds import KindSpec
from services.records.publishing import Saved


def add_protection_routes(
    router: APIRouter,
    spec: KindSpec,
    a_noun: str,
    read: type[BaseModel],
    respond: Any,
) -> None:
    """`POST /{record_id}/versions/{number}/redact` and `POST /{record_id}/legal-hold`."""
    Writer = Annotated[Principal, Security(authenticate, scopes=[WRITE_SCOPE[spec.kind]])]
    redacted: Any = create_model(f"{read.__name__}Redacted", __base__=read, redaction=Redaction)
    fields = ", ".join(f"`{name}`" for name in redaction.TEXT_FIELDS[spec.kind.value])

    @router.post(
        "/{record_id}/versions/{number}/redact",
        response_model=redacted,
        responses=problems(404, 410, 422),
        summary=f"Redact text from a version of {a_noun} (sender agency)",
        description=(
            "Replaces the named text fields of that version with `[redacted]`, in the version, "
            "the current record if it is that version, and every event that carried it (the "
            "feed, replays and pending webhooks send the redacted text). Every agency that "
            f"could read that version gets `{spec.kind.value}.redacted`. The reason is kept "
            f"in the audit trail. Fields (`#`: a list index): {fields}. Numbers, positions "
            "and identifiers are corrected with an update instead."
        ),
    )
    async def redact(
        record_id: RecordId,
        number: Annotated[int, Path(ge=1, le=2**31 - 1, description="The version's number")],
        body: RedactRequest,
        caller: Writer,
        runtime: RuntimeDep,
    ) -> Any:
        note_detail(version=number, fields=body.fields, reason=body.reason)
        saved: Saved = await audited_write(
            runtime,
            redaction.redact,
            caller,
            spec,
            str(record_id),
            number,
            body.fields,
            utcnow(),
        )
        await runtime.db.forget()
        return json_response(saved.doc)

    @router.post(
        "/{record_id}/legal-hold",
        response_model=read,
        responses=problems(404, 410, 422),
        summary=f"Set or lift the legal hold of {a_noun} (sender agency admin)",
    )
    async def legal_hold(
        record_id: RecordId, body: LegalHoldRequest, caller: Writer, runtime: RuntimeDep
    ) -> Any:
        """While `on`, the retention purge leaves the record alone, past its `retain_until`
        too; lifted, it is purged at the next run if that date has passed. Audited with the
        reason. Not a new version: the record shows `legal_hold`."""
        note_detail(on=body.on, reason=body.reason)
        saved = await audited_write(runtime, holds.hold, caller, spec, str(record_id), body.on)
        return respond(spec, saved)
