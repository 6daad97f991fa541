"""Sightings of a record's vessel: reported by any agency that can read the record, read by
exactly those who can read it, and announced as `sighting.created` to the same readers."""

import json
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from auth.principal import Principal
from core import bulk
from core.clock import iso, utcnow
from core.ids import new_id
from core.jsontext import dumps
from models.sightings import SightingCreate
from models.tables import SIGHTING
from services.records.events import EVENT_COLUMNS, emit
from services.records.kinds import KindSpec
from services.records.reading import decode_cursor, encode_cursor, load
from services.records.timing import check_happened

SIGHTINGS = SIGHTING
EVENT_TYPE = "sighting.created"


def create(
    session: Session, principal: Principal, spec: KindSpec, record_id: str, data: SightingCreate
) -> dict[str, Any]:
    """Add a sighting to a record the caller can read (404 otherwise), with its event: the
    record's handling decides who gets it, the sighting's own position where it is."""
    now = utcnow()
    body = data.model_dump(mode="json")
    check_happened((("observed_at",),), body)
    record = load(session, principal, spec, record_id)
    doc = {
        "id": new_id(),
        "record_id": record.id,
        "kind": record.kind,
        **body,
        "reported_by": principal.agency,
        "created_at": iso(now),
    }
    text = dumps(doc)
    bulk.insert(
        session,
        SIGHTINGS,
        {
            "id": doc["id"],
            "record_id": record.id,
            "agency": principal.agency,
            "client_id": principal.client_id,
            "observed_at": data.observed_at,
            "created_at": now,
            "lat": data.position.lat,
            "lon": data.position.lon,
            "doc": text,
        },
    )
    columns = {name: getattr(record, name) for name in ("id", *EVENT_COLUMNS)}
    columns.update(lat=data.position.lat, lon=data.position.lon)
    emit(session, EVENT_TYPE, columns, text)
    return doc


def list_sightings(
    session: Session,
    principal: Principal,
    spec: KindSpec,
    record_id: str,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """A readable record's sightings in the order they were reported (404 if it is not)."""
    load(session, principal, spec, record_id)
    query = (
        sa.select(SIGHTINGS.c.seq, SIGHTINGS.c.doc)
        .where(SIGHTINGS.c.record_id == record_id)
        .order_by(SIGHTINGS.c.seq)
        .limit(limit + 1)
    )
    if cursor is not None:
        query = query.where(SIGHTINGS.c.seq > decode_cursor(cursor))
    rows = session.connection().execute(query).all()
    page = rows[:limit]
    return {
        "items": [json.loads(doc) for _seq, doc in page],
        "next_cursor": encode_cursor(page[-1][0]) if len(rows) > limit else None,
    }
