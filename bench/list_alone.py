"""B3's `list_records` and its statement alone, in one thread, against the code of another commit.

    .venv/bin/python -m bench.list_alone --old /work/wt/b3-old          # 100k alerts, SQLite
    .venv/bin/python -m bench.list_alone --old WORKTREE --postgres URL   # also on PostgreSQL

Each side is a process of its own running its tree's code (`PYTHONPATH` = the tree; `--old`
is a worktree of the commit to compare with, e.g. `git worktree add /work/wt/old b171919`,
`--new` this one by default), on a database it seeded itself through its own service layer
(`bench/seed.py`: the same 100k records on both sides, each in its own schema). SQLite files
are kept in `--cache` (one per tree's migrations and count) and reused (`--fresh`: seed anew);
PostgreSQL gets a scratch database per side, dropped afterwards. Then the sides measure in
turn, ABBA, `--seconds` each: the time of each call, by the wall clock and by the thread's
CPU time; each turn gives the median call, and each side the median and the least of its
turns (the least: the turn the machine's other work disturbed least). Nothing runs beside
them: it is the cost of one call without load. Ratios are new ÷ old.

Measured each turn:
- `list_records`: `list_records(session, reader, ALERTS, filter)` in a fresh Session per call,
  as `Database.run_read` does it in the service (SQLAlchemy, the statement, the rendering);
- `statement`: the SQL `list_records` sends, alone on the driver (sqlite3 or psycopg), all
  rows fetched.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve()
NEW = HERE.parent.parent
COUNT = 100_000
KINDS = ("list_records", "statement")
# wall: time.perf_counter; cpu: time.thread_time, the thread's own CPU time, which leaves out
# the time the machine's other work took the core from it (but on PostgreSQL also the server's)
CLOCKS = ("wall", "cpu")


# ---------------------------------------------------------------------------------------------
# The worker: runs in the tree under test (its `bench` package, not necessarily this file's).


def _worker(url: str) -> None:
    """Answer `measure SECONDS` lines on stdin with one JSON line: each call's time (µs) by
    kind and clock; `profile SECONDS` with a pyinstrument report of `list_records`."""
    from sqlalchemy import event
    from sqlmodel import Session

    from bench import dataset, seed
    from core.db import Database, is_sqlite

    reader = dataset.READER
    caller = seed.principal("demo-my-mmea-duty", reader.agency, reader.country)
    wanted = seed._wanted()
    db = Database(url)
    captured: list[tuple[str, Any]] = []

    def _capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        captured.append((statement, params))

    # what bench/seed.py imports from the tree's services, wherever the tree keeps them
    list_records, alerts = seed.list_records, seed.ALERTS  # type: ignore[attr-defined]

    def _list(session: Session) -> Any:
        return list_records(session, caller, alerts, wanted)

    event.listen(db.engine, "before_cursor_execute", _capture)
    listing = db.run_read(_list)
    event.remove(db.engine, "before_cursor_execute", _capture)
    sql, params = next((s, p) for s, p in captured if "FROM record" in s)
    if is_sqlite(url):
        import sqlite3

        path = url.split(":///", 1)[1]
        raw = sqlite3.connect(path, check_same_thread=False)
        statement: Callable[[], object] = lambda: raw.execute(sql, params).fetchall()  # noqa: E731
    else:
        conn = db.engine.connect()
        statement = lambda: conn.exec_driver_sql(sql, params).all()  # noqa: E731
    calls = {"list_records": lambda: db.run_read(_list), "statement": statement}
    size = sum(len(doc) for doc in listing.docs)
    print(json.dumps({"ready": True, "items": len(listing.docs), "bytes": size}), flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        if command == "profile":  # pyinstrument (a dev dependency) over `list_records` calls
            print(json.dumps(_profile(calls["list_records"], float(args[0]))), flush=True)
            continue
        assert command == "measure"
        result = {kind: _times(call, float(args[0]) / len(calls)) for kind, call in calls.items()}
        print(json.dumps(result), flush=True)


def _profile(call: Callable[[], object], seconds: float) -> dict[str, Any]:
    """`call` repeated for `seconds` under pyinstrument; its text report, calls and µs a call."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0001)
    calls, started = 0, time.perf_counter()
    with profiler:
        while time.perf_counter() - started < seconds:
            call()
            calls += 1
    text = profiler.output_text(unicode=True, show_all=False, time="percent_of_total")
    assert profiler.last_session is not None
    return {"report": text, "calls": calls, "us": profiler.last_session.duration * 1e6 / calls}


def _times(call: Callable[[], object], seconds: float) -> dict[str, list[float]]:
    """Call `call` for `seconds` (after 20 calls unmeasured); each call's time in µs by clock."""
    for _ in range(20):
        call()
    wall: list[float] = []
    cpu: list[float] = []
    clock, cpu_clock = time.perf_counter, time.thread_time
    end = clock() + seconds
    while clock() < end:
        started, cpu_started = clock(), cpu_clock()
        call()
        cpu.append((cpu_clock() - cpu_started) * 1e6)
        wall.append((clock() - started) * 1e6)
    return {"wall": wall, "cpu": cpu}


def _seed(url: str, count: int) -> None:
    """`rilon demo`, then `count` alerts through the service layer, on `url` (this tree)."""
    from bench import seed, servers

    workdir = Path(os.environ["LIST_ALONE_WORKDIR"])
    env = {**servers.service_env(workdir), "RILON_DATABASE_URL": url}
    servers.seed_demo(workdir, env)
    seconds = seed.seed_alerts(url, count)
    if not url.startswith("sqlite"):
        from sqlalchemy import create_engine, text

        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
        engine.dispose()
    print(f"seeded {count:,} in {seconds:.0f} s", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The driver: this tree.


@dataclass
class Side:
    name: str
    tree: Path
    url: str
    proc: subprocess.Popen[str] | None = None

    def env(self, workdir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RILON_")}
        env["PYTHONPATH"] = str(self.tree)
        env["LIST_ALONE_WORKDIR"] = str(workdir)
        return env

    def ask(self, seconds: float) -> dict[str, dict[str, list[float]]]:
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"measure {seconds}\n")
        self.proc.stdin.flush()
        answer: dict[str, dict[str, list[float]]] = json.loads(_line(self.proc.stdout))
        return answer


def _line(stream: IO[str] | None) -> str:
    assert stream is not None
    line = stream.readline()
    if not line:
        raise RuntimeError("a worker ended early (its errors are above)")
    return line


def _git(tree: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(tree), *args], capture_output=True, check=True)
    return done.stdout.decode(errors="replace").strip()


def _commit(tree: Path) -> str:
    """The tree's commit, marked `+` when it has uncommitted changes."""
    dirty = _git(tree, "status", "--porcelain", "--untracked-files=no")
    return _git(tree, "rev-parse", "--short", "HEAD") + ("+" if dirty else "")


def _schema(tree: Path) -> str:
    """What a seeded file depends on: the migrations as the tree has them, which make its
    tables (what is seeded rarely changes without them; `--fresh` seeds anew)."""
    parts = [_git(tree, "rev-parse", "HEAD:migrations")]
    parts.append(_git(tree, "diff", "HEAD", "--", "migrations"))
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:10]


def _worker_argv(*args: str) -> list[str]:
    return [sys.executable, str(HERE), *args]


def _sqlite_sides(trees: dict[str, Path], cache: Path, count: int, fresh: bool) -> list[Side]:
    """One seeded SQLite file per tree's schema, seeded (in parallel) if not in `cache` yet."""
    sides, seeding = [], []
    for name, tree in trees.items():
        workdir = cache / f"{_schema(tree)}-{count}"
        side = Side(name, tree, f"sqlite:///{workdir / 'rilon.db'}")
        sides.append(side)
        if fresh or not (workdir / "seeded").exists():
            (workdir / "seeded").unlink(missing_ok=True)
            workdir.mkdir(parents=True, exist_ok=True)
            (workdir / "rilon.db").unlink(missing_ok=True)
            print(f"{name}: seeding {count:,} alerts into {workdir} ...", flush=True)
            argv = _worker_argv("seed", side.url, str(count))
            seeding.append((workdir, subprocess.Popen(argv, env=side.env(workdir))))
    for workdir, proc in seeding:
        if proc.wait() != 0:
            raise RuntimeError(f"seeding {workdir} failed")
        (workdir / "seeded").touch()
    return sides


@contextmanager
def _postgres_sides(trees: dict[str, Path], server: str, count: int) -> Iterator[list[Side]]:
    """A scratch database per tree on `server`, seeded by that tree, dropped afterwards."""
    import tempfile

    from bench.postgres import scratch_database

    with ExitStack() as stack:
        sides, seeding = [], []
        for name, tree in trees.items():
            url = stack.enter_context(scratch_database(server))
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            side = Side(name, tree, url)
            sides.append(side)
            print(f"{name}: seeding {count:,} alerts into a scratch database ...", flush=True)
            argv = _worker_argv("seed", url, str(count))
            seeding.append(subprocess.Popen(argv, env=side.env(workdir)))
        for proc in seeding:
            if proc.wait() != 0:
                raise RuntimeError("seeding PostgreSQL failed")
        yield sides


def _compare(sides: list[Side], rounds: int, seconds: float) -> None:
    with ExitStack() as stack:
        for side in sides:
            argv = _worker_argv("worker", side.url)
            side.proc = stack.enter_context(
                subprocess.Popen(
                    argv,
                    env=side.env(Path.cwd()),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        for side in sides:
            ready = json.loads(_line(side.proc.stdout if side.proc else None))
            print(f"{side.name} ({side.tree}): {ready['items']} items, {ready['bytes']:,} bytes")
        a, b = sides
        rows = [(kind, clock) for kind in KINDS for clock in CLOCKS]
        medians: dict[str, dict[tuple[str, str], list[float]]] = {
            s.name: {row: [] for row in rows} for s in sides
        }
        for turn, side in enumerate([a, b, b, a] * rounds):
            times = side.ask(seconds)
            for kind, clock in rows:
                medians[side.name][kind, clock].append(statistics.median(times[kind][clock]))
            shown = "  ".join(
                f"{kind} {medians[side.name][kind, 'wall'][-1]:7.1f} µs" for kind in KINDS
            )
            print(f"  turn {turn + 1:2d} {side.name:>4}: {shown} (wall)", flush=True)
        for side in sides:
            assert side.proc is not None
            assert side.proc.stdin is not None
            side.proc.stdin.close()
    print(f"\neach side's turns (median time of a call in each), µs; {rounds} x ABBA")
    print(
        f"  {'':19s} {a.name:>4}: median   least  {b.name:>4}: median   least  ratio: median least"
    )
    for kind, clock in rows:
        got = {s.name: medians[s.name][kind, clock] for s in sides}
        mid = {name: statistics.median(turns) for name, turns in got.items()}
        least = {name: min(turns) for name, turns in got.items()}
        print(
            f"  {kind:13s} {clock:4s}  {mid[a.name]:13.1f} {least[a.name]:7.1f}  "
            f"{mid[b.name]:13.1f} {least[b.name]:7.1f}  "
            f"{mid[b.name] / mid[a.name]:13.2f} {least[b.name] / least[a.name]:5.2f}"
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.list_alone", description=__doc__)
    parser.add_argument("--old", type=Path, required=True, help="worktree of the older commit")
    parser.add_argument("--new", type=Path, default=NEW, help="the newer tree (default: this)")
    parser.add_argument("--count", type=int, default=COUNT, help="alerts seeded (100,000)")
    parser.add_argument("--rounds", type=int, default=3, help="ABBA alternations (3)")
    parser.add_argument("--seconds", type=float, default=2.0, help="per turn (2)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/rilon-list-alone"))
    parser.add_argument("--fresh", action="store_true", help="seed the SQLite files anew")
    parser.add_argument("--postgres", metavar="URL", help="also on PostgreSQL (scratch databases)")
    args = parser.parse_args(argv)
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average {load}; old {_commit(trees['old'])}, new {_commit(trees['new'])}")
    print("\nSQLite")
    _compare(_sqlite_sides(trees, args.cache, args.count, args.fresh), args.rounds, args.seconds)
    if args.postgres:
        print("\nPostgreSQL")
        with _postgres_sides(trees, args.postgres, args.count) as sides:
            _compare(sides, args.rounds, args.seconds)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        sys.path.remove(str(HERE.parent))  # the tree under test comes from PYTHONPATH
        _worker(sys.argv[2])
    elif sys.argv[1:2] == ["seed"]:
        sys.path.remove(str(HERE.parent))
        _seed(sys.argv[2], int(sys.argv[3]))
    else:
        from tools.command import run_command

        run_command(main)
