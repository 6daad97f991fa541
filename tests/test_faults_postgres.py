"""PostgreSQL out of reach: refused, black-holed, or cut in the middle of a write.

The service reaches the shared server through a proxy the test controls; the server itself is
never touched. Every answer during the outage is a quick 503 with Retry-After, nothing is
half-written, and once the proxy is back the same requests succeed.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import create_engine, text

from api.app import create_app
from core.db import WRITERS_LOCK, Database
from tests.conftest import make_settings, reset_postgres
from tests.faults import PgProxy, counts
from tests.support import Network
from tests.test_faults import check_unavailable, fails_fast, publish, recovers, sender

pytestmark = pytest.mark.postgres


@dataclass
class Outage:
    network: Network
    proxy: PgProxy
    url: str  # the database itself, not through the proxy


@pytest.fixture
async def outage(postgres_database: str, tmp_path: Path) -> AsyncIterator[Outage]:
    reset_postgres(postgres_database)
    proxy = PgProxy()
    await proxy.start()
    settings = make_settings(proxy.url(postgres_database), tmp_path, db_timeout_seconds=1)
    app = create_app(settings)
    try:
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                db = Database(postgres_database)
                try:
                    yield Outage(Network.seed(db, http), proxy, postgres_database)
                finally:
                    db.close()
    finally:
        await proxy.close()


async def test_refused_connections(outage: Outage) -> None:
    headers = await sender(outage.network)
    key, before = uuid.uuid4().hex, counts(outage.url)
    await outage.proxy.refuse()
    await fails_fast(outage.network, headers, key, wait=10)  # the long-poll does not wait
    began = time.monotonic()
    ready = await outage.network.http.get("/readyz")
    check_unavailable(ready, began)
    await outage.proxy.restore()
    await recovers(outage.network, headers, key, before, outage.url)
    assert (await outage.network.http.get("/readyz")).status_code == 200


async def test_a_server_that_never_answers(outage: Outage) -> None:
    """Connections accepted and never answered: psycopg's connect timeout ends each wait."""
    headers = await sender(outage.network)
    key, before = uuid.uuid4().hex, counts(outage.url)
    await outage.proxy.blackhole()
    began = time.monotonic()
    # two waits of libpq's least connect timeout (2 s): the request's, then its audit row's
    answer = await publish(outage.network, headers, key)
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"]
    assert time.monotonic() - began < 7.0
    await outage.proxy.restore()
    await recovers(outage.network, headers, key, before, outage.url)


async def test_connection_cut_in_the_middle_of_a_write(outage: Outage) -> None:
    """The write is waiting inside its transaction (for the writers' lock, held here) when
    every connection is cut: 503, and nothing of it is committed when the lock is let go."""
    headers = await sender(outage.network)
    key, before = uuid.uuid4().hex, counts(outage.url)
    direct = create_engine(outage.url)
    try:
        with direct.connect() as holder:
            holder.execute(text(f"SELECT pg_advisory_lock({WRITERS_LOCK})"))
            pending = asyncio.create_task(publish(outage.network, headers, key))
            await asyncio.sleep(0.5)
            assert not pending.done()  # inside its transaction, waiting for the lock
            began = time.monotonic()
            await outage.proxy.refuse()
            check_unavailable(await pending, began)
            holder.execute(text(f"SELECT pg_advisory_unlock({WRITERS_LOCK})"))
            holder.commit()
    finally:
        direct.dispose()
    await asyncio.sleep(0.2)  # the orphaned backend takes the lock, finds no client, rolls back
    await outage.proxy.restore()
    await recovers(outage.network, headers, key, before, outage.url)
