"""`python -m tools.soak --minutes 10`: mixed traffic against a real `rilon serve` for a while.

Posts at a fixed rate, lists, feed long-polls, and fan-out of every alert to 100 local
receivers of which 5 always answer 500; on SQLite (one `rilon serve`, dispatcher inside) or
on PostgreSQL (`--postgres URL`: a scratch database, `rilon serve --no-dispatcher` and one
`rilon worker`). Every few seconds: each process's RSS and open descriptors by what they are
open on (/proc/<pid>), the outbox (events not yet expanded, deliveries never tried) and how
late deliveries arrive. At the end, after a drain (until all has arrived, nothing arrives for
30 s, or 5 minutes): every (alert, healthy receiver) pair delivered ("lost" counts those that
have not), every delivery to a failing receiver kept for later (their circuits are open: one
probe at a time) and each of them probed, no request failed, memory flat and descriptors
within their pools (tools/soak/judge.py). `judge` names whatever did not hold.
"""

import argparse
import json
import os
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from tools.command import run_command
from tools.soak.driver import BULK_IN_FLIGHT, run
from tools.soak.judge import judge


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1.0, help="alerts posted a second")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run on PostgreSQL: a scratch database made (and dropped) on this server, e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/test; the API and one worker",
    )
    parser.add_argument(
        "--background",
        type=float,
        default=0.0,
        metavar="RATE",
        help="also post this many alerts a second that no subscription matches (at most "
        f"{BULK_IN_FLIGHT} at once, like B1): the total near B1's rate, the fan-out unchanged",
    )
    parser.add_argument("--json", type=Path, help="also write every sample here")
    args = parser.parse_args(argv)
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {_load()}")
    with tempfile.TemporaryDirectory(prefix="rilon-soak-") as tmp:
        result = run(
            Path(tmp), args.minutes * 60, args.rate, args.every, args.postgres, args.background
        )
    print("\n".join(result.table()))
    print(result.summary())
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {_load()}")
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(result), indent=1))
    problems = judge(result)
    for problem in problems:
        print(f"FAIL: {problem}")
    return 1 if problems else 0


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    run_command(main)
