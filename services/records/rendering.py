"""A stored record as a reader sees it at read time: its expiry applied, its position's age."""

import json
from datetime import datetime
from typing import Any

from core.jsontext import dumps


def render(
    doc: str,
    state: str,
    expires_at: datetime | None,
    position_at: datetime | None,
    now: datetime,
) -> str:
    """The stored JSON as of `now`: an active alert past its expiry shown as `expired`, and
    the age of its position added (`position_age_seconds`)."""
    if state == "active" and expires_at is not None and expires_at <= now:
        data: dict[str, Any] = json.loads(doc)
        data["state"] = "expired"
        doc = dumps(data)
    return with_position_age(doc, position_at, now)


def with_position_age(doc: str, position_at: datetime | None, now: datetime) -> str:
    """`doc` with `position_age_seconds` added: appended to the JSON text rather than parsed
    and dumped again, since lists render up to 200 at once."""
    age = position_age(position_at, now)
    return f'{doc[:-1]},"position_age_seconds":{"null" if age is None else age}}}'


def position_age(position_at: datetime | None, now: datetime) -> int | None:
    """Whole seconds since the position was true; 0 for a time a little ahead of this
    server's clock (the sender's clock runs fast), None when the record gives no time."""
    if position_at is None:
        return None
    return max(0, int((now - position_at).total_seconds()))
