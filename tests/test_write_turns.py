"""SQLite: processes writing one database file take turns (core/turns.py).

SQLite only, by nature: on PostgreSQL the writers of every process queue on an advisory lock
(core/db.py), which the server grants in turn.
"""

import asyncio
import contextlib
import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from core.db import Database
from core.errors import DatabaseUnavailable
from core.turns import WriteTurns, turns_path

ROOT = Path(__file__).resolve().parent.parent

# Another process taking turns at its most demanding: it asks for its turn again the instant
# it has let it go, every time (the service's own writer runs some Python in between).
BUSY_WRITER = """
import sqlite3, sys
from core.turns import WriteTurns, turns_path

url = sys.argv[1]
turns = WriteTurns(turns_path(url), 60)
connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
connection.execute("PRAGMA synchronous=FULL")
said = False
while True:
    with turns.turn():
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO notes (who) VALUES ('other')")
        connection.execute("COMMIT")
    if not said:
        print("writing", flush=True)
        said = True
"""

# A process that takes the turn and keeps it until it is killed.
HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("holding", flush=True)
time.sleep(600)
"""


def _database(tmp_path: Path) -> str:
    path = tmp_path / "turns.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE notes (who TEXT NOT NULL)")
    return f"sqlite:///{path}"


@contextmanager
def _process(script: str, argument: str, says: str) -> Iterator[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", script, argument],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == says, line + child.stdout.read()
        yield child
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


def _note(who: str) -> Callable[[Session], None]:
    def insert(session: Session) -> None:
        session.connection().execute(text("INSERT INTO notes (who) VALUES (:who)"), {"who": who})

    return insert


def _count(url: str, who: str) -> int:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        row = connection.execute("SELECT count(*) FROM notes WHERE who = ?", (who,)).fetchone()
        return int(row[0])


def _held(path: str) -> bool:
    """Whether some writer holds the lock file at `path` (taken and let go again if not)."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _waits() -> int:
    return sum(thread.name == "rilon-write-turn" for thread in threading.enumerate())


async def test_a_writer_beside_one_writing_back_to_back_gets_every_turn(tmp_path: Path) -> None:
    """SQLite's busy handler polls, up to 100 ms a sleep: beside a process that takes the
    lock again the moment it commits, it almost never finds it free, and writes failed as
    503s once the 2 s timeout passed. Taking turns, the two alternate."""
    url = _database(tmp_path)
    db = Database(url, timeout=2.0)
    db.start()
    try:
        with _process(BUSY_WRITER, url, "writing"):
            for _ in range(20):
                await db.write(_note("us"))
            # the other wrote throughout: the two alternate, about one turn each
            assert _count(url, "other") >= 10
    finally:
        db.close()
    assert _count(url, "us") == 20


async def test_a_turn_never_given_back_is_a_503_and_a_killed_holder_frees_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = _database(tmp_path)
    lock_file = turns_path(url)
    assert lock_file == url.removeprefix("sqlite:///") + "-turns"
    db = Database(url, timeout=0.3)
    db.start()
    try:
        with _process(HOLDER, lock_file, "holding") as holder:
            for _ in range(3):
                with pytest.raises(DatabaseUnavailable):
                    await db.write(_note("us"))
            assert _waits() == 1  # each write waited on in the one wait left behind
            assert "no turn to write in 0.3 s" in caplog.text  # an operator sees why
            assert _count(url, "us") == 0
            holder.send_signal(signal.SIGKILL)
            holder.wait()
            await db.write(_note("us"))
        assert _count(url, "us") == 1
        for _ in range(250):  # the wait left behind ends once it has the turn and gives it back
            if not _waits():
                break
            await asyncio.sleep(0.02)
        assert _waits() == 0
        await db.write(_note("us"))
    finally:
        db.close()
    assert _count(url, "us") == 2


async def test_closing_while_a_wait_is_left_behind_leaves_it_its_files(tmp_path: Path) -> None:
    """The wait's thread is still blocked on the lock files: closed under it, their numbers
    could be given to other files, which it would then lock and unlock."""
    url = _database(tmp_path)
    db = Database(url, timeout=0.3)
    db.start()
    with _process(HOLDER, str(turns_path(url)), "holding") as holder:
        with pytest.raises(DatabaseUnavailable):
            await db.write(_note("us"))
        db.close()
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        for _ in range(250):  # it takes the turn, finds nobody wants it, and gives it back
            if not _waits():
                break
            await asyncio.sleep(0.02)
    assert _waits() == 0  # and ended without an error (pytest fails a test on one)
    assert not [name for name in _open_files() if name.startswith(str(turns_path(url)))]


def _open_files() -> list[str]:
    names = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own, closed by now
            names.append(os.readlink(f"/proc/self/fd/{fd}"))
    return names


def test_a_writer_waiting_goes_before_the_one_that_just_had_the_turn(tmp_path: Path) -> None:
    """What a bare lock would give to whichever asks first once it is let go: the one that
    just had it, asking again at once."""
    path = str(tmp_path / "turns.db-turns")
    first, second = WriteTurns(path, 5.0), WriteTurns(path, 5.0)
    order: list[str] = []

    def write(turns: WriteTurns, name: str) -> None:
        with turns.turn():
            order.append(name)
            time.sleep(0.05)

    try:
        with first.turn():
            waiting = threading.Thread(target=write, args=(second, "second"))
            waiting.start()
            for _ in range(500):  # until the second waits for its turn, holding `-next`
                if _waits() and _held(path + "-next"):  # (not its first try, which also takes
                    break  # `-next` for a moment, before it starts waiting)
                time.sleep(0.01)
            assert _held(path + "-next")
        write(first, "first")  # asks again the instant it has let go
        waiting.join()
    finally:
        first.close()
        second.close()
    assert order == ["second", "first"]


@pytest.mark.skipif(os.geteuid() != 0, reason="making files for another user needs root")
def test_lock_files_made_by_root_belong_to_the_database_owner(tmp_path: Path) -> None:
    """`sudo rilon audit verify` beside a service running as its own user must not leave
    lock files that user cannot open: the service would no longer start."""
    url = _database(tmp_path)
    path = url.removeprefix("sqlite:///")
    os.chown(path, 10001, 10001)
    os.chmod(path, 0o640)
    Database(url).close()
    for lock_file in (path + "-turns", path + "-turns-next"):
        made = os.stat(lock_file)
        assert (made.st_uid, made.st_gid) == (10001, 10001)
        assert made.st_mode & 0o777 == 0o640 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_database_in_memory_has_no_turns() -> None:
    assert turns_path("sqlite://") is None
    assert turns_path("sqlite:///:memory:") is None
