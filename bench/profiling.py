"""`--profile DIR`: one side of a comparison under wrk, profiled with tools/profiling.

First an unprofiled run for each thread's CPU time (/proc), then a py-spy run of the thread
holding the GIL, then a wall-clock one of every thread; the summaries are printed and written
next to the raw stacks in DIR.
"""

from pathlib import Path

from bench.compare import Options, Side
from bench.load import LoadResult, run_wrk
from tools.profiling import cputime
from tools.profiling.pyspy import profile, require_py_spy, wall_profile
from tools.profiling.stacks import Window


def profile_load(side: Side, options: Options, out: Path) -> LoadResult:
    """Record the server of `side` while wrk replays its request; write and print a summary."""
    seconds = max(1, round(options.seconds))
    loads: list[LoadResult] = []

    def load() -> Window:
        print(f"  {side.request.path}: profiling the {side.server.name} ...", flush=True)
        result = run_wrk(
            side.server.base_url,
            side.request,
            seconds=seconds,
            connections=options.connections,
            workdir=options.workdir,
        )
        loads.append(result)
        return Window(result.brief(), result.requests)

    cpu = cpu_by_thread(side, options)
    profile(side.server.pid, seconds, out, load, cpu, side.request.path)
    wall_profile(side.server.pid, seconds, out.with_name(out.stem + "-wall.txt"), load)
    return loads[0]


def cpu_by_thread(side: Side, options: Options) -> list[str]:
    """One load run of `options.seconds` on `side`, and its CPU time by thread."""

    def load() -> Window:
        print(f"  {side.request.path}: CPU time by thread ... ", end="", flush=True)
        result = run_wrk(
            side.server.base_url,
            side.request,
            seconds=options.seconds,
            connections=options.connections,
            workdir=options.workdir,
        )
        print(result.brief())
        return Window(result.brief(), result.requests)

    return cputime.during(side.server.pid, require_py_spy(), load)
