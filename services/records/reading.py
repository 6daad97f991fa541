"""Reading alerts and distress reports: get, versions and filtered keyset-paginated lists."""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Executable, and_, bindparam, or_
from sqlmodel import Session, col, select

from auth.policy import can_read, readable
from auth.principal import Principal
from core import clock
from core.errors import Gone, Hidden, NotFound, Unprocessable
from models.base import UTCDateTime
from models.records import Record
from services.records import search
from services.records.filters import linked, linked_values
from services.records.kinds import KindSpec
from services.records.packing import page_rows
from services.records.rendering import render


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
    case_id: str | None = None
    vessel_keys: tuple[str, ...] = ()  # `mmsi:…`, `imo:…`, `callsign:…`: it names them all
    limit: int = 50
    cursor: str | None = None


def load(
    session: Session,
    principal: Principal,
    spec: KindSpec,
    record_id: str,
    *,
    for_update: bool = False,
) -> Record:
    """The record if the caller may read it; otherwise 404, whether it exists or not, and 410
    if it was purged (locked for the rest of the transaction `for_update`, where the database
    can)."""
    query = select(Record).where(col(Record.id) == record_id, col(Record.kind) == spec.kind.value)
    row = session.exec(query.with_for_update() if for_update else query).first()
    if row is None:
        raise NotFound(f"no {spec.kind.value} {record_id}")
    if not can_read(principal, row):
        raise Hidden(f"no {spec.kind.value} {record_id}")
    if row.purged_at is not None:
        raise Gone(
            f"{spec.kind.value} {record_id} was purged at the end of its retention period",
            extra={"tombstone": json.loads(row.doc)},
        )
    return row


def rendered(row: Record) -> str:
    """A record as a reader sees it now."""
    return render(row.doc, row.state, row.expires_at, row.position_at, clock.utcnow())


def get(session: Session, principal: Principal, spec: KindSpec, record_id: str) -> tuple[str, int]:
    row = load(session, principal, spec, record_id)
    return rendered(row), row.version


@dataclass(frozen=True)
class Listing:
    """A page of records as JSON, with what the audit trail notes of it."""

    docs: list[str]
    next_cursor: str | None
    ids: list[str]
    countries: list[str]  # each record's, beside `ids`


def list_records(
    session: Session, principal: Principal, spec: KindSpec, wanted: RecordFilter
) -> Listing:
    """Newest first, keyset-paginated on the insertion sequence: stable under new inserts."""
    now = clock.utcnow()
    values = _values(wanted, now)
    query = _list_query(spec.kind.value, readable(principal), _shape(wanted))
    rows = page_rows(session.connection(), query, values)
    page = rows[: wanted.limit]
    more = len(rows) > wanted.limit
    last_seq = page[-1][0] if page else None
    return Listing(
        docs=_render_page(page, now),
        next_cursor=encode_cursor(last_seq) if more and last_seq is not None else None,
        ids=[row[4] for row in page],
        countries=[row[5] for row in page],
    )


def _render_page(page: Sequence[Sequence[Any]], now: datetime) -> list[str]:
    """`render` of each row of `_list_query`, its common case inlined: a record not past its
    expiry gets only its position age, appended as `with_position_age` does, without three
    calls a record (a page holds up to 200; PERFORMANCE.md, B3)."""
    return [
        render(doc, state, expires, at, now)
        if expires is not None and state == "active" and expires <= now
        else f'{doc[:-1]},"position_age_seconds":'
        f"{'null' if at is None else max(0, int((now - at).total_seconds()))}}}"
        for _s, doc, state, expires, _i, _c, at in page
    ]


@dataclass(frozen=True)
class _Shape:
    """Which filters a request uses: the list statement is built once for each shape, and
    each request only binds its values (building it costs more than running it)."""

    category: bool
    min_severity: bool
    state: str | None  # "expired", "active", another state (bound), or None
    sender_country: bool
    bbox: str | None  # "box", "antimeridian" (the box crosses it) or None
    updated_since: bool
    q_words: int  # every word of `q` must match
    cursor: bool
    case_id: bool = False
    vessels: int = 0


def _shape(wanted: RecordFilter) -> _Shape:
    bbox = None
    if wanted.bbox is not None:
        bbox = "box" if wanted.bbox[0] <= wanted.bbox[2] else "antimeridian"
    state = wanted.state if wanted.state in (None, "expired", "active") else "other"
    return _Shape(
        category=wanted.category is not None,
        min_severity=wanted.min_severity_rank is not None,
        state=state,
        sender_country=wanted.sender_country is not None,
        bbox=bbox,
        updated_since=wanted.updated_since is not None,
        q_words=len(search.words(wanted.q)) if wanted.q else 0,
        cursor=wanted.cursor is not None,
        case_id=wanted.case_id is not None,
        vessels=len(wanted.vessel_keys),
    )


def _values(wanted: RecordFilter, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": wanted.status,
        "category": wanted.category,
        "min_severity": wanted.min_severity_rank,
        "state": wanted.state,
        "sender_country": wanted.sender_country,
        "updated_since": wanted.updated_since,
        "now": now,
        "page_size": wanted.limit + 1,
    }
    if wanted.bbox is not None:
        values.update(zip(("min_lon", "min_lat", "max_lon", "max_lat"), wanted.bbox, strict=True))
    for number, word in enumerate(search.words(wanted.q) if wanted.q else ()):
        values[f"q{number}"] = search.like_pattern(word)
    if wanted.cursor is not None:
        values["before"] = decode_cursor(wanted.cursor)
    values.update(linked_values(wanted.case_id, wanted.vessel_keys))
    return values


@lru_cache(maxsize=1024)
def _list_query(kind: str, visible: ColumnElement[bool], shape: _Shape) -> Executable:
    """`visible` comes from `readable`, which keeps one clause per reader: a fair cache key."""
    query = (
        sa.select(
            col(Record.seq),
            col(Record.doc),
            col(Record.state),
            col(Record.expires_at),
            col(Record.id),
            col(Record.sender_country),
            col(Record.position_at),
        )
        .where(col(Record.kind) == kind, visible)
        .where(*_conditions(shape))
        .order_by(col(Record.seq).desc())
        .limit(bindparam("page_size", type_=sa.Integer))
    )
    # Each database's planner picks the index (models/records.py): the list index, or the one
    # a selective filter leads. (SQLAlchemy renders no index hint for SQLite.)
    if shape.cursor:
        query = query.where(col(Record.seq) < bindparam("before", type_=sa.Integer))
    return query


def _conditions(shape: _Shape) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        col(Record.status) == bindparam("status"),
        col(Record.purged_at).is_(None),
    ]
    if shape.category:
        conditions.append(col(Record.category) == bindparam("category"))
    if shape.min_severity:
        conditions.append(col(Record.severity_rank) >= bindparam("min_severity"))
    now = bindparam("now", type_=UTCDateTime)
    if shape.state == "expired":
        conditions += [col(Record.state) == "active", col(Record.expires_at) <= now]
    elif shape.state == "active":
        conditions += [
            col(Record.state) == "active",
            or_(col(Record.expires_at).is_(None), col(Record.expires_at) > now),
        ]
    elif shape.state is not None:
        conditions.append(col(Record.state) == bindparam("state"))
    if shape.sender_country:
        conditions.append(col(Record.sender_country) == bindparam("sender_country"))
    if shape.bbox is not None:
        conditions.append(_in_bbox(crosses_antimeridian=shape.bbox == "antimeridian"))
    if shape.updated_since:
        conditions.append(col(Record.updated_at) >= bindparam("updated_since"))
    for number in range(shape.q_words):  # on PostgreSQL, ix_record_search finds each word
        conditions.append(col(Record.search_text).like(bindparam(f"q{number}"), escape="/"))
    conditions += linked(case_id=shape.case_id, vessels=shape.vessels)
    return conditions


def _in_bbox(*, crosses_antimeridian: bool) -> ColumnElement[bool]:
    lat = and_(col(Record.lat) >= bindparam("min_lat"), col(Record.lat) <= bindparam("max_lat"))
    west, east = col(Record.lon) >= bindparam("min_lon"), col(Record.lon) <= bindparam("max_lon")
    return and_(lat, or_(west, east)) if crosses_antimeridian else and_(lat, west, east)


MAX_SEQ = 2**31 - 1  # seq (and version) columns are 32-bit integers on PostgreSQL


def encode_cursor(seq: int, tag: str = "s") -> str:
    return base64.urlsafe_b64encode(f"{tag}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, tag: str = "s") -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if (
            not raw.startswith(tag)
            or not (raw[1:].isascii() and raw[1:].isdigit())
            or int(raw[1:]) > MAX_SEQ
        ):
            raise ValueError(raw)
        return int(raw[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Unprocessable([{"field": "cursor", "message": "not a cursor from this API"}]) from exc
