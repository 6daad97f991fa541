"""Overdue acknowledgements: when a record's deadline passes with required agencies pending,
one `alert.ack_overdue` / `distress.ack_overdue` event, addressed to its sender and those
agencies only. Run by the dispatcher round, a bounded chunk at a time."""

from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from auth.policy import ADDRESSED, code_list
from core.clock import iso
from core.jsontext import dumps
from models.records import Ack, Record
from models.tables import RECORD
from services.records.acks import is_watched, pending_agencies
from services.records.events import emit

CHUNK = 100  # records looked at a round at most: a round is one writer unit
# Whether any deadline has passed: asked every dispatcher round, so a plain statement built
# once (the ORM query below, built each time, cost ~0.1 ms a round with nothing due).
_ANY_DUE = select(RECORD.c.seq).where(RECORD.c.ack_check_at <= bindparam("now")).limit(1)


def send_overdue(session: Session, now: datetime, chunk: int = CHUNK) -> int:
    """Tell the sender and the pending agencies of each record whose deadline has passed, once.

    The cue (`ack_check_at`, indexed) is cleared in the transaction that emits the event, so
    a restart never sends it again; rows another worker holds are skipped (SKIP LOCKED), and
    the clearing is conditional, so two workers never both send it. Returns records looked at.
    """
    if session.connection().execute(_ANY_DUE, {"now": now}).first() is None:
        return 0
    due = (
        select(Record)
        .where(col(Record.ack_check_at) <= now)
        .order_by(col(Record.ack_check_at))
        .limit(chunk)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)  # the unit's session may hold older copies
    )
    rows = session.exec(due).all()
    for row in rows:
        cleared = session.connection().execute(
            RECORD.update()
            .where(RECORD.c.seq == row.seq, RECORD.c.ack_check_at.is_not(None))
            .values(ack_check_at=None)
        )
        if cleared.rowcount != 1 or not is_watched(row, now):
            continue
        acked = session.exec(select(Ack.agency).where(col(Ack.record_id) == row.id)).all()
        pending = pending_agencies(session, row, set(acked))
        if pending:
            _tell(session, row, pending)
    return len(rows)


def _tell(session: Session, row: Record, pending: list[str]) -> None:
    columns = {
        "id": row.id,
        "kind": row.kind,
        "status": row.status,
        "sender_agency": row.sender_agency,
        "sender_country": row.sender_country,
        "distribution": ADDRESSED,  # the sender and the pending agencies, nobody else
        "tlp": row.tlp,
        "recipient_countries": "",
        "recipient_agencies": code_list(pending),
        "category": row.category,
        "severity_rank": row.severity_rank,
        "lat": row.lat,
        "lon": row.lon,
    }
    due = None if row.ack_due_at is None else iso(row.ack_due_at)
    notice = {"due_at": due, "pending": pending}
    data = row.doc[:-1] + ',"ack_overdue":' + dumps(notice) + "}"
    emit(session, f"{row.kind}.ack_overdue", columns, data)
