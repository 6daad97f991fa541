"""Records stored before search normalised its text are found like new ones after upgrading."""

import json
from datetime import UTC, datetime

from sqlalchemy import MetaData, create_engine, select

from core.db import normalize_url
from core.migrations import upgrade
from tests.test_migrations import empty_database_url

__all__ = ["empty_database_url"]  # the fixture, shared with the migration tests

BEFORE = "e11053db5ead"
RECORDS = 1001  # more than one backfill batch
FIX = "2026-11-24T03:15:00Z"


def _row(number: int, now: datetime) -> dict[str, object]:
    distress = number % 2 == 0
    body: dict[str, object] = {}
    if distress:
        body = {"position": {"lat": 5.6, "lon": 94.4, "fix_time": FIX}}
    elif number % 4 == 1:
        body = {"observed_at": "2026-11-23T18:40:00Z"}
    doc = {"id": f"00000000-0000-4000-8000-{number:012d}", **body}
    return {
        "id": doc["id"],
        "kind": "distress" if distress else "alert",
        "version": 1,
        "sender_agency": "BD-CG",
        "sender_country": "BD",
        "status": "actual",
        "state": "open" if distress else "active",
        "distribution": "network",
        "tlp": "amber",
        "recipient_countries": "",
        "recipient_agencies": "",
        "ack_required": False,
        "severity_rank": 0,
        "lat": 0.0,
        "lon": 0.0,
        "created_at": now,
        "updated_at": now,
        "search_text": f"boat {number} off cox's bazar, hà tiên",  # as `.lower()` stored it
        "doc": json.dumps(doc),
    }


def test_existing_records_are_renormalised_and_gain_their_position_time(
    empty_database_url: str,
) -> None:
    upgrade(empty_database_url, BEFORE)
    engine = create_engine(normalize_url(empty_database_url))
    old = MetaData()
    old.reflect(engine, only=["country", "agency", "record"])
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(old.tables["country"].insert(), {"code": "BD", "name": "Bangladesh"})
        agency = {"code": "BD-CG", "name": "BD-CG", "country": "BD", "type": "coast_guard"}
        connection.execute(old.tables["agency"].insert(), {**agency, "created_at": now})
        connection.execute(old.tables["record"].insert(), [_row(n, now) for n in range(RECORDS)])
    upgrade(empty_database_url)
    new = MetaData()
    new.reflect(engine, only=["record"])
    record = new.tables["record"]
    with engine.connect() as connection:
        rows = connection.execute(
            select(record.c.id, record.c.search_text, record.c.position_at).order_by(record.c.seq)
        ).all()
    engine.dispose()
    assert len(rows) == RECORDS
    for number, (_id, search_text, position_at) in enumerate(rows):
        assert search_text == f"boat {number} off coxs bazar ha tien"
        moment = position_at  # naive UTC on SQLite, aware on PostgreSQL
        if moment is not None and moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        if number % 2 == 0:
            assert moment == datetime(2026, 11, 24, 3, 15)
        elif number % 4 == 1:
            assert moment == datetime(2026, 11, 23, 18, 40)
        else:
            assert moment is None
