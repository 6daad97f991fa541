"""Where a boat was: the positions of the record versions and sightings a caller may read."""

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Select, true, tuple_
from sqlmodel import Session

from auth.policy import readable
from auth.principal import Principal
from models.records import RecordVersion
from models.tables import RECORD, SIGHTING, VERSION

MAX_FIXES = 5000  # positions one track or case draws from, at most (the newest are kept)


def version_fixes(
    session: Session, principal: Principal, record_ids: list[str]
) -> list[dict[str, Any]]:
    """A position per version of these records, each version judged by its own handling:
    the newest MAX_FIXES of them, each record's newest read through its primary key."""
    if not record_ids:
        return []
    newest = (
        sa.select(VERSION.c.record_id, VERSION.c.version, VERSION.c.doc, VERSION.c.created_at)
        .where(VERSION.c.record_id == RECORD.c.id, readable(principal, RecordVersion))
        .order_by(VERSION.c.version.desc())
        .limit(MAX_FIXES)
    )
    query = _newest_of_each(session, VERSION, newest, ("record_id", "version"), record_ids)
    rows = session.connection().execute(query.order_by(sa.desc("created_at")).limit(MAX_FIXES))
    return [fix_of_record(json.loads(row.doc)) for row in rows]


def _newest_of_each(
    session: Session, table: sa.Table, newest: Select[Any], key: tuple[str, ...], ids: list[str]
) -> Select[Any]:
    """The rows `newest` (over `table`, correlated to `record`) gives for each of the records
    `ids`. PostgreSQL joins each record LATERAL to them; SQLite, which has no LATERAL, looks
    each row up by its `key` among those the correlated subquery names (as delivery/outbox.py
    claims each subscription's head)."""
    chosen = RECORD.c.id.in_(ids)
    if session.get_bind().dialect.name == "postgresql":
        each = newest.lateral("each_record")
        return sa.select(*each.c).select_from(RECORD.join(each, true())).where(chosen)
    shown = table.alias("shown")
    named = newest.with_only_columns(*[table.c[name] for name in key])
    joined = RECORD.join(shown, tuple_(*[shown.c[name] for name in key]).in_(named))
    columns = [shown.c[column.name] for column in newest.selected_columns]
    return sa.select(*columns).select_from(joined).where(chosen)


def fix_of_record(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "distress":
        where = doc["position"]
        at = where["fix_time"]
    else:
        where = doc["location"]
        at = doc.get("observed_at") or doc["updated_at"]
    return {
        "lat": where["lat"],
        "lon": where["lon"],
        "at": at,
        "source": doc["kind"],
        "id": doc["id"],
        "record_id": doc["id"],
    }


def sighting_docs(session: Session, record_ids: list[str]) -> list[dict[str, Any]]:
    """The sightings of records the caller was already found to read, oldest seen first:
    the newest MAX_FIXES seen, each record's newest read through `ix_sighting_seen`."""
    if not record_ids:
        return []
    newest = (
        sa.select(SIGHTING.c.seq, SIGHTING.c.doc, SIGHTING.c.observed_at)
        .where(SIGHTING.c.record_id == RECORD.c.id)
        .order_by(SIGHTING.c.observed_at.desc(), SIGHTING.c.seq.desc())
        .limit(MAX_FIXES)
    )
    query = _newest_of_each(session, SIGHTING, newest, ("seq",), record_ids)
    newest_first = query.order_by(sa.desc("observed_at"), sa.desc("seq")).limit(MAX_FIXES)
    rows = session.connection().execute(newest_first)
    return [json.loads(row.doc) for row in rows][::-1]


def fix_of_sighting(doc: dict[str, Any]) -> dict[str, Any]:
    where = doc["position"]
    return {
        "lat": where["lat"],
        "lon": where["lon"],
        "at": doc["observed_at"],
        "source": "sighting",
        "id": doc["id"],
        "record_id": doc["record_id"],
    }


def in_time_order(fixes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Oldest first, each place-and-time once (unchanged positions repeat across versions)."""
    seen: set[tuple[float, float, str]] = set()
    ordered = []
    for fix in sorted(fixes, key=lambda fix: (datetime.fromisoformat(fix["at"]), fix["id"])):
        mark = (fix["lat"], fix["lon"], fix["at"])
        if mark not in seen:
            seen.add(mark)
            ordered.append(fix)
    return ordered


def line(fixes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A GeoJSON LineString through the fixes ([lon, lat]); None below two positions."""
    if len(fixes) < 2:
        return None
    return {"type": "LineString", "coordinates": [[fix["lon"], fix["lat"]] for fix in fixes]}
