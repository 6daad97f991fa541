"""Engines, the read path, the group-commit write path and walks (long reads, `core/walks.py`),
for SQLite and PostgreSQL."""

import asyncio
import logging
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from functools import partial
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from core.driver import commit_or_discard, translate
from core.settings import Settings
from core.signals import EVENTS_EMITTED, Signal
from core.turns import WriteTurns, turns_path
from core.walks import Walks
from core.writer import Group, Writer

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")
UnitOf = Callable[Concatenate[Session, P], T]  # a unit of work: a named function of a Session
READ_THREADS = 4  # more only lets the OS preempt whichever holds the GIL (PERFORMANCE.md)
POOL_OVERFLOW = 8  # connections a pool may open beyond its size, closed when returned
POSTGRES_POOL_SIZE = READ_THREADS + 1  # the readers and the writer thread
# How long a request waits for the database (a lock, a connection, a connect) before it is
# answered 503: an outage must cost callers seconds, not a hung request (RELIABILITY.md).
DB_TIMEOUT_SECONDS: float = Settings.model_fields["db_timeout_seconds"].default


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the URL names or omits."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(
    url: str,
    *,
    immediate: bool = False,
    snapshot: bool = True,
    timeout: float = DB_TIMEOUT_SECONDS,
) -> Engine:
    """Create an engine; on SQLite: WAL, synchronous=FULL, foreign keys, busy timeout.

    `immediate` takes the write lock at BEGIN (the writer); `snapshot=False` runs each
    statement on its own (the read pool: one statement a read, no BEGIN to pay for).
    `timeout` bounds each wait: SQLite's busy timeout, PostgreSQL's connect and the pool's.
    """
    url = normalize_url(url)
    if not is_sqlite(url):
        return create_engine(
            url,
            pool_pre_ping=True,
            # One engine serves the reader threads and the writer thread (SQLite gives the writer
            # an engine of its own). Sized for both: with READ_THREADS alone, every moment all
            # of them were busy opened an overflow connection and closed it on return, ~5 new
            # connections a second in the soak at 100 posts/s.
            pool_size=POSTGRES_POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            pool_timeout=timeout,
            # libpq counts whole seconds and takes 2 as its least
            connect_args={"connect_timeout": max(2, math.ceil(timeout))},
        )
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": timeout},
        pool_size=READ_THREADS,  # one per reader thread
        max_overflow=POOL_OVERFLOW,
        pool_timeout=timeout,
    )
    busy_ms = int(timeout * 1000)
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # what a purge or a redaction overwrites is zeroed on disk, not only unlinked
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    if snapshot:

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql(begin)

    return engine


WRITERS_LOCK = 7351002


def serialize_writers(session: Session) -> None:
    """PostgreSQL: one writing transaction at a time across every process, held to commit.

    This makes event seq order equal commit order (a feed reader never skips a late commit)
    and keeps the audit chain linear. SQLite gets the same from BEGIN IMMEDIATE.
    """
    session.connection().execute(text(f"SELECT pg_advisory_xact_lock({WRITERS_LOCK})"))


def bind(unit: UnitOf[P, T], *args: P.args, **kwargs: P.kwargs) -> Callable[[Session], T]:
    """`unit` with its arguments, waiting for the session the writer will give it."""

    def bound(session: Session) -> T:
        return unit(session, *args, **kwargs)

    return bound


class Database:
    """The process's handle on the database: concurrent reads, batched writes."""

    def __init__(
        self, url: str, *, max_batch: int = 64, timeout: float = DB_TIMEOUT_SECONDS
    ) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, snapshot=False, timeout=timeout)
        self.write_engine = self.engine
        if is_sqlite(url):
            self.write_engine = make_engine(self.url, immediate=True, timeout=timeout)
        self.events = Signal()
        lock_file = turns_path(self.url) if is_sqlite(url) else None
        self.turns = WriteTurns(lock_file, timeout) if lock_file else None
        self.writer = Writer(
            self.write_engine,
            max_batch,
            prologue=None if is_sqlite(url) else serialize_writers,
            on_commit=self._after_commit,
            turn=self.turns.turn if self.turns else nullcontext,
        )
        self._readers = ThreadPoolExecutor(
            max_workers=READ_THREADS, thread_name_prefix="rilon-read"
        )
        walk_engine = make_engine(self.url, snapshot=False, timeout=timeout)
        if not is_sqlite(url):  # each chunk a transaction of its own: nothing held between
            walk_engine = walk_engine.execution_options(isolation_level="AUTOCOMMIT")
        self.walks = Walks(walk_engine)
        # PostgreSQL's small writes outside the writer (`write_apart`) take turns on one thread
        # rather than crowd the pool.
        self._apart = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rilon-apart")

    def _after_commit(self, session: Session) -> None:
        if session.info.get(EVENTS_EMITTED):
            self.events.fire()

    def start(self) -> None:
        self.writer.start()

    def close(self) -> None:
        self.writer.stop()
        self._readers.shutdown(wait=True)
        self._apart.shutdown(wait=True)
        self.walks.close()
        self.engine.dispose()
        self.write_engine.dispose()
        if self.turns is not None:
            self.turns.close()

    def checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the database file and empty it, so that text
        a purge or a redaction overwrote is in neither file (`secure_delete` zeroes it in the
        database file). PostgreSQL keeps old row versions until VACUUM reuses their space
        (docs/DATA_PROTECTION.md): nothing to do here."""
        if is_sqlite(self.url):
            with self.engine.connect() as connection:
                busy, _, _ = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            if busy:  # a reader kept its snapshot past the busy timeout (DATA_PROTECTION.md)
                log.warning("the write-ahead log could not be emptied: a reader holds it")

    async def forget(self) -> None:
        """`checkpoint` in a reader thread: after a redaction, before its answer."""
        await asyncio.get_running_loop().run_in_executor(self._readers, self.checkpoint)

    async def read(self, unit: UnitOf[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a read-only unit, `unit(session, *args, **kwargs)`, in a reader thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._readers, partial(self.run_read, unit, *args, **kwargs)
        )

    async def write(self, unit: UnitOf[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `unit(session, *args, **kwargs)` in the next group commit and return once it
        is durable."""
        return await self.writer.submit(bind(unit, *args, **kwargs))

    async def write_now(self, unit: UnitOf[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`write`, for a unit the writer must not hold back to share its commit with a burst
        of requests (the dispatcher's: each of its round trips is in a delivery's latency)."""
        return await self.writer.submit(bind(unit, *args, **kwargs), patient=False)

    async def write_item(self, group: Group, item: Any) -> Any:
        """Write one item with the batch's other items of `group` (see `Writer.submit_item`)."""
        return await self.writer.submit_item(group, item)

    async def write_apart(self, unit: Callable[[Session], T]) -> T:
        """Run a small unit that is not history (the shared rate-limit buckets) where it costs
        least. PostgreSQL: in a transaction of its own, outside the writer and its lock (row
        locks suffice), committed without waiting for the disk (a crash may forget the last
        moment's counts). SQLite: in the writer's next batch, since every write there takes
        the one write lock anyway and a transaction of its own would only contend for it."""
        if is_sqlite(self.url):
            return await self.writer.submit(unit)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._apart, self._run_apart, unit)

    def _run_apart(self, unit: Callable[[Session], T]) -> T:
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                session.execute(text("SET LOCAL synchronous_commit = off"))
                result = unit(session)
                commit_or_discard(session)
                return result
        except Exception as exc:
            raise translate(exc) from exc

    def run_read(self, unit: UnitOf[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a read-only unit in this thread (CLI, scrapes, the reader threads)."""
        try:
            with Session(self.engine) as session:
                return unit(session, *args, **kwargs)
        except Exception as exc:
            raise translate(exc) from exc

    def run_write(self, unit: UnitOf[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a unit in a transaction of its own, outside the writer (CLI, start-up)."""
        try:
            with Session(self.write_engine, expire_on_commit=False) as session:
                if not is_sqlite(self.url):
                    serialize_writers(session)
                result = unit(session, *args, **kwargs)
                commit_or_discard(session)
                self._after_commit(session)
                return result
        except Exception as exc:
            raise translate(exc) from exc
