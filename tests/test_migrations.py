"""The schema comes only from migrations; models and migrations never drift apart."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, inspect
from sqlmodel import col, select

from core.db import Database, normalize_url
from core.migrations import MIGRATIONS_DIR, alembic_config, head_revision, upgrade
from models.base import metadata
from models.records import Record, RecordVersion
from services.registry import demo


def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    engine = create_engine(normalize_url(database_url))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == []


def test_upgrade_is_idempotent(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)
    engine = create_engine(normalize_url(database_url))
    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    assert revision == head_revision()
    assert {table.name for table in metadata.sorted_tables} <= tables


HANDLING_REVISION = "5e78b2da9840"  # record_version gains the handling of each version


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no schema yet, for tests that migrate it step by step."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/empty.db"
    url: str = request.getfixturevalue("empty_postgres_database")
    return url


def _version_doc(version: int) -> dict[str, Any]:
    """Odd versions red and agency-only naming two agencies, even ones network-wide."""
    red = version % 2 == 1
    return {
        "id": RECORD_ID,
        "kind": "alert",
        "version": version,
        "status": "exercise",
        "sender_agency": "BD-CG",
        "sender_country": "BD",
        "handling": {
            "distribution": "agency" if red else "countries",
            "tlp": "red" if red else "amber",
            "recipient_countries": [] if red else ["MY", "TH"],
            "recipient_agencies": ["TH-MECC", "MY-MMEA"] if red else [],
            "ack_required": False,
        },
    }


RECORD_ID = "6f1c2a9e-0000-4000-8000-000000000001"
VERSIONS = 1050  # more than one backfill batch


def test_existing_versions_gain_the_handling_of_their_doc(empty_database_url: str) -> None:
    before = ScriptDirectory(str(MIGRATIONS_DIR)).get_revision(HANDLING_REVISION).down_revision
    assert isinstance(before, str)
    upgrade(empty_database_url, before)
    engine = create_engine(normalize_url(empty_database_url))
    old = MetaData()
    old.reflect(engine, only=["country", "agency", "record", "record_version"])
    now = datetime.now(UTC)
    last = _version_doc(VERSIONS)
    with engine.begin() as connection:
        connection.execute(old.tables["country"].insert(), {"code": "BD", "name": "Bangladesh"})
        connection.execute(
            old.tables["agency"].insert(),
            {
                "code": "BD-CG",
                "name": "BD-CG",
                "country": "BD",
                "type": "coast_guard",
                "created_at": now,
            },
        )
        connection.execute(
            old.tables["record"].insert(),
            {
                "id": RECORD_ID,
                "kind": "alert",
                "version": VERSIONS,
                "sender_agency": "BD-CG",
                "sender_country": "BD",
                "status": "exercise",
                "state": "active",
                "distribution": "countries",
                "tlp": "amber",
                "recipient_countries": ",MY,TH,",
                "recipient_agencies": "",
                "ack_required": False,
                "severity_rank": 0,
                "lat": 0.0,
                "lon": 0.0,
                "created_at": now,
                "updated_at": now,
                "search_text": "",
                "doc": json.dumps(last),
            },
        )
        connection.execute(
            old.tables["record_version"].insert(),
            [
                {
                    "record_id": RECORD_ID,
                    "version": version,
                    "client_id": "c",
                    "created_at": now,
                    "doc": json.dumps(_version_doc(version)),
                }
                for version in range(1, VERSIONS + 1)
            ],
        )
    engine.dispose()
    upgrade(empty_database_url)
    database = Database(empty_database_url)
    found = database.run_read(
        lambda session: list(
            session.exec(select(RecordVersion).order_by(col(RecordVersion.version))).all()
        )
    )
    database.close()
    assert len(found) == VERSIONS
    for row in found:
        red = row.version % 2 == 1
        assert (row.kind, row.status, row.sender_agency, row.sender_country) == (
            "alert",
            "exercise",
            "BD-CG",
            "BD",
        )
        assert (row.distribution, row.tlp) == (("agency", "red") if red else ("countries", "amber"))
        assert row.recipient_countries == ("" if red else ",MY,TH,")
        assert row.recipient_agencies == (",TH-MECC,MY-MMEA," if red else "")


PROTECTION_REVISION = "11021e637573"  # purpose, personal_data, retain_until, legal holds


def test_existing_records_gain_a_purpose_and_a_retention_date(empty_database_url: str) -> None:
    """Stored records and versions get their kind's default purpose, no personal data, no
    hold, and `retain_until` = their last change + that purpose's default period."""
    before = ScriptDirectory(str(MIGRATIONS_DIR)).get_revision(PROTECTION_REVISION).down_revision
    assert isinstance(before, str)
    upgrade(empty_database_url, before)
    engine = create_engine(normalize_url(empty_database_url))
    old = MetaData()
    old.reflect(engine, only=["country", "agency", "record", "record_version"])
    changed = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    handled = {
        "sender_agency": "BD-CG",
        "sender_country": "BD",
        "status": "actual",
        "distribution": "network",
        "tlp": "amber",
        "recipient_countries": "",
        "recipient_agencies": "",
    }
    with engine.begin() as connection:
        connection.execute(old.tables["country"].insert(), {"code": "BD", "name": "Bangladesh"})
        connection.execute(
            old.tables["agency"].insert(),
            {
                "code": "BD-CG",
                "name": "BD-CG",
                "country": "BD",
                "type": "coast_guard",
                "created_at": changed,
            },
        )
        for number, kind in enumerate(("alert", "distress"), start=1):
            record_id = f"6f1c2a9e-0000-4000-8000-00000000010{number}"
            doc = {
                "id": record_id,
                "kind": kind,
                "version": 1,
                "handling": {"distribution": "network", "tlp": "amber"},
            }
            connection.execute(
                old.tables["record"].insert(),
                {
                    "id": record_id,
                    "kind": kind,
                    "version": 1,
                    "state": "active",
                    "ack_required": False,
                    "severity_rank": 0,
                    "lat": 0.0,
                    "lon": 0.0,
                    "created_at": changed,
                    "updated_at": changed,
                    "search_text": "",
                    "doc": json.dumps(doc),
                    **handled,
                },
            )
            connection.execute(
                old.tables["record_version"].insert(),
                {
                    "record_id": record_id,
                    "version": 1,
                    "client_id": "c",
                    "kind": kind,
                    "created_at": changed,
                    "doc": json.dumps(doc),
                    **handled,
                },
            )
    engine.dispose()
    upgrade(empty_database_url)
    database = Database(empty_database_url)
    records = database.run_read(lambda session: list(session.exec(select(Record)).all()))
    versions = database.run_read(lambda session: list(session.exec(select(RecordVersion)).all()))
    database.close()
    expected = {"alert": ("border_management", 730), "distress": ("search_and_rescue", 1825)}
    rows: list[Record | RecordVersion] = [*records, *versions]
    for row in rows:
        purpose, days = expected[row.kind]
        doc = json.loads(row.doc)
        assert doc["handling"]["purpose"] == purpose
        assert doc["handling"]["personal_data"] is False
        assert doc["legal_hold"] is False
        until = changed + timedelta(days=days)
        assert datetime.fromisoformat(doc["retain_until"]) == until
        if isinstance(row, Record):
            assert row.retain_until == until
            assert row.legal_hold is False
            assert row.purged_at is None


CURSOR_REVISION = "5b1e0c7d9a3f"  # dispatcher_state gains the expander's place within an event


def test_downgrading_past_the_expansion_cursor_waits_for_a_split_event(
    empty_database_url: str,
) -> None:
    """The code before that revision expands an event whole: with an event partly expanded
    it would insert the pairs already made again and stop on their unique key. So the
    downgrade refuses, saying why, until the dispatcher has finished the event. The refused
    attempt leaves the migrations' lock free for the next (on PostgreSQL a pooled connection
    kept it, and the next attempt in the same process waited for ever)."""
    before = ScriptDirectory(str(MIGRATIONS_DIR)).get_revision(CURSOR_REVISION).down_revision
    assert isinstance(before, str)
    upgrade(empty_database_url)
    engine = create_engine(normalize_url(empty_database_url))
    within = "'expander', 7, '0193a5c0-0000-7000-8000-000000000001'"  # an event begun
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"INSERT INTO dispatcher_state (name, last_seq, after_subscription) VALUES ({within})"
        )
    with pytest.raises(RuntimeError, match="partly expanded"):
        command.downgrade(alembic_config(empty_database_url), before)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE dispatcher_state SET after_subscription = NULL")
    command.downgrade(alembic_config(empty_database_url), before)
    with engine.connect() as connection:
        columns = {column["name"] for column in inspect(connection).get_columns("dispatcher_state")}
        assert MigrationContext.configure(connection).get_current_revision() == before
    engine.dispose()
    assert columns == {"name", "last_seq", "heartbeat_at"}


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(normalize_url(url))
    with engine.connect() as connection:
        tables = ("record", "record_version", "event", "audit_event", "client", "agency")
        counts = {
            table: connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
            for table in tables
        }
    engine.dispose()
    return counts


def test_a_downgrade_with_records_keeps_them(empty_database_url: str) -> None:
    """Each downgrade that drops a column of `record` copies the table on SQLite (batch mode),
    and dropping the old copy failed on foreign keys (FOREIGN KEY constraint failed) as soon
    as one version, event or audit row pointed at a record: every downgrade past
    data_protection was impossible on a database in use. Down and up again keeps every row."""
    upgrade(empty_database_url)
    database = Database(empty_database_url)
    database.run_write(demo.seed)
    database.close()
    before = _counts(empty_database_url)
    assert before["record"] > 0
    assert before["record_version"] > 0
    # to before fair_fanout: on the way, `record` and `subscription` are each copied
    command.downgrade(alembic_config(empty_database_url), HANDLING_REVISION)
    assert _counts(empty_database_url) == before
    upgrade(empty_database_url)
    assert _counts(empty_database_url) == before
    engine = create_engine(normalize_url(empty_database_url))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
        if connection.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    engine.dispose()
    assert differences == []


def test_rows_already_dangling_never_stop_an_upgrade(tmp_path: Path) -> None:
    """SQLite migrates with foreign keys off and checks, inside the migrations' transaction,
    that they left no row pointing at a missing one. The check once ran after the commit and
    over every table: a row dangling from before (here an attempt of no delivery) made the
    upgrade fail once it had already committed, and every later upgrade fail too."""
    url = f"sqlite:///{tmp_path}/rilon.db"
    upgrade(url, "3f6a9d2c8e41")
    engine = create_engine(normalize_url(url))
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO delivery_attempt (delivery_id, number, at, latency_ms)"
            " VALUES ('no-such-delivery', 1, '2026-12-05 12:00:00.000000', 1.0)"
        )
    upgrade(url)
    upgrade(url)  # and again, with nothing to do
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head_revision()
    engine.dispose()
