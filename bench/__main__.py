"""`python -m bench [NAME ...]`: run the benchmarks (all by default) and print their tables."""

import argparse
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

from bench import b0_auth, b1_ingest, b2_fanout, b3_list, b4_scale, b5_neighbour
from bench.compare import Comparison, Options, Report, report
from bench.harness import BenchError
from bench.load import require_wrk
from core.progress import progress
from tools.command import run_command
from tools.profiling.pyspy import ProfilingError, require_py_spy


def _compared(run: Callable[[Options], list[Comparison]]) -> Callable[[Options], Report]:
    return lambda options: report(run(options))


BENCHMARKS: dict[str, Callable[[Options], Report]] = {
    "auth": _compared(b0_auth.run),
    "ingest": _compared(b1_ingest.run),
    "fanout": b2_fanout.run,
    "list": _compared(b3_list.run),
    "scale": b4_scale.run,
    "neighbour": b5_neighbour.run,
}


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"one of {', '.join(BENCHMARKS)} (default: all)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="load per run (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of each pair (ABBA)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="B3: also EXPLAIN its list statement on PostgreSQL, in a scratch database made "
        "(and dropped) on this server, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="also record py-spy profiles of the service into DIR",
    )
    if argv[:1] == ["soak"]:
        parser.error(
            "the soak is not a benchmark; run: " + " ".join(["python -m tools.soak", *argv[1:]])
        )
    args = parser.parse_args(argv)
    if args.seconds < 1 or args.connections < 1 or args.rounds < 1:
        parser.error("--seconds, --connections and --rounds must be at least 1")
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    return args


def main(argv: list[str]) -> int:
    args = _parse(argv)
    names = args.names or list(BENCHMARKS)
    try:
        require_wrk()
        if args.profile is not None:
            require_py_spy()
    except (BenchError, ProfilingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = False
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    python = platform.python_version()
    print(f"{date.today()}  cores={_cores()}  load average {load}  python {python}")
    print(f"{args.connections} connections, {args.seconds:g} s x {args.rounds} per side, 1 worker")
    with progress("benchmarks", len(names)) as shown:
        for done, name in enumerate(names):
            shown.update(done, f"benchmark {name} ({done + 1}/{len(names)})")
            failed = not _run(name, args) or failed
    return 1 if failed else 0


def _run(name: str, args: argparse.Namespace) -> bool:
    """Run one benchmark and print its table; False if it failed."""
    with tempfile.TemporaryDirectory(prefix=f"rilon-bench-{name}-") as tmp:
        options = Options(
            args.seconds, args.connections, args.rounds, Path(tmp), args.profile, args.postgres
        )
        try:
            result = BENCHMARKS[name](options)
        except (BenchError, ProfilingError) as exc:
            print(f"error: {name}: {exc}", file=sys.stderr)
            return False
    print(f"\n{name}\n\n{result.table}\n")
    for note in result.notes:
        print(f"- {note}")
    if result.failed:
        print(f"error: {name}: requests failed, figures invalid", file=sys.stderr)
        return False
    return True


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


if __name__ == "__main__":
    run_command(main)
