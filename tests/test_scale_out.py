"""The production shape without Docker: two API replicas and two webhook workers on PostgreSQL.

Real processes on 127.0.0.1: `rilon db upgrade` on a new database, two `rilon serve
--no-dispatcher` and two `rilon worker`, a verifying receiver. Alerts go in through both
replicas, retried with the same Idempotency-Key through the other one (also at the same
moment); every event the subscriber may see arrives, signed, under one webhook-id each, and
the one alert it may not see never does. The audit chain the four processes wrote verifies.

Which worker sent a delivery is recorded nowhere (attempts and audit rows name the dispatcher
role, not the process), so the test does not claim that both workers took a share.
"""

import asyncio
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from core.db import normalize_url
from tests.cluster import (
    BOOTSTRAP,
    NETWORK_ALERT,
    OUTSIDER_ONLY_ALERT,
    SENDER,
    Headers,
    LiveNetwork,
)
from tests.processes import Process, child_env, run, supervised
from tests.receiver import Receiver, running, verify

pytestmark = pytest.mark.postgres

ALERTS = 40
KEYED_EVERY = 5  # every 5th alert carries an Idempotency-Key and is retried via the other API
TOGETHER_EVERY = 10  # and every 10th is also sent to both replicas at the same moment
IN_FLIGHT = 4  # alerts posted concurrently
DELIVERED_TIMEOUT = 40.0


async def post_alert(
    http: httpx.AsyncClient, apis: list[Process], n: int, sender: Headers
) -> tuple[str, ...]:
    """Post alert `n` through replica n % 2 (and its retries through the other); the ids
    answered, which must all be one when a key was used."""
    first, other = apis[n % 2], apis[(n + 1) % 2]
    headers = {**sender, "Idempotency-Key": f"alert-{n}"} if n % KEYED_EVERY == 0 else sender
    sends: list[Awaitable[httpx.Response]] = [
        http.post(first.url("/v1/alerts"), json=NETWORK_ALERT, headers=headers)
    ]
    if n % TOGETHER_EVERY == 0:
        sends.append(http.post(other.url("/v1/alerts"), json=NETWORK_ALERT, headers=headers))
    answers = list(await asyncio.gather(*sends))
    if "Idempotency-Key" in headers:  # the client lost the answer: ask the other replica
        answers.append(
            await http.post(other.url("/v1/alerts"), json=NETWORK_ALERT, headers=headers)
        )
    for answer in answers:
        assert answer.status_code == 201, answer.text
    replayed = [a for a in answers if a.headers.get("Idempotent-Replayed") == "true"]
    assert len(replayed) == len(answers) - 1
    return tuple({answer.json()["id"] for answer in answers})


async def post_all(http: httpx.AsyncClient, apis: list[Process], sender: Headers) -> set[str]:
    """ALERTS network alerts, IN_FLIGHT at a time, alternating replicas; their ids."""
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one(n: int) -> tuple[str, ...]:
        async with slots:
            return await post_alert(http, apis, n, sender)

    answered = await asyncio.gather(*(one(n) for n in range(ALERTS)))
    assert all(len(ids) == 1 for ids in answered), "a retried key made a second alert"
    return {ids[0] for ids in answered}


async def wait_delivered(receiver: Receiver, expected: set[str]) -> None:
    deadline = time.monotonic() + DELIVERED_TIMEOUT
    while not expected <= {d.headers["webhook-id"] for d in receiver.received}:
        arrived = {d.headers["webhook-id"] for d in receiver.received} & expected
        assert time.monotonic() < deadline, f"{len(arrived)} of {len(expected)} events arrived"
        await asyncio.sleep(0.1)


def expander_state(database_url: str, event_id: str) -> tuple[int, int, int]:
    """(the event's seq, the seq the expander has passed, deliveries made of the event)."""
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as connection:
            seq = connection.execute(text("SELECT seq FROM event WHERE id = :id"), {"id": event_id})
            passed = connection.execute(text("SELECT last_seq FROM dispatcher_state"))
            queued = connection.execute(
                text("SELECT count(*) FROM delivery WHERE event_id = :id"), {"id": event_id}
            )
            return seq.scalar_one(), passed.scalar_one(), queued.scalar_one()
    finally:
        engine.dispose()


async def test_two_replicas_two_workers(empty_postgres_database: str, tmp_path: Path) -> None:
    url = empty_postgres_database
    env = child_env(url, tmp_path, **BOOTSTRAP)
    await run(tmp_path, env, "db", "upgrade")
    receiver = Receiver()
    async with running(receiver), httpx.AsyncClient(timeout=15) as http:
        with supervised(tmp_path, env) as processes:
            apis = [processes.add(f"api{n}", "serve", "--no-dispatcher") for n in (1, 2)]
            workers = [processes.add(f"worker{n}", "worker") for n in (1, 2)]
            await asyncio.gather(*(process.start() for process in apis + workers))
            network = await LiveNetwork.register(http, apis[0], apis[1])
            await network.subscribe(http, apis[1], receiver.url("/hook"), "/hook")
            outsider = await http.post(
                apis[0].url("/v1/alerts"), json=OUTSIDER_ONLY_ALERT, headers=network.sender
            )
            assert outsider.status_code == 201, outsider.text
            alerts = await post_all(http, apis, network.sender)
            events = await network.feed(http, apis[1])
            check_events(events, alerts, outsider.json()["id"])
            expected = {e["id"] for e in events if e["data"]["id"] in alerts}
            await wait_delivered(receiver, expected)
            for api in apis:
                ready = (await http.get(api.url("/readyz"))).json()
                assert ready["dispatcher"] == "ok", ready  # the workers beat, no API sends
            assert all(p.popen and p.popen.poll() is None for p in processes.started)
    received = {d.headers["webhook-id"] for d in receiver.received}
    assert received == expected  # each once or more, one webhook-id per event, nothing else
    for delivery in receiver.received:
        event = verify(network.secrets["/hook"], delivery)
        assert event["id"] == delivery.headers["webhook-id"]
        assert event["data"]["id"] in alerts
    hidden = next(e["id"] for e in events if e["data"]["id"] == outsider.json()["id"])
    seq, passed, queued = await asyncio.to_thread(expander_state, url, hidden)
    assert passed >= seq  # the expander looked at it
    assert queued == 0  # and queued it for nobody: only TH-MECC may read it
    await run(tmp_path, env, "audit", "verify")


def check_events(events: list[dict[str, Any]], alerts: set[str], outsider: str) -> None:
    """One alert.created per alert, however many times and places it was posted."""
    created = [e["data"]["id"] for e in events if e["type"] == "alert.created"]
    assert sorted(created) == sorted([*alerts, outsider])
    assert all(e["data"]["sender_agency"] == SENDER for e in events)
