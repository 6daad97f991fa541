"""How the bench and the tools run as commands: SIGTERM stops them like Ctrl+C, so every
server they started is stopped on the way out, and the exit status says so (130)."""

import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import NoReturn


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run_command(main: Callable[[list[str]], int]) -> NoReturn:
    """Exit with `main(argv)`'s status, or 130 when interrupted or terminated."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        sys.exit(130)
