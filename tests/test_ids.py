"""Ids of new rows are in time order (core/ids.py), so the unique index on each growing
table is appended to rather than written at random (docs/DECISIONS.md, "Ids in time order")."""

import time
import uuid

from sqlalchemy import text
from sqlmodel import Session

from core.db import Database
from core.ids import new_id
from models.enums import Role
from tests.hooks import Hooks
from tests.support import alert_body, handling


def test_ids_increase_and_keep_to_the_clock() -> None:
    """Many ids in the same millisecond still increase, and their time is the real time: a
    generator that bumps its clock a millisecond an id (as one library does) ran 20 s ahead
    after 20,000 ids."""
    ids = [new_id() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    parsed = [uuid.UUID(value) for value in ids]
    assert {value.version for value in parsed} == {7}
    assert {str(value) for value in parsed} == set(ids)  # the canonical form, as stored
    stamped = (parsed[-1].int >> 80) / 1000
    assert abs(stamped - time.time()) < 1.0


async def test_the_growing_tables_get_ids_in_time_order(hooks: Hooks, db: Database) -> None:
    """A record, its event, its audit rows and its deliveries: every id is a version 7 UUID,
    and within each table the ids follow the order the rows were written in."""
    await hooks.subscribe("MY-MMEA")
    await hooks.subscribe("MY-MMEA", path="/second")
    sender = await hooks.network.headers(Role.DUTY_OFFICER, "BD-CG")
    for _ in range(3):
        posted = await hooks.network.http.post(
            "/v1/alerts", json=alert_body(handling=handling("network")), headers=sender
        )
        assert posted.status_code == 201, posted.text
    await hooks.pump()
    assert len(hooks.receiver.received) == 6

    def ids(table: str, order: str) -> list[str]:
        def read(session: Session) -> list[str]:
            rows = session.connection().execute(text(f"SELECT id FROM {table} ORDER BY {order}"))
            return [row[0] for row in rows]

        return db.run_read(read)

    for table, order in [
        ("record", "seq"),
        ("event", "seq"),
        ("audit_event", "seq"),
        ("delivery", "created_at, id"),
    ]:
        written = ids(table, order)
        assert written, table
        assert {uuid.UUID(value).version for value in written} == {7}, table
        assert written == sorted(written), table
