"""Cases: the records sharing a `case_id`, as the caller may read them.

No case table decides anything: every view is built from the records the one policy lets the
caller read, so a case never shows a record (or a sighting, a vessel or a position of one)
its caller could not read on its own.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from auth.policy import readable
from auth.principal import Principal
from core.clock import iso, utcnow
from core.errors import NotFound, Unprocessable
from models.records import Record
from models.tables import VESSEL_LINK
from models.vessels import keys_of_vessel, vessels_of
from services.records import tracks
from services.records.reading import decode_cursor, encode_cursor
from services.records.rendering import render
from services.records.vessels import naming

MAX_CASE_RECORDS = 500  # a case is a handful of records; a runaway reuse of one id is cut here


def check_askable(case_id: str | None, before: str | None = None) -> None:
    """422 naming `case_id` for one that could never be asked for. `GET /v1/cases/{case_id}`
    takes slashes, and HTTP clients remove `.` and `..` segments from a path before sending it
    (RFC 3986 §5.2.4): `BDCG/../MY-7` would arrive as `MY-7`, another case. Only a case id
    being written is checked (`before` is the stored one): a record stored with such an id
    before this rule keeps it, and is still updated, cancelled and closed."""
    if case_id is None or case_id == before:
        return
    if any(part in (".", "..") for part in case_id.split("/")):
        message = "a case id has no `.` or `..` between slashes: it is asked for in a path"
        raise Unprocessable([{"field": "case_id", "message": message}])


@dataclass(frozen=True)
class CaseView:
    doc: dict[str, Any]
    ids: list[str]
    countries: list[str]  # beside `ids`, for the audit row


def get_case(session: Session, principal: Principal, case_id: str, status: str) -> CaseView:
    """The case as the caller may read it: records oldest first, their sightings, vessels,
    last position and whether a distress report is open. 404 when it may read none."""
    query = (
        sa.select(
            col(Record.doc),
            col(Record.state),
            col(Record.expires_at),
            col(Record.id),
            col(Record.sender_country),
            col(Record.position_at),
        )
        .where(col(Record.case_id) == case_id, col(Record.status) == status, readable(principal))
        .order_by(col(Record.seq))
        .limit(MAX_CASE_RECORDS)
    )
    rows = session.connection().execute(query).all()
    if not rows:
        raise NotFound(f"no case {case_id}")
    now = utcnow()
    records = [
        json.loads(render(doc, state, expires, at, now))
        for doc, state, expires, _id, _country, at in rows
    ]
    ids = [row[3] for row in rows]
    sightings = tracks.sighting_docs(session, ids)
    fixes = [tracks.fix_of_record(doc) for doc in records]
    fixes += [tracks.fix_of_sighting(doc) for doc in sightings]
    positions = tracks.in_time_order(fixes)
    doc = {
        "case_id": case_id,
        "records": records,
        "sightings": sightings,
        "vessels": _vessels(records),
        "last_position": _last(positions, records),
        "open_distress": any(r["kind"] == "distress" and r["state"] == "open" for r in records),
    }
    return CaseView(doc, ids, [row[4] for row in rows])


def _last(positions: list[dict[str, Any]], records: list[dict[str, Any]]) -> Any:
    """The newest position by the time it was true. An alert without `observed_at` names a
    place, drawn at its last change (tracks.fix_of_record): that is when it was written, not
    when the boat was there, so it is the last position only when nothing else has a time."""
    placed = {doc["id"] for doc in records if doc["kind"] == "alert" and not doc.get("observed_at")}
    timed = [fix for fix in positions if fix["source"] == "sighting" or fix["id"] not in placed]
    chosen = timed or positions
    return chosen[-1] if chosen else None


def _vessels(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each vessel once: those sharing a key are one boat (described as the latest record
    has it); those with no key, once per distinct description. A vessel naming two keys
    joins the boats known by either (an MMSI in one record, an IMO in another, both in a
    third are one boat), whatever order the records came in."""
    order = {record["id"]: place for place, record in enumerate(records)}
    found: list[dict[str, Any]] = []
    for record in records:
        for vessel in vessels_of(record):
            keys = keys_of_vessel(vessel)
            same = [
                entry
                for entry in found
                if (keys and set(keys) & set(entry["keys"]))
                or (not keys and not entry["keys"] and entry["vessel"] == vessel)
            ]
            if not same:
                found.append({"keys": keys, "vessel": vessel, "named_by": [record["id"]]})
                continue
            boat, *joined = same
            named_by = {record["id"], *boat["named_by"]}
            for entry in joined:
                keys = [*keys, *entry["keys"]]
                named_by.update(entry["named_by"])
                found.remove(entry)
            boat["keys"] = sorted(set(boat["keys"]) | set(keys))
            boat["vessel"] = vessel
            boat["named_by"] = sorted(named_by, key=order.__getitem__)
    return found


WALK = 500  # records read at a time while looking for the next page's cases


def list_cases(
    session: Session,
    principal: Principal,
    vessel: str | None,
    updated_since: datetime | None,
    status: str,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """The cases with a record the caller may read (changed since `updated_since`), the one
    such record joined most recently first, each summed up from the readable records only.

    Walks the readable records in a case newest first (`ix_record_in_case`), a few hundred at
    a time, and sums up the cases it meets: a page costs about its own cases, not every case
    there is.
    A case comes first at its newest matching record, its key; the cursor is the last key
    given, and a case met again below it, whose key is above it, was given already.
    """
    connection = session.connection()
    visible = [
        col(Record.case_id).is_not(None),
        col(Record.status) == status,
        readable(principal),
    ]
    # The vessel is a condition on the walk only: it holds for a whole case or for none of its
    # records, so the summaries, asked only about cases the walk met, need not repeat it.
    matching = list(visible)
    if vessel is not None:
        matching.append(_names(principal, vessel, status))
    if updated_since is not None:
        matching.append(col(Record.updated_at) >= updated_since)
    ceiling = before = decode_cursor(cursor) if cursor is not None else None
    found: list[Any] = []
    met: set[str] = set()
    while len(found) <= limit:
        walk = sa.select(col(Record.seq), col(Record.case_id)).where(*matching)
        if before is not None:
            walk = walk.where(col(Record.seq) < before)
        rows = connection.execute(walk.order_by(col(Record.seq).desc()).limit(WALK)).all()
        fresh = list(dict.fromkeys(str(case) for _seq, case in rows if case not in met))
        met.update(fresh)
        sums = _summaries(connection, visible, fresh, updated_since)
        found += [sums[case] for case in fresh if ceiling is None or sums[case].key < ceiling]
        if len(rows) < WALK:
            break
        before = rows[-1][0]
    page = found[:limit]
    items = [
        {
            "case_id": row.case_id,
            "records": row.count,
            "kinds": [k for k, has in (("alert", row.alerts), ("distress", row.distress)) if has],
            "updated_at": iso(row.updated),
            "open_distress": bool(row.open_distress),
        }
        for row in page
    ]
    more = len(found) > limit
    return {"items": items, "next_cursor": encode_cursor(page[-1].key) if more else None}


NAMING = aliased(Record, name="naming")  # a record of the walked record's case


def _names(principal: Principal, vessel: str, status: str) -> ColumnElement[bool]:
    """The record's case has a record the caller may read naming `vessel`.

    Asked of each walked record about its own case (ix_record_case, then the record's links),
    so a statement binds the key alone and does a page's work however many records name the
    vessel; a list of the vessel's cases grew with them, and so does an IN subquery, which
    SQLite reads whole for each statement."""
    # Written as two nested EXISTS so that each is one table's lookup by its own index, which
    # SQLite with no statistics plans as well (a join here it planned from the vessel's links).
    linked = naming(vessel).where(VESSEL_LINK.c.record_id == col(NAMING.id))
    named = sa.select(col(NAMING.id)).where(
        col(NAMING.case_id) == col(Record.case_id),
        col(NAMING.status) == status,
        readable(principal, NAMING),
        linked.exists(),
    )
    return named.exists()


def _summaries(
    connection: sa.Connection,
    visible: list[Any],
    cases: list[str],
    updated_since: datetime | None,
) -> dict[str, Any]:
    """Each case summed up over the records the caller may read, with its key: the newest
    such record's seq (changed since `updated_since`)."""
    if not cases:
        return {}
    seq = col(Record.seq)
    key = sa.case((col(Record.updated_at) >= updated_since, seq)) if updated_since else seq
    query = (
        sa.select(
            col(Record.case_id).label("case_id"),
            sa.func.max(key).label("key"),
            sa.func.count().label("count"),
            sa.func.max(col(Record.updated_at)).label("updated"),
            _any(col(Record.kind) == "alert").label("alerts"),
            _any(col(Record.kind) == "distress").label("distress"),
            _any(sa.and_(col(Record.kind) == "distress", col(Record.state) == "open")).label(
                "open_distress"
            ),
        )
        .where(col(Record.case_id).in_(cases), *visible)
        .group_by(col(Record.case_id))
    )
    return {row.case_id: row for row in connection.execute(query)}


def _any(condition: Any) -> Any:
    return sa.func.max(sa.case((condition, 1), else_=0))
