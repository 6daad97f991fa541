"""Append to and verify the hash-chained audit trail.

Rows are appended in the transaction of what they record. One chain for the whole service:
on PostgreSQL an advisory lock held to commit serialises appends across processes; on SQLite
the write lock (BEGIN IMMEDIATE) does. `seq` is assigned here, so it has no gaps.
"""

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, cast

from sqlalchemy import Table, text
from sqlmodel import Session, col, select

from core import bulk
from core.clock import utcnow
from core.db import WRITERS_LOCK
from core.errors import ServiceUnavailable
from models.audit import GENESIS_HASH, AuditEvent
from models.records import Record

AUDIT = cast(Table, AuditEvent.__table__)  # type: ignore[attr-defined]
HEAD = "rilon_audit_head"  # (seq, hash) appended last in this transaction
RECORD_TYPES = {"alerts": "alert", "distress-reports": "distress"}
CANONICAL_FIELDS = (
    "seq",
    "id",
    "at",
    "actor_client",
    "actor_agency",
    "actor_country",
    "action",
    "object_type",
    "object_id",
    "object_countries",
    "outcome",
    "status_code",
    "ip",
    "request_id",
    "detail",
    "prev_hash",
)


class AuditUnavailable(ServiceUnavailable):
    title = "Audit trail unavailable"


@dataclass
class Entry:
    action: str
    outcome: str
    status_code: int
    actor_client: str | None = None
    actor_agency: str | None = None
    actor_country: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    object_countries: list[str] = field(default_factory=list)
    ip: str | None = None
    request_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


FLAG = "rilon_audit_flag"  # in session.info: what the unit of a request flagged


@dataclass(frozen=True)
class Flag:
    name: str
    countries: tuple[str, ...]  # whose auditors must see the row too


def flag(session: Session, name: str, countries: list[str]) -> None:
    """Flag the audit row of the request this unit serves (`flagged` files it there). A unit
    that fails takes its flag with it: the writer restores `session.info` (core/writer.py)."""
    session.info[FLAG] = Flag(name, tuple(countries))


def flagged(session: Session, entry: Entry) -> Entry:
    """The entry with its unit's flag as `detail.flag`, filed under the flag's countries too."""
    raised: Flag | None = session.info.pop(FLAG, None)
    if raised is None:
        return entry
    countries = sorted({*entry.object_countries, *raised.countries})
    return replace(entry, detail={**entry.detail, "flag": raised.name}, object_countries=countries)


def canonical(row: dict[str, Any]) -> str:
    values = {name: row[name] for name in CANONICAL_FIELDS}
    values["at"] = row["at"].isoformat()
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(row)).encode()).hexdigest()


def append(session: Session, entry: Entry) -> int:
    """Append one event after the current head; a failure fails the caller's transaction."""
    return append_many(session, [entry])[0]


def append_many(session: Session, entries: list[Entry]) -> list[int]:
    """Append events in order after the current head, in one INSERT; a failure fails the
    caller's transaction."""
    try:
        if session.get_bind().dialect.name == "postgresql":
            session.connection().execute(text(f"SELECT pg_advisory_xact_lock({WRITERS_LOCK})"))
        last = session.info.get(HEAD) or head(session)  # the head is ours till commit
        written: list[dict[str, Any]] = []
        for entry in entries:
            row = _row(session, entry, last[0] + 1, last[1])
            written.append(row)
            last = (row["seq"], row["hash"])
        bulk.insert(session, AUDIT, written)
        session.info[HEAD] = last
        return [row["seq"] for row in written]
    except Exception as exc:
        raise AuditUnavailable("the audit trail cannot be written; nothing was done") from exc


def _row(session: Session, entry: Entry, seq: int, prev_hash: str) -> dict[str, Any]:
    countries = entry.object_countries or _record_country(session, entry)
    row: dict[str, Any] = {
        "seq": seq,
        "id": str(uuid.uuid4()),
        "at": utcnow(),
        "actor_client": entry.actor_client,
        "actor_agency": entry.actor_agency,
        "actor_country": entry.actor_country,
        "action": entry.action[:200],
        "object_type": entry.object_type,
        "object_id": entry.object_id[:64] if entry.object_id else None,
        "object_countries": "," + ",".join(sorted(set(countries))) + "," if countries else "",
        "outcome": entry.outcome,
        "status_code": entry.status_code,
        "ip": entry.ip,
        "request_id": entry.request_id,
        "detail": json.dumps(entry.detail, sort_keys=True, separators=(",", ":")),
        "prev_hash": prev_hash,
    }
    row["hash"] = chain_hash(prev_hash, row)
    return row


def _record_country(session: Session, entry: Entry) -> list[str]:
    """Accesses to a record are filed under its sender's country, for that country's auditors."""
    kind = RECORD_TYPES.get(entry.object_type or "")
    if kind is None or not entry.object_id:
        return []
    country = session.exec(
        select(Record.sender_country).where(col(Record.id) == entry.object_id)
    ).first()
    return [country] if country else []


def head(session: Session) -> tuple[int, str]:
    last = session.exec(
        select(AuditEvent.seq, AuditEvent.hash).order_by(col(AuditEvent.seq).desc()).limit(1)
    ).first()
    return (last[0], last[1]) if last else (0, GENESIS_HASH)


def rows(session: Session, after: int = 0, chunk: int = 1000) -> Iterator[dict[str, Any]]:
    """Every row in seq order, read in chunks so memory stays flat."""
    while True:
        batch = session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.seq) > after)
            .order_by(col(AuditEvent.seq))
            .limit(chunk)
        ).all()
        for event in batch:
            yield event.model_dump()
        if len(batch) < chunk:
            return
        after = batch[-1].seq


@dataclass
class Verdict:
    ok: bool
    checked: int
    head_hash: str
    first_bad_seq: int | None


def verify(
    session: Session,
    anchor: tuple[int, str] | None = None,
    on_checked: Callable[[int], None] | None = None,
) -> Verdict:
    """Walk the chain; name the first seq whose row was edited, removed, added or moved.

    `anchor` is a (seq, hash) exported earlier by `rilon audit head`: a chain cut short
    after it, or rewritten up to it, is caught too. `on_checked` hears how many rows are
    verified so far, every 1,000 rows.
    """
    prev_hash, expected, checked = GENESIS_HASH, 1, 0
    for row in rows(session):
        if row["seq"] != expected or row["prev_hash"] != prev_hash:
            return Verdict(False, checked, prev_hash, expected)
        if chain_hash(prev_hash, row) != row["hash"]:
            return Verdict(False, checked, prev_hash, expected)
        if anchor is not None and row["seq"] == anchor[0] and row["hash"] != anchor[1]:
            return Verdict(False, checked, prev_hash, expected)
        prev_hash, expected, checked = row["hash"], expected + 1, checked + 1
        if on_checked is not None and checked % 1000 == 0:
            on_checked(checked)
    if anchor is not None and anchor[0] >= expected:
        return Verdict(False, checked, prev_hash, expected)
    return Verdict(True, checked, prev_hash, None)
