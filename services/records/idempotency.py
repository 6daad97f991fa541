"""A retried POST with the same `Idempotency-Key` gets the first answer back, not a second
record; the same key with another body (or kind) is a conflict."""

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from auth.principal import Principal
from core.errors import Conflict, Gone
from core.jsontext import stdlib_dumps
from models.records import IdempotencyKey, Record, RecordVersion
from services.records.kinds import KindSpec


def fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(stdlib_dumps(payload).encode()).hexdigest()


def first_answer(
    session: Session, principal: Principal, spec: KindSpec, key: str, fingerprint: str
) -> RecordVersion | None:
    """The version 1 this client's key made, if it made one; Conflict if for another body."""
    seen = session.get(IdempotencyKey, (principal.client_id, key))
    if seen is None:
        return None
    if seen.fingerprint != fingerprint or seen.kind != spec.kind.value:
        raise Conflict("this Idempotency-Key was used with a different request body")
    first = session.get(RecordVersion, (seen.record_id, 1))
    record = session.exec(select(Record).where(col(Record.id) == seen.record_id)).one()
    if record.purged_at is not None:  # with its tombstone, as every 410 of a purged record
        raise Gone(
            f"the {seen.kind} this Idempotency-Key made was purged",
            extra={"tombstone": json.loads(record.doc)},
        )
    assert first is not None
    return first


def remember(
    session: Session,
    principal: Principal,
    spec: KindSpec,
    key: str,
    fingerprint: str,
    record_id: str,
    now: datetime,
) -> None:
    session.add(
        IdempotencyKey(
            client_id=principal.client_id,
            key=key,
            kind=spec.kind.value,
            fingerprint=fingerprint,
            record_id=record_id,
            created_at=now,
        )
    )
