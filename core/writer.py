"""Group commit: one thread owns the write connection and commits many requests' work at once.

Each request hands over a unit of work (a function of a Session). The writer runs every unit
waiting in the queue inside one transaction and commits once: one fsync for the whole batch
instead of one per request. A unit that raises fails alone: the batch then runs again with each
unit under its own SAVEPOINT (see `_transaction`). A failed commit fails every unit of the
batch. Nothing is acknowledged before the commit that holds it has returned.

Small uniform units (an audit row for a read) can instead be handed over as an item of a
group (`submit_item`): the items of one group in a batch are written by one call, which
saves a statement per item. If that call fails, each item is written again alone, under its
own savepoint: an item fails alone, as a unit does.

Under load the event loop hands a burst of requests over one at a time. The writer would take
the first alone, commit it, and leave the rest for the next commit: two commits for one burst.
So when the last batch held more than one patient unit (requests under load), the next batch
waits `LINGER_SECONDS` for the rest of the burst. A lone request on a quiet service never
waits, and the dispatcher's units are impatient: however many of them a batch holds, they do
not make the next one wait (a delivery's latency is in each of its round trips).

The writer also tells whether requests are queueing for it (`requests_queueing`): a batch of
`QUEUEING_BATCH` requests' units or more (or a full batch, with `max_batch` below that) was
committed within the last `QUEUEING_WINDOW_SECONDS`, whatever smaller batches came since.
The dispatcher then keeps fewer deliveries open, so that fan-out does not take the process
from the requests (delivery/dispatcher.py).
"""

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from core import bulk
from core.driver import DRIVER_OUTAGES, commit_or_discard, translate
from core.errors import ServiceUnavailable

T = TypeVar("T")
Unit = Callable[[Session], Any]
Group = Callable[[Session, list[Any]], list[Any]]  # items in, one result per item out
LINGER_SECONDS = 0.001  # B1: +8 % req/s, one commit a burst, not two (docs/PERFORMANCE.md)
# Requests are queueing for the writer: this many of their units shared a commit, lately.
QUEUEING_BATCH = 8
QUEUEING_WINDOW_SECONDS = 0.1


@dataclass
class _Job:
    unit: Unit | None
    loop: asyncio.AbstractEventLoop
    future: "asyncio.Future[Any]"
    outcome: tuple[bool, Any] = field(default=(False, None))
    group: Group | None = None
    item: Any = None
    patient: bool = True  # counts towards a burst the next batch waits for


class Writer:
    def __init__(
        self,
        engine: Engine,
        max_batch: int = 64,
        prologue: Callable[[Session], None] | None = None,
        on_commit: Callable[[Session], None] | None = None,
        turn: Callable[[], AbstractContextManager[None]] = nullcontext,
    ) -> None:
        self._engine = engine
        self._turn = turn  # held from before the transaction begins until after it ends
        self._max_batch = max_batch
        self._prologue = prologue
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._queued_at = float("-inf")  # when the last such batch was committed

    def requests_queueing(self) -> bool:
        """Whether requests are queueing for the writer (a batch of `QUEUEING_BATCH` of their
        units or more, or a full batch below that, committed within the last
        `QUEUEING_WINDOW_SECONDS`)."""
        return time.monotonic() - self._queued_at < QUEUEING_WINDOW_SECONDS

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="rilon-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    async def submit(self, unit: Callable[[Session], T], *, patient: bool = True) -> T:
        job = _Job(unit, asyncio.get_running_loop(), _future(), patient=patient)
        result: T = await self._submit(job)
        return result

    async def submit_item(self, group: Group, item: Any) -> Any:
        """Write `item` with the other items of `group` in the same batch, in one call."""
        return await self._submit(
            _Job(None, asyncio.get_running_loop(), _future(), group=group, item=item)
        )

    async def _submit(self, job: _Job) -> Any:
        if self._thread is None:
            raise ServiceUnavailable("the writer is not running")
        self._queue.put(job)
        return await job.future

    def _run(self) -> None:
        busy = False
        while True:
            job = self._queue.get()
            if job is None:
                return
            if busy and self._queue.qsize() + 1 < self._max_batch:
                time.sleep(LINGER_SECONDS)  # the rest of the burst is on its way
            batch = [job]
            stopping = False
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            patient = sum(done.patient for done in batch)
            busy = patient > 1
            self._commit(batch)
            if patient >= min(QUEUEING_BATCH, self._max_batch):  # or all a capped batch holds
                self._queued_at = time.monotonic()
            for done in batch:
                done.loop.call_soon_threadsafe(_settle, done.future, done.outcome)
            if stopping:
                return

    def _commit(self, batch: list[_Job]) -> None:
        try:
            if not self._transaction(batch, isolated=False):
                self._transaction(batch, isolated=True)
        except Exception as exc:  # the transaction is gone: no unit of it was written
            failure = translate(exc)
            for job in batch:
                if job.outcome[0] or job.outcome[1] is None:
                    job.outcome = (False, failure)

    def _transaction(self, batch: list[_Job], *, isolated: bool) -> bool:
        """Run the batch in one transaction and commit it; False if it must run isolated.

        First every unit runs straight in the transaction (a savepoint costs two statements
        and a compile each), with its inserts deferred to one executemany per table before
        the commit (`core.bulk`). If a unit or the deferred inserts raise, nothing is
        committed and the batch runs again, inserts immediate, each unit (and each group)
        under its own savepoint, so a failure stays its own. Failures cost a second run;
        they are the rare case.
        """
        for job in batch:
            job.outcome = (False, None)
        with self._turn(), Session(self._engine, expire_on_commit=False) as session:
            if self._prologue is not None:
                self._prologue(session)
            if not isolated:
                bulk.defer(session)
            for job in batch:
                if job.group is not None:
                    continue
                if isolated:
                    job.outcome = _run_savepoint(session, _unit_of(job))
                    continue
                try:
                    job.outcome = (True, _unit_of(job)(session))
                except Exception as exc:
                    _raise_if_outage(exc)
                    return False  # rolled back as the session closes
            groups = [job for job in batch if job.group is not None]
            if not _run_groups(session, groups, isolated=isolated):
                return False
            if not isolated:
                try:
                    bulk.flush(session)
                except Exception as exc:
                    _raise_if_outage(exc)
                    return False  # a deferred row conflicts: find whose, isolated
            commit_or_discard(session)
            if self._on_commit is not None:
                self._on_commit(session)
        return True


OUTAGES = (*DRIVER_OUTAGES, ServiceUnavailable)  # and what the audit trail raises of them


def _raise_if_outage(exc: Exception) -> None:
    """An outage fails the whole batch at once: running it again would only wait twice."""
    if isinstance(exc, OUTAGES) or isinstance(exc.__cause__, OUTAGES):
        raise exc


def _future() -> "asyncio.Future[Any]":
    return asyncio.get_running_loop().create_future()


def _unit_of(job: _Job) -> Unit:
    assert job.unit is not None
    return job.unit


def _run_groups(session: Session, jobs: list[_Job], *, isolated: bool) -> bool:
    """Each group's items in one call, in the order they arrived; False if a group raised
    outside a savepoint (the batch must then run isolated). Isolated, a group that fails
    runs again item by item, so only the items that fail alone fail."""
    groups: dict[Group, list[_Job]] = {}
    for job in jobs:
        assert job.group is not None
        groups.setdefault(job.group, []).append(job)
    for group, members in groups.items():
        items = [job.item for job in members]
        if isolated:
            ok, results = _run_savepoint(session, _applied(group, items))
        else:
            try:
                ok, results = True, group(session, items)
            except Exception as exc:
                _raise_if_outage(exc)
                return False
        if ok:
            for index, job in enumerate(members):
                job.outcome = (True, results[index])
        elif len(members) == 1 or isinstance(results, OUTAGES):
            for job in members:
                job.outcome = (False, results)
        else:  # one bad item must not fail the others: each again, alone
            for job in members:
                ok, result = _run_savepoint(session, _applied(group, [job.item]))
                job.outcome = (True, result[0]) if ok else (False, result)
    return True


def _applied(group: Group, items: list[Any]) -> Unit:
    """`group` on these items, as a unit of work."""

    def run(session: Session) -> list[Any]:
        return group(session, items)

    return run


def _run_savepoint(session: Session, unit: Unit) -> tuple[bool, Any]:
    """Run one unit under a savepoint; what it noted in `session.info` rolls back with it."""
    noted = dict(session.info)
    try:
        with session.begin_nested():
            return True, unit(session)
    except Exception as exc:
        session.info.clear()
        session.info.update(noted)
        return False, translate(exc)


def _settle(future: "asyncio.Future[Any]", outcome: tuple[bool, Any]) -> None:
    if future.done():  # the caller went away; the work is committed all the same
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
