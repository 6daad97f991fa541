"""The webhook transport's connections: never more than its limit at once, and reused.

The soak's descriptor check relies on this bound (tools/soak/judge.py): sockets to receivers
may rise to the limit under a burst and stay there, but never beyond it.
"""

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from core.netguard import networks
from delivery.jobs import Job
from delivery.transport import Transport
from tests.receiver import Receiver, running

LIMIT = 4
BURST = 5 * LIMIT


@dataclass
class CountingReceiver(Receiver):
    """Notes which connection (peer port) each request came on."""

    peers: set[int] = field(default_factory=set)

    async def handle(self, request: web.Request) -> web.Response:
        assert request.transport is not None
        self.peers.add(request.transport.get_extra_info("peername")[1])
        return await super().handle(request)


def _job(url: str, n: int) -> Job:
    secret = ("whsec_" + "A" * 44,)
    return Job(f"d{n}", f"s{n}", "MY-MMEA", url, secret, f"e{n}", "ping", "{}", 1, None, None)


async def test_a_burst_opens_at_most_the_limit_and_the_next_reuses_them() -> None:
    transport = Transport(networks(["127.0.0.0/8"]), allow_http=True, max_connections=LIMIT)
    await transport.start()
    try:
        # each answer takes SLOW_SECONDS: every burst outlasts the pool
        receiver = CountingReceiver(script={f"/r/{n}": ["slow", "slow"] for n in range(BURST)})
        async with running(receiver):
            for burst in range(2):
                jobs = [_job(receiver.url(f"/r/{n}"), n) for n in range(BURST)]
                results = await asyncio.gather(*(transport.post(job, {}) for job in jobs))
                assert all(result.delivered for result in results), results
                assert len(receiver.received) == BURST * (burst + 1)
            assert receiver.most_in_flight == LIMIT  # the burst waited for the pool
            assert len(receiver.peers) == LIMIT  # and the second burst opened none
    finally:
        await transport.close()
