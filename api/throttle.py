"""The token endpoint's defences: a failure costs the source that made it, never the client named.

- Each source (the caller's address as uvicorn gives it, the forwarded one behind a proxy named
  by `--forwarded-allow-ips`; an IPv6 /64 counts as one) has a bucket of failures. A source
  whose bucket is empty gets 429 before anything is done for it: no lookup, no Argon2.
- Each failed verification also counts against the client id it named. Past that id's
  allowance, every further failure costs the failing source twice the one before (at most
  `RILON_TOKEN_MAX_BACKOFF_SECONDS` of refusal), so an attack on one id from many sources shuts
  each of them out fast. Nothing about a client id refuses a request before its secret is
  checked: the right secret, from a source not itself over its limit, always gets its token.
- Argon2 verifications run at most `RILON_TOKEN_VERIFY_CONCURRENCY` at a time per process,
  taken by source in turn (core/slots.py): a flood from one source delays nobody else's.
- An unknown id takes exactly the same steps (a dummy hash), so neither the answer nor its cost
  says whether an id exists.

Buckets are shared by every process (services/registry/budgets.py). Successes never touch them;
what a client may spend on successes is the request limiter's `token:<id>` bucket
(api/routers/auth.py).
"""

import ipaddress
import math
import time
from dataclasses import dataclass
from functools import partial

import anyio.to_thread
from sqlmodel import Session

from api.ratelimit import MAX_KEYS, Buckets
from auth.passwords import verify_secret
from core.errors import TooManyRequests
from core.settings import Settings
from core.slots import FairSlots
from services.registry import budgets
from services.registry.budgets import Bucket

SOURCE, CLIENT = "token-failures:source:", "token-failures:client:"
MAX_DOUBLINGS = 30  # how far past its allowance a client id's count goes


def source_of(address: str | None) -> str:
    """What a token request counts against: its address; for IPv6 the /64 (one holder's)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return (address or "unknown")[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(frozen=True)
class FailureLimits:
    source: Bucket
    client: Bucket
    max_backoff_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> "FailureLimits":
        return cls(
            source=Bucket(
                settings.token_source_failures_per_hour / 3600.0,
                float(settings.token_source_failure_burst),
            ),
            client=Bucket(
                settings.token_client_failures_per_hour / 3600.0,
                float(settings.token_client_failure_burst),
            ),
            max_backoff_seconds=float(settings.token_max_backoff_seconds),
        )


def charge_failure(
    session: Session, source_key: str, client_key: str, limits: FailureLimits, now: float
) -> float:
    """Count a failure against the client id, then charge its source (doubling past the id's
    allowance); the source's tokens afterwards. Client row first, source second: always in
    that order, so two of these never wait on each other in a circle."""
    client = budgets.charge(session, client_key, 1.0, limits.client, now, floor=-MAX_DOUBLINGS)
    cost = 2.0 ** math.ceil(-client) if client < 0 else 1.0
    floor = 1.0 - limits.max_backoff_seconds * limits.source.rate
    return budgets.charge(session, source_key, cost, limits.source, now, floor)


class TokenThrottle:
    def __init__(self, buckets: Buckets, settings: Settings) -> None:
        self.buckets = buckets
        self.limits = FailureLimits.from_settings(settings)
        self.slots = FairSlots(settings.token_verify_concurrency)
        self._blocked: dict[str, float] = {}  # source: monotonic time it is refused until

    async def admit(self, source: str) -> None:
        """Refuse a source over its failure limit, before anything is done for it."""
        self._refuse_if_blocked(source)
        peek = partial(budgets.peek, key=SOURCE + source, bucket=self.limits.source)
        self._learn(source, await self.buckets.read(peek))
        self._refuse_if_blocked(source)

    async def verify(
        self, source: str, client_id: str, secret_hash: str | None, secret: str
    ) -> bool:
        """Check a secret in the source's turn. A failure is charged before the slot is
        given up, so the source's next waiter already knows whether it is over its limit."""
        async with self.slots.slot(source):
            self._refuse_if_blocked(source)
            if await anyio.to_thread.run_sync(verify_secret, secret_hash, secret):
                return True
            charge = partial(
                charge_failure,
                source_key=SOURCE + source,
                client_key=CLIENT + client_id,
                limits=self.limits,
            )
            self._learn(source, await self.buckets.write(charge))
            return False

    def _learn(self, source: str, tokens: float) -> None:
        if tokens >= 1.0:
            self._blocked.pop(source, None)
            return
        now = time.monotonic()
        if len(self._blocked) >= MAX_KEYS:
            self._blocked = {key: until for key, until in self._blocked.items() if until > now}
        self._blocked[source] = now + (1.0 - tokens) / self.limits.source.rate

    def _refuse_if_blocked(self, source: str) -> None:
        wait = self._blocked.get(source, 0.0) - time.monotonic()
        if wait > 0:
            raise TooManyRequests(
                "too many failed token requests from this address; try again later",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
                extra={"error": "slow_down"},
            )
