"""Crash tests: kill -9 the service, or a worker, three times in the middle of a fan-out.

After the restarts every (event, subscription) pair reaches its receiver at least once, a
resend carries the webhook-id of the first send, and every POST answered 201 is there.
Real processes (`rilon serve`, `rilon worker`) on 127.0.0.1, a real receiver, real SIGKILLs.
"""

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from sqlalchemy import create_engine
from sqlmodel import Session, col, select

from core.db import is_sqlite, normalize_url
from models.subscriptions import Delivery
from tests.processes import Process, child_env, run, supervised
from tests.receiver import Received, Receiver, running, verify
from tests.support import alert_body, handling, until

# Kills timed to deliveries in flight: the crash tests take turns on one test process
pytestmark = pytest.mark.xdist_group("crash")

SUBSCRIPTIONS = 20
KILL_AFTER = (10, 45, 25)  # requests reaching the receiver before each kill: three moments
RECEIVER_DELAY = 0.1  # seconds each answer takes: kills land while deliveries are in flight
POST_PAUSE = 0.05
DELIVERED_TIMEOUT = 30.0  # seconds without a new delivery before the test gives up
# A short lease lets the restarted dispatcher take over what the killed one had claimed.
LEASE_SECONDS = 3
Pair = tuple[str, str]  # (event id, receiver path)


@dataclass
class SlowReceiver(Receiver):
    """Answers 200 after `delay`; a request counts as acknowledged only if its sender is still
    connected to hear the answer (a killed sender's request must be sent again)."""

    delay: float = RECEIVER_DELAY
    in_flight: int = 0
    acked: list[Received] = field(default_factory=list)
    cut: list[Received] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        delivery = Received(request.path, dict(request.headers), await request.text())
        self.received.append(delivery)
        self.arrived.set()
        self.in_flight += 1
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        connected = request.transport is not None and not request.transport.is_closing()
        (self.acked if connected else self.cut).append(delivery)
        return web.Response(text="ok")


@dataclass
class Rig:
    """The running service, the receiver, and what the test has posted and learned."""

    database_url: str
    api: Process
    worker: Process | None
    receiver: SlowReceiver
    http: httpx.AsyncClient
    sender: dict[str, str] = field(default_factory=dict)
    admin: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # receiver path -> webhook secret
    paths: dict[str, str] = field(default_factory=dict)  # subscription id -> receiver path
    cursor: str = "0"
    accepted: list[str] = field(default_factory=list)  # ids of alerts answered 201
    refused: list[str] = field(default_factory=list)  # any other answer
    posting: bool = False

    async def login(self, client_id: str, secret: str) -> dict[str, str]:
        form = {"grant_type": "client_credentials", "client_id": client_id}
        answer = await self.http.post(
            self.api.url("/v1/auth/token"), data={**form, "client_secret": secret}
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    async def subscribe(self, count: int) -> None:
        for n in range(count):
            path = f"/crash/{n}"
            body = {"url": self.receiver.url(path), "event_types": ["*"]}
            answer = await self.http.post(
                self.api.url("/v1/subscriptions"), json=body, headers=self.admin
            )
            assert answer.status_code == 201, answer.text
            self.paths[answer.json()["id"]] = path
            self.secrets[path] = answer.json()["secret"]

    async def feed(self, after: str) -> tuple[list[dict[str, Any]], str]:
        """Every event the sender may see after `after`, and the cursor past the last one."""
        events: list[dict[str, Any]] = []
        while True:
            page = await self.http.get(
                self.api.url("/v1/feed"), params={"after": after, "limit": 500}, headers=self.sender
            )
            assert page.status_code == 200, page.text
            events += page.json()["events"]
            if not page.json()["events"]:
                return events, after
            after = page.json()["next_cursor"]

    async def post_until(self, stop: asyncio.Event) -> None:
        """Publish network alerts one after another, through outages, until `stop`."""
        body = alert_body(handling=handling("network"))
        while not stop.is_set():
            self.posting = True
            try:
                answer = await self.http.post(
                    self.api.url("/v1/alerts"), json=body, headers=self.sender
                )
            except httpx.TransportError:
                await asyncio.sleep(0.05)  # killed mid-request, or not back yet
                continue
            finally:
                self.posting = False
            if answer.status_code == 201:
                self.accepted.append(answer.json()["id"])
            else:
                self.refused.append(f"{answer.status_code} {answer.text[:200]}")
            await asyncio.sleep(POST_PAUSE)


def demo_credentials(output: str) -> dict[str, str]:
    """client_id -> secret, from what `rilon demo` prints."""
    words = (line.split() for line in output.splitlines())
    return {w[0]: w[-1] for w in words if len(w) > 2 and w[0].startswith("demo-")}


async def check_sends_nothing(api: Process, http: httpx.AsyncClient) -> None:
    """With no worker started yet, an API run with `--no-dispatcher` leaves no heartbeat."""
    for _ in range(20):
        ready = (await http.get(api.url("/readyz"))).json()
        assert ready["dispatcher"] == "starting", "`rilon serve --no-dispatcher` sends webhooks"
        await asyncio.sleep(0.05)


@asynccontextmanager
async def started(database_url: str, workdir: Path) -> AsyncIterator[Rig]:
    """The demo network served (SQLite: one process; PostgreSQL: API plus one worker), with
    SUBSCRIPTIONS subscriptions of TH-MECC pointing at a slow local receiver."""
    lease = {
        "RILON_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
        # an attempt must end within its lease (core/settings.py refuses a longer one)
        "RILON_WEBHOOK_TIMEOUT_SECONDS": str(LEASE_SECONDS - 1),
        "RILON_WEBHOOK_CONNECT_TIMEOUT_SECONDS": "1",
    }
    env = child_env(database_url, workdir, **lease)
    credentials = demo_credentials(await run(workdir, env, "demo"))
    receiver = SlowReceiver()
    async with running(receiver), httpx.AsyncClient(timeout=10) as http:
        with supervised(workdir, env) as processes:
            if is_sqlite(database_url):
                api, worker = processes.add("serve", "serve"), None
                await api.start()
            else:
                api = processes.add("serve", "serve", "--no-dispatcher")
                await api.start()
                await check_sends_nothing(api, http)
                worker = processes.add("worker", "worker")
                await worker.start()
            rig = Rig(database_url, api, worker, receiver, http)
            rig.sender = await rig.login("demo-bd-cg-duty", credentials["demo-bd-cg-duty"])
            rig.admin = await rig.login("demo-th-mecc-admin", credentials["demo-th-mecc-admin"])
            await rig.subscribe(SUBSCRIPTIONS)
            _, rig.cursor = await rig.feed("0")
            yield rig


def mid_fan_out(rig: Rig, received: int) -> Callable[[], bool]:
    """Once `received` requests reached the receiver: some in flight there, a POST pending."""
    receiver = rig.receiver
    return lambda: len(receiver.received) >= received and receiver.in_flight > 0 and rig.posting


async def crash_three_times(rig: Rig, victim: Process) -> None:
    """Post all along; three times, once deliveries are in flight and a POST is pending,
    SIGKILL `victim` and start it again on the same database."""
    received = rig.receiver.received
    stop = asyncio.Event()
    poster = asyncio.create_task(rig.post_until(stop))
    try:
        for threshold in KILL_AFTER:
            await until(
                mid_fan_out(rig, len(received) + threshold),
                f"{threshold} deliveries",
                every=0.005,  # a moment mid fan-out is short
            )
            victim.kill()
            await victim.start()
        mark, restarted = len(received) + SUBSCRIPTIONS, len(rig.accepted)
        await until(
            lambda: len(received) >= mark and len(rig.accepted) > restarted,
            "deliveries, and a POST answered 201, after the last restart",
        )
    finally:
        stop.set()
        await poster


def deliveries(database_url: str, pairs: set[Pair], paths: dict[str, str]) -> list[Delivery]:
    """The delivery rows of `pairs`, straight from the database."""
    engine = create_engine(normalize_url(database_url))
    try:
        with Session(engine) as session:
            events = {event for event, _ in pairs}
            rows = session.exec(select(Delivery).where(col(Delivery.event_id).in_(events))).all()
    finally:
        engine.dispose()
    return [row for row in rows if (row.event_id, paths.get(row.subscription_id)) in pairs]


def describe(rows: list[Delivery], missing: set[Pair]) -> str:
    states = Counter(f"{r.state}, {r.attempts} tries, leased {bool(r.lease_until)}" for r in rows)
    states["no delivery row"] = len(missing) - len(rows)
    return ", ".join(f"{n} {state}" for state, n in states.items())


async def wait_until_delivered(rig: Rig, expected: set[Pair]) -> None:
    """Wait until every pair was acknowledged by the receiver, failing once deliveries stop
    arriving for DELIVERED_TIMEOUT (a loaded machine drains slowly; a stuck one not at all)."""
    deadline = time.monotonic() + DELIVERED_TIMEOUT
    left = len(expected)
    while True:
        acked = {(d.headers["webhook-id"], d.path) for d in rig.receiver.acked}
        missing = expected - acked
        if not missing:
            return
        if len(missing) < left:
            left, deadline = len(missing), time.monotonic() + DELIVERED_TIMEOUT
        if time.monotonic() > deadline:
            rows = await asyncio.to_thread(deliveries, rig.database_url, missing, rig.paths)
            found = describe(rows, missing)
            pytest.fail(f"{len(missing)} of {len(expected)} pairs stalled undelivered: {found}")
        await asyncio.sleep(0.2)


async def check_outcome(rig: Rig) -> None:
    assert rig.refused == []
    assert rig.accepted  # crash_three_times saw one answered 201 after the last restart
    for alert in rig.accepted:  # every 201 survived the kills
        answer = await rig.http.get(rig.api.url(f"/v1/alerts/{alert}"), headers=rig.sender)
        assert answer.status_code == 200, f"alert {alert} answered 201, then {answer.text}"
    events, _ = await rig.feed(rig.cursor)
    created = [e for e in events if e["type"] == "alert.created"]
    alerts = [e["data"]["id"] for e in created]
    assert len(alerts) == len(set(alerts))  # one event per alert, however often it was killed
    assert set(rig.accepted) <= set(alerts)  # plus any committed as its answer was lost
    expected = {(e["id"], path) for e in created for path in rig.paths.values()}
    await wait_until_delivered(rig, expected)
    sent: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for delivery in rig.receiver.received:
        event = verify(rig.secrets[delivery.path], delivery)
        assert delivery.headers["webhook-id"] == event["id"]
        sent[(delivery.path, event["type"], event["data"]["id"])].add(event["id"])
    split = {key: ids for key, ids in sent.items() if len(ids) > 1}
    assert split == {}  # a resend carries the webhook-id of the first send


async def test_service_killed_mid_fan_out(database_url: str, tmp_path: Path) -> None:
    """SQLite: the service sends webhooks itself. PostgreSQL: the API dies, its worker not."""
    async with started(database_url, tmp_path) as rig:
        await crash_three_times(rig, rig.api)
        if rig.worker is None:  # the dispatcher died mid-send: something was cut and resent
            assert rig.receiver.cut
        await check_outcome(rig)


async def test_worker_killed_mid_fan_out(database_url: str, tmp_path: Path) -> None:
    if is_sqlite(database_url):
        pytest.skip("on SQLite `rilon serve` sends webhooks itself: no worker to kill")
    async with started(database_url, tmp_path) as rig:
        assert rig.worker is not None
        await crash_three_times(rig, rig.worker)
        assert rig.receiver.cut  # deliveries were in flight when the worker died
        await check_outcome(rig)
