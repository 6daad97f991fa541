"""Times of what happened cannot lie in the future: a wrong clock, time zone or typo (a fix
"in an hour" would make a stale position look fresh). Checked on every write against
`core.clock`, so tests can move it."""

from datetime import datetime, timedelta
from typing import Any

from core import clock
from core.errors import Unprocessable

FUTURE_TOLERANCE = timedelta(minutes=5)  # clocks at sea and on phones are not all set right


def check_happened(paths: tuple[tuple[str, ...], ...], payload: dict[str, Any]) -> None:
    """422 naming each time at `paths` in `payload` more than 5 minutes ahead of now."""
    latest = clock.utcnow() + FUTURE_TOLERANCE
    errors = []
    for path in paths:
        value: Any = payload
        for name in path:
            value = value.get(name) if isinstance(value, dict) else None
        if value and datetime.fromisoformat(value) > latest:
            message = "more than 5 minutes in the future; give the UTC time it happened"
            errors.append({"field": ".".join(path), "message": message})
    if errors:
        raise Unprocessable(errors)
