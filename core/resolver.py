"""Looking up webhook hosts without letting one partner's broken DNS stall anybody else.

A lookup (`core.netguard.resolve`, which keeps only addresses webhooks may reach) blocks a
thread for as long as the partner's name servers take, possibly many seconds. So lookups run
on threads of their own, never the event loop's shared pool; a host is looked up by one
thread at a time, however many deliveries wait for it; a caller waits at most `timeout`; and
answers are kept a while, and used past that while a fresh lookup is under way, so a
partner whose name servers stall goes on being reached at the addresses vetted last.
"""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from core.errors import Unprocessable
from core.netguard import Address, Network, Refused, check_url, resolve

# Lookup threads. A partner whose name servers stall holds one (its host is looked up by one
# thread at a time) until the system resolver gives up, seconds to minutes; with 8, nine such
# partners at once left none for anybody else (tests/test_dns_stall.py). A thread waiting on a
# name server costs little, and threads are made only as lookups need them.
THREADS = 64
FRESH_SECONDS = 60.0  # an answer is used without asking again for this long
STALE_SECONDS = 3600.0  # and while a fresh lookup is under way, for up to this long
REFUSED_SECONDS = 10.0  # a refusal (a private address, an unknown name) is kept this long
MAX_ANSWERS = 10_000  # hosts remembered; beyond, the oldest answers are forgotten


class LookupTimeout(OSError):
    """The host's name servers did not answer in time."""


@dataclass(frozen=True)
class _Answer:
    addresses: tuple[Address, ...]
    refusal: str | None
    at: float


class Resolver:
    """Vetted addresses of webhook hosts, for one event loop."""

    def __init__(self, allowed: list[Network], timeout: float, threads: int = THREADS) -> None:
        self.allowed = allowed
        self.timeout = timeout
        self._threads = threads
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rilon-dns")
        self._answers: dict[tuple[str, int], _Answer] = {}
        self._lookups: dict[tuple[str, int], asyncio.Future[_Answer]] = {}

    async def resolve(self, host: str, port: int) -> list[Address]:
        """The vetted addresses of `host`; Refused if it may not be reached (or does not
        exist), LookupTimeout if its name servers do not answer within the timeout."""
        key = (host.lower().rstrip("."), port)
        known = self._answers.get(key)
        age = time.monotonic() - known.at if known is not None else None
        if known is not None and age is not None:
            if age < (REFUSED_SECONDS if known.refusal else FRESH_SECONDS):
                return _given(known)
            if known.refusal is None and age < STALE_SECONDS:
                self._look_up(key)  # refresh in the background, meanwhile the vetted ones
                return _given(known)
        try:
            answer = await asyncio.wait_for(asyncio.shield(self._look_up(key)), self.timeout)
        except TimeoutError as exc:
            raise LookupTimeout(f"{host} did not resolve within {self.timeout:g} s") from exc
        return _given(answer)

    def _look_up(self, key: tuple[str, int]) -> "asyncio.Future[_Answer]":
        """The lookup of `key` under way, or a new one."""
        pending = self._lookups.get(key)
        if pending is not None:
            return pending
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, self._lookup, *key)
        self._lookups[key] = future

        def done(finished: "asyncio.Future[_Answer]") -> None:
            self._lookups.pop(key, None)
            if not finished.cancelled() and finished.exception() is None:
                self._answers[key] = finished.result()
                if len(self._answers) > MAX_ANSWERS:
                    oldest = sorted(self._answers, key=lambda k: self._answers[k].at)
                    for stale in oldest[: len(oldest) // 2]:
                        del self._answers[stale]

        future.add_done_callback(done)
        return future

    def _lookup(self, host: str, port: int) -> _Answer:
        try:
            return _Answer(tuple(resolve(host, port, self.allowed)), None, time.monotonic())
        except Refused as exc:
            return _Answer((), str(exc), time.monotonic())

    def close(self) -> None:
        """Let go of the threads (a stalled lookup is abandoned); usable again after."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="rilon-dns")
        self._lookups.clear()


def _given(answer: _Answer) -> list[Address]:
    if answer.refusal is not None:
        raise Refused(answer.refusal)
    return list(answer.addresses)


async def vet_url(resolver: Resolver, url: str, allow_http: bool) -> None:
    """Subscribe-time check, as a 422 naming the field."""
    try:
        host, port = check_url(url, allow_http)
        await resolver.resolve(host, port)
    except (Refused, LookupTimeout) as exc:
        raise Unprocessable([{"field": "url", "message": str(exc)}]) from exc
