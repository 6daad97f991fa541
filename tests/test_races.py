"""Races and crash windows: "the crash, the second worker".

Requests that reach the group-commit writer together run in ONE transaction, one Session
(core/writer.py): a row loaded by one unit could be a stale ORM copy for the next. The `Gate`
makes that deterministic: the writer is held inside a gate unit while the requests under test
queue behind it, in a chosen order, so they share the next batch. Each test asserts what some
serial order of the same requests gives. And a worker killed between a purge's commit and its
checkpoint leaves no text on disk once a worker runs again. SQLite and PostgreSQL."""

import asyncio
import threading
import time
from collections.abc import Awaitable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel import Session

from core.clock import utcnow
from core.db import Database
from models.enums import Role
from services.records import purging
from tests.support import Network, alert_body, handling

ALERTS = "/v1/alerts"
MARKER = "zqxracemarker5150"


class Gate:
    """Holds the app's writer inside a unit, so that whatever is queued meanwhile, in the
    order queued, shares the writer's next batch (one transaction, one Session)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.entered = threading.Event()
        self.released = threading.Event()
        self.held: asyncio.Future[Any] | None = None
        self.tasks: list[asyncio.Future[Any]] = []

    async def __aenter__(self) -> "Gate":
        def gate(_session: Session) -> None:
            self.entered.set()
            self.released.wait(20)

        self.held = asyncio.ensure_future(self.db.write(gate))
        await asyncio.to_thread(self.entered.wait, 10)
        return self

    async def queue(self, work: Awaitable[Any]) -> "asyncio.Future[Any]":
        """Start `work` and return once it has queued one more job for the writer."""
        writer_queue = self.db.writer._queue
        before = writer_queue.qsize()
        task = asyncio.ensure_future(work)
        self.tasks.append(task)
        deadline = time.monotonic() + 10
        while writer_queue.qsize() <= before:
            assert not task.done(), f"finished without reaching the writer: {task.result()}"
            assert time.monotonic() < deadline, "the request never reached the writer"
            await asyncio.sleep(0.005)
        return task

    async def __aexit__(self, *_exc: object) -> None:
        self.released.set()
        assert self.held is not None
        await self.held
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _db(app: FastAPI) -> Database:
    db: Database = app.state.runtime.db
    return db


async def _post(network: Network, body: dict[str, Any], agency: str = "BD-CG") -> dict[str, Any]:
    sender = await network.headers(Role.DUTY_OFFICER, agency)
    answer = await network.http.post(ALERTS, json=body, headers=sender)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _secret_alert() -> dict[str, Any]:
    return alert_body(
        description=f"Informant {MARKER} saw the boat leave",
        handling=handling("network"),
    )


# --- one batch, one Session (checked: correct; `with_for_update` refreshes ORM copies) -----


async def test_an_update_batched_after_a_redaction_does_not_bring_the_text_back(
    app: FastAPI, network: Network
) -> None:
    """Redact version 1 and PATCH the headline, at once, in one batch: the PATCH must not copy
    the unredacted description into version 2 unless the redaction answer names version 2
    (`also_in_versions`). Checked: correct."""
    http = network.http
    record = await _post(network, _secret_alert())
    url = f"{ALERTS}/{record['id']}"
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    redact = {"fields": ["description"], "reason": "Informant named by mistake"}
    async with Gate(_db(app)) as gate:
        redacted = await gate.queue(
            http.post(f"{url}/versions/1/redact", json=redact, headers=sender)
        )
        patched = await gate.queue(
            http.patch(url, json={"headline": "Boat turned north"}, headers=sender)
        )
    assert redacted.result().status_code == 200, redacted.result().text
    assert patched.result().status_code == 200, patched.result().text
    also_in = redacted.result().json()["redaction"]["also_in_versions"]
    current = (await http.get(url, headers=sender)).json()
    assert current["version"] == 2
    assert current["description"] != f"Informant {MARKER} saw the boat leave" or also_in == [2], (
        "the redacted text is back in version 2 and the redaction said no other version held it"
    )


async def test_a_legal_hold_batched_after_an_update_does_not_undo_it(
    app: FastAPI, network: Network
) -> None:
    """PATCH, then set a legal hold, in one batch: both 2xx, so the record reads as version 2
    with the new headline and the hold (the hold must not write back a stale document).
    Checked: correct."""
    http = network.http
    record = await _post(network, alert_body(headline="First headline"))
    url = f"{ALERTS}/{record['id']}"
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    admin = await network.headers(Role.AGENCY_ADMIN, "BD-CG")
    async with Gate(_db(app)) as gate:
        patched = await gate.queue(
            http.patch(url, json={"headline": "Second headline"}, headers=sender)
        )
        held = await gate.queue(
            http.post(f"{url}/legal-hold", json={"on": True, "reason": "court"}, headers=admin)
        )
    assert patched.result().status_code == 200, patched.result().text
    assert held.result().status_code == 200, held.result().text
    current = await http.get(url, headers=sender)
    assert current.headers["etag"] == '"2"'
    assert current.json()["legal_hold"] is True
    assert current.json()["version"] == 2, "the record's document went back to version 1"
    assert current.json()["headline"] == "Second headline", "an acknowledged PATCH was lost"


async def test_two_patches_with_the_same_if_match_one_wins_the_other_412(
    app: FastAPI, network: Network
) -> None:
    """Two PATCHes naming `If-Match: 1` at once: exactly one wins; the other is 412 (DESIGN:
    "`If-Match` → 412 on a stale version"), whichever batch they land in."""
    http = network.http
    record = await _post(network, alert_body(headline="First headline"))
    url = f"{ALERTS}/{record['id']}"
    sender = {**await network.headers(Role.DUTY_OFFICER, "BD-CG"), "If-Match": '"1"'}
    async with Gate(_db(app)) as gate:
        one = await gate.queue(http.patch(url, json={"headline": "One"}, headers=sender))
        two = await gate.queue(http.patch(url, json={"headline": "Two"}, headers=sender))
    codes = sorted([one.result().status_code, two.result().status_code])
    assert codes == [200, 412], [one.result().text, two.result().text]


async def _purge_unit(db: Database) -> Awaitable[int]:
    when = utcnow() + timedelta(days=36500)
    return db.write_now(purging.purge_due, when, utcnow(), actor="test")


async def test_an_update_batched_after_a_purge_does_not_resurrect_the_record(
    app: FastAPI, network: Network
) -> None:
    """The worker's purge round, then a sender's PATCH, in one batch: the PATCH is a 410 and
    nothing of the purged content comes back. Checked: correct."""
    http = network.http
    record = await _post(network, _secret_alert())
    url = f"{ALERTS}/{record['id']}"
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    db = _db(app)
    async with Gate(db) as gate:
        purged = await gate.queue(await _purge_unit(db))
        patched = await gate.queue(http.patch(url, json={"headline": "Later"}, headers=sender))
    assert purged.result() == 1
    assert patched.result().status_code == 410, patched.result().text
    stored = await db.read(_stored_texts, record["id"])
    assert not [text for text in stored if MARKER in text], stored


async def test_a_legal_hold_batched_after_a_purge_does_not_resurrect_the_record(
    app: FastAPI, network: Network
) -> None:
    http = network.http
    record = await _post(network, _secret_alert())
    url = f"{ALERTS}/{record['id']}"
    admin = await network.headers(Role.AGENCY_ADMIN, "BD-CG")
    db = _db(app)
    async with Gate(db) as gate:
        purged = await gate.queue(await _purge_unit(db))
        held = await gate.queue(
            http.post(f"{url}/legal-hold", json={"on": True, "reason": "court"}, headers=admin)
        )
    assert purged.result() == 1
    assert held.result().status_code == 410, held.result().text
    stored = await db.read(_stored_texts, record["id"])
    assert not [text for text in stored if MARKER in text], stored


async def test_a_sighting_batched_after_a_purge_is_refused(app: FastAPI, network: Network) -> None:
    """A sighting queued right behind the purge round in one batch is a 410 and stores
    nothing. Checked: correct."""
    http = network.http
    record = await _post(network, _secret_alert())
    url = f"{ALERTS}/{record['id']}"
    th = await network.headers(Role.DUTY_OFFICER, "TH-MECC")
    sighting = {
        "observed_at": utcnow().isoformat().replace("+00:00", "Z"),
        "position": {"lat": 20.5, "lon": 92.2},
        "source": "vessel",
        "note": f"Seen again: {MARKER}",
    }
    db = _db(app)
    async with Gate(db) as gate:
        purged = await gate.queue(await _purge_unit(db))
        seen = await gate.queue(http.post(f"{url}/sightings", json=sighting, headers=th))
    assert purged.result() == 1
    assert seen.result().status_code == 410, seen.result().text
    stored = await db.read(_stored_texts, record["id"])
    assert not [text for text in stored if MARKER in text], stored


def _stored_texts(session: Session, record_id: str) -> list[str]:
    """Every stored text of a record: the record, its versions, events, sightings."""
    from sqlalchemy import text

    found: list[str] = []
    for sql in (
        "SELECT doc FROM record WHERE id = :id",
        "SELECT doc FROM record_version WHERE record_id = :id",
        "SELECT data FROM event WHERE record_id = :id",
        "SELECT doc FROM sighting WHERE record_id = :id",
    ):
        found += [row[0] for row in session.connection().execute(text(sql), {"id": record_id})]
    return found


async def test_a_hand_over_batched_before_the_old_coordinators_update_refuses_it(
    app: FastAPI, network: Network
) -> None:
    """The old RCC hands coordination over and, in the same batch, PATCHes the report: the
    PATCH must see the hand-over (403), not the coordinator it loaded. Checked: correct."""
    from tests.support import distress_body

    http = network.http
    sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
    posted = await http.post(
        "/v1/distress-reports", json=distress_body(handling=handling("network")), headers=sender
    )
    assert posted.status_code == 201, posted.text
    url = f"/v1/distress-reports/{posted.json()['id']}"
    old = await network.headers(Role.DUTY_OFFICER, "MY-MRCC")
    async with Gate(_db(app)) as gate:
        handed = await gate.queue(
            http.post(f"{url}/coordination", json={"to": "ID-BASARNAS"}, headers=old)
        )
        patched = await gate.queue(
            http.patch(url, json={"actions_taken": "old RCC still acting"}, headers=old)
        )
    assert handed.result().status_code == 200, handed.result().text
    assert patched.result().status_code == 403, patched.result().text


async def test_the_same_idempotency_key_twice_at_once_makes_one_record(
    app: FastAPI, network: Network
) -> None:
    http = network.http
    sender = {**await network.headers(Role.DUTY_OFFICER, "BD-CG"), "Idempotency-Key": "k-1"}
    body = _secret_alert()
    other = alert_body(headline="Another body")
    async with Gate(_db(app)) as gate:
        one = await gate.queue(http.post(ALERTS, json=body, headers=sender))
        two = await gate.queue(http.post(ALERTS, json=body, headers=sender))
        three = await gate.queue(http.post(ALERTS, json=other, headers=sender))
    answers = [one.result(), two.result(), three.result()]
    assert [a.status_code for a in answers[:2]] == [201, 201], [a.text for a in answers]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert answers[2].status_code == 409, answers[2].text
    listed = (await http.get(ALERTS, headers=sender)).json()["items"]
    assert len(listed) == 1


# --- crash windows -------------------------------------------------------------------------

PURGE_THEN_DIE = """
import asyncio, os, signal, sys
from core.clock import utcnow
from core.db import Database
from delivery.dispatcher import Dispatcher

async def main() -> None:
    db = Database(sys.argv[1])
    db.start()

    async def killed() -> None:  # kill -9 right after the purge's commit, before its checkpoint
        os.kill(os.getpid(), signal.SIGKILL)

    db.forget = killed
    purged = await Dispatcher(db, None, None).purge_expired(utcnow())  # the worker's own round
    print("purged", purged, "and lived", flush=True)

asyncio.run(main())
"""


async def test_a_worker_killed_after_a_purge_leaves_no_text_on_disk(
    database_url: str, tmp_path: Any
) -> None:
    """RELIABILITY.md: "What a purge or a redaction removes is in no database file afterwards
    (SQLite's file and write-ahead log read as bytes)". The dispatcher's purge commits, then
    checkpoints (`Database.forget`). A worker killed between the two left the purged text in
    the WAL, and no later round checkpointed: each did only when it purged something itself."""
    import subprocess
    import sys

    from sqlalchemy import select as sa_select

    from models.alerts import AlertCreate
    from models.tables import RECORD
    from services.records.kinds import ALERTS as ALERT_SPEC
    from services.records.publishing import publish
    from tests.processes import child_env, supervised
    from tests.stored import places_holding
    from tests.support import seed_registry
    from tests.test_purge_workers import SENDER

    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's files; PostgreSQL keeps dead rows until VACUUM (documented)")
    db = Database(database_url)
    try:
        seed_registry(db)
        body = AlertCreate.model_validate(_secret_alert())
        db.run_write(lambda session: publish(session, SENDER, ALERT_SPEC, body))
        past = utcnow() - timedelta(days=1)
        db.run_write(
            lambda session: session.connection().execute(RECORD.update().values(retain_until=past))
        )
        assert places_holding(database_url, MARKER)
        env = child_env(database_url, tmp_path, PYTHONPATH=str(Path(__file__).parents[1]))
        victim = subprocess.run(
            [sys.executable, "-c", PURGE_THEN_DIE, database_url],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert victim.returncode == -9, victim.stdout + victim.stderr  # killed, as planned
        purged = db.run_read(
            lambda s: s.connection().execute(sa_select(RECORD.c.purged_at)).scalar()
        )
        assert purged is not None  # the purge committed before the kill
        with supervised(tmp_path, env) as processes:
            worker = processes.add("worker", "worker")
            await worker.start()
            await asyncio.sleep(5)  # its first rounds, the retention purge among them
            assert worker.popen is not None
            assert worker.popen.poll() is None, worker.tail()
            assert places_holding(database_url, MARKER) == [], (
                "the purged text is still in the database's files while the worker runs"
            )
    finally:
        db.close()
