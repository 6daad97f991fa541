"""Per-client request rate limit for the whole deployment, with no database trip per request.

The bucket lives in the database (services/registry/budgets.py), so N replicas grant what one
would, not N times as much. A process leases a chunk of it at a time (`lease_size`) and spends
the chunk locally; when less than half a chunk is left it leases the next one in the background, so
requests do not wait for the database. When the shared bucket is empty, the process refuses
locally until a token is due back, without asking again. The slack is in the leased chunks:
each of P processes may hold up to one and a half chunks the others cannot use, so a client is
refused at most that much early, or granted that much more than the bucket (docs/DECISIONS.md).
"""

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from core.db import Database
from core.errors import TooManyRequests
from services.registry import budgets

T = TypeVar("T")
LEASE_SHARE = 20  # a lease takes a twentieth of the burst: 10 requests at the default 200,
LEASE_SECONDS = 0.1  # or a tenth of a second's worth of the rate, if that is more
PRUNE_EVERY_SECONDS = 60.0
MAX_KEYS = 10_000


def lease_size(per_minute: int, burst: int) -> int:
    """Tokens a process leases at a time: small against the burst (the slack), yet enough
    for a busy client not to wait on leases (one takes about a write's round trip)."""
    return max(1, burst // LEASE_SHARE, math.ceil(per_minute / 60.0 * LEASE_SECONDS))


class Buckets:
    """This process's way to the shared buckets: writes go apart from any request's own
    transaction (`Database.write_apart`), reads are plain reads."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pruned = time.monotonic()

    async def write(self, unit: Callable[..., T]) -> T:
        """Run `unit(session, now=...)`, and now and then forget the buckets full again."""
        if time.monotonic() - self._pruned >= PRUNE_EVERY_SECONDS:
            self._pruned = time.monotonic()
            await self.db.write_apart(partial(budgets.prune, now=time.time()))
        return await self.db.write_apart(partial(unit, now=time.time()))

    async def read(self, unit: Callable[..., T]) -> T:
        """Run `unit(session, now=...)` as a read."""
        return await self.db.read(partial(unit, now=time.time()))


@dataclass
class _Held:
    """What this process holds of one key's bucket."""

    tokens: int = 0
    refused_until: float = 0.0  # monotonic: the shared bucket was empty until then
    leasing: "asyncio.Task[None] | None" = None


class RateLimiter:
    def __init__(self, buckets: Buckets, per_minute: int, burst: int) -> None:
        self.buckets = buckets
        self.per_minute = per_minute
        self.bucket = budgets.Bucket(per_minute / 60.0, float(burst)) if per_minute > 0 else None
        self.chunk = lease_size(per_minute, burst)
        self._held: dict[str, _Held] = {}

    async def check(self, key: str) -> None:
        """Take one token for `key` or raise 429 with the seconds until one is back."""
        if self.bucket is None:
            return
        held = self._held.get(key)
        if held is None:
            if len(self._held) >= MAX_KEYS:
                self._forget_idle()
            held = self._held[key] = _Held()
        while held.tokens == 0:
            wait = held.refused_until - time.monotonic()
            if wait > 0:
                raise TooManyRequests(
                    f"rate limit of {self.per_minute} requests a minute exceeded",
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )
            # One lease at a time per key: every request waiting shares its answer (or error).
            await asyncio.shield(held.leasing or self._start_lease(key, held, self.bucket))
        held.tokens -= 1
        if held.tokens * 2 < self.chunk and held.leasing is None and not held.refused_until:
            self._start_lease(key, held, self.bucket)  # ahead of need: nobody waits for it

    def _start_lease(self, key: str, held: _Held, bucket: budgets.Bucket) -> "asyncio.Task[None]":
        held.leasing = asyncio.get_running_loop().create_task(self._lease(key, held, bucket))
        held.leasing.add_done_callback(_seen)
        return held.leasing

    async def _lease(self, key: str, held: _Held, bucket: budgets.Bucket) -> None:
        try:
            taken = await self.buckets.write(
                partial(budgets.lease, key=key, want=self.chunk, bucket=bucket)
            )
            held.tokens += taken.granted
            held.refused_until = 0.0
            if not taken.granted:
                held.refused_until = time.monotonic() + (1.0 - taken.tokens) / bucket.rate
        finally:
            held.leasing = None

    def _forget_idle(self) -> None:
        """Drop keys holding nothing; a chunk still held is kept (forgetting it would waste it)."""
        now = time.monotonic()
        for key, held in list(self._held.items()):
            if held.tokens == 0 and held.leasing is None and held.refused_until <= now:
                del self._held[key]


def _seen(lease: "asyncio.Task[None]") -> None:
    """Mark a lease's failure as seen: a lease ahead of need has nobody waiting on it, and the
    next request that needs one leases again (and then meets the error itself)."""
    if not lease.cancelled():
        lease.exception()
