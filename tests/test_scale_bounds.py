"""Reads whose size and work a page bounds, whatever the size of the data behind it.

Each test seeds rows directly, runs the read (a service function, or the command), captures
the statements it sends and checks what they bind or measures their work, the same way on
both databases: on SQLite the virtual machine's instructions (a progress handler), on
PostgreSQL the rows every plan node produced or filtered away (EXPLAIN ANALYZE)."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlmodel import Session
from typer.testing import CliRunner

from auth.principal import Principal
from auth.scopes import ROLE_SCOPES
from cli.main import app as cli
from core.clock import iso
from core.db import Database
from models.enums import AgencyType, Role
from models.tables import RECORD, VESSEL_LINK
from services.records import cases
from tests.support import seed_registry

NOW = datetime(2026, 11, 30, tzinfo=UTC)
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
VESSEL = "mmsi:999999999"
SMALL, BIG = 1_000, 10_000  # a bounded read does about the same work at both sizes


def _rid(i: int) -> str:
    return f"00000000-0000-7000-8000-{i:012d}"


def _record(i: int, **changes: Any) -> dict[str, Any]:
    """Record `i` (its seq), a network alert from BD-CG that READER may read."""
    at = NOW - timedelta(days=30) + timedelta(seconds=i)
    row = {
        "seq": i,
        "id": _rid(i),
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
                "id": _rid(i),
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


def _insert(db: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    def unit(session: Session) -> None:
        for start in range(0, len(rows), 2000):
            session.connection().execute(table.insert(), rows[start : start + 2000])

    db.run_write(unit)
    with db.engine.begin() as connection:
        connection.execute(text("ANALYZE"))


@contextmanager
def _captured(engine: Any, *needles: str) -> Iterator[list[tuple[str, Any]]]:
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


def _work(db: Database, statement: str, parameters: Any) -> int:
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


def _costliest(db: Database, unit: Callable[[Session], Any], *needles: str) -> int:
    """The work of the costliest statement `unit` sends that mentions every one of `needles`."""
    with _captured(db.engine, *needles) as statements:
        db.run_read(unit)
    assert statements, f"no statement mentions {needles}"
    return max(_work(db, statement, parameters) for statement, parameters in statements)


def _assert_bounded(small: int, big: int, what: str) -> None:
    # 10x the data: a bounded read stays within about twice its work (plus a little slack)
    assert big <= 2 * small + 50, f"{what}: work {small} at {SMALL} rows, {big} at {BIG}"


@pytest.fixture
def registry(db: Database) -> Database:
    seed_registry(db)
    return db


def test_cases_of_a_vessel_bind_a_page_of_values_however_many_records_name_it(
    registry: Database,
) -> None:
    """GET /v1/cases?vessel=: the cases naming the vessel are a subquery of the walk, so no
    statement binds more than a walk's cases (WALK) and the policy's few values. Bound in
    Python, 2,000 records naming it made a statement of 2,522 values; SQLite refuses more
    than its limit of them, so a busy enough vessel failed the request.

    The answer is the one the caller may read: a case counts all its readable records and
    comes first at its newest, and a case whose only record naming the vessel is hidden from
    the caller is not listed."""
    db = registry
    n = 2_000
    named = [_record(i, case_id=f"CASE-{i}") for i in range(1, n + 1)]
    hidden = _record(n + 1, case_id="HIDDEN", distribution="agency", tlp="red")
    beside = [_record(n + 2, case_id="HIDDEN"), _record(n + 3, case_id="CASE-1")]
    _insert(db, RECORD, [*named, hidden, *beside])
    links = [{"key": VESSEL, "record_id": _rid(i)} for i in range(1, n + 2)]
    _insert(db, VESSEL_LINK, links)

    with _captured(db.engine, "record") as statements:
        page = db.run_read(cases.list_cases, READER, VESSEL, None, "actual", 50, None)
    widest = max(len(parameters) for _statement, parameters in statements)
    assert widest <= cases.WALK + 50, f"a statement bound {widest} values"
    newest = [f"CASE-{i}" for i in range(n, n - 49, -1)]
    assert [item["case_id"] for item in page["items"]] == ["CASE-1", *newest]
    assert page["items"][0]["records"] == 2
    rest = db.run_read(cases.list_cases, READER, VESSEL, None, "actual", 50, page["next_cursor"])
    assert [item["case_id"] for item in rest["items"]][:2] == [f"CASE-{n - 49}", f"CASE-{n - 50}"]
    assert "CASE-1" not in [item["case_id"] for item in rest["items"]]


def test_cases_of_a_vessel_cost_a_page_however_many_records_name_it(registry: Database) -> None:
    """GET /v1/cases?vessel=: the walk asks of each record it reads whether its own case names
    the vessel, so its work is a page's, at 1,000 records naming the vessel as at 10,000
    (reading every case of the vessel first was a whole-table scan and 572 ms on PostgreSQL
    with 50,000 records naming it)."""
    db = registry

    def name_the_vessel(start: int, stop: int) -> None:
        _insert(db, RECORD, [_record(i, case_id=f"CASE-{i}") for i in range(start, stop)])
        _insert(
            db, VESSEL_LINK, [{"key": VESSEL, "record_id": _rid(i)} for i in range(start, stop)]
        )

    def unit(session: Session) -> Any:
        return cases.list_cases(session, READER, VESSEL, None, "actual", 50, None)

    name_the_vessel(1, SMALL + 1)
    small = _costliest(db, unit, "vessel_link")
    name_the_vessel(SMALL + 1, BIG + 1)
    big = _costliest(db, unit, "vessel_link")
    assert [item["case_id"] for item in db.run_read(unit)["items"]][:1] == [f"CASE-{BIG}"]
    _assert_bounded(small, big, "cases of a vessel")


def test_dry_run_pages_cost_the_same_at_the_end_as_at_the_start(
    registry: Database, cli_env: CliRunner
) -> None:
    """`rilon retention purge --dry-run` pages by keyset on the purge's order, (retain_until,
    seq), reading only the columns it prints: its last page costs what its first does (by
    OFFSET, with 60,000 due on PostgreSQL, 1.5 ms at offset 0 and 80 ms at 59,500), and it
    lists each due record once, in that order, ties on retain_until across a page's edge
    included."""
    db = registry
    expired = NOW - timedelta(days=1)
    # pairs share a retain_until, one pair across each edge of the 500-record pages
    due = [
        _record(i, retain_until=expired - timedelta(seconds=(BIG - i + 1) // 2))
        for i in range(1, BIG + 1)
    ]
    _insert(
        db,
        RECORD,
        [*due, _record(BIG + 1), _record(BIG + 2, retain_until=expired, legal_hold=True)],
    )

    with _captured(Engine, "FROM record", "ORDER BY") as pages:
        listing = cli_env.invoke(cli, ["retention", "purge", "--dry-run", "--as-of", iso(NOW)])
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert [line.split()[0] for line in lines[1:-1]] == [_rid(i) for i in range(1, BIG + 1)]
    assert lines[1].split()[1:] == ["alert", "BD-CG", iso(due[0]["retain_until"])]
    assert lines[-1] == f"{BIG} records would be purged as of {iso(NOW)} (dry run)"
    first, *rest = (_work(db, statement, parameters) for statement, parameters in pages)
    assert max(rest) <= 2 * first + 50, f"first page: work {first}; the others up to {max(rest)}"
    assert not [statement for statement, _ in pages if "record.doc" in statement]
