"""Misbehaving receivers (tools/chaos_receiver.py): every attempt ends within the configured
timeouts, a failure is recorded with its error and retried later, a redirect is never followed,
a 10 MB answer is not read into memory, and a healthy subscription is served meanwhile.

The transport runs with 1 s connect / 2 s total timeouts (settings
RILON_WEBHOOK_CONNECT_TIMEOUT_SECONDS / RILON_WEBHOOK_TIMEOUT_SECONDS; 5 s / 15 s by default).
"""

import asyncio
import time
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI

from core.netguard import networks
from delivery.dispatcher import Dispatcher
from delivery.transport import MAX_EXCERPT, MAX_READ, Transport
from models.enums import Role
from tests.hooks import Clock
from tests.support import Network, alert_body, handling
from tests.test_ssrf import _ping
from tools.chaos_receiver import ChaosReceiver, running

CONNECT, TOTAL = 1.0, 2.0
FAILING = ("hang", "drip-head", "reset", "redirect", "500")
AGENCY = "MY-MMEA"


@dataclass
class Chaos:
    network: Network
    receiver: ChaosReceiver
    clock: Clock
    dispatcher: Dispatcher
    admin: dict[str, str]

    async def subscribe(self, path: str) -> str:
        body = {"url": self.receiver.url(path), "event_types": ["*"]}
        answer = await self.network.http.post("/v1/subscriptions", json=body, headers=self.admin)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    async def deliveries(self, subscription: str) -> list[dict[str, Any]]:
        url = f"/v1/subscriptions/{subscription}/deliveries"
        return list((await self.network.http.get(url, headers=self.admin)).json())


def short_transport() -> Transport:
    allowed = networks(["127.0.0.0/8"])
    return Transport(allowed, allow_http=True, connect_timeout=CONNECT, total_timeout=TOTAL)


@pytest.fixture
async def chaos(network: Network, app: FastAPI) -> AsyncIterator[Chaos]:
    runtime = app.state.runtime
    clock = Clock()
    transport = short_transport()
    await transport.start()
    dispatcher = Dispatcher(runtime.db, runtime.webhooks.policy.box, transport, clock=clock)
    admin = await network.headers(Role.AGENCY_ADMIN, AGENCY)
    async with running(ChaosReceiver(slow_seconds=0.5)) as receiver:
        yield Chaos(network, receiver, clock, dispatcher, admin)
        await dispatcher.drain()
    await transport.close()


async def publish(chaos: Chaos) -> None:
    sender = await chaos.network.headers(Role.DUTY_OFFICER, "BD-CG")
    body = alert_body(handling=handling("network"))
    answer = await chaos.network.http.post("/v1/alerts", json=body, headers=sender)
    assert answer.status_code == 201, answer.text


async def test_every_misbehaviour_ends_in_time_and_is_retried(chaos: Chaos) -> None:
    failing = {mode: await chaos.subscribe(f"/{mode}") for mode in FAILING}
    passing = {mode: await chaos.subscribe(f"/{mode}") for mode in ("drip", "slow-ok", "ok")}
    await publish(chaos)
    began = time.monotonic()
    await chaos.dispatcher.tick()
    while not chaos.receiver.at("ok"):  # the healthy one, while the others hang and drip
        assert time.monotonic() - began < 1.0, "a misbehaving receiver delayed a healthy one"
        await asyncio.sleep(0.01)
    await chaos.dispatcher.drain()
    assert time.monotonic() - began < TOTAL + 1.5  # every attempt ended within its timeout
    for mode, subscription in failing.items():
        [delivery] = await chaos.deliveries(subscription)
        [attempt] = delivery["attempts"]
        assert delivery["state"] == "pending", mode
        assert attempt["error"], mode
        assert attempt["latency_ms"] < (TOTAL + 0.5) * 1000, mode
        assert delivery["next_attempt_at"] is not None, mode  # a retry is scheduled
    errors = {mode: (await chaos.deliveries(s))[0]["attempts"][0] for mode, s in failing.items()}
    assert errors["hang"]["error"] == "timeout"
    assert errors["drip-head"]["error"] == "timeout"
    assert errors["redirect"]["status_code"] == 302
    assert errors["500"]["status_code"] == 500
    assert errors["reset"]["status_code"] is None
    assert chaos.receiver.at("redirected") == []  # the loopback target was never asked
    for mode, subscription in passing.items():
        [delivery] = await chaos.deliveries(subscription)
        assert delivery["state"] == "succeeded", mode  # drip: the 200 arrived, body aside
    chaos.clock.advance(7)  # the first retry falls due after 5 s (±20%)
    await chaos.dispatcher.tick()
    await chaos.dispatcher.drain()
    for mode, subscription in failing.items():
        [delivery] = await chaos.deliveries(subscription)
        assert len(delivery["attempts"]) == 2, mode
    assert len(chaos.receiver.at("ok")) == 1  # what succeeded is not sent again


async def test_a_10_mb_answer_is_not_read_into_memory() -> None:
    async with running() as receiver:
        transport = short_transport()
        await transport.start()
        try:
            tracemalloc.start()
            result = await transport.post(_ping(receiver.url("/huge")), {})
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            await transport.close()
    assert result.status == 200
    assert result.excerpt is not None
    assert len(result.excerpt) <= MAX_EXCERPT
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes while answering 10 MB"
    assert MAX_READ < receiver.huge_bytes
