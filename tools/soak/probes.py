"""What the soak reads from outside the service: /proc for its processes, SQL for its outbox.

A process's descriptors are sorted by what they are open on, so that a run shows whether a
change in the count is a connection pool doing its job or a leak: sockets to the webhook
receivers, sockets of API clients (and the listener), the database (its files on SQLite, its
connections on PostgreSQL), and the rest (pipes, epoll, eventfds, log and other files).
"""

import os
from dataclasses import dataclass

from sqlalchemy import Engine, text

# /proc/net/tcp states (include/net/tcp_states.h) worth a name in a sample
LISTEN, ESTABLISHED, CLOSE_WAIT = "0A", "01", "08"


@dataclass(frozen=True)
class Ports:
    """What a TCP peer's port says a socket is for."""

    api: int  # the service's own listening port: its clients and the listener
    receivers: int  # the webhook receivers' port
    database: int | None  # PostgreSQL's port (None on SQLite)
    database_files: str | None  # the SQLite file's path: it, -wal and -shm count as database


@dataclass
class ProcessSample:
    rss_kib: int
    fds: int
    cpu_s: float  # user and system time so far
    webhooks: int = 0  # TCP sockets to the receivers
    webhooks_close_wait: int = 0  # of those, closed by the receiver and not yet by us
    clients: int = 0  # TCP sockets of API clients, and the listener
    database: int = 0  # SQLite files or PostgreSQL connections
    other: int = 0  # everything else

    @property
    def rest(self) -> int:
        """Descriptors no pool accounts for: these must stay flat."""
        return self.fds - self.webhooks - self.clients - self.database


@dataclass(frozen=True)
class _Socket:
    local_port: int
    remote_port: int
    state: str


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1], 16)


def _tcp_sockets(pid: int) -> dict[str, _Socket]:
    """The TCP sockets of the process's network namespace, by inode."""
    sockets: dict[str, _Socket] = {}
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as lines:
                next(lines)  # the header
                for line in lines:
                    fields = line.split()
                    local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
                    sockets[inode] = _Socket(_port(local), _port(remote), state)
        except FileNotFoundError:
            continue
    return sockets


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()  # after the command name
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def process_sample(pid: int, ports: Ports) -> ProcessSample:
    """The process's resident memory (KiB, VmRSS) and its descriptors by what they are for."""
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:  # closed between the listing and the read
            continue
    sample = ProcessSample(_rss_kib(pid), len(targets), _cpu_seconds(pid))
    sockets = _tcp_sockets(pid) if any(t.startswith("socket:") for t in targets) else {}
    for target in targets:
        if target.startswith("socket:["):
            found = sockets.get(target[len("socket:[") : -1])
            if found is None:  # a Unix socket, or a TCP socket closed since the read
                sample.other += 1
            elif found.remote_port == ports.receivers:
                sample.webhooks += 1
                sample.webhooks_close_wait += found.state == CLOSE_WAIT
            elif found.local_port == ports.api:
                sample.clients += 1
            elif ports.database is not None and found.remote_port == ports.database:
                sample.database += 1
            else:
                sample.other += 1
        elif ports.database_files is not None and target.startswith(ports.database_files):
            sample.database += 1
        else:
            sample.other += 1
    return sample


def outbox_sample(engine: Engine) -> tuple[int, int]:
    """Events not yet expanded into deliveries, and deliveries never yet attempted."""
    with engine.connect() as conn:
        newest = conn.execute(text("SELECT coalesce(max(seq), 0) FROM event")).scalar_one()
        expanded = conn.execute(
            text("SELECT coalesce(max(last_seq), 0) FROM dispatcher_state WHERE name='expander'")
        ).scalar_one()
        waiting = conn.execute(
            text("SELECT count(*) FROM delivery WHERE state='pending' AND attempts=0")
        ).scalar_one()
    return int(newest) - int(expanded), int(waiting)


def sessions_opened(engine: Engine) -> int | None:
    """PostgreSQL: connections ever opened to the soak's database (None on SQLite). A pool
    that closes and reopens connections under load shows here, not in a descriptor count."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        ).scalar_one()
    return int(found)


def failing_outcome(engine: Engine, subscriptions: set[str]) -> tuple[int, int, int]:
    """For these (failing) subscriptions: deliveries kept for later (pending), deliveries
    given up or gone, and how many of the subscriptions were tried at all."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT subscription_id, state, attempts FROM delivery")).all()
    mine = [(sub, state, attempts) for sub, state, attempts in rows if sub in subscriptions]
    kept = sum(1 for _, state, _ in mine if state == "pending")
    probed = len({sub for sub, _, attempts in mine if attempts > 0})
    return kept, len(mine) - kept, probed
