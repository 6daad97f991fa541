"""The webhook test rig: a dispatcher driven by hand on a test clock, a real receiver."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from core.clock import utcnow
from core.netguard import networks
from delivery.dispatcher import Dispatcher
from delivery.transport import Transport
from models.enums import Role
from tests.receiver import Receiver, running
from tests.support import Network, alert_body


class Clock:
    """Real time plus however far the test has moved it on."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@dataclass
class Hooks:
    network: Network
    receiver: Receiver
    clock: Clock
    dispatcher: Dispatcher

    async def subscribe(self, agency: str, path: str = "/hook", **body: Any) -> tuple[str, str]:
        headers = await self.network.headers(Role.AGENCY_ADMIN, agency)
        payload = {"url": self.receiver.url(path), "event_types": ["*"], **body}
        response = await self.network.http.post("/v1/subscriptions", json=payload, headers=headers)
        assert response.status_code == 201, response.text
        return response.json()["id"], response.json()["secret"]

    async def pump(self) -> None:
        """Run the dispatcher until nothing is due now, and wait for what it sent."""
        while await self.dispatcher.tick():
            await self.dispatcher.drain()
        await self.dispatcher.drain()

    async def post_alert(self, **changes: Any) -> dict[str, Any]:
        """An alert from BD-CG (`alert_body` with `changes`), as its 201 answered it."""
        sender = await self.network.headers(Role.DUTY_OFFICER, "BD-CG")
        body = alert_body(**changes)
        response = await self.network.http.post("/v1/alerts", json=body, headers=sender)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def deliveries(self, agency: str, subscription: str) -> list[dict[str, Any]]:
        headers = await self.network.headers(Role.AGENCY_ADMIN, agency)
        url = f"/v1/subscriptions/{subscription}/deliveries"
        return list((await self.network.http.get(url, headers=headers)).json())


@pytest.fixture
async def hooks(network: Network, app: FastAPI) -> AsyncIterator[Hooks]:
    runtime = app.state.runtime
    clock = Clock()
    transport = Transport(networks(["127.0.0.0/8"]), allow_http=True)
    await transport.start()
    dispatcher = Dispatcher(runtime.db, runtime.webhooks.policy.box, transport, clock=clock)
    async with running(Receiver()) as receiver:
        yield Hooks(network, receiver, clock, dispatcher)
    await dispatcher.drain()
    await transport.close()
