"""Per-client request rate limit for the whole deployment, with no database trip per request.

The bucket lives in the database (services/budgets.py), so N replicas grant what one would, not
N times as much. A process leases a chunk of it at a time (a twentieth of the burst, at least
one) and spends the chunk locally; only when its chunk is spent does it go back for more. When
the shared bucket is empty, the process refuses locally until a token is due back, without
asking again. The slack is in the leased chunks: at any moment each of P processes may hold up
to one chunk the others cannot use, so a client is refused at most P chunks early or granted at
most P chunks more than the bucket, never more (docs/DECISIONS.md).
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
from services import budgets

T = TypeVar("T")
LEASE_SHARE = 20  # a lease takes a twentieth of the burst: 10 requests at the default 200
PRUNE_EVERY_SECONDS = 60.0
MAX_KEYS = 10_000


class Buckets:
    """This process's way to the shared buckets: each write a short transaction of its own."""

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
    leasing: "asyncio.Future[None] | None" = None


class RateLimiter:
    def __init__(self, buckets: Buckets, per_minute: int, burst: int) -> None:
        self.buckets = buckets
        self.per_minute = per_minute
        self.bucket = budgets.Bucket(per_minute / 60.0, float(burst)) if per_minute > 0 else None
        self.chunk = max(1, burst // LEASE_SHARE)
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
            if held.leasing is None:
                await self._lease(key, held, self.bucket)
            else:  # another request of this key is already asking: share its answer
                await asyncio.wait({held.leasing})
        held.tokens -= 1

    async def _lease(self, key: str, held: _Held, bucket: budgets.Bucket) -> None:
        held.leasing = asyncio.get_running_loop().create_future()
        try:
            taken = await self.buckets.write(
                partial(budgets.lease, key=key, want=self.chunk, bucket=bucket)
            )
            held.tokens += taken.granted
            if not taken.granted:
                held.refused_until = time.monotonic() + (1.0 - taken.tokens) / bucket.rate
        finally:
            held.leasing.set_result(None)
            held.leasing = None

    def _forget_idle(self) -> None:
        """Drop keys holding nothing; a chunk still held is kept (forgetting it would waste it)."""
        now = time.monotonic()
        for key, held in list(self._held.items()):
            if held.tokens == 0 and held.leasing is None and held.refused_until <= now:
                del self._held[key]
