"""Run the crash test by hand: SIGKILL `rilon serve` (or a `rilon worker`) three times mid
fan-out, restart it, and check nothing answered 201 or due to a receiver was lost.

    .venv/bin/python -m tools.crash_driver                           # SQLite, kill the service
    .venv/bin/python -m tools.crash_driver --postgres postgresql+psycopg://postgres@127.0.0.1/test
    .venv/bin/python -m tools.crash_driver --postgres URL --victim worker --repeat 5

The same steps as tests/test_crash.py, in a scratch directory (SQLite) or a scratch database
made on the server the URL names and dropped afterwards. Exit 0 when every round held.
"""

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _pytest.outcomes import Failed

from tests.processes import child_env, run
from tests.scratch import scratch_database
from tests.test_crash import check_outcome, crash_three_times, started


@contextmanager
def scratch(postgres: str | None, workdir: Path) -> Iterator[str]:
    if postgres is None:
        yield f"sqlite:///{workdir / 'rilon.db'}"
        return
    with scratch_database(postgres, "rilon_crash") as url:
        yield url


async def one_round(postgres: str | None, victim: str) -> str:
    with tempfile.TemporaryDirectory(prefix="rilon-crash-") as tmp:
        workdir = Path(tmp)
        with scratch(postgres, workdir) as url:
            await run(workdir, child_env(url, workdir), "db", "upgrade")
            async with started(url, workdir) as rig:
                target = rig.worker if victim == "worker" else rig.api
                if target is None:
                    raise SystemExit("--victim worker needs --postgres (SQLite runs no worker)")
                await crash_three_times(rig, target)
                await check_outcome(rig)
                sent = len(rig.receiver.received)
                return f"{len(rig.accepted)} alerts accepted, {sent} webhooks sent, none lost"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.crash_driver", description=__doc__)
    parser.add_argument("--postgres", metavar="URL", help="use a scratch database on this server")
    parser.add_argument("--victim", choices=["serve", "worker"], default="serve")
    parser.add_argument("--repeat", type=int, default=1, help="rounds to run")
    args = parser.parse_args()
    failed = 0
    for n in range(1, args.repeat + 1):
        began = time.monotonic()
        try:
            outcome = asyncio.run(one_round(args.postgres, args.victim))
            verdict = f"ok: {outcome}"
        except (AssertionError, Failed) as exc:
            failed += 1
            verdict = f"FAILED: {exc}"
        took = time.monotonic() - began
        sys.stdout.write(f"round {n}: killed {args.victim} 3 times, {took:.0f} s: {verdict}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
