"""Vessels by identity: each record's links to the MMSI, IMO and call signs it names, the
records naming a vessel, its track, and the earlier records a new one is related to."""

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from auth.policy import readable
from auth.principal import Principal
from core import bulk
from core.clock import utcnow
from core.errors import NotFound
from models.records import Record
from models.tables import VESSEL_LINK
from models.vessels import matched, vessel_keys
from services.records import tracks
from services.records.reading import decode_cursor, encode_cursor
from services.records.rendering import render

LINKS = VESSEL_LINK
MAX_RELATED = 20
TRACK_RECORDS = 500  # the newest records naming a vessel that its track is drawn from


def relink(
    session: Session, principal: Principal, record_id: str, doc: dict[str, Any], seq: int | None
) -> tuple[dict[str, Any], ...]:
    """Link a record to the vessels its current version names (replacing the links of its
    earlier version: an updated record's `seq`; None for a new one), and return the earlier
    readable records naming them (`related`)."""
    keys = vessel_keys(doc)
    if seq is not None:
        session.connection().execute(LINKS.delete().where(LINKS.c.record_id == record_id))
    bulk.insert(session, LINKS, [{"key": key, "record_id": record_id} for key in keys])
    return tuple(related(session, principal, record_id, keys, doc["status"], seq))


def related_to(
    session: Session, principal: Principal, record_id: str, doc_text: str
) -> tuple[dict[str, Any], ...]:
    """`related` for a record as stored (a replayed answer): what was published before it,
    as in the first answer, not what has been published since."""
    doc = json.loads(doc_text)
    seq = (
        session.connection()
        .execute(sa.select(col(Record.seq)).where(col(Record.id) == record_id))
        .scalar_one()
    )
    return tuple(related(session, principal, record_id, vessel_keys(doc), doc["status"], seq))


def naming(key: str) -> Any:
    """The ids of the records naming a vessel key, as a subquery (the link's primary key)."""
    return sa.select(LINKS.c.record_id).where(LINKS.c.key == key)


def related(
    session: Session,
    principal: Principal,
    record_id: str,
    keys: list[str],
    status: str,
    before_seq: int | None,
) -> list[dict[str, Any]]:
    """Readable records published before this one naming any of its vessel keys, newest
    first: `{id, kind, matched}` (at most MAX_RELATED). Only records of its own `status`: an
    exercise naming a real MMSI is no correlation for an actual report (nor the reverse), as
    cases and vessel views keep them apart."""
    if not keys:
        return []
    query = (
        sa.select(col(Record.id), col(Record.kind), LINKS.c.key)
        .join(LINKS, LINKS.c.record_id == col(Record.id))
        .where(
            LINKS.c.key.in_(keys),
            col(Record.id) != record_id,
            col(Record.status) == status,
            readable(principal),
        )
        .order_by(col(Record.seq).desc())
        .limit(MAX_RELATED * len(keys))
    )
    if before_seq is not None:
        query = query.where(col(Record.seq) < before_seq)
    found: dict[str, dict[str, Any]] = {}
    for other_id, kind, key in session.connection().execute(query):
        entry = found.setdefault(other_id, {"id": other_id, "kind": kind, "matched": []})
        entry["matched"] = matched([*entry["matched"], key], keys)
    return list(found.values())[:MAX_RELATED]


@dataclass(frozen=True)
class VesselView:
    doc: dict[str, Any]
    ids: list[str]
    countries: list[str]  # beside `ids`, for the audit row


def get_vessel(
    session: Session,
    principal: Principal,
    key: str,
    status: str,
    limit: int,
    cursor: str | None,
) -> VesselView:
    """The readable records naming a vessel, newest first, and its track drawn only from
    them (their readable versions and their sightings). 404 when none is readable."""
    base = (
        sa.select(
            col(Record.seq),
            col(Record.doc),
            col(Record.state),
            col(Record.expires_at),
            col(Record.id),
            col(Record.sender_country),
            col(Record.position_at),
        )
        .where(col(Record.id).in_(naming(key)), col(Record.status) == status, readable(principal))
        .order_by(col(Record.seq).desc())
    )
    connection = session.connection()
    page_query = base.limit(limit + 1)
    if cursor is not None:
        page_query = page_query.where(col(Record.seq) < decode_cursor(cursor))
    rows = connection.execute(page_query).all()
    track_ids = [row[4] for row in connection.execute(base.limit(TRACK_RECORDS))]
    if not track_ids:
        raise NotFound(f"no records you may read name {key}")
    page, now = rows[:limit], utcnow()
    fixes = tracks.version_fixes(session, principal, track_ids) + [
        tracks.fix_of_sighting(doc) for doc in tracks.sighting_docs(session, track_ids)
    ]
    positions = tracks.in_time_order(fixes)
    last = page[-1][0] if page else None
    doc = {
        "key": key,
        "items": [
            json.loads(render(text, state, expires, at, now))
            for _s, text, state, expires, _i, _c, at in page
        ],
        "next_cursor": encode_cursor(last) if len(rows) > limit and last is not None else None,
        "track": tracks.line(positions),
        "positions": positions,
    }
    return VesselView(doc, [row[4] for row in page], [row[5] for row in page])
