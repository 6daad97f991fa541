"""Random against time-ordered ids, on the delivery table's own indexes (docs/DECISIONS.md,
"Ids in time order").

    .venv/bin/python -m bench.ids [--rows 500000] [--rounds 2]

Each side fills a fresh SQLite file (WAL, `synchronous=FULL`, as the service opens it) with
the `delivery` table and its indexes as the models declare them, 100 rows a commit, as one
event to 100 subscriptions is expanded: ids from `uuid.uuid4` (random) or `core.ids.new_id`
(ordered). The sides take turns ABBA; each prints the median time a commit, by fifths of the
rows, so a slowdown as the table grows shows. The figure is the ratio over the last fifth.
"""

import argparse
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

from core.ids import new_id
from models.tables import DELIVERY

SUBSCRIPTIONS = 100  # rows a commit: one event expanded to 100 subscriptions
SIDES: dict[str, Callable[[], str]] = {"random": lambda: str(uuid.uuid4()), "ordered": new_id}
INSERT = (
    "INSERT INTO delivery (id, subscription_id, event_seq, event_id, event_type, state,"
    " attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)"
)


def fill(path: Path, make_id: Callable[[], str], rows: int) -> list[float]:
    """Milliseconds a commit, median by fifths of `rows`."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    dialect = sqlite.dialect()
    connection.execute(str(CreateTable(DELIVERY).compile(dialect=dialect)))
    for index in DELIVERY.indexes:
        connection.execute(str(CreateIndex(index).compile(dialect=dialect)))
    subscriptions = [str(uuid.uuid4()) for _ in range(SUBSCRIPTIONS)]
    commits = rows // SUBSCRIPTIONS
    times: list[float] = []
    for seq in range(1, commits + 1):
        now = time.strftime("%Y-%m-%d %H:%M:%S.000000")
        event_id = make_id()
        batch = [
            (make_id(), sub, seq, event_id, "alert.created", now, now) for sub in subscriptions
        ]
        began = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(INSERT, batch)
        connection.execute("COMMIT")
        times.append((time.perf_counter() - began) * 1e3)
    connection.close()
    fifth = max(1, commits // 5)
    return [statistics.median(times[i : i + fifth]) for i in range(0, fifth * 5, fifth)]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ids", description=__doc__)
    parser.add_argument("--rows", type=int, default=500_000, help="rows a side (500,000)")
    parser.add_argument("--rounds", type=int, default=2, help="ABBA rounds (2)")
    options = parser.parse_args()
    if options.rows < 5 * SUBSCRIPTIONS or options.rounds < 1:
        parser.error(f"--rows must be at least {5 * SUBSCRIPTIONS} and --rounds at least 1")
    last: dict[str, list[float]] = {name: [] for name in SIDES}
    with tempfile.TemporaryDirectory(prefix="rilon-ids-") as scratch:
        for round_ in range(options.rounds):
            order = list(SIDES) if round_ % 2 == 0 else list(reversed(SIDES))
            for name in order:
                path = Path(scratch) / f"{name}-{round_}.db"
                fifths = fill(path, SIDES[name], options.rows)
                for leftover in Path(scratch).glob(f"{name}-{round_}.db*"):
                    leftover.unlink()
                last[name].append(fifths[-1])
                shown = " ".join(f"{ms:5.2f}" for ms in fifths)
                print(f"{name:>8} ({round_ + 1}/{options.rounds}): ms a commit by fifths {shown}")
    random_ms, ordered_ms = (statistics.median(last[name]) for name in ("random", "ordered"))
    print(
        f"last fifth: random {random_ms:.2f} ms, ordered {ordered_ms:.2f} ms a commit of "
        f"{SUBSCRIPTIONS} rows; ordered / random {ordered_ms / random_ms:.2f}"
    )


if __name__ == "__main__":
    main()
