"""Walks: long reads over a whole table, such as verifying the audit chain.

A walk must cost nobody else anything. It runs in a thread of its own, never a reader's (four
verifications of a long chain once held all four readers, and every ordinary read queued
behind them for most of a minute); on a connection of its own, in chunks of short statements
with no transaction held between them (so no writer, lock, vacuum or WAL checkpoint waits on
it); and one at a time per caller. What a walk reports of its progress is told to a caller
who asks again meanwhile.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from core.driver import translate
from core.errors import RETRY_AFTER_SECONDS, TooManyRequests

T = TypeVar("T")
# Walks at once per process; more wait their turn. Each is CPU-bound (hashing), so more
# threads would only take the GIL from the requests.
WALK_THREADS = 2
Progress = Callable[[int], None]
Walk = Callable[[Session, Progress], T]


def _unheard(_done: int) -> None:
    """Progress nobody listens to."""


class Walks:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._threads = ThreadPoolExecutor(
            max_workers=WALK_THREADS, thread_name_prefix="rilon-walk"
        )
        self._progress: dict[str, int] = {}  # caller → rows walked so far, while walking

    async def run(self, caller: str, walk: Walk[T]) -> T:
        """Walk for `caller`; 429 (with how far it got) if a walk of theirs is running."""
        if caller in self._progress:
            done = self._progress[caller]
            raise TooManyRequests(
                f"your earlier request is still running ({done} rows so far); wait for its answer",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                extra={"checked": done},
            )
        self._progress[caller] = 0
        report = partial(self._progress.__setitem__, caller)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._threads, self.run_sync, walk, report)
        future.add_done_callback(partial(self._finished, caller))
        # A caller who goes away does not stop the walk, nor free its slot before it ends.
        return await asyncio.shield(future)

    def run_sync(self, walk: Walk[T], report: Progress = _unheard) -> T:
        """Walk now, in this thread (the CLI does)."""
        try:
            with Session(self.engine) as session:
                return walk(session, report)
        except Exception as exc:
            raise translate(exc) from exc

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self.engine.dispose()

    def _finished(self, caller: str, future: "asyncio.Future[Any]") -> None:
        self._progress.pop(caller, None)
        if not future.cancelled():
            future.exception()  # retrieved: a caller gone away leaves no "never retrieved"
