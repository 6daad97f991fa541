"""CPU time of each thread of the server over an unprofiled load run, from /proc (Linux).

py-spy's `--gil` mode sees only Python frames holding the GIL. SQLite runs its statements with
the GIL released, so a thread that spends its time in `sqlite3_step` is invisible there; the
kernel's per-thread accounting counts it, whatever the thread is running. The run is made
without py-spy attached: on two busy cores a sampler that pauses the server distorts it.
"""

import os
import re
import subprocess
from collections import Counter
from pathlib import Path

from bench.compare import Options, Side
from bench.load import run_wrk
from bench.stacks import thread_group

_NAMED = re.compile(r'^Thread (?P<tid>\d+) \([^)]*\): "(?P<name>.*)"$', re.MULTILINE)


def thread_ticks(pid: int) -> dict[int, int]:
    """user + system clock ticks of every thread of `pid`, by native thread id."""
    ticks: dict[int, int] = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended
            continue
        fields = stat.rpartition(")")[2].split()  # after `pid (comm)`
        ticks[int(task.name)] = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks


def thread_names(pid: int, py_spy: str) -> dict[int, str]:
    """Native thread id → Python thread name, from one `py-spy dump`."""
    dump = subprocess.run(
        [py_spy, "dump", f"--pid={pid}"], capture_output=True, text=True, timeout=30, check=False
    )
    return {int(found["tid"]): found["name"] for found in _NAMED.finditer(dump.stdout)}


def summarise(
    before: dict[int, int], after: dict[int, int], names: dict[int, str], requests: int
) -> list[str]:
    """CPU time by thread group over the window, in total and per request."""
    per_second = os.sysconf("SC_CLK_TCK")
    groups: Counter[str] = Counter()
    for tid, ticks in after.items():
        name = names.get(tid)
        groups[thread_group(name) if name else "other threads"] += ticks - before.get(tid, 0)
    total = sum(groups.values()) or 1
    lines = [
        f"CPU time by thread (/proc, GIL held or not): {total / per_second:.1f} s"
        + (f", ~{total / per_second / requests * 1e6:,.0f} µs/request" if requests else "")
    ]
    for group, ticks in groups.most_common():
        if ticks:
            each = f", ~{ticks / per_second / requests * 1e6:,.0f} µs/request" if requests else ""
            lines.append(f"  {ticks / total:6.1%}  {group}{each}")
    return lines


def measure(side: Side, options: Options, py_spy: str) -> list[str]:
    """One load run of `options.seconds` on `side`, and its CPU time by thread."""
    pid = side.server.pid
    print(f"  {side.request.path}: CPU time by thread ... ", end="", flush=True)
    before = thread_ticks(pid)
    load = run_wrk(
        side.server.base_url,
        side.request,
        seconds=options.seconds,
        connections=options.connections,
        workdir=options.workdir,
    )
    after = thread_ticks(pid)
    print(load.brief())
    names = thread_names(pid, py_spy)
    return [f"unprofiled run: {load.brief()}"] + summarise(before, after, names, load.requests)
