"""Turns and circuits: a failing partner backs off as a whole and its backlog waits; replays
and deletions are done a bounded chunk at a time. The dispatcher is driven by hand on a test
clock (tests/hooks.py), against a real receiver, on SQLite and PostgreSQL."""

import asyncio
from datetime import timedelta
from functools import partial
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select

from core.clock import utcnow
from delivery import outbox, pacing, purge, replays
from models.enums import Role
from models.tables import DELIVERY
from tests.backlog import add_deliveries, add_events
from tests.hooks import Hooks
from tests.support import alert_body, handling

BACKLOG = 40


async def states(hooks: Hooks, subscription: str) -> dict[str, int]:
    """How many of the subscription's deliveries are in each state."""
    counted: dict[str, int] = {}
    for row in await hooks.deliveries("MY-MMEA", subscription):
        counted[row["state"]] = counted.get(row["state"], 0) + 1
    return counted


async def test_a_failing_partner_backs_off_as_a_whole(hooks: Hooks, database_url: str) -> None:
    """Four failures open the circuit: nothing is sent while it waits, then one probe at a
    time; when a probe succeeds, the whole backlog, failed ones included, goes out at once."""
    subscription, _ = await hooks.subscribe("MY-MMEA")
    await asyncio.to_thread(add_deliveries, database_url, subscription, BACKLOG)
    hooks.receiver.script["/hook"] = [500] * 6  # the first four, then two probes
    await hooks.pump()
    assert len(hooks.receiver.received) == 4  # its share, all failed: the circuit opens
    hooks.clock.advance(10)  # the failed ones' own retries (5 s) are due, the circuit's not
    await hooks.pump()
    assert len(hooks.receiver.received) == 4
    assert await states(hooks, subscription) == {"pending": BACKLOG}  # waiting, durably
    hooks.receiver.most_in_flight = 0
    for wait in (pacing.circuit_wait(4), pacing.circuit_wait(5)):  # two probes, failing
        hooks.clock.advance(wait.total_seconds() - 1)
        await hooks.pump()
        hooks.clock.advance(2)
        await hooks.pump()
    assert len(hooks.receiver.received) == 6  # one a wait, never before it was over
    assert hooks.receiver.most_in_flight == 1  # a probe goes alone
    hooks.clock.advance(pacing.circuit_wait(6).total_seconds() + 1)
    await hooks.pump()  # the third probe succeeds: everything follows, no clock needed
    assert await states(hooks, subscription) == {"succeeded": BACKLOG}
    assert len(hooks.receiver.received) == 6 + BACKLOG


async def test_a_new_event_does_not_wake_an_open_circuit(hooks: Hooks) -> None:
    subscription, _ = await hooks.subscribe("MY-MMEA")
    hooks.receiver.script["/hook"] = [503] * 3
    hooks.receiver.retry_after = "600"  # the receiver asks for ten minutes' peace
    sender = await hooks.network.headers(Role.DUTY_OFFICER, "BD-CG")
    for _ in range(2):
        answer = await hooks.network.http.post("/v1/alerts", json=ALERT, headers=sender)
        assert answer.status_code == 201, answer.text
    await hooks.pump()
    assert len(hooks.receiver.received) == 2
    answer = await hooks.network.http.post("/v1/alerts", json=ALERT, headers=sender)
    assert answer.status_code == 201, answer.text
    hooks.clock.advance(300)
    await hooks.pump()
    assert len(hooks.receiver.received) == 2  # not for the new alert, not before 600 s
    hooks.clock.advance(301)
    await hooks.pump()
    assert len(hooks.receiver.received) == 3  # one probe (answered 503 again)
    hooks.clock.advance(601)
    await hooks.pump()
    assert len(hooks.receiver.received) == 6  # the probe succeeds; the other two follow
    assert await states(hooks, subscription) == {"succeeded": 3}


def test_turns_are_dealt_one_delivery_a_subscription_at_a_time() -> None:
    heads: dict[str, list[Any]] = {"a": [1, 2, 3, 4], "b": [5, 6, 7, 8], "c": [9]}
    allowance = {"a": 4, "b": 2, "c": 4}
    assert outbox._take_turns(heads, allowance, limit=5) == [1, 5, 9, 2, 6]
    assert outbox._take_turns(heads, allowance, limit=64) == [1, 5, 9, 2, 6, 3, 4]


async def test_a_replay_is_a_bounded_chunk_a_round(
    hooks: Hooks, app: FastAPI, database_url: str
) -> None:
    """Asking writes one row; each dispatcher round then queues at most one chunk of events,
    so no writer unit walks the history (the POSTs batched with it would wait)."""
    db = app.state.runtime.db
    subscription, _ = await hooks.subscribe("MY-MMEA")
    await asyncio.to_thread(add_events, database_url, 2 * replays.CHUNK + 10)
    admin = await hooks.network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    url = f"/v1/subscriptions/{subscription}/replay"
    since = (utcnow() - timedelta(hours=1)).isoformat()
    asked = await hooks.network.http.post(url, json={"since": since}, headers=admin)
    assert asked.status_code == 202
    assert asked.json() | {"id": "", "created_at": ""} == {
        "id": "",
        "state": "running",
        "since": asked.json()["since"],
        "queued": 0,
        "remaining": 2 * replays.CHUNK + 10,
        "created_at": "",
        "finished_at": None,
    }
    assert await _count(db) == 0
    looked = [await db.write(partial(replays.advance, now=hooks.clock())) for _ in range(4)]
    assert looked == [replays.CHUNK, replays.CHUNK, 10, 0]
    assert await _count(db) == 2 * replays.CHUNK + 10
    progress = (await hooks.network.http.get(url, headers=admin)).json()
    assert (progress["state"], progress["queued"], progress["remaining"]) == (
        "done",
        2 * replays.CHUNK + 10,
        0,
    )


async def test_a_replay_reaches_back_only_so_far(hooks: Hooks, database_url: str) -> None:
    subscription, _ = await hooks.subscribe("MY-MMEA")
    admin = await hooks.network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    url = f"/v1/subscriptions/{subscription}/replay"
    for since in ("1970-01-01T00:00:00Z", (utcnow() - timedelta(days=31)).isoformat()):
        refused = await hooks.network.http.post(url, json={"since": since}, headers=admin)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["errors"][0]["field"] == "since"
        assert "30 days" in refused.json()["errors"][0]["message"]
    other = await hooks.network.headers(Role.AGENCY_ADMIN, "TH-MECC")
    hidden = await hooks.network.http.get(url, headers=other)
    assert hidden.status_code == 404


async def test_a_deleted_subscription_is_purged_a_chunk_at_a_time(
    hooks: Hooks, app: FastAPI, database_url: str
) -> None:
    db = app.state.runtime.db
    subscription, _ = await hooks.subscribe("MY-MMEA")
    await asyncio.to_thread(add_deliveries, database_url, subscription, 25)
    admin = await hooks.network.headers(Role.AGENCY_ADMIN, "MY-MMEA")
    url = f"/v1/subscriptions/{subscription}"
    assert (await hooks.network.http.delete(url, headers=admin)).status_code == 200
    assert (await hooks.network.http.get(url, headers=admin)).status_code == 404
    listed = (await hooks.network.http.get("/v1/subscriptions", headers=admin)).json()
    assert listed == []
    claim = partial(outbox.claim, box=hooks.dispatcher.box, now=hooks.clock(), limit=64)
    assert await db.write(claim) == []  # nothing goes to a deleted subscription
    purge_chunk = partial(purge.deleted, chunk=10)
    assert [await db.write(purge_chunk) for _ in range(5)] == [10, 10, 5, 1, 0]
    assert await _count(db) == 0


async def _count(db: Any) -> int:
    return int(await db.read(lambda s: s.connection().execute(_ALL).scalar_one()))


_ALL = select(func.count()).select_from(DELIVERY)
ALERT = alert_body(handling=handling("network"))


async def test_a_round_that_claims_nothing_leaves_nothing_due(hooks: Hooks) -> None:
    """The dispatcher idles only when no due delivery is left unclaimed: served
    subscriptions never take the turns of those still waiting (one alert to more
    subscriptions than one claim takes)."""
    for n in range(100):
        await hooks.subscribe(("MY-MMEA", "ID-BASARNAS", "TH-MRCC")[n % 3], path=f"/s/{n}")
    sender = await hooks.network.headers(Role.DUTY_OFFICER, "BD-CG")
    answer = await hooks.network.http.post("/v1/alerts", json=ALERT, headers=sender)
    assert answer.status_code == 201, answer.text
    rounds = 0
    while await hooks.dispatcher.tick():  # as `run` does: it idles when a round says so
        rounds += 1
    await hooks.dispatcher.drain()
    assert len(hooks.receiver.received) == 100, f"{len(hooks.receiver.received)} after {rounds}"
