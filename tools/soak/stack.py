"""The service the soak drives, as it runs in production on each database.

SQLite: one `rilon serve` with its dispatcher in process (the default, and the only shape
SQLite's one writer allows). PostgreSQL: a scratch database made on the server named and dropped
afterwards, `rilon serve --no-dispatcher` for the API and one `rilon worker` sending webhooks.
"""

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from bench import servers
from bench.harness import BenchError, Server, log_tail, running, venv_script
from bench.postgres import scratch_database
from core.db import POOL_OVERFLOW, POSTGRES_POOL_SIZE, READ_THREADS, is_sqlite
from tools.soak.probes import Ports

WORKER_START_SECONDS = 30.0
SQLITE_FDS_PER_CONNECTION = 3  # the database file, its -wal and its -shm


@dataclass(frozen=True)
class Stack:
    server: Server
    worker_pid: int | None
    credentials: dict[str, str]
    database_url: str

    def pids(self) -> dict[str, int]:
        found = {"serve": self.server.pid}
        if self.worker_pid is not None:
            found["worker"] = self.worker_pid
        return found

    def ports(self, receivers: int) -> Ports:
        url = make_url(self.database_url)
        if is_sqlite(self.database_url):
            return Ports(self.server.port, receivers, None, url.database)
        return Ports(self.server.port, receivers, url.port or 5432, None)

    def database_bounds(self) -> dict[str, int]:
        """Descriptors each process's engines may hold: SQLite opens a reading and a writing
        engine, PostgreSQL one for both; each pool holds its size plus its overflow."""
        if is_sqlite(self.database_url):
            files = (READ_THREADS + POOL_OVERFLOW) * SQLITE_FDS_PER_CONNECTION
            return {"serve": 2 * files}
        return dict.fromkeys(self.pids(), POSTGRES_POOL_SIZE + POOL_OVERFLOW)


@contextmanager
def service(workdir: Path, postgres: str | None) -> Iterator[Stack]:
    """Seed the demo network and serve it: on SQLite in `workdir`, or on PostgreSQL."""
    extra = {
        "RILON_WEBHOOK_ALLOW_HTTP": "true",
        "RILON_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
        "RILON_MAX_SUBSCRIPTIONS_PER_AGENCY": "200",
        "RILON_TOKEN_TTL_SECONDS": "3600",
        # The same in both processes: the worker decrypts the secrets the API stored.
        "RILON_JWT_SECRET": secrets.token_urlsafe(36),
        "RILON_SECRETS_KEY": secrets.token_urlsafe(36),
    }
    with ExitStack() as stack:
        if postgres is None:
            url = f"sqlite:///{workdir / 'rilon.db'}"
            serve_args: tuple[str, ...] = ()
        else:
            url = stack.enter_context(scratch_database(postgres))
            serve_args = ("--no-dispatcher",)
        extra["RILON_DATABASE_URL"] = url
        server, credentials = stack.enter_context(
            servers.rilon(workdir, extra_env=extra, serve_args=serve_args)
        )
        worker_pid = None
        if postgres is not None:
            env = {**servers.service_env(workdir), **extra}
            argv = [venv_script("rilon"), "worker"]
            worker = stack.enter_context(running("worker", argv, cwd=workdir, env=env))
            _wait_dispatching(server, worker.poll, workdir / "worker.log")
            worker_pid = worker.pid
        yield Stack(server, worker_pid, credentials, url)


def _wait_dispatching(server: Server, exited: Callable[[], int | None], log: Path) -> None:
    """Until /readyz sees a dispatcher heartbeat (the worker's: the API sends nothing)."""
    deadline = time.monotonic() + WORKER_START_SECONDS
    while time.monotonic() < deadline:
        if exited() is not None:
            raise BenchError(f"rilon worker exited before its first heartbeat:\n{log_tail(log)}")
        answer = httpx.get(server.base_url + "/readyz", timeout=2.0)
        if answer.status_code == 200 and answer.json().get("dispatcher") == "ok":
            return
        time.sleep(0.2)
    raise BenchError(f"no dispatcher heartbeat within {WORKER_START_SECONDS:.0f} s")
