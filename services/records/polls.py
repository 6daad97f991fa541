"""Long polls of the feed waiting in this process, a few at a time per client.

A waiting poll is not free: it reads the log (and its caller's standing) twice a second, and
every event wakes it. Without a bound one client, opening polls as fast as its request rate
allowed and leaving them to wait, kept 1,500 waiting in one process: other clients' reads
went from 2.4 to 22 ms at the median and a post took 0.44 s. A client needs one poll to
follow the feed; POLLS_PER_CLIENT leaves room for a few workers sharing one client.
"""

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from core.errors import TooManyRequests

POLLS_PER_CLIENT = 4
RETRY_AFTER_SECONDS = 1  # one of its polls ends within `wait` (30 s at most), often sooner


class Polls:
    def __init__(self, per_client: int = POLLS_PER_CLIENT) -> None:
        self.per_client = per_client
        self._waiting: Counter[str] = Counter()

    @contextmanager
    def held(self, client_id: str) -> Iterator[None]:
        """Hold one of the client's places while its poll waits; 429 if all are taken."""
        if self._waiting[client_id] >= self.per_client:
            raise TooManyRequests(
                f"{self.per_client} long polls of this client are already waiting (at most "
                f"{self.per_client} at once): wait for one to answer, or poll with wait=0",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        self._waiting[client_id] += 1
        try:
            yield
        finally:
            self._waiting[client_id] -= 1
            if not self._waiting[client_id]:
                del self._waiting[client_id]
