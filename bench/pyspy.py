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
from pathlib import Path

from bench import cputime
from bench.compare import Options, Side
from bench.harness import BenchError, log_tail
from bench.load import LoadResult, run_wrk
from bench.stacks import summarise

# Hz. Blocking mode: py-spy pauses the server for each sample, which costs it a few per cent at
# this rate (the summary prints the req/s under the profiler); non-blocking mode lost 40 % of
# the samples of B1, most of them where the stacks change fastest.
SAMPLE_RATE = 100


def require_py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"
    path = str(beside) if beside.exists() else shutil.which("py-spy")
    if path is None:
        raise BenchError("py-spy is not installed; install it with: .venv/bin/pip install py-spy")
    return path


def profile_load(side: Side, options: Options, out: Path) -> LoadResult:
    """Record the server of `side` while wrk replays its request; write and print a summary."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cpu = cputime.measure(side, options, require_py_spy())
    seconds = max(1, round(options.seconds))
    argv = [
        require_py_spy(),
        "record",
        f"--pid={side.server.pid}",
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
        print(f"  {side.request.path}: profiling the {side.server.name} ...", flush=True)
        load = run_wrk(
            side.server.base_url,
            side.request,
            seconds=seconds,
            connections=options.connections,
            workdir=options.workdir,
        )
        spy.wait(timeout=seconds + 30)
    finally:
        if spy.poll() is None:
            spy.kill()
            spy.wait()
    if spy.returncode != 0 or not out.exists():
        raise BenchError(f"py-spy failed ({spy.returncode}):\n{log_tail(log)}")
    stacks = summarise(out.read_text().splitlines(), SAMPLE_RATE, load.requests)
    summary = "\n".join([*cpu, f"profiled run: {load.brief()}; py-spy: {_spy_counts(log)}", stacks])
    out.with_suffix(".summary.txt").write_text(summary + "\n")
    print(f"\nprofile of {side.request.path} (raw stacks: {out})\n{summary}")
    return load


def _spy_counts(log: Path) -> str:
    """py-spy's own count of samples and of samples it failed to read."""
    found = re.search(r"Samples: \d+ Errors: \d+", log.read_text(errors="replace"))
    return found.group(0) if found else "no sample count"
