"""Reading alerts and distress reports: get, versions and filtered keyset-paginated lists."""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import Session, col, select

from auth.policy import can_read, readable
from auth.principal import Principal
from core.clock import utcnow
from core.errors import Hidden, NotFound, Unprocessable
from models.records import Record, RecordVersion
from services.kinds import KindSpec
from services.records import dumps


@dataclass(frozen=True)
class RecordFilter:
    category: str | None = None
    min_severity_rank: int | None = None
    state: str | None = None
    status: str = "actual"
    sender_country: str | None = None
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat
    updated_since: datetime | None = None
    q: str | None = None
    limit: int = 50
    cursor: str | None = None


def load(session: Session, principal: Principal, spec: KindSpec, record_id: str) -> Record:
    """The record if the caller may read it; otherwise 404, whether it exists or not."""
    row = session.exec(
        select(Record).where(col(Record.id) == record_id, col(Record.kind) == spec.kind.value)
    ).first()
    if row is None:
        raise NotFound(f"no {spec.kind.value} {record_id}")
    if not can_read(principal, row):
        raise Hidden(f"no {spec.kind.value} {record_id}")
    return row


def render(doc: str, state: str, expires_at: datetime | None, now: datetime) -> str:
    """The stored JSON, with an active alert past its expiry shown as `expired`."""
    if state != "active" or expires_at is None or expires_at > now:
        return doc
    data: dict[str, Any] = json.loads(doc)
    data["state"] = "expired"
    return dumps(data)


def get(session: Session, principal: Principal, spec: KindSpec, record_id: str) -> tuple[str, int]:
    row = load(session, principal, spec, record_id)
    return render(row.doc, row.state, row.expires_at, utcnow()), row.version


def versions(session: Session, principal: Principal, spec: KindSpec, record_id: str) -> list[str]:
    load(session, principal, spec, record_id)
    query = (
        select(RecordVersion.doc)
        .where(col(RecordVersion.record_id) == record_id)
        .order_by(col(RecordVersion.version))
    )
    return list(session.exec(query).all())


@dataclass(frozen=True)
class Listing:
    """A page of records as JSON, with what the audit trail notes of it."""

    docs: list[str]
    next_cursor: str | None
    ids: list[str]
    countries: list[str]


def list_records(
    session: Session, principal: Principal, spec: KindSpec, wanted: RecordFilter
) -> Listing:
    """Newest first, keyset-paginated on the insertion sequence: stable under new inserts."""
    now = utcnow()
    query = (
        sa.select(
            col(Record.seq),
            col(Record.doc),
            col(Record.state),
            col(Record.expires_at),
            col(Record.id),
            col(Record.sender_country),
        )
        .where(col(Record.kind) == spec.kind.value, readable(principal))
        .where(*_conditions(wanted, now))
        .with_hint(Record, "INDEXED BY ix_record_list", "sqlite")  # see models/records.py
        .order_by(col(Record.seq).desc())
        .limit(wanted.limit + 1)
    )
    if wanted.cursor is not None:
        query = query.where(col(Record.seq) < decode_cursor(wanted.cursor))
    rows = session.connection().execute(query).all()
    page = rows[: wanted.limit]
    more = len(rows) > wanted.limit
    last_seq = page[-1][0] if page else None
    return Listing(
        docs=[render(doc, state, expires, now) for _s, doc, state, expires, _i, _c in page],
        next_cursor=encode_cursor(last_seq) if more and last_seq is not None else None,
        ids=[row[4] for row in page],
        countries=sorted({row[5] for row in page}),
    )


def _conditions(wanted: RecordFilter, now: datetime) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [col(Record.status) == wanted.status]
    if wanted.category is not None:
        conditions.append(col(Record.category) == wanted.category)
    if wanted.min_severity_rank is not None:
        conditions.append(col(Record.severity_rank) >= wanted.min_severity_rank)
    if wanted.state == "expired":
        conditions += [col(Record.state) == "active", col(Record.expires_at) <= now]
    elif wanted.state == "active":
        conditions += [
            col(Record.state) == "active",
            or_(col(Record.expires_at).is_(None), col(Record.expires_at) > now),
        ]
    elif wanted.state is not None:
        conditions.append(col(Record.state) == wanted.state)
    if wanted.sender_country is not None:
        conditions.append(col(Record.sender_country) == wanted.sender_country)
    if wanted.bbox is not None:
        conditions.append(_in_bbox(*wanted.bbox))
    if wanted.updated_since is not None:
        conditions.append(col(Record.updated_at) >= wanted.updated_since)
    if wanted.q:
        conditions.append(col(Record.search_text).contains(wanted.q.lower(), autoescape=True))
    return conditions


def _in_bbox(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> ColumnElement[bool]:
    lat = and_(col(Record.lat) >= min_lat, col(Record.lat) <= max_lat)
    if min_lon <= max_lon:
        return and_(lat, col(Record.lon) >= min_lon, col(Record.lon) <= max_lon)
    # the box crosses the antimeridian
    return and_(lat, or_(col(Record.lon) >= min_lon, col(Record.lon) <= max_lon))


MAX_SEQ = 2**31 - 1  # seq columns are 32-bit integers on PostgreSQL


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("s") or not raw[1:].isdigit() or int(raw[1:]) > MAX_SEQ:
            raise ValueError(raw)
        return int(raw[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Unprocessable([{"field": "cursor", "message": "not a cursor from this API"}]) from exc
