"""Summaries of py-spy's collapsed stacks: by thread, by package, by function.

Each sample is 1/rate seconds of the one thread holding the GIL, so a thread's samples divided by
the requests served in the window estimate its GIL time per request (a lower bound: py-spy in
non-blocking mode drops samples it cannot read).
"""

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

PROJECT = frozenset({"api", "auth", "cli", "core", "models", "services", "delivery"})
TOP = 10
TOP_PER_THREAD = 6
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
_THREAD = re.compile(r"^thread \(\d+\): (?P<name>.*)$")
_COUNTED = {f"rilon {layer}/" for layer in PROJECT - {"cli"}}  # cli/ only starts uvicorn


@dataclass(frozen=True)
class Window:
    """What ran while a profile was taken: a line to print, and how many units of work."""

    brief: str
    count: int
    unit: str = "request"


@dataclass(frozen=True)
class Stack:
    thread: str
    frames: list[tuple[str, str]]  # (function, file), outermost first
    count: int


def thread_group(name: str) -> str:
    """The service's threads by role: the event loop, the writer, the reader pool."""
    if name == "MainThread":
        return "event loop (MainThread)"
    if name.startswith("rilon-read"):
        return "rilon-read pool"
    return name.rstrip("0123456789_-") or name


def parse(lines: Iterable[str]) -> list[Stack]:
    """Collapsed stacks, `[thread (id): name;]frame;frame;... count`, into `Stack`s."""
    stacks = []
    for line in lines:
        text, _, count = line.strip().rpartition(" ")
        if not text or not count.isdigit():
            continue
        thread, frames = "(all threads)", []
        for part in text.split(";"):
            match = _FRAME.match(part)
            if match is not None:
                frames.append((match["func"], match["file"]))
            elif (named := _THREAD.match(part)) is not None:
                thread = thread_group(named["name"])
        if frames:
            stacks.append(Stack(thread, frames, int(count)))
    return stacks


def _package(file: str) -> str:
    """Where a frame's code lives: the project's layer, or the library (stdlib module)."""
    head = file.strip("<>").removeprefix("frozen ").split("/")[0].removesuffix(".py")
    return f"rilon {head}/" if head in PROJECT else head


def _project_inclusive(stack: Stack) -> set[str]:
    layers = {f"{func} ({file})": _package(file) for func, file in stack.frames}
    return {name for name, layer in layers.items() if layer in _COUNTED}


def _block(title: str, counts: Counter[str], total: int, top: int, indent: str = "  ") -> list[str]:
    return [title] + [f"{indent}{n / total:6.1%}  {name}" for name, n in counts.most_common(top)]


def _per_request(count: int, rate: int, requests: int | None, unit: str = "request") -> str:
    if not requests:
        return ""
    return f", ~{count / rate / requests * 1e6:,.0f} µs/{unit}"


def by_thread(
    stacks: list[Stack], rate: int, requests: int | None, unit: str = "request"
) -> list[str]:
    """Each thread group's share of GIL time, its hottest functions and project calls."""
    total = sum(stack.count for stack in stacks) or 1
    threads: Counter[str] = Counter()
    for stack in stacks:
        threads[stack.thread] += stack.count
    lines = ["by thread (share of GIL samples; self, then inclusive project functions):"]
    for thread, count in threads.most_common():
        mine = [stack for stack in stacks if stack.thread == thread]
        hottest: Counter[str] = Counter()
        project: Counter[str] = Counter()
        for stack in mine:
            func, file = stack.frames[-1]
            hottest[f"{func} ({file})"] += stack.count
            for name in _project_inclusive(stack):
                project[name] += stack.count
        lines.append(f"  {count / total:6.1%}  {thread}{_per_request(count, rate, requests, unit)}")
        lines += _block("    self:", hottest, total, TOP_PER_THREAD, "      ")[1:]
        if project:
            lines.append("    project (inclusive):")
            lines += _block("", project, total, TOP_PER_THREAD, "      ")[1:]
    return lines


def summarise(
    lines: Iterable[str], rate: int, requests: int | None = None, unit: str = "request"
) -> str:
    """By thread, self time by library, inclusive time of the project's functions, hottest."""
    stacks = parse(lines)
    total = sum(stack.count for stack in stacks) or 1
    by_package: Counter[str] = Counter()
    project: Counter[str] = Counter()
    hottest: Counter[str] = Counter()
    for stack in stacks:
        func, file = stack.frames[-1]
        by_package[_package(file)] += stack.count
        hottest[f"{func} ({file})"] += stack.count
        for name in _project_inclusive(stack):
            project[name] += stack.count
    head = f"{total} samples holding the GIL{_per_request(total, rate, requests, unit)}"
    if requests:
        head += f" ({requests:,} of them in the window)"
    return "\n".join(
        [head]
        + by_thread(stacks, rate, requests, unit)
        + _block("self time by package:", by_package, total, TOP)
        + _block("inclusive time of project functions:", project, total, TOP)
        + _block("hottest functions (self):", hottest, total, TOP)
    )


def _state(stack: Stack) -> str:
    """What a thread was doing in one wall-clock sample with native frames (see `wall`)."""
    funcs = [func for func, _file in stack.frames]
    if any(name in func for func in funcs for name in _IDLE):
        return "idle"
    if any(func.startswith("pthread_cond_") for func in funcs[-4:]):
        return "GIL wait"
    if any(file.startswith("libsqlite3") for _func, file in stack.frames):
        return "SQLite"
    if any(func.startswith("gc_collect") for func in funcs):
        return "GC"
    return "Python"


# Waiting for work: the writer's and the pools' queues, a Python lock, uvloop's epoll.
_IDLE = ("SimpleQueue_get", "lock_PyThread_acquire_lock", "epoll_wait", "epoll_pwait")
STATES = ("Python", "GIL wait", "SQLite", "GC", "idle")


def wall(lines: Iterable[str], rate: int) -> list[str]:
    """Each busy thread's wall time by state.

    From `py-spy record --native --idle`: every thread in every sample, with C frames, so a
    thread waiting to take the GIL back (pthread_cond_*wait under Python code) shows as such,
    SQLite's own frames (its I/O included) show with the GIL released, and idle is idle.
    Native sampling pauses the process longer: read the shares, not the run's rate.
    """
    states: dict[str, Counter[str]] = {}
    for stack in parse(lines):
        states.setdefault(stack.thread, Counter())[_state(stack)] += stack.count
    lines_out = [f"wall time by thread and state (py-spy --native --idle, {rate} Hz):"]
    for thread, counts in sorted(states.items(), key=lambda item: item[1]["idle"]):
        total = sum(counts.values()) or 1
        if counts["idle"] == total:
            continue
        parts = ", ".join(f"{state} {counts[state] / total:.0%}" for state in STATES)
        lines_out.append(f"  {thread}: {parts}")
    return lines_out
