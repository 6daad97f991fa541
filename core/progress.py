"""Progress bars for long operator commands: on a terminal only, and always on stderr.

Piped or captured output (CI, `rilon audit export | gzip`, log collectors) gets no bar and no
control characters; stdout carries only the command's result either way.
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


class Tracker:
    """What a long operation reports; does nothing when there is no terminal to show it on."""

    def __init__(
        self, bar: Progress | None = None, description: str = "", total: float | None = None
    ) -> None:
        self._bar = bar
        self._task = bar.add_task(description, total=total) if bar is not None else None

    def start(self, description: str, total: float | None = None) -> None:
        """Begin a (new) step: a bar when `total` is known, a spinner otherwise."""
        if self._bar is not None and self._task is not None:
            self._bar.reset(self._task, description=description, total=total, completed=0)

    def advance(self, amount: float = 1) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, amount)

    def update(self, completed: float, description: str | None = None) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=completed, description=description)


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams (test runners)
        return False


@contextmanager
def progress(description: str = "", total: float | None = None) -> Iterator[Tracker]:
    """Show one progress line on stderr while the block runs (and nothing when piped)."""
    if not is_terminal(sys.stderr):
        yield Tracker()
        return
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
        transient=True,  # the result lines stay; the bar goes when done
        # Prints to stdout pass above the bar only when stdout is this terminal too: a piped
        # stdout must never be diverted into stderr.
        redirect_stdout=is_terminal(sys.stdout),
        redirect_stderr=False,
    )
    tracker = Tracker(bar, description, total)
    with bar:
        yield tracker
