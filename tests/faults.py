"""Database faults on demand: a TCP proxy to cut PostgreSQL, and SQLite failures.

The shared PostgreSQL server is never stopped: the service under test talks to it through a
`PgProxy` the test controls (refuse new connections, cut open ones, or accept and never
answer). SQLite faults are real where the machine allows it (another connection's exclusive
lock, a connection opened read-only) and injected at the driver's commit where it does not
(a full disk cannot be made safely on a shared machine).
"""

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url

from core.db import Database

UPSTREAM = ("127.0.0.1", 5432)
COUNTED = ("record", "record_version", "event", "idempotency_key", "delivery", "audit_event")


@dataclass
class PgProxy:
    """Forward 127.0.0.1:port to PostgreSQL until told to refuse, cut, or black-hole."""

    upstream: tuple[str, int] = UPSTREAM
    port: int = 0
    mode: str = "up"  # up | blackhole (accept, never answer)
    _server: asyncio.Server | None = None
    _open: set[asyncio.StreamWriter] = field(default_factory=set)

    def url(self, database_url: str) -> str:
        parsed = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return parsed.render_as_string(hide_password=False)

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        if self.mode == "blackhole":
            return  # held open, never forwarded: the client waits for a server that is mute
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._open.add(up_writer)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    def cut(self) -> None:
        """Drop every open connection (both sides), as a network partition would."""
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def refuse(self) -> None:
        """Stop listening and cut: new connections are refused at once (ECONNREFUSED)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.cut()

    async def blackhole(self) -> None:
        self.mode = "blackhole"
        self.cut()

    async def restore(self) -> None:
        self.mode = "up"
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        await self.refuse()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.transport.abort()


@contextmanager
def failing_commits(engine: Engine, error: BaseException) -> Iterator[None]:
    """Every COMMIT on `engine` fails with the driver's `error` (disk full and the like).

    Raised where the driver's own commit would raise it, so SQLAlchemy wraps and handles it
    exactly as a real one (the transaction is rolled back when its connection is returned).
    """
    dialect = engine.dialect
    original = dialect.do_commit

    def do_commit(_dbapi_connection: Any) -> None:
        raise error

    dialect.do_commit = do_commit  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        dialect.do_commit = original  # type: ignore[method-assign]


@contextmanager
def exclusive_lock(path: str) -> Iterator[None]:
    """Another process's connection holding SQLite's write lock (BEGIN EXCLUSIVE)."""
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")


@contextmanager
def read_only(db: Database) -> Iterator[None]:
    """The service's SQLite connections reopened read-only (`mode=ro`): SQLite itself then
    answers every write 'attempt to write a readonly database'.

    chmod would not do here: tests may run as root, whom file modes do not stop.
    """
    path = make_url(db.url).database
    engines = {id(e): e for e in (db.engine, db.write_engine)}.values()

    def connect_ro(_dialect: Any, _record: Any, _args: Any, params: Any) -> Any:
        timeout = params.get("timeout", 5)
        uri = f"file:{path}?mode=ro"
        return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=timeout)

    for engine in engines:
        engine.dispose()
        event.listen(engine, "do_connect", connect_ro)
    try:
        yield
    finally:
        for engine in engines:
            event.remove(engine, "do_connect", connect_ro)
            engine.dispose()


def counts(database_url: str) -> dict[str, int]:
    """Rows in every table a write touches, read on a connection of the test's own."""
    db = Database(database_url)
    try:
        with db.engine.connect() as connection:
            return {
                table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
                for table in COUNTED
            }
    finally:
        db.close()
