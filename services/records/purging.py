"""The retention purge: a record past its `retain_until` loses its content everywhere.

One record is purged in one transaction, whole or not at all: its current row, every version
and every event of it become the tombstone `{id, kind, sender_agency, created_at, purged_at}`
(so pending deliveries and replays, which send an event's stored data, send the tombstone);
its sightings, vessel links and acknowledgement notes go; and `alert.purged` /
`distress.purged` tells everyone who could read any of its versions. Audit rows hold no
content and stay; the purge adds one of its own. Readers get 410 (records/reading.py: load).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from auth.policy import POLICY_COLUMNS
from core.clock import iso
from core.jsontext import dumps
from models.records import Record
from models.tables import EVENT, RECORD, SIGHTING, VERSION, VESSEL_LINK
from services.audit import trail
from services.records.events import emit

ACK = sa.table("ack", sa.column("record_id"), sa.column("note"))
PATHS = {"alert": "alerts", "distress": "distress-reports"}  # the audit trail's object types
CHUNK = 20  # records purged a dispatcher round at most: a round is one writer unit


@dataclass(frozen=True)
class Due:
    id: str
    kind: str
    sender_agency: str
    retain_until: datetime
    seq: int  # with retain_until, its place in the order a dry run pages by


def _due_query(as_of: datetime) -> Any:
    return (
        select(Record)
        .where(
            col(Record.retain_until) <= as_of,
            col(Record.purged_at).is_(None),
            col(Record.legal_hold).is_(False),
        )
        .order_by(col(Record.retain_until), col(Record.seq))
    )


def due(session: Session, as_of: datetime, limit: int, after: Due | None = None) -> list[Due]:
    """Records a purge as of `as_of` would take, soonest expired first, from just after
    `after` (a dry run's pages).

    Keyset on the due query's own order, (retain_until, seq): a page costs its own rows however
    far into the list it is (OFFSET read every row before it), and a record purged meanwhile
    moves no other across a page's edge. Only the columns a dry run prints are read."""
    query = _due_query(as_of).with_only_columns(
        col(Record.id),
        col(Record.kind),
        col(Record.sender_agency),
        col(Record.retain_until),
        col(Record.seq),
    )
    if after is not None:
        place = sa.tuple_(col(Record.retain_until), col(Record.seq))
        query = query.where(place > (after.retain_until, after.seq))
    rows = session.connection().execute(query.limit(limit)).all()
    return [Due(*row) for row in rows]


def count_due(session: Session, as_of: datetime) -> int:
    query = _due_query(as_of).order_by(None).with_only_columns(sa.func.count())
    return int(session.exec(query).one())


def purge_due(
    session: Session, as_of: datetime, now: datetime, *, limit: int = CHUNK, actor: str
) -> int:
    """Purge up to `limit` records expired by `as_of`; return how many were purged.

    Rows another worker holds are skipped (SKIP LOCKED) and each purge is conditional on the
    row being neither purged nor held, so with several workers each record is purged, and
    announced, once."""
    query = (
        _due_query(as_of)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)  # the unit's session may hold older copies
    )
    purged = 0
    for row in session.exec(query).all():
        if purge(session, row, now):
            trail.append(session, _entry(row, as_of, actor))
            purged += 1
    return purged


def tombstone(row: Record, now: datetime) -> str:
    return dumps(
        {
            "id": row.id,
            "kind": row.kind,
            "sender_agency": row.sender_agency,
            "created_at": iso(row.created_at),
            "purged_at": iso(now),
        }
    )


def purge(session: Session, row: Record, now: datetime) -> bool:
    """Replace a record's content by its tombstone everywhere, in the caller's transaction;
    False (nothing done) if it was purged or put on hold meanwhile."""
    run = session.connection().execute
    text = tombstone(row, now)
    taken = run(
        RECORD.update()
        .where(
            RECORD.c.seq == row.seq,
            RECORD.c.purged_at.is_(None),
            RECORD.c.legal_hold.is_(False),
        )
        .values(
            doc=text,
            search_text="",
            purged_at=now,
            retain_until=None,
            case_id=None,
            category=None,
            lat=0.0,
            lon=0.0,
            position_at=None,
            ack_due_at=None,
            ack_check_at=None,
        )
    )
    if taken.rowcount != 1:
        return False
    handlings = run(
        sa.select(*(VERSION.c[name] for name in POLICY_COLUMNS))
        .where(VERSION.c.record_id == row.id)
        .distinct()
    ).all()
    run(VERSION.update().where(VERSION.c.record_id == row.id).values(doc=text))
    run(
        EVENT.update()
        .where(EVENT.c.record_id == row.id)
        .values(data=text, category=None, severity_rank=0, lat=0.0, lon=0.0)
    )
    run(SIGHTING.delete().where(SIGHTING.c.record_id == row.id))
    run(VESSEL_LINK.delete().where(VESSEL_LINK.c.record_id == row.id))
    run(ACK.update().where(ACK.c.record_id == row.id).values(note=None))
    # Everyone who could read a version hears of it: one notice per distinct handling.
    for handling in handlings:
        columns = {"id": row.id, **dict(zip(POLICY_COLUMNS, handling, strict=True))}
        columns.update(category=None, severity_rank=0, lat=0.0, lon=0.0)
        emit(session, f"{row.kind}.purged", columns, text)
    return True


def _entry(row: Record, as_of: datetime, actor: str) -> trail.Entry:
    retain_until = None if row.retain_until is None else iso(row.retain_until)
    return trail.Entry(
        action="retention purge",
        outcome="success",
        status_code=0,
        actor_client=actor,
        object_type=PATHS[row.kind],
        object_id=row.id,
        object_countries=[row.sender_country],
        detail={"retain_until": retain_until, "as_of": iso(as_of)},
    )
