"""Where a boat was: the positions of the record versions and sightings a caller may read."""

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from auth.policy import readable
from auth.principal import Principal
from models.records import RecordVersion
from models.sightings import Sighting

MAX_FIXES = 5000  # positions one track or case draws from, at most (the newest are kept)


def version_fixes(
    session: Session, principal: Principal, record_ids: list[str]
) -> list[dict[str, Any]]:
    """A position per version of these records, each version judged by its own handling."""
    if not record_ids:
        return []
    query = (
        select(RecordVersion.doc)
        .where(col(RecordVersion.record_id).in_(record_ids), readable(principal, RecordVersion))
        .order_by(col(RecordVersion.created_at).desc())
        .limit(MAX_FIXES)
    )
    return [fix_of_record(json.loads(doc)) for doc in session.exec(query).all()]


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
    """The sightings of records the caller was already found to read, oldest seen first."""
    if not record_ids:
        return []
    query = (
        select(Sighting.doc)
        .where(col(Sighting.record_id).in_(record_ids))
        .order_by(col(Sighting.observed_at).desc(), col(Sighting.seq).desc())
        .limit(MAX_FIXES)
    )
    docs = [json.loads(doc) for doc in session.exec(query).all()]
    return docs[::-1]


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
