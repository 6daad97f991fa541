"""SQLite: the processes writing one database file take turns through locks the kernel hands
over, instead of SQLite's busy handler.

SQLite's busy handler polls: a process that finds the write lock taken sleeps (up to 100 ms a
time) and tries again. Beside another process that writes back to back (a second worker of
`rilon serve --workers 2`, a `rilon worker` delivering), it finds the lock taken almost every
time it looks: `bench ingest` against `serve --workers 2` had a p99 of 1.6 s, and with the
dispatcher in a `rilon worker` the POSTs answered 503 once the 2 s timeout had passed. A writer
waiting here is woken the moment the other lets go (PERFORMANCE.md, "Several processes on one
SQLite file").

Two `flock`s beside the database file, taken before BEGIN IMMEDIATE and let go after the
COMMIT: `<database>-turns` is the turn itself; `<database>-turns-next` is held by the one
waiting for it. A writer that has just let its turn go must pass through `-next` to take
another, so a writer already waiting goes first: with two processes they alternate, where a
bare lock would go to whichever asked first after it was let go, and that is the one that
just had it. The kernel drops both with the process, however it ends. Waiting is bounded by
the database timeout, as SQLite's busy wait is: past it the batch fails as "database
unavailable" (503 with Retry-After), and the wait left behind gives the turn back as soon as
it gets it, unless the next write takes it over.
"""

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url

from core.errors import DatabaseUnavailable

SUFFIX = "-turns"
log = logging.getLogger(__name__)


def turns_path(url: str) -> str | None:
    """The lock file beside a SQLite database file; None for a database in memory."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database + SUFFIX


def _open(path: str, database: str) -> int:
    """Open (or make) a lock file as SQLite makes the database's `-wal` and `-shm`: the
    database file's permissions and, when made by root (`sudo rilon …`), its owner, so that
    the service's own user can still open it. Read-only is enough for `flock`."""
    try:
        found = os.stat(database)
    except FileNotFoundError:
        found = None
    mode = found.st_mode & 0o666 if found else 0o600
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, mode)
    if found is not None and os.geteuid() == 0:
        os.fchown(fd, found.st_uid, found.st_gid)
    return fd


def _try(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class _Wait:
    """Waiting for the turn in a thread of its own, so that the writer can stop waiting."""

    def __init__(self, turn: int, next_: int) -> None:
        self.turn, self.next = turn, next_
        self.taken = threading.Event()
        self.guard = threading.Lock()
        self.state = "waiting"  # then "taken"; or "abandoned", then "returned"
        self.closing = False  # the owner has closed: the files are this thread's to close
        threading.Thread(target=self._take, name="rilon-write-turn", daemon=True).start()

    def _take(self) -> None:
        fcntl.flock(self.next, fcntl.LOCK_EX)
        fcntl.flock(self.turn, fcntl.LOCK_EX)
        fcntl.flock(self.next, fcntl.LOCK_UN)
        with self.guard:
            if self.state == "abandoned":  # nobody wants it any more: give it back at once
                fcntl.flock(self.turn, fcntl.LOCK_UN)
                self.state = "returned"
                if self.closing:
                    os.close(self.turn)
                    os.close(self.next)
            else:
                self.state = "taken"
                self.taken.set()

    def claim(self, timeout: float) -> bool:
        """Wait up to `timeout` for the turn; True once it is the caller's."""
        if self.taken.wait(timeout):
            return True
        with self.guard:
            if self.state == "taken":
                return True
            self.state = "abandoned"
            return False

    def close_when_done(self) -> bool:
        """If it was given up and its thread is still blocked on the lock files, that thread
        closes them when it ends (True): closed under it, their numbers could go to other
        files, which it would then lock and unlock."""
        with self.guard:
            self.closing = self.state == "abandoned"
            return self.closing

    def adopt(self) -> bool:
        """Want the turn again after `claim` gave up; False if it was already given back."""
        with self.guard:
            if self.state != "abandoned":
                return False
            self.state = "waiting"
            return True


class WriteTurns:
    """The turn of one writer to write a SQLite file. A `flock` belongs to the open file, not
    to a thread: two threads sharing one WriteTurns would share its turn, so each writer
    (one thread) has its own."""

    def __init__(self, path: str, timeout: float) -> None:
        database = path.removesuffix(SUFFIX)
        self._turn = _open(path, database)
        self._next = _open(path + "-next", database)
        self._timeout = timeout
        self._wait: _Wait | None = None  # a wait that timed out and may still be blocked

    @contextmanager
    def turn(self) -> Iterator[None]:
        self._take()
        try:
            yield
        finally:
            fcntl.flock(self._turn, fcntl.LOCK_UN)

    def _take(self) -> None:
        wait, self._wait = self._wait, None
        if wait is not None and not wait.adopt():  # still blocked: wait on, not a second time
            wait = None
        if wait is None:
            if _try(self._next):  # nobody is waiting
                free = _try(self._turn)
                fcntl.flock(self._next, fcntl.LOCK_UN)
                if free:
                    return
            wait = _Wait(self._turn, self._next)
        if wait.claim(self._timeout):
            return
        self._wait = wait
        log.warning("no turn to write in %.1f s: another process kept it", self._timeout)
        raise DatabaseUnavailable()

    def close(self) -> None:
        """Close the lock files, or leave them to a wait still blocked on them."""
        if self._wait is not None and self._wait.close_when_done():
            return
        os.close(self._turn)
        os.close(self._next)
