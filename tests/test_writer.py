"""Group commit: many requests, one transaction, each unit all-or-nothing on its own."""

import asyncio
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import event
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlmodel import Session, select

from api.app import create_app
from auth.principal import Principal
from auth.scopes import ROLE_SCOPES
from core import writer as writer_module
from core.db import Database
from core.driver import translate
from core.errors import Conflict, DatabaseUnavailable, NotFound
from core.settings import Settings
from models.alerts import AlertCreate
from models.audit import AuditEvent
from models.enums import AgencyType, Role
from models.records import Record
from models.registry import Country, CountryCreate, CountryRead
from services.audit import trail
from services.records.kinds import ALERTS
from services.records.publishing import Saved, publish
from services.registry import members
from tests.conftest import make_settings
from tests.support import alert_body, seed_registry


async def test_concurrent_units_share_commits_and_fail_alone(db: Database) -> None:
    db.start()

    def add(code: str) -> Callable[[Session], str]:
        def unit(session: Session) -> str:
            members.create_country(session, CountryCreate(code=code, name=code))
            if code.endswith("X"):
                raise NotFound("deliberate failure after a write")
            return code

        return unit

    codes = [f"{a}{b}" for a in "QRSTUVW" for b in "ABCDEFGHX"]
    results = await asyncio.gather(*(db.write(add(code)) for code in codes), return_exceptions=True)
    for code, result in zip(codes, results, strict=True):
        if code.endswith("X"):
            assert isinstance(result, NotFound)
        else:
            assert result == code
    stored = await db.read(lambda s: set(s.exec(select(Country.code)).all()))
    assert stored == {code for code in codes if not code.endswith("X")}


async def _in_one_batch(
    db: Database,
    units: list[Callable[[Session], Any]],
    write: Callable[..., Awaitable[Any]] | None = None,
) -> list[Any]:
    """Run units as one batch: queued while the writer is held inside an earlier one.
    `write` hands each over (`db.write` unless given)."""
    write = write or db.write
    entered, release = threading.Event(), threading.Event()

    def gate(_session: Session) -> None:
        entered.set()
        release.wait(10)

    held = asyncio.ensure_future(write(gate))
    await asyncio.to_thread(entered.wait, 10)
    queued = [asyncio.ensure_future(write(unit)) for unit in units]
    await asyncio.sleep(0.05)  # every unit is in the queue
    release.set()
    await held
    return await asyncio.gather(*queued, return_exceptions=True)


async def test_a_batch_without_failures_takes_no_savepoints(db: Database) -> None:
    """Savepoints are for isolating a failure; a clean batch runs straight (PERFORMANCE.md)."""
    db.start()
    statements: list[str] = []
    event.listen(db.write_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    def add(code: str) -> Callable[[Session], str]:
        def unit(session: Session) -> str:
            members.create_country(session, CountryCreate(code=code, name=code))
            return code

        return unit

    codes = [f"J{letter}" for letter in "ABCDEFGHIJ"]
    assert await _in_one_batch(db, [add(code) for code in codes]) == codes
    assert not [sql for sql in statements if "SAVEPOINT" in sql.upper()]
    results = await _in_one_batch(db, [add("KA"), add("KA"), add("KB")])
    assert results[0] == "KA"
    assert isinstance(results[1], Conflict)
    assert results[2] == "KB"
    assert [sql for sql in statements if "SAVEPOINT" in sql.upper()]  # the batch ran isolated


async def test_under_load_a_burst_shares_one_commit_and_a_quiet_writer_never_waits(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a batch of several requests' units, the writer waits for the rest of the next
    burst instead of committing its first unit alone; after a lone unit, or a batch of the
    dispatcher's (impatient) units, it does not wait at all. The wait is stretched to a second
    here so the test does not depend on the machine's speed."""
    linger = 1.0
    monkeypatch.setattr(writer_module, "LINGER_SECONDS", linger)
    db.start()
    commits: list[int] = []
    event.listen(db.write_engine, "commit", lambda _connection: commits.append(1))

    def unit(_session: Session) -> int:
        return len(commits)  # units of one batch see the same count

    await _in_one_batch(db, [unit, unit, unit])  # two patient units or more: busy
    first = asyncio.ensure_future(db.write(unit))
    await asyncio.sleep(0.2)  # the rest of the burst comes later than the first
    rest = [asyncio.ensure_future(db.write(unit)) for _ in range(4)]
    burst = await asyncio.gather(first, *rest)
    assert len(set(burst)) == 1, burst  # one commit for the whole burst

    await db.write(unit)  # after a burst a lone unit waits once; now the writer is quiet
    started = time.monotonic()
    await db.write(unit)
    assert time.monotonic() - started < linger / 2

    await _in_one_batch(db, [unit] * 5, db.write_now)  # a batch of five impatient units
    started = time.monotonic()
    await db.write(unit)
    assert time.monotonic() - started < linger / 2


async def test_requests_queueing_means_a_recent_batch_of_many_requests(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dispatcher's cue to keep fewer deliveries open (delivery/dispatcher.py): a batch
    of `QUEUEING_BATCH` requests' units or more, committed within the window. Not a batch of
    the dispatcher's own units however large, nor one request fewer, nor a burst gone by;
    smaller batches after the burst do not end it (under load a request is sometimes
    committed alone)."""
    monkeypatch.setattr(writer_module, "QUEUEING_WINDOW_SECONDS", 60.0)  # not the machine's speed
    db.start()
    many = writer_module.QUEUEING_BATCH

    def unit(_session: Session) -> None:
        return None

    assert not db.writer.requests_queueing()
    await _in_one_batch(db, [unit] * many, db.write_now)  # the dispatcher's units
    assert not db.writer.requests_queueing()
    await _in_one_batch(db, [unit] * (many - 1))
    assert not db.writer.requests_queueing()
    await _in_one_batch(db, [unit] * many)
    assert db.writer.requests_queueing()
    await db.write_now(unit)  # smaller batches since do not end it: under load the writer
    await db.write(unit)  # sometimes takes a request alone
    assert db.writer.requests_queueing()
    monkeypatch.setattr(writer_module, "QUEUEING_WINDOW_SECONDS", 0.5)
    await _in_one_batch(db, [unit] * many)
    assert db.writer.requests_queueing()
    await asyncio.sleep(0.6)  # no such batch since: the burst is over
    assert not db.writer.requests_queueing()


async def test_a_writer_capped_below_the_cue_is_queueing_when_its_batches_are_full(
    settings: Settings,
) -> None:
    """With `RILON_WRITER_MAX_BATCH` below `QUEUEING_BATCH` no batch could ever hold that
    many: a full batch of requests is the cue instead, or the dispatcher would never yield."""
    capped = Database(settings.database_url, max_batch=3)
    capped.start()
    try:

        def unit(_session: Session) -> None:
            return None

        await _in_one_batch(capped, [unit] * 2)
        assert not capped.writer.requests_queueing()
        await _in_one_batch(capped, [unit] * 3)
        assert capped.writer.requests_queueing()
    finally:
        capped.close()


async def test_publishes_in_one_batch_share_inserts_and_keep_their_keys(db: Database) -> None:
    """A batch defers its inserts (one executemany per table); two retries of one POST in the
    same batch still make one record, the second answered as a replay."""
    seed_registry(db)
    db.start()
    sender = Principal(
        client_id="bd-cg-duty",
        agency="BD-CG",
        country="BD",
        agency_type=AgencyType.COAST_GUARD,
        roles=frozenset({Role.DUTY_OFFICER}),
        scopes=ROLE_SCOPES[Role.DUTY_OFFICER],
        jti="t",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    statements: list[str] = []
    event.listen(db.write_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    def post(headline: str, key: str | None = None) -> Callable[[Session], Saved]:
        body = AlertCreate.model_validate(alert_body(headline=headline))
        return lambda session: publish(session, sender, ALERTS, body, key)

    saved = await _in_one_batch(db, [post(f"departure {n}") for n in range(8)])
    assert len({one.id for one in saved}) == 8
    assert len([sql for sql in statements if sql.startswith("INSERT INTO record ")]) == 1
    retried = await _in_one_batch(db, [post("retried", "k1"), post("retried", "k1")])
    assert [one.replayed for one in retried] == [False, True]
    assert retried[0].id == retried[1].id
    count = await db.read(lambda s: len(s.exec(select(Record.id)).all()))
    assert count == 9


async def test_an_outage_fails_the_batch_once_without_a_second_run(db: Database) -> None:
    """A failing unit makes the batch run again isolated, unless the failure is an outage:
    then every unit is answered 503 at once, not after waiting for the database twice."""
    db.start()
    runs: list[str] = []

    def locked(_session: Session) -> None:
        runs.append("locked")
        raise OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))

    def fine(_session: Session) -> str:
        runs.append("fine")
        return "fine"

    results = await _in_one_batch(db, [fine, locked, fine])
    assert all(isinstance(result, DatabaseUnavailable) for result in results)
    assert runs == ["fine", "locked"]


async def test_constraint_violation_in_a_batch_is_a_conflict(db: Database) -> None:
    db.start()

    def insert_raw(session: Session) -> None:
        session.add(Country(code="QQ", name="first"))
        session.flush()

    await db.write(insert_raw)
    results = await asyncio.gather(
        db.write(insert_raw),
        db.write(lambda s: members.create_country(s, CountryCreate(code="QZ", name="other"))),
        return_exceptions=True,
    )
    assert isinstance(results[0], Conflict)
    assert not isinstance(results[1], Exception)


async def test_bootstrap_admin_is_idempotent_and_respects_deactivation(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        bootstrap_admin_id="root-admin",
        bootstrap_admin_secret="b" * 40,
    )
    form = {
        "grant_type": "client_credentials",
        "client_id": "root-admin",
        "client_secret": "b" * 40,
    }
    for _ in range(2):
        app = create_app(settings)
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                token = await http.post("/v1/auth/token", data=form)
                assert token.status_code == 200
                assert "registry:manage" in token.json()["scope"]
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            bearer = (await http.post("/v1/auth/token", data=form)).json()["access_token"]
            gone = await http.delete(
                "/v1/clients/root-admin", headers={"Authorization": f"Bearer {bearer}"}
            )
            assert gone.status_code == 200
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            assert (await http.post("/v1/auth/token", data=form)).status_code == 401


@pytest.mark.parametrize("count", [200])
async def test_many_concurrent_requests_all_land(db: Database, count: int) -> None:
    db.start()
    codes = [f"{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(count)]

    def add(code: str) -> Callable[[Session], CountryRead]:
        def unit(session: Session) -> CountryRead:
            return members.create_country(session, CountryCreate(code=code, name=code))

        return unit

    await asyncio.gather(*(db.write(add(code)) for code in codes))
    stored = await db.read(lambda s: len(s.exec(select(Country.code)).all()))
    assert stored == count


async def test_a_failed_unit_leaves_no_gap_in_the_audit_chain(db: Database) -> None:
    """Units that append to the chain and then fail roll back their link with them."""
    db.start()

    def unit(n: int) -> Callable[[Session], int]:
        def run(session: Session) -> int:
            seq = trail.append(
                session, trail.Entry(action=f"t{n}", outcome="success", status_code=200)
            )
            if n % 3 == 0:
                raise NotFound("fails after appending")
            return seq

        return run

    results = await asyncio.gather(*(db.write(unit(n)) for n in range(30)), return_exceptions=True)
    kept = sorted(r for r in results if isinstance(r, int))
    assert kept == list(range(1, 21))
    assert db.run_read(trail.verify).ok


async def test_grouped_items_are_written_together_beside_units(db: Database) -> None:
    """Items of a group (audit rows of reads) share one call per batch; units and items
    interleaved in one batch all land, the chain stays whole, and each caller gets its own
    result."""
    db.start()
    calls: list[int] = []

    def append_many(session: Session, entries: list[trail.Entry]) -> list[int]:
        calls.append(len(entries))
        return trail.append_many(session, entries)

    def unit(n: int) -> Callable[[Session], int]:
        return lambda session: trail.append(
            session, trail.Entry(action=f"unit{n}", outcome="success", status_code=201)
        )

    items = [trail.Entry(action=f"read{n}", outcome="success", status_code=200) for n in range(40)]
    results = await asyncio.gather(
        *(db.write_item(append_many, entry) for entry in items),
        *(db.write(unit(n)) for n in range(10)),
    )
    assert sorted(results) == list(range(1, 51))
    assert sum(calls) == 40
    assert len(calls) < 40
    actions = await db.read(lambda s: dict(s.exec(select(AuditEvent.seq, AuditEvent.action)).all()))
    assert {actions[seq] for seq in results[:40]} == {entry.action for entry in items}
    assert db.run_read(trail.verify).ok


async def test_a_failing_group_fails_its_items_only(db: Database) -> None:
    db.start()

    def broken(session: Session, items: list[str]) -> list[str]:
        members.create_country(session, CountryCreate(code="GG", name="written, then undone"))
        raise NotFound("the whole group fails")

    def add(code: str) -> Callable[[Session], str]:
        def run(session: Session) -> str:
            members.create_country(session, CountryCreate(code=code, name=code))
            return code

        return run

    results = await asyncio.gather(
        *(db.write_item(broken, n) for n in range(5)),
        *(db.write(add(code)) for code in ("HA", "HB", "HC")),
        return_exceptions=True,
    )
    assert all(isinstance(result, NotFound) for result in results[:5])
    assert results[5:] == ["HA", "HB", "HC"]
    stored = await db.read(lambda s: set(s.exec(select(Country.code)).all()))
    assert {"HA", "HB", "HC"} <= stored
    assert "GG" not in stored


async def test_a_bad_item_fails_alone_not_its_group(db: Database) -> None:
    """A group whose call fails on one item is written again item by item: the other items
    of the batch land, each with its own result, and only the bad one fails."""
    db.start()

    def add_countries(session: Session, codes: list[str]) -> list[str]:
        for code in codes:
            if code.startswith("X"):
                raise NotFound(f"no country {code}")
            members.create_country(session, CountryCreate(code=code, name=code))
        return codes

    codes = ["JA", "JB", "XC", "JD", "JE", "XF", "JG"]
    results = await asyncio.gather(
        *(db.write_item(add_countries, code) for code in codes), return_exceptions=True
    )
    assert [isinstance(result, NotFound) for result in results] == [
        code.startswith("X") for code in codes
    ]
    assert [r for r in results if isinstance(r, str)] == [c for c in codes if c[0] == "J"]
    stored = await db.read(lambda s: set(s.exec(select(Country.code)).all()))
    assert {c for c in codes if c[0] == "J"} <= stored
    assert not {c for c in codes if c[0] == "X"} & stored


def test_only_outages_are_translated_to_503() -> None:
    """A locked, away or full database is "retry later"; a data error is our bug, not an outage."""
    orig = sqlite3.OperationalError("database is locked")
    assert isinstance(translate(OperationalError("COMMIT", {}, orig)), DatabaseUnavailable)
    assert isinstance(translate(InterfaceError("SELECT 1", {}, orig)), DatabaseUnavailable)
    data = DataError("SELECT 1", {}, ValueError("integer out of range"))
    assert translate(data) is data
