"""Acknowledgements: once per agency; pending ones are the readers who have not yet."""

from typing import Any

from sqlmodel import Session, col, select

from auth.policy import agency_reader, can_acknowledge, can_agency_read, can_see_client_id
from auth.principal import Principal
from core.clock import iso, utcnow
from core.errors import Conflict, Hidden
from core.jsontext import dumps
from models.enums import AgencyType
from models.records import Ack
from models.registry import Agency
from services.records.events import EVENT_COLUMNS, emit
from services.records.kinds import KindSpec
from services.records.reading import load


def _ack_json(ack: Ack, shown_client: str) -> dict[str, Any]:
    return {"agency": ack.agency, "client_id": shown_client, "note": ack.note, "at": iso(ack.at)}


def acknowledge(
    session: Session, principal: Principal, spec: KindSpec, record_id: str, note: str | None
) -> dict[str, Any]:
    row = load(session, principal, spec, record_id)
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


def list_acks(
    session: Session, principal: Principal, spec: KindSpec, record_id: str
) -> dict[str, list[Any]]:
    """Who acknowledged, and (when the sender asked for it) which readers have not yet."""
    row = load(session, principal, spec, record_id)
    acks = session.exec(
        select(Ack).where(col(Ack.record_id) == record_id).order_by(col(Ack.at))
    ).all()
    pending: list[str] = []
    if row.ack_required:
        done = {ack.agency for ack in acks} | {row.sender_agency}
        for agency in session.exec(select(Agency).order_by(col(Agency.code))).all():
            reader = agency_reader(agency.code, agency.country, agency.type)
            if (
                agency.code not in done
                and reader.agency_type != AgencyType.SECRETARIAT
                and can_agency_read(reader, row)
            ):
                pending.append(agency.code)
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
    return {"acknowledged": acknowledged, "pending": pending}
