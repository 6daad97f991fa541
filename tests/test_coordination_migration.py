"""Migration 19b9f9e47e20: existing distress reports keep their coordinating RCC able to change
them (`record.coordinator` filled from the current version); no record gains a deadline it never
asked for. SQLite and PostgreSQL, from a database at the revision before."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine
from sqlmodel import col, select

from core.db import Database, normalize_url
from core.migrations import upgrade
from models.records import Record

BEFORE = "e11053db5ead"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/empty.db"
    url: str = request.getfixturevalue("empty_postgres_database")
    return url


def _record(record_id: str, kind: str, doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "id": record_id,
        "kind": kind,
        "version": 1,
        "sender_agency": "BD-CG",
        "sender_country": "BD",
        "status": "actual",
        "state": "open" if kind == "distress" else "active",
        "distribution": "network",
        "tlp": "amber",
        "recipient_countries": "",
        "recipient_agencies": "",
        "ack_required": True,
        "severity_rank": 4,
        "lat": 5.6,
        "lon": 94.4,
        "created_at": now,
        "updated_at": now,
        "search_text": "",
        "doc": json.dumps({"id": record_id, "kind": kind, **doc}),
    }


def test_existing_reports_keep_their_coordinator(empty_database_url: str) -> None:
    upgrade(empty_database_url, BEFORE)
    engine = create_engine(normalize_url(empty_database_url))
    old = MetaData()
    old.reflect(engine, only=["country", "agency", "record"])
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(old.tables["country"].insert(), {"code": "BD", "name": "Bangladesh"})
        agency = {"code": "BD-CG", "name": "BD-CG", "country": "BD", "type": "coast_guard"}
        connection.execute(old.tables["agency"].insert(), {**agency, "created_at": now})
        connection.execute(
            old.tables["record"].insert(),
            [
                _record("r-coordinated", "distress", {"coordinating_rcc": "MY-MRCC"}, now),
                _record("r-uncoordinated", "distress", {"coordinating_rcc": None}, now),
                _record("r-alert", "alert", {"headline": "x"}, now),
            ],
        )
    engine.dispose()
    upgrade(empty_database_url)
    database = Database(empty_database_url)
    rows = database.run_read(
        lambda session: list(session.exec(select(Record).order_by(col(Record.id))).all())
    )
    database.close()
    assert [(row.id, row.coordinator) for row in rows] == [
        ("r-alert", None),
        ("r-coordinated", "MY-MRCC"),
        ("r-uncoordinated", None),
    ]
    assert [(row.ack_due_at, row.ack_check_at) for row in rows] == [(None, None)] * 3
