"""The case and vessel reads stay index lookups as records pile up: each statement, captured as
the service runs it over 20,000 records, is EXPLAINed on SQLite and PostgreSQL."""

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlmodel import Session

from core.db import Database
from models.tables import RECORD, VESSEL_LINK
from services.records import cases, reading, vessels
from services.records.kinds import ALERTS
from tests.statement_work import NOW, READER, record_row
from tests.support import seed_registry

RECORDS = 20_000


def _seed(session: Session) -> None:
    rows, links = [], []
    for i in range(RECORDS):
        record_id = f"00000000-0000-4000-8000-{i:012d}"
        doc = {
            "id": record_id,
            "kind": "alert",
            "version": 1,
            "state": "active",
            "updated_at": "2026-11-30T00:00:00Z",
            "location": {"lat": 10.0, "lon": 95.0},
            "vessels": [{"mmsi": f"{i // 2:09d}"}],
        }
        rows.append(
            record_row(
                i + 1,
                id=record_id,
                case_id=f"CASE-{i // 4}",
                created_at=NOW,
                updated_at=NOW,
                search_text="",
                doc=json.dumps(doc),
            )
        )
        links.append({"key": f"mmsi:{i // 2:09d}", "record_id": record_id})
    connection = session.connection()
    connection.execute(RECORD.insert(), rows)
    connection.execute(VESSEL_LINK.insert(), links)


@contextmanager
def _captured(db: Database) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and " record" in statement:
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)


def _plans(db: Database, unit: Callable[[Session], Any]) -> list[str]:
    """Run `unit`, then EXPLAIN every statement it sent about records, with its parameters."""
    with _captured(db) as statements:
        db.run_read(unit)
    sqlite = db.engine.dialect.name == "sqlite"
    plans = []
    with db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        for statement, parameters in statements:
            cursor = raw.cursor()
            prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            cursor.execute(prefix + statement, parameters)
            rows = cursor.fetchall()
            plans.append("\n".join(str(row[-1] if sqlite else row[0]) for row in rows))
    assert plans
    return plans


@pytest.fixture
def seeded(db: Database) -> Database:
    seed_registry(db)
    db.run_write(_seed)
    with db.engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    return db


def _assert_indexed(plans: list[str], sqlite: bool) -> None:
    for plan in plans:
        if sqlite:
            assert "SCAN record" not in plan, plan  # SEARCH: an index lookup
        else:
            # record_version is empty here: a scan of nothing is what the planner rightly picks
            assert not re.search(r"Seq Scan on (record|vessel_link) ", plan), plan


@pytest.mark.parametrize(
    "wanted",
    [
        reading.RecordFilter(vessel_keys=("mmsi:000001234",)),
        reading.RecordFilter(case_id="CASE-77"),
        reading.RecordFilter(case_id="CASE-77", vessel_keys=("mmsi:000000154",)),
    ],
    ids=["mmsi", "case_id", "both"],
)
def test_list_filters_use_their_indexes(seeded: Database, wanted: reading.RecordFilter) -> None:
    sqlite = seeded.engine.dialect.name == "sqlite"

    def unit(session: Session) -> Any:
        return reading.list_records(session, READER, ALERTS, wanted)

    _assert_indexed(_plans(seeded, unit), sqlite)
    listing = seeded.run_read(unit)
    assert len(listing.ids) in (1, 2, 4)


def test_case_and_vessel_reads_use_their_indexes(seeded: Database) -> None:
    sqlite = seeded.engine.dialect.name == "sqlite"
    units: list[Callable[[Session], Any]] = [
        lambda session: cases.get_case(session, READER, "CASE-4000", "actual"),
        lambda session: vessels.get_vessel(session, READER, "mmsi:000003000", "actual", 50, None),
        lambda session: vessels.related(session, READER, "x", ["mmsi:000003000"], "actual", None),
    ]
    for unit in units:
        _assert_indexed(_plans(seeded, unit), sqlite)
