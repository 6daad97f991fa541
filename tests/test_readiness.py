"""/readyz follows the dispatcher's heartbeat when this process runs one."""

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlmodel import Session

from api.app import create_app
from core.clock import utcnow
from core.db import Database
from delivery import expansion
from models.subscriptions import DispatcherState
from tests.conftest import make_settings


def _beat(db: Database, seconds_ago: float) -> None:
    def write(session: Session) -> None:
        state = session.get(DispatcherState, "expander") or DispatcherState(name="expander")
        state.heartbeat_at = utcnow() - timedelta(seconds=seconds_ago)
        session.add(state)

    db.run_write(write)


@pytest.fixture
async def with_stuck_dispatcher(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose in-process dispatcher runs but fails every round, so it never beats."""

    def broken(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("the outbox cannot be expanded")

    monkeypatch.setattr(expansion, "expand", broken)
    application = create_app(make_settings(database_url, tmp_path, dispatcher=True))
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://rilon.test") as http:
            yield http


async def test_a_stale_heartbeat_makes_readyz_503(
    with_stuck_dispatcher: httpx.AsyncClient, db: Database
) -> None:
    http = with_stuck_dispatcher
    _beat(db, seconds_ago=5)
    fresh = await http.get("/readyz")
    assert fresh.status_code == 200
    assert fresh.json()["dispatcher"] == "ok"
    _beat(db, seconds_ago=45)  # the stale limit is 30 s
    stale = await http.get("/readyz")
    assert stale.status_code == 503
    assert stale.headers["content-type"] == "application/problem+json"
    problem = stale.json()
    assert problem["status"] == 503
    assert "dispatcher" in problem["detail"]


async def test_a_process_without_a_dispatcher_reports_stale_but_stays_ready(
    client: httpx.AsyncClient, db: Database
) -> None:
    _beat(db, seconds_ago=45)  # the workers' problem, not this API replica's
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["dispatcher"] == "stale"
