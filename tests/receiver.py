"""A real local webhook receiver (aiohttp) that verifies every delivery with standardwebhooks."""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SLOW_SECONDS = 0.2


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    alongside: int = 0  # other requests still open to the receiver as this one arrived


@dataclass
class Receiver:
    """Answers each path with its scripted statuses in turn (then 200); `hang` never answers,
    `slow` answers 200 after `slow_seconds` (`slow:503`, 503). Counts how many requests it held
    at once."""

    port: int = 0
    script: dict[str, list[int | str]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    retry_after: str = "120"
    slow_seconds: float = SLOW_SECONDS
    in_flight: int = 0
    most_in_flight: int = 0

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.Response:
        body = await request.text()
        alongside = self.in_flight - 1
        self.received.append(Received(request.path, dict(request.headers), body, alongside))
        self.arrived.set()
        steps = self.script.get(request.path, [])
        step = steps.pop(0) if steps else 200
        if step == "hang":
            await asyncio.sleep(60)
        if isinstance(step, str) and step.startswith("slow"):
            await asyncio.sleep(self.slow_seconds)
            step = step.partition(":")[2] or 200
        status = int(step)
        headers = {"Retry-After": self.retry_after} if status in (429, 503) else {}
        return web.Response(status=status, text="ok" if status < 300 else "no", headers=headers)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def wait_for(self, count: int, path: str | None = None, timeout: float = 5) -> None:
        async def enough() -> None:
            while len(self.at(path) if path else self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)


def verify(secret: str, delivery: Received) -> Any:
    """What a partner's receiver does: raises unless the signature is genuine."""
    return Webhook(secret).verify(delivery.body, delivery.headers)


def fails(secret: str, delivery: Received) -> bool:
    try:
        verify(secret, delivery)
    except WebhookVerificationError:
        return True
    return False


@asynccontextmanager
async def running(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, listener)
    await site.start()
    receiver.port = listener.getsockname()[1]
    try:
        yield receiver
    finally:
        await runner.cleanup()
