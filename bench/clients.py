"""The plain clients B2 sets the dispatcher against: httpx and aiohttp posting signed payloads.

Each posts `count` deliveries to the receivers, spread over the subscriptions' URLs in turn, at
`concurrency` posts in flight, signing each one (Standard Webhooks, a fresh timestamp, the
URL's secret) just before sending it, as the dispatcher does. No database, no retries, no
audit: the ceiling of a Python process posting these bodies. Runs in the bench process.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import httpx
import uvloop
from standardwebhooks.webhooks import Webhook

from bench.harness import BenchError

CONCURRENCY = 32
Post = Callable[[str, bytes, dict[str, str]], Awaitable[int]]


@dataclass(frozen=True)
class ClientRun:
    client: str
    posts: int
    seconds: float
    errors: int

    @property
    def rps(self) -> float:
        return self.posts / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Target:
    url: str
    secret: str


async def _drive(post: Post, targets: Sequence[Target], body: str, count: int) -> int:
    """Post `count` signed bodies, CONCURRENCY at a time; return how many were not 2xx."""
    hooks = [(target.url, Webhook(target.secret)) for target in targets]
    numbers = iter(range(count))
    errors = 0
    data = body.encode()

    async def worker() -> None:
        nonlocal errors
        for n in numbers:
            url, hook = hooks[n % len(hooks)]
            now = datetime.now(UTC)
            headers = {
                "webhook-id": f"msg_bench_{n}",
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": hook.sign(f"msg_bench_{n}", now, body),
                "content-type": "application/json",
            }
            if not 200 <= await post(url, data, headers) < 300:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return errors


async def _rounds(
    post: Post, targets: Sequence[Target], body: str, counts: Sequence[int]
) -> tuple[int, list[float]]:
    """`_drive` once for each count, one after another on the same connections: the posts
    that were not 2xx, and each round's milliseconds."""
    errors, times = 0, []
    for count in counts:
        started = time.monotonic()
        errors += await _drive(post, targets, body, count)
        times.append((time.monotonic() - started) * 1000)
    return errors, times


async def _with_httpx(
    targets: Sequence[Target], body: str, counts: Sequence[int]
) -> tuple[int, list[float]]:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=15.0, trust_env=False) as client:

        async def post(url: str, data: bytes, headers: dict[str, str]) -> int:
            return (await client.post(url, content=data, headers=headers)).status_code

        return await _rounds(post, targets, body, counts)


async def _with_aiohttp(
    targets: Sequence[Target], body: str, counts: Sequence[int]
) -> tuple[int, list[float]]:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as s:

        async def post(url: str, data: bytes, headers: dict[str, str]) -> int:
            async with s.post(url, data=data, headers=headers, allow_redirects=False) as answer:
                await answer.read()
                return answer.status

        return await _rounds(post, targets, body, counts)


CLIENTS = {"httpx.AsyncClient": _with_httpx, "aiohttp.ClientSession": _with_aiohttp}


def run_client(name: str, targets: Sequence[Target], body: str, count: int) -> ClientRun:
    """One client posting `count` deliveries, on uvloop like the service's event loop."""
    started = time.monotonic()
    errors, _ = uvloop.run(CLIENTS[name](targets, body, [count]))
    seconds = time.monotonic() - started
    if errors:
        raise BenchError(f"{name}: {errors} of {count} posts were not answered 2xx")
    return ClientRun(name, count, seconds, errors)


def burst_times(
    name: str, targets: Sequence[Target], body: str, size: int, bursts: int
) -> list[float]:
    """Milliseconds one client takes to post `size` deliveries, `bursts` times over the same
    warm connections (after one burst to open them): B2's one alert, without the service."""
    errors, times = uvloop.run(CLIENTS[name](targets, body, [size] * (bursts + 1)))
    if errors:
        raise BenchError(f"{name}: {errors} of {size * (bursts + 1)} posts were not answered 2xx")
    return times[1:]
