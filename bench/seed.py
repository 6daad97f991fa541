"""Fill a demo database with B3's records through the service layer, and look at its list query.

Runs in the bench process against the service's SQLite file, after `rilon demo` and before
`rilon serve`: nothing else holds the database then (or against B3's scratch PostgreSQL one).
"""

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlmodel import Session

from auth.principal import Principal
from auth.scopes import ROLE_SCOPES
from bench import dataset
from core.db import Database, is_sqlite
from models.alerts import SEVERITY_RANK, AlertCreate
from models.enums import AgencyType, Role
from services.records.kinds import ALERTS
from services.records.publishing import publish
from services.records.reading import RecordFilter, list_records

CHUNK = 2_000  # records per transaction
TIMING_SECONDS, TIMING_MOST = 2.0, 200  # each timing repeats its query this long, at most so often


@dataclass(frozen=True)
class QueryReport:
    """The list query as the service sends it, how SQLite plans it, and what it costs alone."""

    sql: str
    params: Any
    plan: list[str]
    sql_ms: float  # the bare statement on sqlite3
    service_ms: float  # `list_records` in one thread: SQLAlchemy, rendering, the statement


def principal(client_id: str, agency: str, country: str) -> Principal:
    """A duty officer of a coast guard, as `load_principal` would build it."""
    return Principal(
        client_id=client_id,
        agency=agency,
        country=country,
        agency_type=AgencyType.COAST_GUARD,
        roles=frozenset({Role.DUTY_OFFICER}),
        scopes=ROLE_SCOPES[Role.DUTY_OFFICER],
        jti="bench",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )


def _mean_ms(query: Callable[[], object]) -> float:
    """The mean time of `query`, repeated for TIMING_SECONDS (at least once)."""
    runs, started = 0, time.perf_counter()
    while runs < TIMING_MOST and (runs == 0 or time.perf_counter() - started < TIMING_SECONDS):
        query()
        runs += 1
    return (time.perf_counter() - started) * 1e3 / runs


@contextmanager
def _database(url: str) -> Iterator[Database]:
    db = Database(url)
    try:
        yield db
    finally:
        db.close()


def seed_alerts(url: str, count: int, start: int = 0) -> float:
    """Publish records start..count-1 as the sender of B3, CHUNK a transaction; return seconds."""
    sender = principal(*dataset.SENDER)
    started = time.monotonic()
    with _database(url) as db:
        for first in range(start, count, CHUNK):
            bodies = [
                AlertCreate.model_validate(dataset.alert_body(i))
                for i in range(first, min(first + CHUNK, count))
            ]
            db.run_write(partial(_publish_all, sender=sender, bodies=bodies))
    return time.monotonic() - started


def _publish_all(session: Session, sender: Principal, bodies: list[AlertCreate]) -> None:
    for body in bodies:
        publish(session, sender, ALERTS, body)


def _wanted() -> RecordFilter:
    """What the API builds from `?{dataset.QUERY}` (see `api.params.filter_dependency`)."""
    return RecordFilter(
        min_severity_rank=SEVERITY_RANK[dataset.MIN_SEVERITY],
        bbox=dataset.BBOX,
        limit=dataset.LIMIT,
    )


def inspect_list_query(url: str) -> QueryReport:
    """Capture the statement `list_records` sends, EXPLAIN it, and time it in isolation."""
    reader = dataset.READER
    caller = principal("demo-my-mmea-duty", reader.agency, reader.country)
    captured: list[tuple[str, Any]] = []

    def _capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        captured.append((statement, params))  # a tuple on SQLite, a dict on psycopg

    def _list(session: Session) -> object:
        return list_records(session, caller, ALERTS, _wanted())

    with _database(url) as db:
        event.listen(db.engine, "before_cursor_execute", _capture)
        db.run_read(_list)
        event.remove(db.engine, "before_cursor_execute", _capture)
        service_ms = _mean_ms(lambda: db.run_read(_list))
        sql, params = next((s, p) for s, p in captured if "FROM record" in s)
        if not is_sqlite(url):
            with db.engine.connect() as conn:
                explain = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql
                plan = [row[0] for row in conn.exec_driver_sql(explain, params)]
                sql_ms = _mean_ms(lambda: conn.exec_driver_sql(sql, params).all())
            return QueryReport(sql, params, plan, sql_ms, service_ms)
    path = make_url(url).database
    assert path is not None
    with closing(sqlite3.connect(path)) as raw:
        plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + sql, params)]
        sql_ms = _mean_ms(lambda: raw.execute(sql, params).fetchall())
    return QueryReport(sql, params, plan, sql_ms, service_ms)
