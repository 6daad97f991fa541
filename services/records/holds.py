"""Legal holds: the sender agency's admin suspends a record's purge, and lifts it again."""

import json

from sqlmodel import Session

from auth.principal import Principal
from core.errors import Forbidden
from core.jsontext import dumps
from models.enums import Role
from models.tables import RECORD
from services.records import reading
from services.records.kinds import KindSpec
from services.records.publishing import Saved


def hold(session: Session, principal: Principal, spec: KindSpec, record_id: str, on: bool) -> Saved:
    """Set or lift the legal hold of a record of the caller's agency (its admins only): no
    purge while on. Not a new version: the current one shows it, with the same number."""
    row = reading.load(session, principal, spec, record_id, for_update=True)
    if row.sender_agency != principal.agency or Role.AGENCY_ADMIN not in principal.roles:
        raise Forbidden("only an admin of the sender agency sets or lifts a legal hold")
    doc = json.loads(row.doc)
    doc["legal_hold"] = on
    text = dumps(doc)
    session.connection().execute(
        RECORD.update().where(RECORD.c.seq == row.seq), {"legal_hold": on, "doc": text}
    )
    return Saved(text, row.id, row.version, row.sender_country, position_at=row.position_at)
