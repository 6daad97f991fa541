"""Waking waiters (feed long polls, the dispatcher) when the writer commits new events."""

import asyncio
import threading

EVENTS_EMITTED = "rilon_events_emitted"  # set in session.info by whoever emits an event


class Signal:
    """A broadcast that threads can fire and coroutines can await (with a timeout)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()

    def fire(self) -> None:
        """Wake every waiter; safe from any thread."""
        with self._lock:
            waiters, self._waiters = self._waiters, set()
        for loop, future in waiters:
            loop.call_soon_threadsafe(_wake, future)

    async def wait(self, timeout: float) -> bool:
        """Wait for the next fire; False on timeout."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (loop, future)
        with self._lock:
            self._waiters.add(entry)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(entry)


def _wake(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)
