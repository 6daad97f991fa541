"""Exactly once with several workers: two `rilon worker` processes on one PostgreSQL database,
both polling when a few hundred acknowledgement deadlines pass at once, send one
`alert.ack_overdue` for each record, never two.

Each dispatcher round starts by locking the expander's row (delivery/expansion.py), so the two
workers' rounds follow each other and this test would pass even without the overdue round's
own guards; those (SKIP LOCKED, the conditional clearing of the cue) are exercised by two
overlapping sessions in tests/test_ack_deadlines.py."""

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func
from sqlmodel import Session, col, select

from api.app import create_app
from core.clock import utcnow
from models.enums import Role
from models.events import Event
from models.tables import RECORD
from tests.conftest import make_settings
from tests.processes import child_env, run, supervised
from tests.support import Network, alert_body

RECORDS = 250  # more than two rounds' chunks (100 a round)
TARGETED = {
    "distribution": "network",
    "tlp": "amber",
    "ack_required": True,
    "ack_required_from": ["MY-MMEA"],
    "ack_due_minutes": 60,
}


def _fall_due(session: Session) -> None:
    """Every deadline passes at once, as if an hour had gone by."""
    past = utcnow() - timedelta(minutes=1)
    session.connection().execute(RECORD.update().values(ack_due_at=past, ack_check_at=past))


def _sent(session: Session) -> dict[str, int]:
    """Overdue events per record."""
    query = (
        select(Event.record_id, func.count())
        .where(col(Event.type) == "alert.ack_overdue")
        .group_by(col(Event.record_id))
    )
    return dict(session.exec(query).all())


@pytest.mark.postgres
async def test_two_workers_send_each_overdue_notice_once(
    empty_postgres_database: str, tmp_path: Path
) -> None:
    url = empty_postgres_database
    env = child_env(url, tmp_path)
    await run(tmp_path, env, "db", "upgrade")
    application = create_app(make_settings(url, tmp_path))  # no dispatcher of its own
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://rilon.test") as http:
            network = Network.seed(application.state.runtime.db, http)
            sender = await network.headers(Role.DUTY_OFFICER, "BD-CG")
            posted = set()
            for _ in range(RECORDS):
                body = alert_body(handling=TARGETED)
                answer = await http.post("/v1/alerts", json=body, headers=sender)
                assert answer.status_code == 201, answer.text
                posted.add(answer.json()["id"])
            with supervised(tmp_path, env) as processes:
                workers = [processes.add(f"worker{n}", "worker") for n in (1, 2)]
                await asyncio.gather(*(worker.start() for worker in workers))
                await asyncio.sleep(1.5)  # both running their idle rounds
                network.db.run_write(_fall_due)
                deadline = time.monotonic() + 30
                while len(network.db.run_read(_sent)) < RECORDS:
                    assert time.monotonic() < deadline, [w.tail() for w in workers]
                    await asyncio.sleep(0.1)
                await asyncio.sleep(2)  # several more rounds of each: nothing more to send
                for worker in workers:
                    assert worker.popen is not None
                    assert worker.popen.poll() is None, worker.tail()
            sent = network.db.run_read(_sent)
    assert set(sent) == posted
    assert set(sent.values()) == {1}
