"""Fair slots: waiters are served by party in turn, and a cancelled waiter keeps no slot."""

import asyncio

from core.slots import FairSlots


async def _take(slots: FairSlots, party: str, served: list[str], release: asyncio.Event) -> None:
    async with slots.slot(party):
        served.append(party)
        await release.wait()


async def test_a_crowd_of_one_party_waits_its_turns() -> None:
    slots, release = FairSlots(1), asyncio.Event()
    served: list[str] = []
    holder = asyncio.create_task(_take(slots, "crowd", served, release))
    await asyncio.sleep(0)
    crowd = [asyncio.create_task(_take(slots, "crowd", served, release)) for _ in range(3)]
    await asyncio.sleep(0)
    latecomer = asyncio.create_task(_take(slots, "other", served, release))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(holder, *crowd, latecomer)
    assert served == ["crowd", "crowd", "other", "crowd", "crowd"]


async def test_a_cancelled_waiter_gives_its_turn_on() -> None:
    slots, release = FairSlots(1), asyncio.Event()
    served: list[str] = []
    holder = asyncio.create_task(_take(slots, "a", served, release))
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(_take(slots, "b", served, release))
    waiting = asyncio.create_task(_take(slots, "c", served, release))
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    await asyncio.wait_for(asyncio.gather(holder, waiting), timeout=5)
    assert served == ["a", "c"]
    async with asyncio.timeout(5), slots.slot("d"):  # nothing was left holding the slot
        pass
