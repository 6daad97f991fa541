"""The soak's moving parts: 100 local receivers (5% always 500) and the traffic loops.

Everything runs in the driver's event loop against a real `rilon serve` on 127.0.0.1.
"""

import asyncio
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import httpx
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

HOST = "127.0.0.1"
FAN_OUT_CATEGORY = "smuggling_departure"  # what the receivers' subscriptions ask for
BULK_CATEGORY = "vessel_at_sea"  # the background posts: no subscription matches them
# The service (uvicorn) closes a connection idle for 5 s. A client pool that keeps idle
# connections exactly as long (httpx's default) now and then sends a request on a connection
# the server is closing at that very moment, and loses it (ReadError, RemoteProtocolError
# within milliseconds): the one failed list of the 2026-12-02 soak. Ours lets go well before.
CLIENT_KEEPALIVE_SECONDS = 2.0
CLIENT_TIMEOUT_SECONDS = 30.0  # the feed long-polls for 10 s; a list takes milliseconds


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
    stray: int = 0  # alerts no subscription asked for (a filter not applied)
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
            self.stray += event["data"].get("category") != FAN_OUT_CATEGORY
            key = (request.path, str(event["data"]["id"]))
            self.duplicates += key in self.delivered
            self.delivered.add(key)
            sent = _epoch(event["timestamp"])
            self.lags_ms.append((time.time() - sent) * 1000)
        return web.Response(text="ok")


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class Failure:
    """A request that got no answer: when, which, after how long, and why."""

    t: float  # seconds into the soak
    method: str
    kind: str  # the exception's name: ReadTimeout, ReadError, RemoteProtocolError, ...
    elapsed_ms: float
    message: str


@dataclass
class Traffic:
    """The client side: fixed-rate posts, lists and feed long-polls, tallied by outcome."""

    base_url: str
    sender: dict[str, str]
    reader: dict[str, str]
    rate: float
    began: float = field(default_factory=time.monotonic)
    posted: list[str] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)  # "POST 201" -> count
    lost_answers: list[Failure] = field(default_factory=list)
    slowest_ms: dict[str, float] = field(default_factory=dict)  # since the last sample
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, method: str, outcome: int | str, elapsed: float) -> None:
        """Tally an answer by status, or a transport failure by its kind (`ReadTimeout`…)."""
        key = f"{method} {outcome}"
        self.answers[key] = self.answers.get(key, 0) + 1
        self.slowest_ms[method] = max(self.slowest_ms.get(method, 0.0), elapsed * 1000)

    def failures(self) -> dict[str, int]:
        ok = ("POST 201", "LIST 200", "FEED 200", "BULK 201")
        return {key: n for key, n in self.answers.items() if key not in ok}

    def take_slowest(self) -> dict[str, float]:
        slowest, self.slowest_ms = self.slowest_ms, {}
        return {method: round(ms, 1) for method, ms in slowest.items()}

    async def _send(
        self, http: httpx.AsyncClient, verb: str, path: str, headers: dict[str, str], **kw: Any
    ) -> httpx.Response | None:
        """One request; None when it got no answer (then its failure is on record)."""
        method = "POST" if verb == "POST" else "GET"
        began = time.monotonic()
        try:
            response = await http.request(method, path, headers=headers, **kw)
        except httpx.TransportError as exc:
            elapsed = time.monotonic() - began
            self.count(verb, type(exc).__name__, elapsed)
            at = round(began - self.began, 1)
            failure = Failure(at, verb, type(exc).__name__, round(elapsed * 1000), str(exc)[:200])
            self.lost_answers.append(failure)
            return None
        self.count(verb, response.status_code, time.monotonic() - began)
        return response

    async def post(self, http: httpx.AsyncClient, body: dict[str, Any]) -> None:
        period, due = 1.0 / self.rate, time.monotonic()
        while not self.stop.is_set():
            response = await self._send(http, "POST", "/v1/alerts", self.sender, json=body)
            if response is not None and response.status_code == 201:
                self.posted.append(response.json()["id"])
            due += period
            await asyncio.sleep(max(0.0, due - time.monotonic()))

    async def list(self, http: httpx.AsyncClient, pause: float = 0.2) -> None:
        while not self.stop.is_set():
            await self._send(http, "LIST", "/v1/alerts?limit=50", self.reader)
            await asyncio.sleep(pause)

    async def feed(self, http: httpx.AsyncClient) -> None:
        cursor = "0"
        while not self.stop.is_set():
            path = f"/v1/feed?after={cursor}&limit=200&wait=10"
            response = await self._send(http, "FEED", path, self.reader)
            if response is not None and response.status_code == 200:
                cursor = response.json()["next_cursor"] or cursor
            else:
                await asyncio.sleep(0.5)

    async def bulk(self, body: bytes, rate: float, in_flight: int) -> None:
        """Background posts at `rate` a second, at most `in_flight` at once (B1's 32
        connections): paced like a fixed-rate client, held back like B1's closed loop when
        the service answers slower than they fall due. aiohttp: httpx costs too much CPU here.
        """
        headers = {**self.sender, "Content-Type": "application/json"}
        connector = aiohttp.TCPConnector(
            limit=in_flight, keepalive_timeout=CLIENT_KEEPALIVE_SECONDS
        )
        timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_SECONDS)
        slots = iter(range(1 << 62))  # the n-th post falls due n / rate seconds in
        started = time.monotonic()
        async with aiohttp.ClientSession(
            self.base_url, connector=connector, timeout=timeout
        ) as session:

            async def poster() -> None:
                while not self.stop.is_set():
                    due = started + next(slots) / rate
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    await self._bulk_post(session, body, headers)

            await asyncio.gather(*(poster() for _ in range(in_flight)))

    async def _bulk_post(
        self, session: aiohttp.ClientSession, body: bytes, headers: dict[str, str]
    ) -> None:
        began = time.monotonic()
        try:
            async with session.post("/v1/alerts", data=body, headers=headers) as answer:
                await answer.read()
                self.count("BULK", answer.status, time.monotonic() - began)
        except (aiohttp.ClientError, TimeoutError) as exc:
            elapsed = time.monotonic() - began
            self.count("BULK", type(exc).__name__, elapsed)
            at, ms = round(began - self.began, 1), round(elapsed * 1000)
            self.lost_answers.append(Failure(at, "BULK", type(exc).__name__, ms, str(exc)[:200]))
