"""How much work a statement does, the same way on both databases, to show that a read stays
bounded as the data grows: on SQLite the virtual machine's instructions (a progress handler,
in hundreds), on PostgreSQL the rows every plan node produced or filtered away (EXPLAIN
ANALYZE). Rows are inserted directly, many at a time; PostgreSQL is ANALYZEd after, as
autovacuum would, and SQLite is left with no statistics, as the service runs it."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, text
from sqlmodel import Session

from auth.principal import Principal
from auth.scopes import ROLE_SCOPES
from core.db import Database
from models.enums import AgencyType, Role

NOW = datetime(2026, 11, 30, tzinfo=UTC)
SMALL, BIG = 1_000, 10_000
READER = Principal(
    client_id="scale",
    agency="MY-MMEA",
    country="MY",
    agency_type=AgencyType.COAST_GUARD,
    roles=frozenset([Role.VIEWER]),
    scopes=ROLE_SCOPES[Role.VIEWER],
    jti="scale",
    expires_at=NOW + timedelta(days=3650),
)


def record_id(i: int) -> str:
    return f"00000000-0000-7000-8000-{i:012d}"


def record_row(i: int, **changes: Any) -> dict[str, Any]:
    """Record `i` (its seq), a network alert from BD-CG that READER may read."""
    at = NOW - timedelta(days=30) + timedelta(seconds=i)
    row = {
        "seq": i,
        "id": record_id(i),
        "kind": "alert",
        "version": 1,
        "sender_agency": "BD-CG",
        "sender_country": "BD",
        "status": "actual",
        "distribution": "network",
        "tlp": "amber",
        "recipient_countries": "",
        "recipient_agencies": "",
        "state": "active",
        "ack_required": False,
        "category": "vessel_at_sea",
        "severity_rank": i % 5,
        "lat": 10.0,
        "lon": 95.0,
        "case_id": None,
        "created_at": at,
        "updated_at": at,
        "expires_at": None,
        "search_text": "boat",
        "retain_until": NOW + timedelta(days=300),
        "legal_hold": False,
        "doc": json.dumps(
            {
                "id": record_id(i),
                "kind": "alert",
                "version": 1,
                "state": "active",
                "updated_at": at.isoformat().replace("+00:00", "Z"),
                "location": {"lat": 10.0, "lon": 95.0},
                "vessels": [],
            }
        ),
    }
    row.update(changes)
    return row


def insert(db: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    def unit(session: Session) -> None:
        for start in range(0, len(rows), 2000):
            session.connection().execute(table.insert(), rows[start : start + 2000])

    db.run_write(unit)
    if db.engine.dialect.name != "sqlite":  # as autovacuum would; SQLite is served with no stats
        with db.engine.begin() as connection:
            connection.execute(text("ANALYZE"))


@contextmanager
def captured(engine: Any, *needles: str) -> Iterator[list[tuple[str, Any]]]:
    """The SELECT statements sent through `engine` (or any engine: `Engine`) that mention
    every one of `needles`."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and all(
            needle in statement for needle in needles
        ):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def _pg_work(plan: dict[str, Any]) -> int:
    loops = plan.get("Actual Loops", 1)
    rows = plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
    own = int(rows * loops)
    return own + sum(_pg_work(child) for child in plan.get("Plans", []))


def statement_cost(db: Database, statement: str, parameters: Any) -> int:
    """What running the statement costs: SQLite VM instructions (in hundreds), or the rows
    PostgreSQL's plan nodes produced and filtered away."""
    with db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        if db.engine.dialect.name == "sqlite":
            steps = [0]

            def count() -> int:
                steps[0] += 1
                return 0

            raw.set_progress_handler(count, 100)
            try:
                raw.execute(statement, parameters).fetchall()
            finally:
                raw.set_progress_handler(None, 100)
            return steps[0]
        cursor = raw.cursor()
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
        found = cursor.fetchone()[0]
        document = found if isinstance(found, list) else json.loads(found)
        return _pg_work(document[0]["Plan"])


def work_of(db: Database, unit: Callable[[Session], Any], *needles: str) -> int:
    """The work of the costliest statement `unit` sends that mentions every one of `needles`."""
    with captured(db.engine, *needles) as statements:
        db.run_read(unit)
    assert statements, f"no statement mentions {needles}"
    return max(statement_cost(db, statement, parameters) for statement, parameters in statements)


def assert_bounded(small: int, big: int, what: str) -> None:
    # 10x the data: a bounded read stays within about twice its work (plus a little slack)
    assert big <= 2 * small + 50, f"{what}: work {small} at {SMALL} rows, {big} at {BIG}"
