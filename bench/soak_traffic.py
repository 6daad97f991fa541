"""The soak's moving parts: 100 local receivers (5% always 500), the traffic loops, the probes.

Everything runs in the driver's event loop against a real `rilon serve` on 127.0.0.1; the
server's memory and descriptors are read from /proc, the outbox from the database itself.
"""

import asyncio
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from aiohttp import web
from sqlalchemy import Engine, text
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

HOST = "127.0.0.1"


@dataclass
class Receivers:
    """One aiohttp server; path /r/<n> is receiver n; every `failing_every`-th answers 500."""

    count: int
    failing_every: int
    port: int = 0
    hooks: dict[str, Webhook] = field(default_factory=dict)  # path -> verifier
    delivered: set[tuple[str, str]] = field(default_factory=set)  # (path, record id)
    duplicates: int = 0
    bad_signatures: int = 0
    refused: int = 0  # answered 500 by design
    lags_ms: list[float] = field(default_factory=list)  # event timestamp -> receipt
    _runner: web.AppRunner | None = None

    def paths(self) -> list[str]:
        return [f"/r/{n}" for n in range(self.count)]

    def failing(self, path: str) -> bool:
        return int(path.rsplit("/", 1)[1]) % self.failing_every == 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/r/{n}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        listener = socket.socket()
        listener.bind((HOST, 0))
        await web.SockSite(self._runner, listener).start()
        self.port = listener.getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        if self.failing(request.path):
            self.refused += 1
            return web.Response(status=500, text="failing by design")
        verifier = self.hooks.get(request.path)
        try:
            if verifier is None:
                raise WebhookVerificationError("unknown path")
            event: dict[str, Any] = verifier.verify(body, dict(request.headers))
        except (WebhookVerificationError, ValueError):
            self.bad_signatures += 1
            return web.Response(status=400, text="bad signature")
        if event["type"] == "alert.created":
            key = (request.path, str(event["data"]["id"]))
            self.duplicates += key in self.delivered
            self.delivered.add(key)
            sent = _epoch(event["timestamp"])
            self.lags_ms.append((time.time() - sent) * 1000)
        return web.Response(text="ok")


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@dataclass
class Traffic:
    """The client side: fixed-rate posts, lists and feed long-polls, tallied by outcome."""

    base_url: str
    sender: dict[str, str]
    reader: dict[str, str]
    rate: float
    posted: list[str] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)  # "POST 201" -> count
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def _count(self, method: str, response: httpx.Response | str) -> None:
        """Tally an answer by status, or a transport failure by its kind (`ReadTimeout`…)."""
        outcome = response if isinstance(response, str) else response.status_code
        key = f"{method} {outcome}"
        self.answers[key] = self.answers.get(key, 0) + 1

    def failures(self) -> dict[str, int]:
        ok = ("POST 201", "LIST 200", "FEED 200")
        return {key: n for key, n in self.answers.items() if key not in ok}

    async def post(self, http: httpx.AsyncClient, body: dict[str, Any]) -> None:
        period, due = 1.0 / self.rate, time.monotonic()
        while not self.stop.is_set():
            response = await _send(http, "POST", "/v1/alerts", self.sender, json=body)
            self._count("POST", response)
            if isinstance(response, httpx.Response) and response.status_code == 201:
                self.posted.append(response.json()["id"])
            due += period
            await asyncio.sleep(max(0.0, due - time.monotonic()))

    async def list(self, http: httpx.AsyncClient, pause: float = 0.2) -> None:
        while not self.stop.is_set():
            response = await _send(http, "GET", "/v1/alerts?limit=50", self.reader)
            self._count("LIST", response)
            await asyncio.sleep(pause)

    async def feed(self, http: httpx.AsyncClient) -> None:
        cursor = "0"
        while not self.stop.is_set():
            path = f"/v1/feed?after={cursor}&limit=200&wait=10"
            response = await _send(http, "GET", path, self.reader)
            self._count("FEED", response)
            if isinstance(response, httpx.Response) and response.status_code == 200:
                cursor = response.json()["next_cursor"] or cursor
            else:
                await asyncio.sleep(0.5)


async def _send(
    http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], **kw: Any
) -> httpx.Response | str:
    try:
        return await http.request(method, path, headers=headers, **kw)
    except httpx.TransportError as exc:
        return type(exc).__name__


def process_sample(pid: int) -> tuple[int, int]:
    """The server's resident memory (KiB, VmRSS) and open file descriptors, from /proc."""
    rss = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def outbox_sample(engine: Engine) -> tuple[int, int]:
    """Events not yet expanded into deliveries, and deliveries never yet attempted."""
    with engine.connect() as conn:
        newest = conn.execute(text("SELECT coalesce(max(seq), 0) FROM event")).scalar_one()
        expanded = conn.execute(
            text("SELECT coalesce(max(last_seq), 0) FROM dispatcher_state WHERE name='expander'")
        ).scalar_one()
        waiting = conn.execute(
            text("SELECT count(*) FROM delivery WHERE state='pending' AND attempts=0")
        ).scalar_one()
    return int(newest) - int(expanded), int(waiting)


def unattempted(engine: Engine, subscriptions: set[str]) -> int:
    """Deliveries of these subscriptions that were never attempted at all."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT subscription_id FROM delivery WHERE attempts = 0")).all()
    return sum(1 for (sub,) in rows if sub in subscriptions)
