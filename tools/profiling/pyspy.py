"""Profile the service under load with py-spy, and say where its CPU time goes.

py-spy is not a project dependency: `.venv/bin/pip install py-spy` to use `--profile`.
It samples only the thread holding the GIL (`--gil`): one worker is one interpreter, so that
is the time that bounds throughput. Threads waiting on a lock or on I/O are not counted.
Stacks carry their thread (`--threads`), so the summary splits the time by thread as well,
next to each thread's CPU time from /proc (which also counts work done with the GIL released).
"""

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tools.profiling.stacks import Window, summarise, wall

# Hz. Blocking mode: py-spy pauses the server for each sample, which costs it a few per cent at
# this rate (the summary prints the req/s under the profiler); non-blocking mode lost 40 % of
# the samples of B1, most of them where the stacks change fastest.
SAMPLE_RATE = 100
# Native unwinding pauses every thread for longer (at 100 Hz it cost B1 60 % of its req/s):
# sample the wall clock more slowly; its shares need hundreds of samples, not thousands.
WALL_RATE = 25


class ProfilingError(RuntimeError):
    """py-spy is missing, or failed to record."""


def require_py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"
    path = str(beside) if beside.exists() else shutil.which("py-spy")
    if path is None:
        raise ProfilingError(
            "py-spy is not installed; install it with: .venv/bin/pip install py-spy"
        )
    return path


def profile(
    pid: int, seconds: int, out: Path, work: Callable[[], Window], cpu: list[str], label: str
) -> str:
    """Record `pid` for `seconds` (+1) while `work` runs; write, print and return a summary.

    `cpu` holds the lines of an unprofiled run's CPU time by thread, printed first.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        require_py_spy(),
        "record",
        f"--pid={pid}",
        f"--duration={seconds + 1}",
        f"--rate={SAMPLE_RATE}",
        "--gil",
        "--threads",
        "--format=raw",
        f"--output={out}",
    ]
    log = out.with_suffix(".log")
    with log.open("wb") as errors:
        spy = subprocess.Popen(argv, stdout=errors, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.5)  # let py-spy attach before the load starts
        window = work()
        spy.wait(timeout=seconds + 30)
    finally:
        if spy.poll() is None:
            spy.kill()
            spy.wait()
    if spy.returncode != 0 or not out.exists():
        raise ProfilingError(f"py-spy failed ({spy.returncode}):\n{_tail(log)}")
    stacks = summarise(out.read_text().splitlines(), SAMPLE_RATE, window.count, window.unit)
    head = f"profiled run: {window.brief}; py-spy: {_spy_counts(log)}"
    summary = "\n".join([*cpu, head, stacks])
    out.with_suffix(".summary.txt").write_text(summary + "\n")
    print(f"\nprofile of {label} (raw stacks: {out})\n{summary}")
    return summary


def wall_profile(pid: int, seconds: int, out: Path, work: Callable[[], Window]) -> list[str]:
    """Record every thread of `pid`, idle or not, with native frames, while `work` runs."""
    argv = [
        require_py_spy(),
        "record",
        f"--pid={pid}",
        f"--duration={seconds + 1}",
        f"--rate={WALL_RATE}",
        "--native",
        "--idle",
        "--threads",
        "--format=raw",
        f"--output={out}",
    ]
    log = out.with_suffix(".log")
    with log.open("wb") as errors:
        spy = subprocess.Popen(argv, stdout=errors, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.5)
        window = work()
        spy.wait(timeout=seconds + 30)
    finally:
        if spy.poll() is None:
            spy.kill()
            spy.wait()
    if spy.returncode != 0 or not out.exists():
        raise ProfilingError(f"py-spy --native failed ({spy.returncode}):\n{_tail(log)}")
    lines = out.read_text().splitlines()
    summary = [f"wall-clock run: {window.brief}; py-spy: {_spy_counts(log)}"]
    summary += wall(lines, WALL_RATE)
    out.with_suffix(".summary.txt").write_text("\n".join(summary) + "\n")
    print("\n".join(summary))
    return summary


def _spy_counts(log: Path) -> str:
    """py-spy's own count of samples and of samples it failed to read."""
    found = re.search(r"Samples: \d+ Errors: \d+", log.read_text(errors="replace"))
    return found.group(0) if found else "no sample count"


def _tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
