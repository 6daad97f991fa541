"""Append to and verify the hash-chained audit trail.

Rows are appended in the transaction of what they record. One chain for the whole service:
on PostgreSQL an advisory lock held to commit serialises appends across processes; on SQLite
the write lock (BEGIN IMMEDIATE) does. `seq` is assigned here, so it has no gaps.
"""

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from core import bulk
from core.clock import utcnow
from core.db import serialize_writers
from core.driver import DRIVER_OUTAGES
from core.errors import RETRY_AFTER_SECONDS, RilonError, ServiceUnavailable
from core.ids import new_id
from core.jsontext import dumps_sorted
from models.audit import GENESIS_HASH, AuditEvent
from models.records import Record
from models.tables import AUDIT
from services.audit.fields import detail_json, fitted

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
    """The database is away: every row of the batch fails, and the caller may retry."""

    title = "Audit trail unavailable"


class RowRefused(RilonError):
    """The database refused this row (a bug, or a trigger): it fails alone, not its batch."""

    status, slug, title = 503, "audit-unavailable", "Audit trail unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


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
    return dumps_sorted(values)


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(row)).encode()).hexdigest()


def append(session: Session, entry: Entry) -> int:
    """Append one event after the current head; a failure fails the caller's transaction."""
    return append_many(session, [entry])[0]


def append_many(session: Session, entries: list[Entry]) -> list[int]:
    """Append events in order after the current head, in one INSERT; a failure fails the
    caller's transaction: `AuditUnavailable` if the database is away, else `RowRefused`."""
    try:
        if session.get_bind().dialect.name == "postgresql":
            serialize_writers(session)
        last = session.info.get(HEAD) or head(session)  # the head is ours till commit
        written: list[dict[str, Any]] = []
        for entry in entries:
            row = _row(session, entry, last[0] + 1, last[1])
            written.append(row)
            last = (row["seq"], row["hash"])
        bulk.insert(session, AUDIT, written)
        session.info[HEAD] = last
        return [row["seq"] for row in written]
    except DRIVER_OUTAGES as exc:
        raise AuditUnavailable("the audit trail cannot be written; nothing was done") from exc
    except Exception as exc:
        raise RowRefused("the audit trail refused this row; nothing was done") from exc


def _row(session: Session, entry: Entry, seq: int, prev_hash: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        name: fitted(name, getattr(entry, name))
        for name in (
            "actor_client",
            "actor_agency",
            "actor_country",
            "action",
            "object_type",
            "object_id",
            "outcome",
            "ip",
            "request_id",
        )
    }
    countries = entry.object_countries or _record_country(session, row)
    joined = "," + ",".join(sorted(set(countries))) + "," if countries else ""
    row.update(
        seq=seq,
        id=new_id(),
        at=utcnow(),
        object_countries=fitted("object_countries", joined),
        status_code=entry.status_code,
        detail=detail_json(entry.detail),
        prev_hash=prev_hash,
    )
    row["hash"] = chain_hash(prev_hash, row)
    return row


_SENDER_COUNTRY = select(Record.sender_country).where(col(Record.id) == bindparam("record_id"))


def _record_country(session: Session, row: dict[str, Any]) -> list[str]:
    """Accesses to a record are filed under its sender's country, for that country's auditors."""
    kind = RECORD_TYPES.get(row["object_type"] or "")
    if kind is None or not row["object_id"]:
        return []
    country = session.exec(_SENDER_COUNTRY, params={"record_id": row["object_id"]}).first()
    return [country] if country else []


# Read once a writer batch that audits (built once: building it cost as much as running it)
_HEAD = select(AuditEvent.seq, AuditEvent.hash).order_by(col(AuditEvent.seq).desc()).limit(1)


def head(session: Session) -> tuple[int, str]:
    last = session.exec(_HEAD).first()
    return (last[0], last[1]) if last else (0, GENESIS_HASH)


def rows(session: Session, after: int = 0, chunk: int = 1000) -> Iterator[dict[str, Any]]:
    """Every row after seq `after`, in seq order, read in chunks (one short statement each,
    so a walk holds nothing between them) and so that memory stays flat."""
    connection = session.connection()
    while True:
        batch = (
            connection.execute(
                core_select(AUDIT).where(AUDIT.c.seq > after).order_by(AUDIT.c.seq).limit(chunk)
            )
            .mappings()
            .all()
        )
        for row in batch:
            yield dict(row)
        if len(batch) < chunk:
            return
        after = batch[-1]["seq"]


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


def verify_walk(session: Session, on_checked: Callable[[int], None]) -> Verdict:
    """`verify` as a walk (`core/walks.py`): the whole chain, telling how far it got."""
    return verify(session, on_checked=on_checked)
