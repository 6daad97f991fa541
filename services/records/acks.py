"""Acknowledgements: once per agency; pending ones are the required agencies (those the sender
named, else every reader) that have not yet, overdue once the record's deadline has passed."""

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from auth.policy import agency_reader, can_acknowledge, can_agency_read, can_see_client_id
from auth.principal import Principal
from core.clock import iso, utcnow
from core.errors import Conflict, Hidden
from core.jsontext import dumps
from models.enums import AgencyType
from models.records import Ack, Record
from models.registry import Agency
from services.records.events import EVENT_COLUMNS, emit
from services.records.kinds import KindSpec
from services.records.reading import load


def _ack_json(ack: Ack, shown_client: str) -> dict[str, Any]:
    return {"agency": ack.agency, "client_id": shown_client, "note": ack.note, "at": iso(ack.at)}


def acknowledge(
    session: Session, principal: Principal, spec: KindSpec, record_id: str, note: str | None
) -> dict[str, Any]:
    # locked: the overdue round skips a record being acknowledged, and sees the ack after
    row = load(session, principal, spec, record_id, for_update=True)
    if not can_acknowledge(principal, row):
        if row.sender_agency == principal.agency:
            raise Conflict("the sending agency does not acknowledge its own record")
        raise Hidden(f"no {spec.kind.value} {record_id}")
    if session.get(Ack, (record_id, principal.agency)) is not None:
        raise Conflict(f"{principal.agency} has already acknowledged this {spec.kind.value}")
    ack = Ack(
        record_id=record_id,
        agency=principal.agency,
        client_id=principal.client_id,
        note=note,
        at=utcnow(),
    )
    session.add(ack)
    columns = {name: getattr(row, name) for name in ("id", *EVENT_COLUMNS)}
    # The event goes to every reader: it names the agency where the client id would be.
    data = row.doc[:-1] + ',"acknowledgement":' + dumps(_ack_json(ack, ack.agency)) + "}"
    emit(session, f"{spec.kind.value}.acknowledged", columns, data)
    return _ack_json(ack, ack.client_id)


def pending_agencies(session: Session, row: Record, acknowledged: set[str]) -> list[str]:
    """The required agencies that have not acknowledged: those the sender named in
    `ack_required_from`, else every agency that can read the record (none unless asked)."""
    if not row.ack_required:
        return []
    done = acknowledged | {row.sender_agency}
    named: list[str] = json.loads(row.doc)["handling"].get("ack_required_from", [])
    if named:
        return [code for code in named if code not in done]
    pending = []
    for agency in session.exec(select(Agency).order_by(col(Agency.code))).all():
        reader = agency_reader(agency.code, agency.country, agency.type)
        if (
            agency.code not in done
            and reader.agency_type != AgencyType.SECRETARIAT
            and can_agency_read(reader, row)
        ):
            pending.append(agency.code)
    return pending


def is_watched(row: Record, now: datetime) -> bool:
    """Whether missing acknowledgements still matter: not once closed, cancelled or expired."""
    return row.state in ("open", "active") and (row.expires_at is None or row.expires_at > now)


def list_acks(
    session: Session, principal: Principal, spec: KindSpec, record_id: str
) -> dict[str, Any]:
    """Who acknowledged, which required agencies have not yet, and by when they should have."""
    row = load(session, principal, spec, record_id)
    acks = session.exec(
        select(Ack).where(col(Ack.record_id) == record_id).order_by(col(Ack.at))
    ).all()
    pending = pending_agencies(session, row, {ack.agency for ack in acks})
    due, now = row.ack_due_at, utcnow()
    overdue = due is not None and due <= now and bool(pending) and is_watched(row, now)
    countries = dict(
        session.exec(
            select(Agency.code, Agency.country).where(
                col(Agency.code).in_({ack.agency for ack in acks})
            )
        ).all()
    )
    acknowledged = [
        _ack_json(
            ack,
            ack.client_id
            if can_see_client_id(principal, ack.agency, countries.get(ack.agency))
            else ack.agency,
        )
        for ack in acks
    ]
    return {
        "acknowledged": acknowledged,
        "pending": pending,
        "due_at": None if due is None else iso(due),
        "overdue": overdue,
    }
