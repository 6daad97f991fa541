"""Database faults: a fast 503 problem+json with Retry-After, nothing half-written, recovery.

SQLite: another process's exclusive lock, a read-only database, a full disk at commit.
PostgreSQL: a full disk at commit (here) and the server unreachable (test_faults_postgres.py).
After each fault the same request, retried with its Idempotency-Key, creates exactly one record.
"""

import asyncio
import sqlite3
import time
import uuid
from contextlib import closing
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from core.db import Database, is_sqlite
from core.errors import DatabaseUnavailable
from core.settings import Settings
from models.enums import Role
from models.registry import Country, CountryCreate
from services.registry import members
from tests.conftest import make_settings
from tests.faults import counts, exclusive_lock, failing_commits, read_only
from tests.support import Network, alert_body, handling

FAULT_TIMEOUT = 1.0  # RILON_DB_TIMEOUT_SECONDS for these tests (default 2)
BOUND_SECONDS = 5.0  # every answer during a fault comes within this


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, db_timeout_seconds=FAULT_TIMEOUT)


def check_unavailable(response: httpx.Response, began: float) -> None:
    elapsed = time.monotonic() - began
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    problem = response.json()
    assert problem["status"] == 503
    assert {"type", "title", "detail", "instance"} <= problem.keys()
    assert elapsed < BOUND_SECONDS, f"answered after {elapsed:.1f} s"


async def sender(network: Network) -> dict[str, str]:
    """The duty officer's headers, token fetched now (a token request is a write)."""
    return await network.headers(Role.DUTY_OFFICER, "BD-CG")


async def publish(network: Network, headers: dict[str, str], key: str) -> httpx.Response:
    body = alert_body(handling=handling("network"))
    return await network.http.post(
        "/v1/alerts", json=body, headers={**headers, "Idempotency-Key": key}
    )


async def fails_fast(network: Network, headers: dict[str, str], key: str, wait: int = 1) -> None:
    """A write, a read and a feed long-poll during the fault: all 503, all quick.

    Where reads still work (a write fault), the long-poll waits its `wait` and is answered 503
    only because its audit row cannot be written: keep `wait` short there.
    """
    began = time.monotonic()
    check_unavailable(await publish(network, headers, key), began)
    began = time.monotonic()
    check_unavailable(await network.http.get("/v1/alerts", headers=headers), began)
    began = time.monotonic()
    feed = await network.http.get("/v1/feed", params={"wait": wait}, headers=headers)
    check_unavailable(feed, began)


async def recovers(
    network: Network, headers: dict[str, str], key: str, before: dict[str, int], url: str
) -> None:
    """Nothing of the failed requests is visible; the retried POST makes exactly one record."""
    assert counts(url) == before  # no record, version, event, key, delivery or audit row
    first = await publish(network, headers, key)
    assert first.status_code == 201, first.text
    again = await publish(network, headers, key)
    assert again.json()["id"] == first.json()["id"]
    after = counts(url)
    for table in ("record", "record_version", "event", "idempotency_key"):
        assert after[table] == before[table] + 1, table
    listed = await network.http.get("/v1/alerts", headers=headers)
    assert [item["id"] for item in listed.json()["items"]] == [first.json()["id"]]


def disk_full(database_url: str) -> BaseException:
    if is_sqlite(database_url):
        return sqlite3.OperationalError("database or disk is full")
    return psycopg.errors.DiskFull("could not extend file: No space left on device")


async def test_disk_full_at_commit(network: Network, app: FastAPI, database_url: str) -> None:
    headers = await sender(network)
    key, before = uuid.uuid4().hex, counts(database_url)
    with failing_commits(app.state.runtime.db.write_engine, disk_full(database_url)):
        await fails_fast(network, headers, key)
    await recovers(network, headers, key, before, database_url)


async def test_sqlite_locked_by_another_process(
    network: Network, app: FastAPI, database_url: str
) -> None:
    if not is_sqlite(database_url):
        pytest.skip("SQLite's file lock")
    headers = await sender(network)
    key, before = uuid.uuid4().hex, counts(database_url)
    path = make_url(database_url).database
    assert path is not None
    with exclusive_lock(path):
        await fails_fast(network, headers, key)
    await recovers(network, headers, key, before, database_url)


async def test_sqlite_read_only(network: Network, app: FastAPI, database_url: str) -> None:
    if not is_sqlite(database_url):
        pytest.skip("SQLite's read-only open")
    headers = await sender(network)
    key, before = uuid.uuid4().hex, counts(database_url)
    with read_only(app.state.runtime.db):
        await fails_fast(network, headers, key)
    await recovers(network, headers, key, before, database_url)


async def test_a_failed_group_commit_fails_every_request_of_it(
    network: Network, app: FastAPI, database_url: str
) -> None:
    """Concurrent POSTs share one commit: when it fails, every one of them is a 503."""
    headers = await sender(network)
    keys, before = [uuid.uuid4().hex for _ in range(8)], counts(database_url)
    with failing_commits(app.state.runtime.db.write_engine, disk_full(database_url)):
        began = time.monotonic()
        answers = await asyncio.gather(*(publish(network, headers, k) for k in keys))
        for answer in answers:
            check_unavailable(answer, began)
    assert counts(database_url) == before
    retried = await asyncio.gather(*(publish(network, headers, k) for k in keys))
    assert [r.status_code for r in retried] == [201] * len(keys)
    assert counts(database_url)["record"] == before["record"] + len(keys)


async def test_a_failed_commit_leaves_the_write_lock_free(db: Database, database_url: str) -> None:
    """A connection whose COMMIT failed is closed, not pooled holding its transaction."""
    if not is_sqlite(database_url):
        pytest.skip("SQLite's write lock")
    db.start()

    def add(session: Session) -> None:
        members.create_country(session, CountryCreate(code="QQ", name="Qq"))

    with (
        failing_commits(db.write_engine, disk_full(database_url)),
        pytest.raises(DatabaseUnavailable),
    ):
        await db.write(add)
    path = make_url(database_url).database
    with closing(sqlite3.connect(str(path), timeout=0, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # 'database is locked' if the failed one held it
        other.execute("ROLLBACK")
    await db.write(add)
    assert await db.read(lambda s: s.get(Country, "QQ")) is not None


async def test_a_driver_error_reaching_the_edge_is_the_same_503(app: FastAPI) -> None:
    """Central mapping: a route that let a raw driver error through still answers 503."""

    @app.get("/v1/driver-error")
    async def driver_error() -> None:
        raise OperationalError("SELECT 1", {}, sqlite3.OperationalError("disk I/O error"))

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://rilon.test") as http:
        began = time.monotonic()
        answer = await http.get("/v1/driver-error")
    check_unavailable(answer, began)
    assert "disk I/O" not in answer.text
