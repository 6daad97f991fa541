"""A benchmark run against the service with one part of its work knocked out.

    .venv/bin/python -m bench.knockout bare-read list --seconds 5 --rounds 1
    .venv/bin/python -m bench.knockout bare-read,no-audit list   # two at once
    .venv/bin/python -m bench.knockout --list

Each knock-out is a patch in `bench/knockouts/` that takes one part of a request away (and
answers the first result again where one is needed). The command checks out the commit you are
on (HEAD: uncommitted changes are left out) into a scratch worktree, applies the patch there,
runs `python -m bench NAME ...` in that tree (`PYTHONPATH` = the tree: the bench, the service
and its baselines all run the patched code), and removes the worktree. The figure a knock-out
gives bounds what any implementation of the missing part could reach: it is the service with
that part costing nothing (docs/PERFORMANCE.md, "What bounds each", B2 and B3). Never a way
to serve.

The knock-outs against B3 (`list`):
- `bare-read`: after the first page, a list read is its SQL statement alone on a `sqlite3`
  connection of the reader thread's own (no SQLAlchemy, no parsing, no rendering);
- `no-render`: the statement runs as before, but its page is neither split nor rendered;
- `no-read`: no read at all, no reader thread: the first page again, from memory;
- `no-audit`: the read's audit row is not written, nor its caller's standing checked.
Against B2 (`fanout`):
- `no-settle`: an attempt is not recorded at all (no attempt row, no audit row, the delivery
  left under a lease of an hour): only the expansion, the claim and the post.
- `from-log`: no row is written or claimed before a post: each new event's jobs are made in
  memory from the event log, and each attempt is written once, when it is settled (its
  delivery row, its attempt row, its subscription's place and its audit row).
  `KNOCKOUT_ROWS=delivery` leaves the attempt row out, `KNOCKOUT_ROWS=` both rows, leaving
  the audit row alone, and `KNOCKOUT_ROWS=driver` writes the delivery row alone by sqlite3's
  own executemany: what a design that keeps a place in the log could reach.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.command import run_command

REPO = Path(__file__).resolve().parent.parent
PATCHES = Path(__file__).resolve().parent / "knockouts"
ROWS = ("delivery", "attempt", "driver")  # what `KNOCKOUT_ROWS` may name (from-log)


def knockouts() -> list[str]:
    return sorted(path.stem for path in PATCHES.glob("*.patch"))


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="python -m bench.knockout", description=__doc__)
    parser.add_argument(
        "knockout", nargs="?", help=f"one of {', '.join(knockouts())}, or several joined by ','"
    )
    parser.add_argument("--list", action="store_true", help="name the knock-outs and stop")
    args, bench_args = parser.parse_known_args(argv)
    if not args.list and (
        not args.knockout or not set(args.knockout.split(",")) <= set(knockouts())
    ):
        parser.error(f"choose knock-outs among: {', '.join(knockouts())}")
    rows = os.environ.get("KNOCKOUT_ROWS")
    if rows is not None and not args.list:
        # a misspelt name would be read as no row at all, and its figure taken for another's
        if "from-log" not in args.knockout.split(","):
            parser.error("KNOCKOUT_ROWS is read by the from-log knock-out only")
        unknown = set(rows.split(",")) - {"", *ROWS}
        if unknown:
            parser.error(
                f"KNOCKOUT_ROWS: no row {', '.join(sorted(unknown))}; rows: {', '.join(ROWS)}"
            )
    return args, bench_args


def main(argv: list[str]) -> int:
    args, bench_args = _parse(argv)
    if args.list:
        print("\n".join(knockouts()))
        return 0
    with tempfile.TemporaryDirectory(prefix="rilon-knockout-") as scratch:
        tree = Path(scratch) / "tree"
        _git("worktree", "add", "--detach", "--quiet", str(tree), "HEAD")
        try:
            for name in args.knockout.split(","):
                _git("-C", str(tree), "apply", str(PATCHES / f"{name}.patch"))
            print(f"knock-out {args.knockout} applied to HEAD in {tree}", flush=True)
            bench = subprocess.Popen(
                [sys.executable, "-m", "bench", *bench_args],
                cwd=tree,
                env={**os.environ, "PYTHONPATH": str(tree)},
            )
            try:
                return bench.wait()
            except BaseException:  # Ctrl+C or SIGTERM: the bench stops its servers first
                bench.terminate()
                bench.wait()
                raise
        finally:
            _git("worktree", "remove", "--force", str(tree))


def _git(*args: str) -> None:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {done.stderr.strip()}")


if __name__ == "__main__":
    run_command(main)
