"""Publishing and changing alerts and distress reports; every change is a new version."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from auth.policy import POLICY_COLUMNS, can_modify, code_list
from auth.principal import Principal
from core import bulk
from core.clock import iso, utcnow
from core.errors import (
    Conflict,
    Forbidden,
    PreconditionFailed,
    Unprocessable,
    field_errors,
)
from core.ids import new_id
from core.jsontext import dumps
from models.envelope import Envelope, merge_patch
from models.records import Record
from models.tables import RECORD, VERSION
from services.records import idempotency, reading, vessels
from services.records.addressees import check_named, check_registry, handled
from services.records.cases import check_askable
from services.records.deadlines import first_deadline, next_deadline
from services.records.events import emit
from services.records.kinds import KindSpec
from services.records.retention import DEFAULT, Retention
from services.records.timing import check_happened


@dataclass(frozen=True)
class Saved:
    """A version as written: its JSON, id and number, and whether a retry replayed it."""

    doc: str
    id: str
    version: int
    country: str
    replayed: bool = False
    position_at: datetime | None = None  # when its position was true, for its age
    related: tuple[dict[str, Any], ...] = ()  # earlier readable records naming its vessels


def publish(
    session: Session,
    principal: Principal,
    spec: KindSpec,
    data: Envelope,
    idempotency_key: str | None = None,
    retention: Retention = DEFAULT,
) -> Saved:
    """Publish a new record as version 1 (or replay the first answer to a retried POST)."""
    payload = data.model_dump(mode="json")
    fingerprint = ""
    if idempotency_key is not None:
        fingerprint = idempotency.fingerprint(payload)
        first = idempotency.first_answer(session, principal, spec, idempotency_key, fingerprint)
        if first is not None:  # no policy check: it goes back only to the client that sent it
            at = spec.columns(json.loads(first.doc))["position_at"]
            earlier = vessels.related_to(session, principal, first.record_id, first.doc)
            return Saved(first.doc, first.record_id, 1, principal.country, True, at, earlier)
    check_happened(spec.happened, payload)
    check_registry(session, payload)
    check_askable(payload.get("case_id"))
    now = utcnow()
    record_id = new_id()
    doc = {
        "id": record_id,
        "kind": spec.kind.value,
        "version": 1,
        "sender_agency": principal.agency,
        "sender_country": principal.country,
        "created_at": iso(now),
        "updated_at": iso(now),
        "state": spec.initial_state,
        **payload,
        **spec.extras,
        "retain_until": iso(retention.until(now, data.handling)),
        "legal_hold": False,
    }
    text = dumps(doc)
    columns = _columns(spec, doc, data) | first_deadline(data.handling, now)
    check_named(session, handled(columns), payload)
    bulk.insert(session, RECORD, {**columns, "created_at": now, "legal_hold": False, "doc": text})
    emit(session, f"{spec.kind.value}.created", columns, text)
    _add_version(session, principal, columns, now, text)
    earlier = vessels.relink(session, principal, record_id, doc, None)
    if idempotency_key is not None:
        key = idempotency_key
        idempotency.remember(session, principal, spec, key, fingerprint, record_id, now)
    at = columns["position_at"]
    return Saved(text, record_id, 1, principal.country, position_at=at, related=earlier)


def update_record(
    session: Session,
    principal: Principal,
    spec: KindSpec,
    record_id: str,
    patch: dict[str, Any],
    if_match: int | None,
    retention: Retention = DEFAULT,
) -> Saved:
    """Apply a merge patch as version n+1; the result is validated as a whole."""
    row, current = changeable(session, principal, spec, record_id, if_match)
    data = validated(spec, merge_patch(_inputs(spec, current), patch))
    payload = data.model_dump(mode="json")
    if payload["status"] != current["status"]:
        # Readers who leave exercise traffic out never saw the earlier versions: an exercise
        # turned actual would reach them as a real alert with no history.
        raise Unprocessable(
            [{"field": "status", "message": f"stays {current['status']}; post a new record"}]
        )
    check_happened(spec.happened, payload)
    check_registry(session, payload)
    check_askable(payload.get("case_id"), current.get("case_id"))
    doc = {**current, **payload}
    return save(session, principal, spec, row, doc, data, "updated", retention=retention)


def finish(
    session: Session,
    principal: Principal,
    spec: KindSpec,
    record_id: str,
    changes: dict[str, Any],
    if_match: int | None = None,
    retention: Retention = DEFAULT,
) -> Saved:
    """Cancel an alert or close a distress report, as a new version in its final state."""
    row, current = changeable(session, principal, spec, record_id, if_match)
    doc = {**current, **changes, "state": spec.final_state}
    data = revalidated(spec, doc)
    return save(session, principal, spec, row, doc, data, spec.final_event, retention=retention)


def validated(spec: KindSpec, inputs: dict[str, Any]) -> Envelope:
    """What a sender gives, checked by today's rules; a 422 naming each field they refuse."""
    try:
        return spec.create.model_validate(inputs)
    except ValidationError as exc:
        raise Unprocessable(field_errors(exc.errors())) from exc


def revalidated(spec: KindSpec, doc: dict[str, Any]) -> Envelope:
    """A stored record about to change (closed, handed over), checked like any update: a
    field added since it was stored takes its default, a value today's rules refuse is a
    422 naming it (never a 500)."""
    return validated(spec, _inputs(spec, doc))


def _inputs(spec: KindSpec, doc: dict[str, Any]) -> dict[str, Any]:
    """What a sender gave of `doc`; a field added since it was stored takes its default."""
    return {name: doc[name] for name in spec.create.model_fields if name in doc}


def changeable(
    session: Session, principal: Principal, spec: KindSpec, record_id: str, if_match: int | None
) -> tuple[Record, dict[str, Any]]:
    row = reading.load(session, principal, spec, record_id, for_update=True)
    if not can_modify(principal, row):
        raise Forbidden("only the sender, or a distress report's coordinating RCC, changes it")
    if row.state == spec.final_state:
        raise Conflict(f"this {spec.kind.value} is {row.state}; it can no longer change")
    if if_match is not None and if_match != row.version:
        raise PreconditionFailed(
            f"If-Match names version {if_match}; the record is at version {row.version}"
        )
    current: dict[str, Any] = json.loads(row.doc)
    return row, current


def save(
    session: Session,
    principal: Principal,
    spec: KindSpec,
    row: Record,
    doc: dict[str, Any],
    data: Envelope,
    change: str,
    news: dict[str, Any] | None = None,
    *,
    retention: Retention = DEFAULT,
) -> Saved:
    """Write `doc` as version n+1 of `row`, with its event (carrying `news` beside the record)."""
    now = utcnow()
    doc["version"] = row.version + 1
    doc["updated_at"] = iso(now)
    doc["retain_until"] = iso(retention.until(now, data.handling))
    doc["legal_hold"] = row.legal_hold
    if "sitrep_number" in doc:
        doc["sitrep_number"] += 1
    text = dumps(doc)
    before = json.loads(row.doc)["handling"]
    final = doc["state"] == spec.final_state
    columns = _columns(spec, doc, data)
    columns |= next_deadline(row, before, data.handling, now, final, columns["expires_at"])
    check_named(session, handled(columns), data.model_dump(mode="json"))
    session.connection().execute(
        RECORD.update().where(RECORD.c.seq == row.seq), {**columns, "doc": text}
    )
    told = text if news is None else text[:-1] + "," + dumps(news)[1:]
    emit(session, f"{spec.kind.value}.{change}", columns, told)
    _add_version(session, principal, columns, now, text)
    earlier = vessels.relink(session, principal, row.id, doc, row.seq)
    at = columns["position_at"]
    return Saved(text, row.id, doc["version"], row.sender_country, position_at=at, related=earlier)


def _columns(spec: KindSpec, doc: dict[str, Any], data: Envelope) -> dict[str, Any]:
    handling = data.handling
    return {
        "id": doc["id"],
        "kind": spec.kind.value,
        "version": doc["version"],
        "sender_agency": doc["sender_agency"],
        "sender_country": doc["sender_country"],
        "status": data.status.value,
        "state": doc["state"],
        "distribution": handling.distribution.value,
        "tlp": handling.tlp.value,
        "recipient_countries": code_list(handling.recipient_countries),
        "recipient_agencies": code_list(handling.recipient_agencies),
        "ack_required": handling.ack_required,
        "case_id": data.case_id,
        "updated_at": datetime.fromisoformat(doc["updated_at"]),
        "expires_at": data.expires_at,
        "coordinator": doc.get("coordinating_rcc"),
        "retain_until": datetime.fromisoformat(doc["retain_until"]),
        **spec.columns(doc),
    }


def _add_version(
    session: Session, principal: Principal, columns: dict[str, Any], now: datetime, text: str
) -> None:
    """Keep the version with the handling it was sent under: the policy judges it by that."""
    bulk.insert(
        session,
        VERSION,
        {
            "record_id": columns["id"],
            "version": columns["version"],
            "client_id": principal.client_id,
            "created_at": now,
            **{name: columns[name] for name in POLICY_COLUMNS},
            "doc": text,
        },
    )
