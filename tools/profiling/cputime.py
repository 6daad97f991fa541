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
from collections.abc import Callable
from pathlib import Path

from tools.profiling.stacks import Window, thread_group

_NAMED = re.compile(r'^Thread (?P<tid>\d+) \([^)]*\): "(?P<name>.*)"$', re.MULTILINE)


def thread_ticks(pid: int) -> dict[int, tuple[int, int]]:
    """(user, system) clock ticks of every thread of `pid`, by native thread id."""
    ticks: dict[int, tuple[int, int]] = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended
            continue
        fields = stat.rpartition(")")[2].split()  # after `pid (comm)`
        ticks[int(task.name)] = (int(fields[11]), int(fields[12]))  # utime, stime
    return ticks


def thread_names(pid: int, py_spy: str) -> dict[int, str]:
    """Native thread id → Python thread name, from one `py-spy dump`."""
    dump = subprocess.run(
        [py_spy, "dump", f"--pid={pid}"], capture_output=True, text=True, timeout=30, check=False
    )
    return {int(found["tid"]): found["name"] for found in _NAMED.finditer(dump.stdout)}


def summarise(
    before: dict[int, tuple[int, int]],
    after: dict[int, tuple[int, int]],
    names: dict[int, str],
    requests: int,
    unit: str = "request",
) -> list[str]:
    """CPU time by thread group over the window, in total and per request.

    The kernel's share (system time) is printed apart: fsync and sockets, but also the
    futex calls of threads handing the GIL to each other.
    """
    per_second = os.sysconf("SC_CLK_TCK")
    groups: Counter[str] = Counter()
    system: Counter[str] = Counter()
    for tid, (user, kernel) in after.items():
        name = names.get(tid)
        group = thread_group(name) if name else "other threads"
        old_user, old_kernel = before.get(tid, (0, 0))
        groups[group] += user - old_user + kernel - old_kernel
        system[group] += kernel - old_kernel
    total = sum(groups.values()) or 1
    lines = [
        f"CPU time by thread (/proc, GIL held or not): {total / per_second:.1f} s"
        + (f", ~{total / per_second / requests * 1e6:,.0f} µs/{unit}" if requests else "")
    ]
    for group, ticks in groups.most_common():
        if ticks:
            each = f", ~{ticks / per_second / requests * 1e6:,.0f} µs/{unit}" if requests else ""
            lines.append(
                f"  {ticks / total:6.1%}  {group}{each} ({system[group] / ticks:.0%} system)"
            )
    return lines


def during(pid: int, py_spy: str, work: Callable[[], Window]) -> list[str]:
    """CPU time by thread of `pid` while `work` runs (unprofiled), per unit of its work."""
    before = thread_ticks(pid)
    window = work()
    after = thread_ticks(pid)
    names = thread_names(pid, py_spy)
    return [f"unprofiled run: {window.brief}"] + summarise(
        before, after, names, window.count, window.unit
    )
