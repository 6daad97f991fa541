"""Profile the service under load with py-spy, and say where its CPU time goes.

py-spy is not a project dependency: `.venv/bin/pip install py-spy` to use `--profile`.
It samples only the thread holding the GIL (`--gil`): one worker is one interpreter, so that
is the time that bounds throughput. Threads waiting on a lock or on I/O are not counted.
"""

import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from bench.compare import Options, Side
from bench.harness import BenchError, log_tail
from bench.load import run_wrk

PROJECT = frozenset({"api", "auth", "cli", "core", "models", "services", "delivery"})
SAMPLE_RATE = 100  # Hz; py-spy in non-blocking mode costs the server little at this rate
TOP = 10
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def require_py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"
    path = str(beside) if beside.exists() else shutil.which("py-spy")
    if path is None:
        raise BenchError("py-spy is not installed; install it with: .venv/bin/pip install py-spy")
    return path


def profile_load(side: Side, options: Options, out: Path) -> None:
    """Record the server of `side` while wrk replays its request; write and print a summary."""
    out.parent.mkdir(parents=True, exist_ok=True)
    seconds = max(1, round(options.seconds))
    argv = [
        require_py_spy(),
        "record",
        f"--pid={side.server.pid}",
        f"--duration={seconds + 1}",
        f"--rate={SAMPLE_RATE}",
        "--gil",
        "--nonblocking",
        "--format=raw",
        f"--output={out}",
    ]
    log = out.with_suffix(".log")
    with log.open("wb") as errors:
        spy = subprocess.Popen(argv, stdout=errors, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.5)  # let py-spy attach before the load starts
        print(f"  {side.request.path}: profiling the {side.server.name} ...", flush=True)
        run_wrk(
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
    summary = summarise(out.read_text().splitlines())
    out.with_suffix(".summary.txt").write_text(summary)
    print(f"\nprofile of {side.request.path} (raw stacks: {out})\n{summary}")


def _parse(lines: Iterable[str]) -> list[tuple[list[tuple[str, str]], int]]:
    """Collapsed stacks, `frame;frame;... count`, into (function, file) lists and counts."""
    stacks = []
    for line in lines:
        stack, _, count = line.strip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for frame in stack.split(";"):
            match = _FRAME.match(frame)
            if match is not None:
                frames.append((match["func"], match["file"]))
        if frames:
            stacks.append((frames, int(count)))
    return stacks


def _package(file: str) -> str:
    """Where a frame's code lives: the project's layer, or the library (stdlib module)."""
    head = file.strip("<>").removeprefix("frozen ").split("/")[0].removesuffix(".py")
    return f"rilon {head}/" if head in PROJECT else head


def summarise(lines: Iterable[str]) -> str:
    """Self time by library, inclusive time of the project's functions, hottest functions."""
    stacks = _parse(lines)
    total = sum(count for _, count in stacks) or 1
    by_package: Counter[str] = Counter()
    project: Counter[str] = Counter()
    hottest: Counter[str] = Counter()
    for frames, count in stacks:
        func, file = frames[-1]
        by_package[_package(file)] += count
        hottest[f"{func} ({file})"] += count
        layers = {f"{func} ({file})": _package(file) for func, file in frames}
        for name, layer in layers.items():
            if layer.startswith("rilon ") and layer != "rilon cli/":  # cli/ only starts uvicorn
                project[name] += count

    def block(title: str, counter: Counter[str]) -> list[str]:
        return [title] + [f"  {n / total:6.1%}  {name}" for name, n in counter.most_common(TOP)]

    return "\n".join(
        [f"{total} samples holding the GIL"]
        + block("self time by package:", by_package)
        + block("inclusive time of project functions:", project)
        + block("hottest functions (self):", hottest)
    )
