"""The purge under pressure: two `rilon worker` processes and an operator's `rilon retention
purge`, all at once, purge and announce each record once; a purge killed with SIGKILL leaves
every record whole or wholly purged, and the next run finishes it; a dry run beside a worker
lists each record once. SQLite and PostgreSQL."""

import asyncio
import json
import os
import signal
import subprocess
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from auth.principal import Principal
from auth.scopes import ROLE_SCOPES
from cli import retention
from cli.main import app as cli
from core.clock import iso, utcnow
from core.db import Database
from models.alerts import AlertCreate
from models.audit import AuditEvent
from models.enums import AgencyType, Role
from models.events import Event
from models.records import Record, RecordVersion
from models.tables import RECORD
from services.records import purging
from services.records.kinds import ALERTS
from services.records.publishing import publish
from tests.processes import RILON, child_env, run, supervised
from tests.support import alert_body, handling, seed_registry

SENDER = Principal(
    client_id="bd-cg-seed",
    agency="BD-CG",
    country="BD",
    agency_type=AgencyType.COAST_GUARD,
    roles=frozenset({Role.DUTY_OFFICER}),
    scopes=ROLE_SCOPES[Role.DUTY_OFFICER],
    jti="seed",
    expires_at=datetime.now(UTC) + timedelta(hours=1),
)
TOMBSTONE = {"id", "kind", "sender_agency", "created_at", "purged_at"}


def _is_tombstone(text: str) -> bool:
    return set(json.loads(text)) == TOMBSTONE


def _seed(db: Database, count: int) -> None:
    body = AlertCreate.model_validate(alert_body(handling=handling("network")))

    def publish_some(session: Session, n: int) -> None:
        for _ in range(n):
            publish(session, SENDER, ALERTS, body)

    for start in range(0, count, 500):
        db.run_write(publish_some, min(500, count - start))


def _expire_all(session: Session) -> None:
    session.connection().execute(RECORD.update().values(retain_until=utcnow() - timedelta(days=1)))


def _expire_half(session: Session, records: int) -> None:
    """The older half past its date; the newer half due in an hour, which only a purge run
    `--as-of` a later time takes."""
    _expire_all(session)
    newer = RECORD.c.seq > select(func.min(RECORD.c.seq)).scalar_subquery() + records // 2 - 1
    soon = utcnow() + timedelta(hours=1)
    session.connection().execute(RECORD.update().where(newer).values(retain_until=soon))


def _purge_notices(session: Session) -> dict[str, int]:
    query = (
        select(Event.record_id, func.count())
        .where(col(Event.type) == "alert.purged")
        .group_by(col(Event.record_id))
    )
    return dict(session.exec(query).all())


def _audited(session: Session) -> list[tuple[str | None, str | None]]:
    """(record, who purged it) of each purge's audit row."""
    query = select(AuditEvent.object_id, AuditEvent.actor_client).where(
        col(AuditEvent.action) == "retention purge"
    )
    return list(session.exec(query).all())


def _check_whole(session: Session) -> tuple[int, int]:
    """Every record is either untouched or purged in every place; (purged, untouched)."""
    notices = _purge_notices(session)
    copies: dict[str, list[str]] = defaultdict(list)
    for record_id, doc in session.exec(select(RecordVersion.record_id, RecordVersion.doc)):
        copies[record_id].append(doc)
    kept = select(Event.record_id, Event.data).where(col(Event.type) != "alert.purged")
    for record_id, data in session.exec(kept):
        copies[record_id].append(data)
    purged = untouched = 0
    for record in session.exec(select(Record)).all():
        texts = [record.doc, *copies[record.id]]
        if record.purged_at is None:
            assert not any(_is_tombstone(text) for text in texts), record.id
            assert record.id not in notices
            untouched += 1
        else:
            assert set(texts) == {record.doc}, record.id  # one tombstone everywhere
            assert _is_tombstone(record.doc)
            assert notices[record.id] == 1
            purged += 1
    return purged, untouched


async def test_workers_and_an_operator_purge_each_record_once(
    database_url: str, tmp_path: Path
) -> None:
    records = 1_000
    db = Database(database_url)
    try:
        seed_registry(db)
        _seed(db, records)
        db.run_write(_expire_half, records)
        env = child_env(database_url, tmp_path)
        with supervised(tmp_path, env) as processes:
            workers = [processes.add(f"worker{n}", "worker") for n in (1, 2)]
            # The workers race each other for the older half as they start. Once one has begun,
            # the operator purges as of two hours on: what is left of that half, beside them,
            # and the newer half, which the workers leave alone (so it is never idle).
            await asyncio.gather(*(worker.start() for worker in workers))
            deadline = time.monotonic() + 90
            while not any((a or "").startswith("worker:") for _, a in db.run_read(_audited)):
                assert time.monotonic() < deadline, [w.tail() for w in workers]
                await asyncio.sleep(0.05)
            later = iso(utcnow() + timedelta(hours=2))
            operator = asyncio.create_task(
                run(tmp_path, env, "retention", "purge", "--as-of", later)
            )
            while len(db.run_read(_purge_notices)) < records:
                assert time.monotonic() < deadline, [w.tail() for w in workers]
                await asyncio.sleep(0.2)
            await operator
            for worker in workers:
                assert worker.popen is not None
                assert worker.popen.poll() is None, worker.tail()
        assert set(db.run_read(_purge_notices).values()) == {1}
        audited = db.run_read(_audited)
        assert len({record for record, _ in audited}) == len(audited) == records
        purgers = {(actor or "").split(":")[0] for _, actor in audited}
        assert purgers == {"worker", "cli"}, purgers  # they really ran side by side
        assert db.run_read(_check_whole) == (records, 0)
    finally:
        db.close()


async def test_a_purge_killed_midway_resumes(database_url: str, tmp_path: Path) -> None:
    records = 400
    db = Database(database_url)
    try:
        seed_registry(db)
        _seed(db, records)
        db.run_write(_expire_all)
        env = child_env(database_url, tmp_path)
        purge = subprocess.Popen(
            [RILON, "retention", "purge"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            while not db.run_read(_purge_notices):
                assert purge.poll() is None, purge.stderr.read() if purge.stderr else ""
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            os.kill(purge.pid, signal.SIGKILL)
        finally:
            purge.wait(timeout=30)
            if purge.stderr is not None:
                purge.stderr.close()
        purged, untouched = db.run_read(_check_whole)
        assert purged > 0
        assert untouched > 0, "the purge finished before it could be killed: seed more"
        resumed = await run(tmp_path, env, "retention", "purge")
        assert f"purged {untouched} records" in resumed
        assert db.run_read(_check_whole) == (records, 0)
        assert (await run(tmp_path, env, "audit", "verify")).startswith("ok:")
    finally:
        db.close()


def _ids_by_seq(session: Session) -> list[str]:
    return list(session.exec(select(Record.id).order_by(col(Record.seq))).all())


def test_a_dry_run_beside_a_purging_worker_lists_each_record_once(
    db: Database, cli_env: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker purges the first page's records while `--dry-run` prints them: the next page
    starts after the last record listed, so none is skipped (by OFFSET it counted past rows
    that had left the list, and skipped as many of those still due)."""
    seed_registry(db)
    _seed(db, 6)
    db.run_write(_expire_all)  # one retain_until for all: the order is seq's
    records = db.run_read(_ids_by_seq)
    as_of = utcnow()
    monkeypatch.setattr(retention, "PAGE", 2)
    listing = purging.due
    pages: list[list[purging.Due]] = []

    def due_beside_a_worker(session: Session, *args: Any) -> list[purging.Due]:
        page = listing(session, *args)
        if not pages:
            db.run_write(purging.purge_due, as_of, utcnow(), limit=2, actor="worker:test")
        pages.append(page)
        return page

    monkeypatch.setattr(purging, "due", due_beside_a_worker)
    dry = cli_env.invoke(cli, ["retention", "purge", "--dry-run", "--as-of", iso(as_of)])
    assert dry.exit_code == 0, dry.output
    lines = dry.output.splitlines()
    assert [line.split()[0] for line in lines[1:-1]] == records
    assert lines[-1].startswith("6 records would be purged")
    assert db.run_read(_check_whole) == (2, 4)  # the worker did purge two meanwhile
