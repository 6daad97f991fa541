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


def _per_request(count: int, rate: int, requests: int | None) -> str:
    if not requests:
        return ""
    return f", ~{count / rate / requests * 1e6:,.0f} µs/request"


def by_thread(stacks: list[Stack], rate: int, requests: int | None) -> list[str]:
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
        lines.append(f"  {count / total:6.1%}  {thread}{_per_request(count, rate, requests)}")
        lines += _block("    self:", hottest, total, TOP_PER_THREAD, "      ")[1:]
        if project:
            lines.append("    project (inclusive):")
            lines += _block("", project, total, TOP_PER_THREAD, "      ")[1:]
    return lines


def summarise(lines: Iterable[str], rate: int, requests: int | None = None) -> str:
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
    head = f"{total} samples holding the GIL{_per_request(total, rate, requests)}"
    if requests:
        head += f" ({requests:,} requests in the window)"
    return "\n".join(
        [head]
        + by_thread(stacks, rate, requests)
        + _block("self time by package:", by_package, total, TOP)
        + _block("inclusive time of project functions:", project, total, TOP)
        + _block("hottest functions (self):", hottest, total, TOP)
    )
