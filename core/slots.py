"""A semaphore serving its waiters by party in turn: one party's crowd cannot starve another."""

import asyncio
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class FairSlots:
    """At most `size` holders at once. Waiters queue per party, and a freed slot goes to the
    next party in turn: a party with forty waiters delays another's one by at most a slot's
    turn per party waiting, not by its forty."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiting: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    @asynccontextmanager
    async def slot(self, party: str) -> AsyncIterator[None]:
        if self._free > 0:  # free slots only while nobody waits: a freed one goes to a waiter
            self._free -= 1
        else:
            turn = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(party, deque()).append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():  # given the slot as we were cancelled
                    self._release()
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        """Hand the slot to the first waiting party's oldest waiter, then send it to the back."""
        while self._waiting:
            party, queue = self._waiting.popitem(last=False)
            turn = queue.popleft()
            if queue:
                self._waiting[party] = queue
            if not turn.done():  # a cancelled waiter's turn is skipped
                turn.set_result(None)
                return
        self._free += 1
