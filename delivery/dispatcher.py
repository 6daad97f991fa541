"""The dispatcher: expands events into deliveries, claims due ones, sends, records.

It runs inside `rilon serve` (the default, right for SQLite) or as `rilon worker` processes.
Subscriptions take turns (delivery/pacing.py): a slow, hanging or dead receiver holds only its
own subscription's few slots, and its backlog never hides anybody else's work.
"""

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial

from sqlmodel import Session

from core.clock import utcnow
from core.crypto import SecretBox
from core.db import Database
from core.errors import ServiceUnavailable
from core.metrics import Metrics
from core.netguard import networks
from core.settings import Settings
from delivery import expansion, outbox, purge, replays, settling
from delivery.jobs import LEASE, Job, Result
from delivery.signing import signed_headers
from delivery.transport import Transport
from services.records import purging
from services.records.overdue import send_overdue

log = logging.getLogger(__name__)
IDLE_SECONDS = 0.5  # retries fall due with time: look at least this often
# Deliveries claimed a round at most: a round is one writer unit, and the POSTs in its group
# commit wait for it. Small claims, each round, keep ingest's p99 flat from 10 to 1,000
# subscriptions (PERFORMANCE.md, B4: 256 a claim gave 1.4-1.8x, 64 gave 1.05x).
CLAIM_SIZE = 64
# Deliveries open at most while requests are queueing for the writer (`Writer.requests_queueing`).
# One process runs the API and the dispatcher on one interpreter lock: at 1,000 subscriptions
# an unbounded fan-out took a third of the process from ingest, whose p99 rose 1.8x
# (PERFORMANCE.md, B4). Under such load fan-out gets about what 8 partners at their share of 4
# would take (the 10-subscription step delivers ~650/s so), never nothing; idle, all 256 slots.
LOADED_CAPACITY = 32
# How often the dispatcher looks for records past their retention date (each record is purged
# once, whichever worker takes it: services/records/purging.py)
RETENTION_EVERY = timedelta(minutes=1)
# A request open this long is held by its receiver, and costs the dispatcher nothing but a
# socket: it keeps its subscription's share (`per_subscription`) but gives back its slot, so
# partners that hang, however many, cannot take every slot and stop everybody else's alerts.
# At most three times `capacity` are held so (delivery/transport.py MAX_CONNECTIONS).
HELD_SECONDS = 1.0
# While rounds fill every free slot, new events wait in the outbox (`Dispatcher.tick`), but
# never longer than this: partners that answer in half a second keep their slots for as long
# as their backlogs last, and an alert to anybody else must not wait for that (DESIGN.md: "never
# delays the others, whatever its backlog"). Such a round expands a small unit, so that the
# POSTs beside a busy fan-out do not wait behind a large one (B4).
EXPAND_WITHIN = timedelta(seconds=0.25)
EXPAND_ROWS_WHILE_FULL = 64
# Finished attempts wait to be recorded while others are still being posted, up to this long:
# an alert's posts go out before its settles take the writer and the GIL from them, and the
# settles go in fewer, larger units (each delivery's lease keeps it meanwhile).
SETTLE_WAIT_SECONDS = 0.02
WORKER = f"worker:{socket.gethostname()}:{os.getpid()}"[:64]  # who purged, in the audit trail


class Dispatcher:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        transport: Transport,
        clock: Callable[[], datetime] = utcnow,
        per_subscription: int = 4,
        capacity: int = 256,
        loaded_capacity: int = LOADED_CAPACITY,
        claim_size: int = CLAIM_SIZE,
        lease: timedelta = LEASE,
        metrics: Metrics | None = None,
        idle_seconds: float = IDLE_SECONDS,
        held_seconds: float = HELD_SECONDS,
        expand_within: timedelta = EXPAND_WITHIN,
    ) -> None:
        self.db = db
        self.box = box
        self.transport = transport
        self.clock = clock
        self.per_subscription = per_subscription
        self.capacity = capacity
        self.loaded_capacity = loaded_capacity
        self.claim_size = claim_size
        self.lease = lease
        self.metrics = metrics
        self.idle_seconds = idle_seconds
        self.held_seconds = held_seconds
        self.expand_within = expand_within
        self._in_flight: dict[str, int] = defaultdict(int)
        self._opened: dict[str, float] = {}  # requests open to receivers: when, by delivery
        self._tasks: set[asyncio.Task[None]] = set()
        self._finished: list[tuple[Job, Result, datetime, asyncio.Future[str]]] = []
        self._settler: asyncio.Task[None] | None = None
        self._quiet = asyncio.Event()  # set while none is
        self._quiet.set()
        self._saturated = False  # the last claim took all it could
        self._expanded_at: datetime | None = None  # when a round last expanded
        # A round that left due work for want of a slot (every slot taken, or a subscription
        # at its share) is followed by one as soon as such a slot frees, not at the next event
        # or IDLE_SECONDS: a partner catching up on a backlog got 4 deliveries an idle period.
        self._no_room = False  # every slot was taken when the last round began
        self._full: set[str] = set()  # subscriptions at their share then
        self._freed = asyncio.Event()  # one of those slots has freed since
        self._retention_due = clock()

    async def run(self, stop: asyncio.Event) -> None:
        await self.transport.start()
        await self._forget_what_a_crash_left()
        try:
            while not stop.is_set():
                try:
                    busy = await self.tick()
                except Exception:
                    log.exception("dispatcher tick failed; retrying")
                    busy = False
                if not busy:
                    await self._idle(stop)
        finally:
            await self.drain()
            await self.transport.close()

    async def _idle(self, stop: asyncio.Event) -> None:
        """Wait for new events, a freed slot if the last round was short of them, the stop,
        or `idle_seconds` (retries fall due with time), whichever comes first; while every slot
        is taken, no longer than `expand_within` (new events may be waiting to be expanded)."""
        seconds = self.idle_seconds
        if self._saturated:
            seconds = min(seconds, self.expand_within.total_seconds())
        waits = [
            asyncio.ensure_future(self.db.events.wait(seconds)),
            asyncio.ensure_future(self._freed.wait()),
            asyncio.ensure_future(stop.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def tick(self) -> bool:
        """One round: expand new events, claim and start due deliveries."""
        self._freed.clear()
        now = self.clock()
        capacity = self.capacity
        if self.db.writer.requests_queueing():
            capacity = min(capacity, self.loaded_capacity)  # the requests come first
            if self.metrics is not None:
                self.metrics.count_held_back()
        room = capacity - len(self._tasks) + self._held()
        wanted = min(room, self.claim_size)
        busy = {sub: n for sub, n in self._in_flight.items() if n}
        self._no_room = room <= 0
        self._full = {sub for sub, n in busy.items() if n >= self.per_subscription}

        # While the last round found as many due as it could take, the deliveries already
        # written keep the senders busy: new events wait in the outbox, where they are
        # durable, instead of being expanded into rows nobody can send yet (at 1,000
        # subscriptions, each an insert the POSTs behind it wait for; PERFORMANCE.md, B4).
        # A subscription is claimed for at most `per_subscription` at once, so one slow
        # receiver cannot fill a claim and stop the others' events; and several slow ones
        # filling every slot hold new events back by `EXPAND_WITHIN` at most.
        overdue = self._expanded_at is None or now - self._expanded_at >= self.expand_within
        expand = not self._saturated or overdue
        if expand:
            self._expanded_at = now

        work, jobs = await self.db.write_now(
            expand_and_claim,
            now,
            expand=expand,
            max_rows=expansion.MAX_EXPANSION if not self._saturated else EXPAND_ROWS_WHILE_FULL,
            box=self.box,
            limit=wanted,
            per_subscription=self.per_subscription,
            busy=busy,
            lease=self.lease,
        )
        self._saturated = len(jobs) >= wanted
        for job in jobs:
            self._in_flight[job.subscription_id] += 1
            self._opened[job.delivery_id] = time.monotonic()
            self._quiet.clear()
            task = asyncio.create_task(self._deliver(job))
            self._tasks.add(task)
            task.add_done_callback(partial(self._finished_one, job.subscription_id))
        purged = 0
        if now >= self._retention_due:
            # a chunk a round while more are due, so deliveries keep flowing meanwhile
            self._retention_due = now + RETENTION_EVERY
            purged = await self.purge_expired(now)
            if purged >= purging.CHUNK:
                self._retention_due = now
        return work > 0 or bool(jobs) or purged > 0

    def _held(self) -> int:
        """Requests open longer than `held_seconds`, up to three times the capacity."""
        since = time.monotonic() - self.held_seconds
        held = sum(1 for opened in self._opened.values() if opened < since)
        return min(held, 3 * self.capacity)

    def _finished_one(self, subscription_id: str, task: "asyncio.Task[None]") -> None:
        self._tasks.discard(task)
        if self._no_room or subscription_id in self._full:
            self._freed.set()  # due work may be waiting for this slot

    async def purge_expired(self, now: datetime) -> int:
        """Purge a chunk of what has passed its retention date, then make sure no database
        file keeps the text (SQLite's write-ahead log). A failure is logged and tried again
        next time: it never stops deliveries."""
        try:
            purged = await self.db.write_now(purging.purge_due, now, now, actor=WORKER)
            if purged:
                log.info("purged %d records past their retention date", purged)
                await self.db.forget()
        except Exception:
            log.exception("retention purge failed; trying again in a minute")
            return 0
        return purged

    async def _forget_what_a_crash_left(self) -> None:
        """A purge commits, then checkpoints (`purge_expired`): a process killed between the
        two left the purged text in SQLite's write-ahead log, and a round checkpoints only when
        it purges something itself. So a dispatcher checkpoints once as it starts."""
        try:
            await self.db.forget()
        except Exception:
            log.exception("checkpoint at start failed; the next purge checkpoints again")

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _deliver(self, job: Job) -> None:
        try:
            try:
                result = await self.transport.post(job, signed_headers(job, self.clock()))
            finally:
                self._opened.pop(job.delivery_id, None)
                # The limit is on requests open to the receiver. Recording the attempt waits
                # for a group commit; the delivery's lease keeps it from being claimed again
                # meanwhile, so the slot can serve the subscription's next delivery.
                self._in_flight[job.subscription_id] -= 1
                if not self._opened:
                    self._quiet.set()
            outcome = await self._settle(job, result)
            if self.metrics is not None:
                self.metrics.count_delivery(outcome)
        except Exception:
            log.exception(
                "delivery %s could not be settled; its lease will expire", job.delivery_id
            )

    async def _settle(self, job: Job, result: Result) -> str:
        """Queue the attempt for the settler; return once it is durable."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._finished.append((job, result, self.clock(), future))
        if self._settler is None or self._settler.done():
            self._settler = asyncio.create_task(self._settle_finished())
        return await future

    async def _settle_finished(self) -> None:
        """Settle, in one writer unit, every attempt that finished while the last unit was
        being written (group commit: one savepoint and a few statements for the lot), once
        no request is open to a receiver or after SETTLE_WAIT_SECONDS."""
        while self._finished:
            if not self._quiet.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._quiet.wait(), SETTLE_WAIT_SECONDS)
            batch, self._finished = self._finished, []
            try:
                done = [(job, result, now) for job, result, now, _ in batch]
                outcomes: Sequence[str | Exception]
                try:
                    outcomes = await self.db.write_now(settling.settle_many, done)
                except ServiceUnavailable as exc:  # an outage: every lease will expire
                    outcomes = [exc for _ in batch]
                except Exception:  # one bad attempt must not fail the others
                    outcomes = [await self._settle_alone(*one) for one in done]
                for (_, _, _, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():  # its delivery was cancelled meanwhile
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
            finally:
                for _, _, _, future in batch:
                    if not future.done():
                        future.cancel()

    async def _settle_alone(self, job: Job, result: Result, now: datetime) -> str | Exception:
        try:
            return await self.db.write_now(settling.settle, job, result, now)
        except Exception as exc:
            return exc


def expand_and_claim(
    session: Session,
    now: datetime,
    *,
    expand: bool,
    max_rows: int = expansion.MAX_EXPANSION,
    box: SecretBox,
    limit: int,
    per_subscription: int,
    busy: dict[str, int],
    lease: timedelta,
) -> tuple[int, list[Job]]:
    """A dispatcher round's one writer unit (one group commit, not two): new events become
    deliveries, a chunk of housekeeping, then due deliveries are claimed. The work done
    (rows written) and the claimed jobs."""
    if not expand:
        expansion.beat(session, now)  # `/readyz` and /metrics read it
    work = expansion.expand(session, now, max_rows=max_rows) if expand else 0
    # housekeeping, a bounded chunk a round: replays, deleted subscriptions' rows, overdue acks
    work += replays.advance(session, now) + purge.deleted(session) + send_overdue(session, now)
    if limit <= 0:
        return work, []
    jobs = outbox.claim(
        session, box, now, limit=limit, per_subscription=per_subscription, busy=busy, lease=lease
    )
    return work, jobs


def build(settings: Settings, db: Database, metrics: Metrics | None = None) -> Dispatcher:
    """The dispatcher as configured: the same in `rilon serve` and `rilon worker`."""
    transport = Transport(
        networks(settings.webhook_allowed_networks),
        settings.webhook_allow_http,
        connect_timeout=settings.webhook_connect_timeout_seconds,
        total_timeout=settings.webhook_timeout_seconds,
    )
    lease = timedelta(seconds=settings.delivery_lease_seconds)
    box = SecretBox(settings.secrets_key_bytes())
    return Dispatcher(db, box, transport, lease=lease, metrics=metrics)
